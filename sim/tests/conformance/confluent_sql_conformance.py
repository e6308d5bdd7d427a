"""Confluent's own Python driver, `confluent-sql` (PyPI), unmodified, against ccloud-sim.

Run by the Rust test `conformance.rs`, which starts a private simulator and passes its URL, ids and
Flink key in CONFORMANCE_* variables. Creates two tables (DDL, COMPLETED), a streaming
INSERT INTO ... SELECT (RUNNING), lists them (all, by label, page by page, by compute pool), stops
the INSERT (STOPPED), deletes it and reads it back as the driver's not-found error.

Plain asserts; any failure exits non-zero with what failed.
"""

import os
import sys
import time
import traceback

import confluent_sql
from confluent_sql import ExecutionMode, StatementNotFoundError
from confluent_sql.statement import Phase

DONE = "conformance: all checks passed"


def env(name: str) -> str:
    value = os.environ.get(name)
    assert value, f"{name} is not set"
    return value


def check() -> None:
    suffix = env("CONFORMANCE_SUFFIX")
    pool = env("CONFORMANCE_COMPUTE_POOL_ID")
    conn = confluent_sql.connect(
        flink_api_key=env("CONFORMANCE_FLINK_API_KEY"),
        flink_api_secret=env("CONFORMANCE_FLINK_API_SECRET"),
        environment_id=env("CONFORMANCE_ENV_ID"),
        organization_id=env("CONFORMANCE_ORG_ID"),
        compute_pool_id=pool,
        endpoint=env("CONFORMANCE_ENDPOINT"),
        database=env("CONFORMANCE_DATABASE"),
        http_timeout_secs=30,
    )
    print(f"confluent-sql {confluent_sql.__version__} against {env('CONFORMANCE_ENDPOINT')}")
    label = f"conformance-{suffix}"
    src, sink = f"conf-src-{suffix}", f"conf-sink-{suffix}"
    ddl_src, ddl_sink, insert = f"ddl-src-{suffix}", f"ddl-sink-{suffix}", f"insert-{suffix}"

    # DDL: the cursor waits until the statement is terminal. (A closed cursor deletes its
    # terminal statement, so these cursors stay open: the statements are listed below.)
    ddl = conn.cursor(mode=ExecutionMode.SNAPSHOT_DDL)
    ddl.execute(
        f"CREATE TABLE `{src}` (id INT, v STRING)",
        statement_name=ddl_src,
        statement_labels=[label],
        timeout=60,
    )
    assert ddl.statement.phase == Phase.COMPLETED, f"{ddl_src}: {ddl.statement.phase}"
    got = conn.get_statement(ddl_src)
    assert got.phase == Phase.COMPLETED, f"{ddl_src} read back: {got.phase}"
    assert got.sql_kind == "CREATE_TABLE", got.sql_kind
    assert got.is_pure_ddl, "CREATE TABLE is pure DDL"
    assert got.end_user_labels == [label], got.end_user_labels
    print(f"{ddl_src}: {got.phase.value}")

    ddl2 = conn.cursor(mode=ExecutionMode.SNAPSHOT_DDL)
    ddl2.execute(f"CREATE TABLE `{sink}` (id INT, v STRING)", statement_name=ddl_sink, timeout=60)
    assert ddl2.statement.phase == Phase.COMPLETED, f"{ddl_sink}: {ddl2.statement.phase}"

    # A streaming INSERT: the cursor waits until it runs.
    stream = conn.streaming_cursor()
    stream.execute(
        f"INSERT INTO `{sink}` SELECT id, v FROM `{src}`",
        statement_name=insert,
        statement_labels=[label],
        timeout=60,
    )
    assert stream.statement.phase == Phase.RUNNING, f"{insert}: {stream.statement.phase}"
    got = conn.get_statement(insert)
    assert got.phase == Phase.RUNNING, f"{insert} read back: {got.phase}"
    assert got.sql_kind == "INSERT_INTO", got.sql_kind
    assert got.is_bounded is False, "a streaming INSERT is unbounded"
    assert got.compute_pool_id == pool, got.compute_pool_id
    assert not got.stop_requested, "nothing asked it to stop"
    print(f"{insert}: {got.phase.value}")

    # Listing: everything, by label, a page at a time, by compute pool. The list lags the
    # service (new statements and phase changes show late), so wait until it has caught up.
    wanted = {ddl_src: Phase.COMPLETED, ddl_sink: Phase.COMPLETED, insert: Phase.RUNNING}
    until(lambda: {s.name: s.phase for s in conn.list_statements()} == wanted, "the list")
    everything = [s.name for s in conn.list_statements()]
    assert sorted(everything) == sorted([ddl_src, ddl_sink, insert]), everything
    labelled = [s.name for s in conn.list_statements(label=label)]
    assert sorted(labelled) == sorted([ddl_src, insert]), labelled
    assert conn.list_statements(label=f"no-such-{suffix}") == [], "an unused label lists nothing"
    paged = [s.name for s in conn.list_statements(page_size=1)]
    assert sorted(paged) == sorted(everything), f"page by page: {paged}"
    pooled = [s.name for s in conn.list_statements(compute_pool_id=pool)]
    assert sorted(pooled) == sorted(everything), pooled
    assert conn.list_statements(compute_pool_id="lfcp-none") == [], "another pool lists nothing"
    phases = {s.name: s.phase for s in conn.list_statements()}
    assert phases == {
        ddl_src: Phase.COMPLETED,
        ddl_sink: Phase.COMPLETED,
        insert: Phase.RUNNING,
    }, phases
    print(f"listed: {sorted(everything)}")

    # Stop: the driver PATCHes spec.stopped and waits for a terminal phase.
    stopped = conn.stop_statement(insert, timeout=60)
    assert stopped.phase == Phase.STOPPED, f"{insert} after stop: {stopped.phase}"
    got = conn.get_statement(insert)
    assert got.phase == Phase.STOPPED and got.stop_requested, f"{insert}: {got.phase}"
    print(f"{insert}: {got.phase.value}")

    # Delete: DELETING for a while, then the driver's not-found error.
    conn.delete_statement(insert)
    deadline = time.monotonic() + 30
    while True:
        try:
            got = conn.get_statement(insert)
        except StatementNotFoundError as e:
            print(f"{insert}: not found ({e})")
            break
        assert got.phase == Phase.DELETING, f"{insert} while deleting: {got.phase}"
        assert time.monotonic() < deadline, f"{insert} still there 30 s after its delete"
        time.sleep(0.05)
    # The list shows a deleted statement for a while after it is gone.
    until(
        lambda: sorted(s.name for s in conn.list_statements()) == sorted([ddl_src, ddl_sink]),
        "the list to drop the deleted statement",
    )
    # Deleting what is gone is not an error for the driver (it tolerates the 404).
    conn.delete_statement(insert)
    try:
        conn.stop_statement(insert)
        raise AssertionError("stopping a deleted statement did not raise")
    except StatementNotFoundError:
        pass

    # Deleting through the Statement object marks it deleted.
    statement = conn.get_statement(ddl_sink)
    conn.delete_statement(statement)
    assert statement.is_deleted and statement.phase == Phase.DELETED
    conn.close()


def until(condition, what: str, timeout: float = 30.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def main() -> int:
    try:
        check()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        traceback.print_exc()
        return 1
    except Exception as e:  # noqa: BLE001 - any driver error is a conformance failure
        print(f"FAILED with {type(e).__name__}: {e}", file=sys.stderr)
        traceback.print_exc()
        return 1
    print(DONE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
