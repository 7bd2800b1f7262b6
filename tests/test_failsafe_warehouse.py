"""Fail-safe warehouse access (issue #13, items 4 and 5), with real processes and files.

Checks open the warehouse read-only: many gates and smoke tests read one DuckDB file at
once, a file nobody may write can be checked, a writer's lock is waited for and then
called busy, a missing table is called missing, and a command step can write the file.
Aggregate expressions may only use allow-listed functions (refused when the config
loads), and the read session itself refuses a write that would get through anyway.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import D1, MINI_CONFIG, seed_mini
from phaseguard import load
from phaseguard.errors import (
    ConfigError,
    UnknownObjectError,
    WarehouseBusyError,
    WarehouseError,
)
from phaseguard.runner import Runner
from phaseguard.warehouse import connect

CLI = [sys.executable, "-m", "phaseguard.cli"]

# Holds the DuckDB file open in another process until killed: read-write (a writer such
# as the pipeline's loader) or read-only (another reader: a dashboard, a gate).
HOLDER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


D1_HEALTH = 96.7  # the mini pipeline's healthy date: predict is PASS (a pass-only tier)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The mini pipeline's config and DuckDB warehouse in a directory."""
    (tmp_path / "phaseguard.yml").write_text(MINI_CONFIG)
    seed_mini(f"duckdb://{tmp_path / 'mini.duckdb'}", tmp_path)
    return tmp_path


def cli(project: Path, *args: str, timeout: float = 60) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PHASEGUARD_WAREHOUSE", None)
    return subprocess.Popen(
        [*CLI, *args, "-c", str(project / "phaseguard.yml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=project,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


@contextlib.contextmanager
def holding(path: Path, mode: str, seconds: float = 60) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``path`` open (``rw`` or ``ro``) for ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.communicate()


# --- item 4: read-only checks ----------------------------------------------------------------
def test_parallel_gates_and_smoke_runs_on_one_file_never_collide(project: Path) -> None:
    """Today: parallel gates falsely BLOCKED ("Could not set lock") and smoke runs exit 4."""
    for _ in range(2):
        gates = [cli(project, "gate", "process", "--date", "2026-01-01") for _ in range(4)]
        smokes = [cli(project, "smoke", "2026-01-01") for _ in range(3)]
        gate_results = [finish(p) for p in gates]
        smoke_results = [finish(p) for p in smokes]
        assert [code for code, _ in gate_results] == [0] * 4, gate_results
        assert [code for code, _ in smoke_results] == [0] * 3, smoke_results


def test_a_gate_opens_while_another_process_reads_the_file(project: Path) -> None:
    with holding(project / "mini.duckdb", "ro"):
        code, output = finish(cli(project, "gate", "process", "--date", "2026-01-01"))
    assert code == 0, output
    assert "open" in output


def test_a_writer_is_waited_for_within_the_lock_timeout(project: Path) -> None:
    with holding(project / "mini.duckdb", "rw", seconds=1.5):
        started = time.monotonic()
        code, output = finish(cli(project, "gate", "process", "--date", "2026-01-01"))
    assert code == 0, output  # waited for the writer (default wait 20 s), then decided
    assert time.monotonic() - started < 20


def test_a_writer_holding_past_the_wait_is_busy_not_unreachable(project: Path) -> None:
    config = project / "phaseguard.yml"
    config.write_text(
        MINI_CONFIG.replace("pipeline: mini\n", "pipeline: mini\nwarehouse_lock_timeout: 1\n")
    )
    with holding(project / "mini.duckdb", "rw"):
        gate = finish(cli(project, "gate", "process", "--date", "2026-01-01"))
        verify = finish(cli(project, "verify", "2026-01-01"))
    code, output = gate
    assert code == 2, output  # fails closed
    assert "the warehouse is busy (locked by another process)" in output
    assert "waited 1s" in output
    assert "could not be reached" not in output
    code, output = verify
    assert code == 4, output
    assert "warehouse busy" in output
    assert "Traceback" not in output


def test_the_busy_error_in_process_names_the_wait(project: Path) -> None:
    config = project / "phaseguard.yml"
    config.write_text(
        MINI_CONFIG.replace("pipeline: mini\n", "pipeline: mini\nwarehouse_lock_timeout: 0.3\n")
    )
    with (
        holding(project / "mini.duckdb", "rw"),
        load(config) as guard,
        pytest.raises(WarehouseBusyError) as info,
    ):
        guard.verify(D1)
    assert info.value.exit_code == 4
    assert "locked by another process" in str(info.value)


def test_a_missing_table_is_missing_not_unreachable(mini: tuple[Path, str]) -> None:
    """Today a gate says "the warehouse could not be reached" for a missing table."""
    config, url = mini
    config.write_text(config.read_text().replace("proc.c", "proc.gone"))
    with load(config, warehouse=url) as guard:
        decision = guard.gate("predict").decide(D1)
        with pytest.raises(UnknownObjectError) as info:
            guard.verify(D1)
    assert decision.status == "blocked"  # still fails closed
    assert decision.verdicts[0].observed.startswith("missing: ")
    assert "something it reads is missing from the warehouse" in decision.message
    assert "table proc.gone does not exist" in decision.message
    assert "could not be reached" not in decision.message
    assert "table proc.gone does not exist" in str(info.value)


def test_a_read_only_warehouse_file_can_be_checked(project: Path) -> None:
    """A 0444 file (immutable too, when the test runs as root, who may write any file)."""
    path = project / "mini.duckdb"
    path.chmod(0o444)
    immutable = os.geteuid() == 0 and shutil.which("chattr") is not None
    if immutable:
        immutable = subprocess.run(["chattr", "+i", str(path)], check=False).returncode == 0
    try:
        smoke = finish(cli(project, "smoke", "2026-01-01"))
        gate = finish(cli(project, "gate", "process", "--date", "2026-01-01"))
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o644)
    assert smoke[0] == 0, smoke[1]
    assert gate[0] == 0, gate[1]


WRITER_STEP = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute("INSERT INTO proc.c VALUES (CAST(? AS DATE), 42)", [sys.argv[2]])
"""


def test_a_command_step_can_write_the_duckdb_file(project: Path) -> None:
    """Today the runner holds the file's write lock, so a command step that writes fails."""
    script = project / "write_step.py"
    script.write_text(WRITER_STEP)
    path = project / "mini.duckdb"
    step = f"    step:\n      command: {sys.executable} {script} {path} {{date}}\n"
    text = MINI_CONFIG.replace("    depends_on: [ingest]\n", f"    depends_on: [ingest]\n{step}")
    (project / "phaseguard.yml").write_text(text)
    with load(project / "phaseguard.yml") as guard:
        run = Runner(guard, sleep=lambda _s: None, step_attempts=1).run_date(D1)
    statuses = {p.phase: (p.status, p.message) for p in run.phases}
    assert statuses["process"] == ("ran", ""), statuses
    with connect(f"duckdb://{path}") as wh:
        assert wh.driver.execute("SELECT v FROM proc.c WHERE v = 42") == [(42,)]


def test_a_call_step_writes_and_releases_the_file(project: Path) -> None:
    """A Python step writes through ``ctx.warehouse``; afterwards no lock is left held."""
    from phaseguard.runner import StepContext

    with load(project / "phaseguard.yml") as guard:
        guard.verify(D1)  # the read connection is open
        with guard.writing():
            StepContext(guard, "process", D1).warehouse.insert_rows("proc.c", ["d", "v"], [(D1, 7)])
        assert guard._warehouse is None  # released at the end of the step
        # another process can now take the write lock at once
        with holding(project / "mini.duckdb", "rw", seconds=0.1):
            pass


# --- item 5: aggregate expressions cannot write -------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "named"),
    [
        ("AVG(ABS(predicted - actual)) + 0 * MAX(wipe())", "wipe()"),
        ("MAX(nextval('s'))", "nextval()"),
        ("AVG(predicted) + pg_catalog.setval('s', 1)", "qualified names"),
        ("MAX(pg_sleep(10))", "pg_sleep()"),
    ],
)
def test_an_aggregate_calling_an_unknown_function_is_refused_at_load(
    tmp_path: Path, expr: str, named: str
) -> None:
    config = tmp_path / "phaseguard.yml"
    config.write_text(MINI_CONFIG.replace("AVG(ABS(predicted - actual))", expr))
    with pytest.raises(ConfigError) as info:
        load(config)
    message = str(info.value)
    assert message.startswith(f"{config}:27: phases[2].checks[2].expr: ")
    assert named in message
    # what the allow-list keeps: aggregates, pure scalar functions, CASE, operators
    expr = "ROUND(SUM(CASE WHEN actual > 0 THEN ABS(predicted - actual) ELSE 0 END) / NULLIF(COUNT(*), 0), 2)"
    config.write_text(MINI_CONFIG.replace("AVG(ABS(predicted - actual))", expr))
    with load(config) as guard:
        assert guard.config.phases[2].checks[2].expr == expr  # type: ignore[union-attr]


@pytest.mark.postgres
def test_a_postgres_read_session_refuses_a_volatile_function_and_nextval(
    pg_url: str, tmp_path: Path
) -> None:
    """Even if an expression got past the grammar, the read session cannot write."""
    import psycopg

    config, url = tmp_path / "phaseguard.yml", pg_url
    config.write_text(MINI_CONFIG)
    seed_mini(url, tmp_path)

    with connect(url) as wh:
        wh.run_script(
            [
                "CREATE SEQUENCE s",
                "CREATE FUNCTION wipe() RETURNS integer VOLATILE LANGUAGE sql AS "
                "'DELETE FROM out.grades; SELECT 1'",
            ]
        )
    with load(config, warehouse=url) as guard:
        driver = guard.warehouse.driver
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            driver.execute("SELECT AVG(actual) + 0 * MAX(wipe()) FROM out.grades")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            driver.execute("SELECT nextval('s')")
        assert guard.verify(D1).dates[0].phase("predict").level.value != "FAIL"
    with connect(url) as wh:
        assert wh.driver.execute("SELECT COUNT(*) FROM out.grades")[0][0] > 0
        assert wh.driver.execute("SELECT last_value, is_called FROM s") == [(1, False)]


def test_a_duckdb_read_connection_refuses_nextval(project: Path) -> None:
    import duckdb

    config, url = project / "phaseguard.yml", f"duckdb://{project / 'mini.duckdb'}"

    with connect(url) as wh:
        wh.run_script(["CREATE SEQUENCE s"])
    with load(config, warehouse=url) as guard, pytest.raises(duckdb.Error):
        guard.warehouse.driver.execute("SELECT nextval('s')")
    # in one process with a write connection open (DuckDB shares one instance per file):
    # the reader runs in READ ONLY transactions
    with connect(url) as writer, load(config, warehouse=url) as guard:
        with pytest.raises(duckdb.Error):
            guard.warehouse.driver.execute("SELECT nextval('s')")
        assert guard.verify(D1).dates[0].health == D1_HEALTH
        assert writer.driver.execute("SELECT nextval('s')") == [(1,)]  # never advanced


def test_a_write_through_a_read_only_warehouse_is_refused(project: Path) -> None:
    with (
        load(project / "phaseguard.yml") as guard,
        pytest.raises(WarehouseError, match=r"warehouse write failed .*read-only"),
    ):
        guard.warehouse.insert_rows("proc.c", ["d", "v"], [(dt.date(2026, 1, 9), 1)])


def test_a_bigquery_read_connection_runs_only_a_select(mini_bq: tuple[Path, str]) -> None:
    """BigQuery has no read-only session: a dry run must say SELECT before a statement runs."""
    config, url = mini_bq
    with load(config, warehouse=url) as guard:
        driver = guard.warehouse.driver
        with pytest.raises(WarehouseError, match="refused a DELETE statement"):
            driver.execute("DELETE FROM `out`.`grades` WHERE TRUE")
        assert guard.verify(D1).dates[0].health == D1_HEALTH  # the data is still there


@pytest.mark.postgres
def test_a_postgres_table_lock_held_past_the_wait_is_busy(pg_url: str, tmp_path: Path) -> None:
    """Today a check waits as long as another session holds a table lock."""
    import threading

    import psycopg

    config = tmp_path / "phaseguard.yml"
    config.write_text(
        MINI_CONFIG.replace("pipeline: mini\n", "pipeline: mini\nwarehouse_lock_timeout: 0.5\n")
    )
    seed_mini(pg_url, tmp_path)
    locker = psycopg.connect(pg_url)
    locker.execute(b"LOCK TABLE out.grades IN ACCESS EXCLUSIVE MODE")
    release = threading.Timer(3.0, locker.rollback)
    release.start()
    try:
        started = time.monotonic()
        with load(config, warehouse=pg_url) as guard, pytest.raises(WarehouseBusyError) as info:
            guard.verify(D1)
        assert time.monotonic() - started < 2.5
        assert "locked by another session" in str(info.value)
    finally:
        release.join()
        locker.close()


def test_a_spark_read_session_sends_only_a_select(mini_spark_fresh: tuple[Path, str]) -> None:
    """Spark SQL has no read-only session: a read connection refuses any other statement."""
    config, url = mini_spark_fresh
    with load(config, warehouse=url) as guard:
        with pytest.raises(WarehouseError, match="not a SELECT"):
            guard.warehouse.driver.execute("DROP TABLE out.grades")
        assert guard.verify(D1).dates[0].health == D1_HEALTH  # the table is still there
        with guard.writing():  # the runner's write connection still writes
            guard.warehouse.insert_rows("proc.c", ["d", "v"], [(dt.date(2026, 1, 9), 1)])
        assert guard.verify(D1).dates[0].health == D1_HEALTH  # and reads after it
