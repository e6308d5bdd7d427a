"""The demo: the seed app (flight consolidator) on the local stack, through the simulator's
Confluent Cloud APIs, shown step by step and torn down again.

Reads the stack's variables (scripts/stack env). Standard library only.
"""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ENV = os.environ


def call(method, url, key, secret, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


STATEMENTS = (
    f"{ENV['SIM_FLINK_URL']}/sql/v1/organizations/{ENV['SIM_ORG_ID']}"
    f"/environments/{ENV['SIM_ENV_ID']}/statements"
)


def flink(method, path="", body=None):
    url = STATEMENTS + (f"/{path}" if path and not path.startswith("?") else path)
    return call(method, url, ENV["SIM_FLINK_API_KEY"], ENV["SIM_FLINK_API_SECRET"], body)


def subjects():
    _, body = call(
        "GET", f"{ENV['SIM_SCHEMA_REGISTRY_URL']}/subjects",
        ENV["SIM_SR_API_KEY"], ENV["SIM_SR_API_SECRET"],
    )
    return sorted(body)


def topics():
    _, body = call(
        "GET",
        f"{ENV['SIM_KAFKA_REST_URL']}/kafka/v3/clusters/{ENV['SIM_KAFKA_CLUSTER_ID']}/topics",
        ENV["SIM_KAFKA_API_KEY"], ENV["SIM_KAFKA_API_SECRET"],
    )
    return sorted(t["topic_name"] for t in body["data"] if not t["is_internal"])


def wait(name, done, timeout=60):
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        status, body = flink("GET", name)
        phase = body["status"]["phase"] if status == 200 else None
        if done(phase):
            return phase, body
        if time.monotonic() > deadline:
            sys.exit(f"demo: {name} did not settle (last phase {phase})")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def run(name, sql, want):
    props = {
        "sql.current-catalog": ENV["SIM_ENV_NAME"] or ENV["SIM_ENV_ID"],
        "sql.current-database": ENV["SIM_KAFKA_CLUSTER_ID"],
    }
    status, body = flink("POST", body={"name": name, "spec": {"statement": sql, "properties": props}})
    if status != 201:
        sys.exit(f"demo: creating {name} failed: {status} {body}")
    started = time.monotonic()
    phase, body = wait(name, lambda p: p in ("RUNNING", "COMPLETED", "FAILED"))
    took = time.monotonic() - started
    print(f"  {name:<34} PENDING -> {phase:<9} {took:5.1f} s")
    if phase != want:
        sys.exit(f"demo: {name} is {phase}: {body['status'].get('detail')}")


def delete(name):
    status, _ = flink("DELETE", name)
    if status not in (202, 404):
        sys.exit(f"demo: deleting {name} failed: {status}")
    wait(name, lambda p: p is None)
    print(f"  {name:<34} deleted (404)")


TABLES = ("flight_avro", "skyone_avro", "sunset_avro")


def main():
    app = Path(sys.argv[1])
    read = lambda p: (app / p).read_text()  # noqa: E731
    prefix = f"demo-{int(time.time())}"
    print("Build up the flight consolidator:")
    run(f"{prefix}-skyone", read("sources/skyone_avro.sql"), "COMPLETED")
    run(f"{prefix}-sunset", read("sources/sunset_avro.sql"), "COMPLETED")
    run(f"{prefix}-flight-avro", read("sql/flight_avro.sql"), "COMPLETED")
    run(f"{prefix}-combined", read("sql/combined_flight_data.sql"), "RUNNING")
    print(f"  topics:   {', '.join(t for t in topics() if t in TABLES)}")
    print(f"  subjects: {', '.join(s for s in subjects() if s.rsplit('-', 1)[0] in TABLES)}")

    print("Tear it down (consumers first, then the tables):")
    delete(f"{prefix}-combined")
    for table in TABLES:
        name = f"{prefix}-drop-{table.replace('_', '-')}"
        run(name, f"DROP TABLE IF EXISTS {table}", "COMPLETED")
        delete(name)
    for ddl in ("skyone", "sunset", "flight-avro"):
        delete(f"{prefix}-{ddl}")

    left_topics = [t for t in topics() if t in TABLES]
    left_subjects = [s for s in subjects() if s.rsplit("-", 1)[0] in TABLES]
    _, listed = flink("GET", "?page_size=100")
    left_statements = [s["name"] for s in listed["data"] if s["name"].startswith(prefix)]
    if left_topics or left_subjects or left_statements:
        sys.exit(
            f"demo: left behind: topics {left_topics}, subjects {left_subjects}, "
            f"statements {left_statements}"
        )
    print("Nothing of the app is left in the simulator or the broker.")


if __name__ == "__main__":
    main()
