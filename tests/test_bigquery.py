"""The core integration suite against BigQuery: a local emulator driven by the real client.

The scenarios are the very test bodies of ``test_integration.py``, called with the
``mini_bq`` fixture (the mini pipeline seeded in the emulator, one project per test). Then
what only BigQuery has: the partition-metadata path for existence checks and dry runs,
and date columns of type TIMESTAMP or DATETIME, which BigQuery will not compare with a DATE.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

import test_integration as core
from conftest import D1, D2, D3, D4
from phaseguard import load
from phaseguard.cli import app
from phaseguard.errors import WarehouseError
from phaseguard.plan import ROWS, Metric, Plan, Probe
from phaseguard.verdicts import Level, Overall
from phaseguard.warehouse import connect

pytestmark = pytest.mark.slow

Mini = tuple[Path, str]


def test_verify_grades_every_date(mini_bq: Mini) -> None:
    core.test_verify_grades_every_date(mini_bq)


@pytest.mark.parametrize("mode", ["smoke", "verify"])
@pytest.mark.parametrize("days", [1, 40, 3000])
def test_exactly_one_query_whatever_the_range(mini_bq: Mini, mode: str, days: int) -> None:
    core.test_exactly_one_query_whatever_the_range(mini_bq, mode, days)


def test_smoke_is_existence_only(mini_bq: Mini) -> None:
    core.test_smoke_is_existence_only(mini_bq)


def test_missing_table_is_named(mini_bq: Mini, tmp_path: Path) -> None:
    core.test_missing_table_is_named(mini_bq, tmp_path)


def test_missing_column_is_named(mini_bq: Mini) -> None:
    core.test_missing_column_is_named(mini_bq)


def test_replace_partition_is_idempotent(mini_bq_fresh: Mini, tmp_path: Path) -> None:
    core.test_replace_partition_is_idempotent(mini_bq_fresh, tmp_path)


def test_aggregate_with_a_subquery_is_refused(mini_bq: Mini) -> None:
    core.test_aggregate_with_a_subquery_is_refused(mini_bq)


def test_measurement_binds_dates_as_bigquery_parameters(mini_bq: Mini) -> None:
    config, url = mini_bq
    with load(config, warehouse=url) as guard:
        guard.verify(D1)
        sql = guard.warehouse.last_sql
    assert "@start" in sql
    assert "@stop" in sql
    assert "2026" not in sql


def test_a_failing_query_is_a_warehouse_error(mini_bq: Mini) -> None:
    config, url = mini_bq
    config.write_text(
        config.read_text().replace("AVG(ABS(predicted - actual))", "MAX(no_such_column)")
    )
    with load(config, warehouse=url) as guard, pytest.raises(WarehouseError) as info:
        guard.verify(D1)
    assert info.value.exit_code == 4
    assert "warehouse query failed" in str(info.value)


def test_an_endpoint_that_is_down_is_a_warehouse_error(tmp_path: Path) -> None:
    from conftest import free_port

    url = f"bigquery://p?endpoint=http://127.0.0.1:{free_port()}&timeout=2"
    with connect(url, base_dir=tmp_path) as wh, pytest.raises(WarehouseError) as info:
        wh.columns(["raw.box"])
    assert info.value.exit_code == 4


def test_table_metadata_that_cannot_be_read_is_a_warehouse_error(mini_bq: Mini) -> None:
    """The statement needs the tables' metadata first (partitioning, date column types)."""
    from conftest import free_port

    config, _ = mini_bq
    url = f"bigquery://p?endpoint=http://127.0.0.1:{free_port()}&timeout=2"
    with load(config, warehouse=url) as guard, pytest.raises(WarehouseError) as info:
        guard.verify(D1)
    assert "cannot read table metadata" in str(info.value)
    assert guard.warehouse.queries_sent == 0


PARTITIONED = """\
pipeline: parts
warehouse: duckdb://unused.duckdb
schedule: {table: raw.schedule, date_column: game_date, unit: game_id}
phases:
  - name: ingest
    tables:
      - {name: box, table: raw.box_by_day, date_column: game_date}
    checks:
      - {kind: rows_exist}
"""


@pytest.fixture
def partitioned(mini_bq_fresh: Mini) -> Mini:
    """The mini data plus raw.box_by_day, a table partitioned by day on game_date."""
    config, url = mini_bq_fresh
    with connect(url) as wh:
        wh.run_script(
            [
                "CREATE TABLE `raw`.`box_by_day` (`game_id` STRING, `game_date` DATE) "
                "PARTITION BY `game_date`"
            ]
        )
        wh.insert_rows(
            "raw.box_by_day", ["game_id", "game_date"], [("a", D1), ("b", D1), ("c", D4)]
        )
    config.write_text(PARTITIONED)
    return config, url


def test_existence_on_a_partitioned_table_reads_partition_metadata(partitioned: Mini) -> None:
    config, url = partitioned
    with load(config, warehouse=url) as guard:
        result = guard.smoke(D1, D4)
        warehouse = guard.warehouse
        assert warehouse.queries_sent == 1
        assert "INFORMATION_SCHEMA" in warehouse.last_sql
        assert warehouse.notes == [
            "raw.box_by_day: rows read from INFORMATION_SCHEMA.PARTITIONS "
            "(partitioned by game_date; 0 bytes scanned)"
        ]
    by_date = {d.date: d for d in result.dates}
    assert by_date[D1].phase("ingest").level is Level.PASS
    assert by_date[D2].phase("ingest").level is Level.FAIL  # scheduled, nothing loaded


def test_an_unpartitioned_table_is_scanned(mini_bq: Mini) -> None:
    config, url = mini_bq
    with load(config, warehouse=url) as guard:
        guard.smoke(D1)
        assert guard.warehouse.notes == []
        assert "INFORMATION_SCHEMA" not in guard.warehouse.last_sql


def test_dry_run_reports_sql_and_bytes(partitioned: Mini) -> None:
    config, url = partitioned
    with load(config, warehouse=url) as guard:
        from phaseguard.assess import phase_checks
        from phaseguard.plan import build_plan

        selection = phase_checks(guard.config, "smoke")
        checks = [(c, g.tables) for g in selection for c in g.checks]
        plan = build_plan(guard.config, checks, D1, D4)
        sql, scanned = guard.warehouse.dry_run(plan)
        assert guard.warehouse.queries_sent == 0
    assert "UNION ALL" in sql
    assert scanned == 0  # the emulator reports 0; BigQuery reports the bytes


@pytest.mark.parametrize("command", ["smoke", "verify"])
def test_cli_dry_run_prints_sql_and_bytes(partitioned: Mini, command: str) -> None:
    config, url = partitioned
    result = CliRunner().invoke(
        app, [command, "2026-01-01", "2026-01-04", "-c", str(config), "-w", url, "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "SELECT" in result.output
    assert "bytes scanned: 0" in result.output
    assert "INFORMATION_SCHEMA.PARTITIONS" in result.output  # the note


def test_cli_dry_run_on_duckdb_has_no_byte_count(tmp_path: Path) -> None:
    from conftest import MINI_CONFIG, seed_mini

    config = tmp_path / "phaseguard.yml"
    config.write_text(MINI_CONFIG)
    seed_mini("duckdb://mini.duckdb", tmp_path)
    result = CliRunner().invoke(app, ["verify", "2026-01-01", "-c", str(config), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "UNION ALL" in result.output
    assert "bytes scanned: n/a" in result.output


def test_the_scheme_names_the_missing_extra_or_bad_option(tmp_path: Path) -> None:
    from phaseguard.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown option"):
        connect("bigquery://p?colour=blue", base_dir=tmp_path)
    with pytest.raises(ConfigError, match="no project"):
        connect("bigquery://", base_dir=tmp_path)


def test_dates_outside_the_range_are_not_counted(mini_bq: Mini) -> None:
    config, url = mini_bq
    with load(config, warehouse=url) as guard:
        result = guard.verify(D2, D2 + dt.timedelta(days=1))
    assert [d.date for d in result.dates] == [D2, D2 + dt.timedelta(days=1)]
    assert result.dates[0].scheduled == 3
    assert result.dates[1].scheduled == 0


STAMPED = """\
pipeline: stamps
warehouse: duckdb://unused.duckdb
schedule: {table: raw.schedule, date_column: game_date, unit: game_id}
phases:
  - name: ingest
    tables:
      - {name: ts, table: raw.box_ts, date_column: scraped_at, unit: game_id}
      - {name: dt, table: raw.box_dt, date_column: scraped_at, unit: game_id}
    checks:
      - {kind: rows_exist}
      - {kind: unit_coverage, table: ts, excellent: 0.9, acceptable: 0.5}
      - {kind: freshness, table: dt, column: scraped_at, max_age_hours: 1000000}
"""
UTC = dt.timezone.utc


def _at(day: dt.date, *hms: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, *hms)


# Rows at the edges of the dates: midnight belongs to the day it starts, the last
# microsecond to the day it ends; the first and last rows fall outside D1..D4.
STAMPS = [
    ("g00", _at(D1, 0, 0, 0) - dt.timedelta(microseconds=1)),
    ("g10", _at(D1, 0, 0, 0)),
    ("g11", _at(D1, 12, 0, 0)),
    ("g11", _at(D2, 0, 0, 0) - dt.timedelta(microseconds=1)),
    ("g20", _at(D2, 0, 0, 0)),
    *[(f"g4{i}", _at(D4, 6, 0, 0)) for i in range(3)],
    ("g50", _at(D4 + dt.timedelta(days=1), 0, 0, 0)),
]


@pytest.fixture
def stamped(mini_bq_fresh: Mini) -> Mini:
    """The mini schedule, with box rows dated by a TIMESTAMP column (raw.box_ts, partitioned
    by day on it, as BigQuery users partition by ``scraped_at``) and by a DATETIME column
    (raw.box_dt, unpartitioned, without the D4 rows)."""
    from google.cloud import bigquery

    from phaseguard.warehouse.bigquery import BigQueryDriver

    config, url = mini_bq_fresh
    with connect(url) as wh:
        driver = wh.driver
        assert isinstance(driver, BigQueryDriver)
        for name, kind, by_day in (("box_ts", "TIMESTAMP", True), ("box_dt", "DATETIME", False)):
            table = bigquery.Table(
                f"{driver.project}.raw.{name}",
                schema=[
                    bigquery.SchemaField("game_id", "STRING"),
                    bigquery.SchemaField("scraped_at", kind),
                ],
            )
            if by_day:  # through the API: the emulator ignores PARTITION BY DATE(col) DDL
                table.time_partitioning = bigquery.TimePartitioning(field="scraped_at")
            driver.client.create_table(table)
        wh.insert_rows(
            "raw.box_ts", ["game_id", "scraped_at"], [(g, t.replace(tzinfo=UTC)) for g, t in STAMPS]
        )
        wh.insert_rows(
            "raw.box_dt", ["game_id", "scraped_at"], [(g, t) for g, t in STAMPS if t.date() != D4]
        )
    config.write_text(STAMPED)
    return config, url


def test_timestamp_and_datetime_date_columns_are_counted_per_date(stamped: Mini) -> None:
    config, url = stamped
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D4)
        sql = guard.warehouse.last_sql
    # BigQuery has no TIMESTAMP >= DATE: the bound dates are converted to the column's
    # type, and the column itself is left bare so that partitions are pruned.
    assert "`scraped_at` >= CAST(@start AS TIMESTAMP)" in sql
    assert "`scraped_at` < CAST(@stop AS TIMESTAMP)" in sql
    assert "`scraped_at` >= CAST(@start AS DATETIME)" in sql
    assert "`game_date` >= @start" in sql  # a DATE column compares as it is
    by_date = {d.date: d for d in result.dates}
    observed = {
        day: {v.check: v.observed for v in by_date[day].phase("ingest").verdicts}
        for day in (D1, D2, D4)
    }
    assert observed[D1]["rows_exist"] == "ts=3, dt=3"
    assert observed[D1]["unit_coverage(ts)"] == "67% (2/3); missing 1: g12"
    assert observed[D2]["rows_exist"] == "ts=1, dt=1"
    assert observed[D2]["unit_coverage(ts)"] == "33% (1/3); missing 2: g21, g22"
    assert observed[D4]["rows_exist"] == "ts=3, dt=0"
    assert observed[D4]["unit_coverage(ts)"] == "100% (3/3)"
    assert observed[D4]["freshness(dt)"] == "no rows"
    assert by_date[D3].overall is Overall.NA


def test_timestamp_date_columns_stay_inside_the_range(stamped: Mini) -> None:
    config, url = stamped
    epoch = Metric("max_epoch", "scraped_at")
    with load(config, warehouse=url) as guard:
        probes = tuple(
            Probe(key, f"raw.box_{key}", "scraped_at", (ROWS, epoch)) for key in ("ts", "dt")
        )
        whole = guard.warehouse.measure(Plan(D1, D4, probes))
        one = guard.warehouse.measure(Plan(D2, D2, probes))
    assert sorted(whole.partitions) == [D1, D2, D4]
    assert sorted(one.partitions) == [D2]
    assert one.rows("ts", D2) == one.rows("dt", D2) == 1
    # The newest row's epoch, a DATETIME read as UTC (whole seconds: the emulator rounds
    # UNIX_SECONDS where BigQuery truncates).
    assert whole.get("ts", D4, epoch) == _at(D4, 6, 0, 0).replace(tzinfo=UTC).timestamp()
    assert whole.get("dt", D2, epoch) == _at(D2, 0, 0, 0).replace(tzinfo=UTC).timestamp()


def test_smoke_on_timestamp_date_columns(stamped: Mini) -> None:
    config, url = stamped
    with load(config, warehouse=url) as guard:
        result = guard.smoke(D1, D4)
        sql = guard.warehouse.last_sql
        notes = guard.warehouse.notes
    assert notes == [
        "raw.box_ts: rows read from INFORMATION_SCHEMA.PARTITIONS "
        "(partitioned by scraped_at; 0 bytes scanned)"
    ]
    assert "`scraped_at` >= CAST(@start AS DATETIME)" in sql
    by_date = {d.date: d for d in result.dates}
    observed = {day: by_date[day].phase("ingest").verdicts[0].observed for day in (D1, D2, D4)}
    assert observed == {D1: "ts=3, dt=3", D2: "ts=1, dt=1", D4: "ts=3, dt=0"}


def test_the_sql_cache_tells_a_timestamp_date_column_from_a_date_one(
    bq_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same probe on a DATE and on a TIMESTAMP column renders two statements, so the
    on-disk cache must not hand the first to the second."""
    monkeypatch.setenv("PHASEGUARD_CACHE_DIR", str(tmp_path / "sql"))
    monkeypatch.delenv("PHASEGUARD_NO_SQL_CACHE", raising=False)
    probe = Probe("box", "raw.box", "at", (ROWS, Metric("units", "game_id")))
    sqls = []
    for kind, value in (("DATE", D1), ("TIMESTAMP", _at(D1, 12, 0, 0).replace(tzinfo=UTC))):
        with connect(f"bigquery://t-{uuid.uuid4().hex[:12]}?endpoint={bq_endpoint}") as wh:
            wh.run_script(
                [
                    "CREATE SCHEMA IF NOT EXISTS `raw`",
                    f"CREATE TABLE `raw`.`box` (`game_id` STRING, `at` {kind})",
                ]
            )
            wh.insert_rows("raw.box", ["game_id", "at"], [("g1", value)])
            measured = wh.measure(Plan(D1, D1, (probe,)))
            sqls.append(wh.last_sql)
        assert measured.rows("box", D1) == 1
    assert "CAST(@start" not in sqls[0]
    assert "`at` >= CAST(@start AS TIMESTAMP)" in sqls[1]
