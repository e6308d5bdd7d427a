"""Checks that the demo left nothing behind: no statement of the named apps in the simulator,
no topic or subject of the named tables. Reads the stack's variables; standard library only.

The Table API plugin classifies each `execute_sql` with a dry run (`sql.dry-run=true`) and reads
the catalog with queries on INFORMATION_SCHEMA, neither of which it deletes; completed ones
changed nothing and are reported apart, not counted as left. The list lags deletes, so a listed
statement counts only if its GET finds it.

    demo_check.py APP... -- TABLE...
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.request

ENV = os.environ


def get(url, key, secret):
    req = urllib.request.Request(url)
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def is_completed_dry_run(statement):
    props = (statement.get("spec") or {}).get("properties") or {}
    phase = (statement.get("status") or {}).get("phase")
    return props.get("sql.dry-run") == "true" and phase == "COMPLETED"


def is_completed_catalog_query(statement):
    """The plugin reads the catalog with SELECTs on INFORMATION_SCHEMA that it never deletes."""
    sql = ((statement.get("spec") or {}).get("statement") or "").upper()
    phase = (statement.get("status") or {}).get("phase")
    return "INFORMATION_SCHEMA" in sql and phase == "COMPLETED"


def still_there(base, statement):
    """The list lags deletes: a statement it shows is there only if its GET says so."""
    try:
        get(f"{base}/{statement['name']}", ENV["SIM_FLINK_API_KEY"], ENV["SIM_FLINK_API_SECRET"])
        return True
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return False
        raise


def main():
    args = sys.argv[1:]
    split = args.index("--")
    apps, tables = args[:split], args[split + 1:]
    url = (
        f"{ENV['SIM_FLINK_URL']}/sql/v1/organizations/{ENV['SIM_ORG_ID']}"
        f"/environments/{ENV['SIM_ENV_ID']}/statements?page_size=100"
    )
    statements = []
    while url:
        page = get(url, ENV["SIM_FLINK_API_KEY"], ENV["SIM_FLINK_API_SECRET"])
        statements += page["data"]
        url = page["metadata"].get("next") or None
    url_base = (
        f"{ENV['SIM_FLINK_URL']}/sql/v1/organizations/{ENV['SIM_ORG_ID']}"
        f"/environments/{ENV['SIM_ENV_ID']}/statements"
    )
    ours = [
        s for s in statements
        if any(s["name"].startswith(f"{a}-") for a in apps) and still_there(url_base, s)
    ]
    harmless = lambda s: is_completed_dry_run(s) or is_completed_catalog_query(s)
    dry_runs = [s["name"] for s in ours if harmless(s)]
    left_statements = [s["name"] for s in ours if not harmless(s)]
    topics = get(
        f"{ENV['SIM_KAFKA_REST_URL']}/kafka/v3/clusters/{ENV['SIM_KAFKA_CLUSTER_ID']}/topics",
        ENV["SIM_KAFKA_API_KEY"], ENV["SIM_KAFKA_API_SECRET"],
    )
    left_topics = [t["topic_name"] for t in topics["data"] if t["topic_name"] in tables]
    subjects = get(
        f"{ENV['SIM_SCHEMA_REGISTRY_URL']}/subjects?deleted=true",
        ENV["SIM_SR_API_KEY"], ENV["SIM_SR_API_SECRET"],
    )
    left_subjects = [s for s in subjects if s.rsplit("-", 1)[0] in tables]
    print(f"statements of {', '.join(apps)}: {left_statements or 'none'}")
    print(f"topics of {', '.join(tables)}: {left_topics or 'none'}")
    print(f"subjects of those tables: {left_subjects or 'none'}")
    if dry_runs:
        print(
            "completed dry runs and catalog queries the Table API plugin left "
            f"(they changed nothing): {len(dry_runs)}"
        )
    if left_statements or left_topics or left_subjects:
        sys.exit("demo: something was left behind")
    if dry_runs:
        print(
            "Nothing of the demo is left in the simulator or the broker but the plugin's dry "
            "runs and catalog queries."
        )
    else:
        print("Nothing of the demo is left in the simulator or the broker.")


if __name__ == "__main__":
    main()
