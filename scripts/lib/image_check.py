"""Runs the action's image as GitHub's runner runs a Docker action, against the local stack, and
checks what it reports: a buildup of a three-statement app, then its teardown.

The runner's way (actions/runner, ContainerActionHandler): the job's workspace mounted at
/github/workspace and made the working directory, the file-command files in /github/file_commands
(owned by the runner's account, uid 1001 on hosted runners), /github/home and /github/workflow,
every input of action.yml as INPUT_<NAME> (upper-cased, hyphens kept; the default when the step
gives none), the GITHUB_* variables, each passed as `-e NAME` with its value in the environment.
Only the network differs: the host's, so the container reaches the stack on loopback.

    image_check.py --image TAG --action action.yml

Reads the stack's variables (eval "$(scripts/stack env)"); standard library only; exit 1 on the
first failed check.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

ENV = os.environ
RUNNER_UID = 1001


def fail(msg, run=None):
    print(f"image test: FAILED: {msg}", file=sys.stderr)
    if run is not None:
        print(f"--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}", file=sys.stderr)
    sys.exit(1)


def action_defaults(path):
    """The inputs of action.yml with a default: {name: default}. Enough YAML for that file."""
    defaults, name, in_inputs = {}, None, False
    for line in open(path, encoding="utf-8"):
        if re.match(r"^\S", line):
            in_inputs = line.startswith("inputs:")
            continue
        if not in_inputs:
            continue
        m = re.match(r"^  ([a-z0-9-]+):\s*$", line)
        if m:
            name = m.group(1)
            continue
        m = re.match(r"^    default:\s*(.*?)\s*$", line)
        if m and name:
            value = m.group(1)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            defaults[name] = value
    return defaults


def parse_runner_file(text):
    """GITHUB_OUTPUT's format: `name=value` or `name<<DELIM` … `DELIM`."""
    out, lines, i = {}, text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            value = []
            while i < len(lines) and lines[i] != delim:
                value.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"output {name}: no closing {delim}")
            i += 1
            out[name] = "\n".join(value)
        else:
            name, value = line.split("=", 1)
            out[name] = value
    return out


class Runner:
    """One job's directories, laid out and owned as the runner leaves them."""

    def __init__(self, root):
        self.root = root
        self.dirs = {}
        for d in ("workspace", "file_commands", "home", "workflow"):
            self.dirs[d] = os.path.join(root, d)
            os.makedirs(self.dirs[d])
        with open(os.path.join(self.dirs["workflow"], "event.json"), "w") as f:
            json.dump({"ref": "refs/heads/main", "repository": {"full_name": "acme/flight-apps"}}, f)

    def chown(self):
        for dirpath, dirnames, filenames in os.walk(self.root):
            for n in [dirpath] + [os.path.join(dirpath, x) for x in dirnames + filenames]:
                os.chown(n, RUNNER_UID, RUNNER_UID)

    def run(self, image, command, inputs, secret_values):
        """One step: fresh file-command files, the container, its outputs and summary."""
        step = secrets.token_hex(8)
        out_name, summary_name = f"set_output_{step}", f"step_summary_{step}"
        for n in (out_name, summary_name):
            open(os.path.join(self.dirs["file_commands"], n), "w").close()
        self.chown()
        env = {
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "HOME": "/github/home",
            "GITHUB_WORKSPACE": "/github/workspace",
            "GITHUB_OUTPUT": f"/github/file_commands/{out_name}",
            "GITHUB_STEP_SUMMARY": f"/github/file_commands/{summary_name}",
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_REPOSITORY": "acme/flight-apps",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": "https://api.github.com",
            "GITHUB_RUN_ID": "9876543210",
            "GITHUB_SHA": "0" * 40,
            "GITHUB_REF": "refs/heads/main",
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": "/github/runner_temp",
        }
        env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
        env["INPUT_COMMAND"] = command
        args = ["podman", "run", "--rm", "--network", "host", "--workdir", "/github/workspace"]
        for name in env:
            args += ["-e", name]
        for d, target in (("home", "/github/home"), ("workflow", "/github/workflow"),
                          ("file_commands", "/github/file_commands"),
                          ("workspace", "/github/workspace")):
            args += ["-v", f"{self.dirs[d]}:{target}"]
        args.append(image)
        t0 = time.monotonic()
        run = subprocess.run(args, env={**ENV, **env}, capture_output=True, text=True, timeout=600)
        took = time.monotonic() - t0
        files = {}
        for key, n in (("outputs", out_name), ("summary", summary_name)):
            path = os.path.join(self.dirs["file_commands"], n)
            st = os.stat(path)
            if st.st_uid != RUNNER_UID:
                fail(f"{n} changed owner to uid {st.st_uid}", run)
            files[key] = open(path, encoding="utf-8").read()
        for s in secret_values:
            for what, text in (("stderr", run.stderr), ("outputs", files["outputs"]),
                               ("summary", files["summary"]),
                               ("stdout", "\n".join(l for l in run.stdout.split("\n")
                                                    if not l.startswith("::add-mask::")))):
                if s in text:
                    fail(f"a secret leaked into {what} of {command}", run)
        try:
            outputs = parse_runner_file(files["outputs"])
        except ValueError as e:
            fail(f"{command}: GITHUB_OUTPUT does not follow the runner's format: {e}", run)
        print(f"image test: {command} exited {run.returncode} after {took:.1f} s; "
              f"outputs {sorted(outputs)}; summary {len(files['summary'])} bytes")
        return run, outputs, files["summary"]


def names(outputs, key, run):
    try:
        return sorted(json.loads(outputs.get(key, "")))
    except ValueError:
        fail(f"output {key} is not a JSON array: {outputs.get(key)!r}", run)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--action", required=True)
    opts = ap.parse_args()

    user = subprocess.run(["podman", "image", "inspect", "--format", "{{.Config.User}}", opts.image],
                          capture_output=True, text=True, check=True).stdout.strip()
    if user != "0:0":
        fail(f"the image's user is {user!r}, not the documented 0:0")

    tag = secrets.token_hex(4)
    app = f"image-{tag}"
    src, sink = f"image_src_{tag}", f"image_sink_{tag}"
    statements = {
        "src": f"CREATE TABLE {src} (id STRING, amount INT)",
        "sink": f"CREATE TABLE {sink} (id STRING, amount INT, PRIMARY KEY (id) NOT ENFORCED)",
        "job": f"INSERT INTO {sink} SELECT id, amount FROM {src}",
    }
    root = tempfile.mkdtemp(prefix="ccaf-image-test-")
    try:
        runner = Runner(root)
        ws = runner.dirs["workspace"]
        os.makedirs(os.path.join(ws, "sql"))
        manifest = f'app = "{app}"\n'
        for name, sql in statements.items():
            with open(os.path.join(ws, "sql", f"{name}.sql"), "w") as f:
                f.write(sql + "\n")
            manifest += f'\n[[statements]]\nname = "{name}"\nsql = "sql/{name}.sql"\n'
        with open(os.path.join(ws, "ccaf-housekeeping.toml"), "w") as f:
            f.write(manifest)

        inputs = action_defaults(opts.action)
        # `${{ github.token }}` is the runner's to expand; comment: never keeps it unused.
        inputs["github-token"] = "ghs_" + secrets.token_hex(16)
        inputs.update({
            "comment": "never",
            "flink-endpoint": ENV["SIM_FLINK_URL"],
            "flink-api-key": ENV["SIM_FLINK_API_KEY"],
            "flink-api-secret": ENV["SIM_FLINK_API_SECRET"],
            "organization-id": ENV["SIM_ORG_ID"],
            "environment-id": ENV["SIM_ENV_ID"],
            "compute-pool-id": ENV["SIM_COMPUTE_POOL_ID"],
            "principal-id": ENV["SIM_PRINCIPAL_ID"],
            "catalog": ENV["SIM_ENV_NAME"],
            "database": ENV["SIM_KAFKA_CLUSTER_ID"],
            "kafka-bootstrap-servers": ENV["KAFKA_BOOTSTRAP_SERVERS"],
            "kafka-security-protocol": "PLAINTEXT",
            "schema-registry-url": ENV["SIM_SCHEMA_REGISTRY_URL"],
            "schema-registry-api-key": ENV["SIM_SR_API_KEY"],
            "schema-registry-api-secret": ENV["SIM_SR_API_SECRET"],
            "tracker-topic": f"image-tracker-{tag}",
            "timeout": "60s",
        })
        secret_values = [ENV["SIM_FLINK_API_SECRET"], ENV["SIM_SR_API_SECRET"], inputs["github-token"]]
        # Statement names are <app>-<logical name>-<hash of the definition>.
        prefixes = sorted(f"{app}-{n}-" for n in statements)

        def matches(got):
            return len(got) == len(prefixes) and all(
                any(g.startswith(p) for g in got) for p in prefixes)

        run, out, summary = runner.run(opts.image, "buildup", inputs, secret_values)
        if run.returncode != 0:
            fail(f"buildup exited {run.returncode}", run)
        report = json.loads(out.get("report") or "null") or fail("buildup: no report output", run)
        if report.get("command") != "buildup" or report.get("outcome") != "succeeded":
            fail(f"buildup report: command {report.get('command')!r}, outcome {report.get('outcome')!r}", run)
        want = names(out, "rebuilt", run)
        if not matches(want):
            fail(f"buildup rebuilt {out.get('rebuilt')}, want one of each of {prefixes}", run)
        if names(out, "failed", run) or names(out, "torn-down", run):
            fail(f"buildup failed {out.get('failed')}, tore down {out.get('torn-down')}", run)
        missing = [n for n in want if n not in summary]
        if missing:
            fail(f"the buildup summary does not name {missing}", run)

        run, out, summary = runner.run(opts.image, "teardown", inputs, secret_values)
        if run.returncode != 0:
            fail(f"teardown exited {run.returncode}", run)
        report = json.loads(out.get("report") or "null") or fail("teardown: no report output", run)
        if report.get("command") != "teardown" or report.get("outcome") != "succeeded":
            fail(f"teardown report: command {report.get('command')!r}, outcome {report.get('outcome')!r}", run)
        if names(out, "torn-down", run) != want:
            fail(f"teardown tore down {out.get('torn-down')}, want {want}", run)
        dropped = " ".join(names(out, "dropped-tables", run))
        if src not in dropped or sink not in dropped:
            fail(f"teardown dropped {out.get('dropped-tables')}, want {src} and {sink}", run)
        missing = [n for n in want + [src, sink] if n not in summary]
        if missing:
            fail(f"the teardown summary does not name {missing}", run)
        print(f"image test: passed ({opts.image}: buildup and teardown of {app} as the runner runs it)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
