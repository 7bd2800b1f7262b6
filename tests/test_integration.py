"""The core against real warehouses: the same tests on a DuckDB file and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import D1, D2, D3, D4
from phaseguard import load
from phaseguard.errors import UnknownObjectError, WarehouseError
from phaseguard.plan import ROWS, Metric, Plan, Probe
from phaseguard.verdicts import Level, Overall
from phaseguard.warehouse import connect

SYSTEMS = Metric("distinct", "system_id")


def test_verify_grades_every_date(mini: tuple[Path, str]) -> None:
    config, url = mini
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D4)
    by_date = {d.date: d for d in result.dates}
    assert by_date[D1].overall is Overall.COMPLETE
    assert by_date[D1].health == 96.7  # predict is PASS: distinct_count's best tier is pass
    assert by_date[D2].phase("ingest").level is Level.FAIL  # 1 of 3 games
    # C missing, not required: 2 of 3 is the quorum at its minimum, a warning
    assert by_date[D2].phase("process").level is Level.ACCEPTABLE
    assert by_date[D3].overall is Overall.NA  # off-day
    assert all(p.level is Level.NA for p in by_date[D3].phases)
    assert by_date[D4].phase("process").level is Level.FAIL  # A is critical
    predict = {v.check: v for v in by_date[D4].phase("predict").verdicts}
    assert predict["ratio(grades/preds)"].level is Level.FAIL
    assert predict["ratio(grades/preds)"].observed == "50% (5/10)"
    assert predict["aggregate(grades)"].observed == "9"
    assert result.overall is Overall.FAILED


@pytest.mark.parametrize("mode", ["smoke", "verify"])
@pytest.mark.parametrize("days", [1, 40, 3000])
def test_exactly_one_query_whatever_the_range(mini: tuple[Path, str], mode: str, days: int) -> None:
    config, url = mini
    with load(config, warehouse=url) as guard:
        warehouse = guard.warehouse
        before = warehouse.queries_sent
        result = guard.assess(D1, D1 + dt.timedelta(days=days - 1), mode=mode)  # type: ignore[arg-type]
        assert warehouse.queries_sent - before == 1
    assert len(result.dates) == days


def test_distinct_counts_leave_out_null_and_rows_count_it(
    mini: tuple[Path, str], tmp_path: Path
) -> None:
    config, url = mini
    with connect(url, base_dir=config.parent) as wh:
        wh.insert_rows("out.preds", ["game_date", "system_id", "predicted"], [(D1, None, 1.0)])
    with load(config, warehouse=url) as guard:
        plan = Plan(D1, D1, (Probe("preds", "out.preds", "game_date", (ROWS, SYSTEMS)),))
        measured = guard.warehouse.measure(plan)
    assert measured.rows("preds", D1) == 11  # 2 systems x 5 rows, and the NULL one
    assert measured.get("preds", D1, SYSTEMS) == 2  # as COUNT(DISTINCT): NULL is no system


def test_smoke_is_existence_only(mini: tuple[Path, str]) -> None:
    config, url = mini
    with load(config, warehouse=url) as guard:
        result = guard.smoke(D2)
    day = result.dates[0]
    assert day.phase("ingest").level is Level.PASS  # coverage is verify's business
    assert day.phase("process").level is Level.ACCEPTABLE  # 2 of 3: the quorum's minimum


def test_missing_table_is_named(mini: tuple[Path, str], tmp_path: Path) -> None:
    config, url = mini
    text = config.read_text().replace("table: proc.c,", "table: proc.missing_one,")
    config.write_text(text)
    with load(config, warehouse=url) as guard, pytest.raises(UnknownObjectError) as info:
        guard.verify(D1)
    assert "proc.missing_one does not exist" in str(info.value)
    assert info.value.exit_code == 4


def test_missing_column_is_named(mini: tuple[Path, str]) -> None:
    config, url = mini
    config.write_text(config.read_text().replace("column: system_id", "column: system"))
    with load(config, warehouse=url) as guard, pytest.raises(UnknownObjectError) as info:
        guard.verify(D1)
    assert "column system does not exist in table out.preds" in str(info.value)


def test_replace_partition_is_idempotent(mini: tuple[Path, str], tmp_path: Path) -> None:
    _, url = mini
    with connect(url, base_dir=tmp_path) as wh:
        for _ in range(3):
            wh.replace_partition("proc.b", "d", D4, ["d", "v"], [(D4, 1), (D4, 2)])
        rows = wh.driver.execute("SELECT COUNT(*) FROM proc.b WHERE d = '2026-01-04'")
    assert rows[0][0] == 2


def test_a_warehouse_that_is_down_is_a_warehouse_error(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError) as info:
        connect("postgresql://nobody@127.0.0.1:1/none", base_dir=tmp_path)
    assert info.value.exit_code == 4
    assert "cannot connect" in str(info.value)


def test_aggregate_with_a_subquery_is_refused(mini: tuple[Path, str]) -> None:
    config, url = mini
    config.write_text(
        config.read_text().replace("AVG(ABS(predicted - actual))", "(SELECT MAX(v) FROM proc.a)")
    )
    from phaseguard.errors import ConfigError

    with pytest.raises(ConfigError, match=r"phaseguard.yml:\d+: .*expr: aggregate"):
        load(config, warehouse=url)  # refused as the config loads, before any query
