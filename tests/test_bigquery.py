"""The core integration suite against BigQuery: a local emulator driven by the real client.

The scenarios are the very test bodies of ``test_integration.py``, called with the
``mini_bq`` fixture (the mini pipeline seeded in the emulator, one project per test). Then
what only BigQuery has: the partition-metadata path for existence checks and dry runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

import test_integration as core
from conftest import D1, D2, D4
from phaseguard import load
from phaseguard.cli import app
from phaseguard.errors import WarehouseError
from phaseguard.verdicts import Level
from phaseguard.warehouse import connect

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
        config.read_text().replace("AVG(ABS(predicted - actual))", "MAX(NO_SUCH_FUNCTION(actual))")
    )
    with load(config, warehouse=url) as guard, pytest.raises(WarehouseError) as info:
        guard.verify(D1)
    assert info.value.exit_code == 4
    assert "warehouse query failed" in str(info.value)


def test_an_endpoint_that_is_down_is_a_warehouse_error(tmp_path: Path) -> None:
    from conftest import _free_port

    url = f"bigquery://p?endpoint=http://127.0.0.1:{_free_port()}&timeout=2"
    with connect(url, base_dir=tmp_path) as wh, pytest.raises(WarehouseError) as info:
        wh.columns(["raw.box"])
    assert info.value.exit_code == 4


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
