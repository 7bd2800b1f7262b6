"""Shared fixtures: a real throwaway PostgreSQL cluster, and a small seeded pipeline.

The PostgreSQL cluster is started once per test session with Debian's ``initdb`` and
``pg_ctl`` on 127.0.0.1. It never skips: a machine without PostgreSQL fails the
postgres tests loudly (``.ci/run`` installs it).
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The terminal output is asserted as plain text: a CI runner's colour settings must not
# turn it into ANSI codes (rich reads these), here or in the processes the tests start.
for _name in ("FORCE_COLOR", "TTY_COMPATIBLE", "CLICOLOR_FORCE"):
    os.environ.pop(_name, None)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        pytest.fail(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return candidates[-1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server to take, or to be refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A running PostgreSQL cluster; yields a base URL without a database name."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="phaseguard-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(root / "log"), "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, empty database on the session's cluster."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return f"{pg_server}/{name}"


MINI_CONFIG = """\
pipeline: mini
warehouse: duckdb://mini.duckdb
schedule: {table: raw.schedule, date_column: game_date, unit: game_id}
phases:
  - name: ingest
    tables:
      - {name: box, table: raw.box, date_column: game_date, unit: game_id}
    checks:
      - {kind: rows_exist}
      - {kind: unit_coverage, table: box, excellent: 0.9, acceptable: 0.7}
  - name: process
    depends_on: [ingest]
    tables:
      - {name: A, table: proc.a, date_column: d, critical: true}
      - {name: B, table: proc.b, date_column: d}
      - {name: C, table: proc.c, date_column: d}
    checks:
      - {kind: quorum, min_present: 2}
  - name: predict
    depends_on: [process]
    tables:
      - {name: preds, table: out.preds, date_column: game_date}
      - {name: grades, table: out.grades, date_column: game_date}
    checks:
      - {kind: distinct_count, table: preds, column: system_id, pass: 2}
      - {kind: ratio, numerator: grades, denominator: preds, excellent: 0.95, pass: 0.8, acceptable: 0.7}
      - {kind: aggregate, table: grades, expr: "AVG(ABS(predicted - actual))", direction: lower, excellent: 6, acceptable: 8}
gates:
  - phase: process
  - phase: predict
    checks:
      - {kind: quorum, tables: [A, B, C], min_present: 2}
"""

D1, D2, D3, D4 = (dt.date(2026, 1, d) for d in (1, 2, 3, 4))


def seed_mini(url: str, base_dir: Path) -> None:
    """Seed the mini pipeline through the warehouse door.

    D1: everything healthy.  D2: 1 of 3 games in box (coverage 33 %), C missing.
    D3: nothing scheduled (off-day).  D4: A (critical) missing, half graded, MAE 9.
    """
    from phaseguard.warehouse import connect

    with connect(url, base_dir=base_dir) as wh:
        wh.create_table("raw.schedule", {"game_id": "VARCHAR", "game_date": "DATE"})
        wh.create_table("raw.box", {"game_id": "VARCHAR", "game_date": "DATE", "pts": "INTEGER"})
        for t in ("proc.a", "proc.b", "proc.c"):
            wh.create_table(t, {"d": "DATE", "v": "INTEGER"})
        wh.create_table(
            "out.preds", {"game_date": "DATE", "system_id": "VARCHAR", "predicted": "DOUBLE"}
        )
        wh.create_table(
            "out.grades",
            {
                "game_date": "DATE",
                "system_id": "VARCHAR",
                "predicted": "DOUBLE",
                "actual": "DOUBLE",
            },
        )
        games = [(f"g{d.day}{i}", d) for d in (D1, D2, D4) for i in range(3)]
        wh.insert_rows("raw.schedule", ["game_id", "game_date"], games)
        box = [(g, d, 10) for g, d in games if not (d == D2 and not g.endswith("0"))]
        wh.insert_rows("raw.box", ["game_id", "game_date", "pts"], box)
        for t, days in (("proc.a", (D1, D2)), ("proc.b", (D1, D2, D4)), ("proc.c", (D1, D4))):
            wh.insert_rows(t, ["d", "v"], [(d, 1) for d in days])
        preds = [(d, s, 10.0) for d in (D1, D2, D4) for s in ("s1", "s2") for _ in range(5)]
        wh.insert_rows("out.preds", ["game_date", "system_id", "predicted"], preds)
        grades = [(d, s, p, 12.0) for d, s, p in preds if d != D4]
        grades += [(D4, "s1", 10.0, 19.0)] * 5
        wh.insert_rows("out.grades", ["game_date", "system_id", "predicted", "actual"], grades)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def mini(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """The mini pipeline seeded in a real DuckDB file or a real PostgreSQL database."""
    config = tmp_path / "phaseguard.yml"
    config.write_text(MINI_CONFIG)
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'mini.duckdb'}"
    else:
        url = request.getfixturevalue("pg_url")
    seed_mini(url, tmp_path)
    return config, url


@pytest.fixture(scope="session")
def bq_endpoint() -> Iterator[str]:
    """A local BigQuery emulator (bqemulator, see tests/bq_emulator.py); yields its REST URL.

    Never skips: without ``.venv-bq`` the BigQuery tests fail, naming the script that builds it.
    """
    import bq_emulator

    try:
        proc, url = bq_emulator.start()
    except bq_emulator.EmulatorMissing as exc:
        pytest.fail(str(exc))
    try:
        yield url
    finally:
        bq_emulator.stop(proc)


def _mini_config(tmp_path: Path) -> Path:
    config = tmp_path / "phaseguard.yml"
    config.write_text(MINI_CONFIG)
    return config


@pytest.fixture(scope="session")
def _bq_seeded(bq_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One emulator project seeded with the mini pipeline, shared by the read-only tests."""
    url = f"bigquery://t-{uuid.uuid4().hex[:12]}?endpoint={bq_endpoint}&timeout=30"
    seed_mini(url, tmp_path_factory.mktemp("bq"))
    return url


@pytest.fixture
def mini_bq(_bq_seeded: str, tmp_path: Path) -> tuple[Path, str]:
    """The mini pipeline in the BigQuery emulator (shared: tests here must not write)."""
    return _mini_config(tmp_path), _bq_seeded


@pytest.fixture
def mini_bq_fresh(bq_endpoint: str, tmp_path: Path) -> tuple[Path, str]:
    """The mini pipeline seeded in an emulator project of its own, for tests that write."""
    url = f"bigquery://t-{uuid.uuid4().hex[:12]}?endpoint={bq_endpoint}&timeout=30"
    seed_mini(url, tmp_path)
    return _mini_config(tmp_path), url


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    """One local Spark session (``local[2]``) for the whole test run; warehouse in a temp dir.

    Never skips: without pyspark (the ``spark`` extra) or Java the Spark tests fail.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        pytest.fail("pyspark is not installed: pip install -e '.[spark]' (test.sh does)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    root = Path(tempfile.mkdtemp(prefix="phaseguard-spark-"))
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.warehouse.dir", str(root / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={root}")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("FATAL")  # expected failures would print Java stack traces
    try:
        yield spark
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)


SPARK_URL = "spark://local[2]"


def _seed_spark(spark: object, base_dir: Path) -> None:
    for schema in ("raw", "proc", "out"):
        spark.sql(f"DROP DATABASE IF EXISTS {schema} CASCADE")  # type: ignore[attr-defined]
    seed_mini(SPARK_URL, base_dir)


@pytest.fixture(scope="session")
def _spark_state() -> dict[str, bool]:
    return {"clean": False}


@pytest.fixture
def mini_spark(
    spark_session: object, _spark_state: dict[str, bool], tmp_path: Path
) -> tuple[Path, str]:
    """The mini pipeline in the session's Spark catalogue, seeded once and shared by the
    read-only tests (re-seeded after a test that wrote)."""
    if not _spark_state["clean"]:
        _seed_spark(spark_session, tmp_path)
        _spark_state["clean"] = True
    return _mini_config(tmp_path), SPARK_URL


@pytest.fixture
def mini_spark_fresh(
    spark_session: object, _spark_state: dict[str, bool], tmp_path: Path
) -> tuple[Path, str]:
    """The mini pipeline freshly seeded in the Spark catalogue, for a test that writes."""
    _seed_spark(spark_session, tmp_path)
    _spark_state["clean"] = False  # the next shared test re-seeds
    return _mini_config(tmp_path), SPARK_URL


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``phaseguard ARGS`` in-process: its exit code, stdout and stderr."""
    from phaseguard.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err
