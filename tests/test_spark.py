"""The core integration suite against Spark: a local ``local[2]`` session through pyspark.

The scenarios are the very test bodies of ``test_integration.py``, called with the
``mini_spark`` fixture (the mini pipeline seeded in the session's catalogue).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import test_integration as core
from conftest import D1
from phaseguard import load
from phaseguard.errors import ConfigError, WarehouseError
from phaseguard.warehouse import connect

pytestmark = pytest.mark.slow

Mini = tuple[Path, str]


def test_verify_grades_every_date(mini_spark: Mini) -> None:
    core.test_verify_grades_every_date(mini_spark)


@pytest.mark.parametrize("mode", ["smoke", "verify"])
@pytest.mark.parametrize("days", [1, 40, 3000])
def test_exactly_one_query_whatever_the_range(mini_spark: Mini, mode: str, days: int) -> None:
    core.test_exactly_one_query_whatever_the_range(mini_spark, mode, days)


def test_smoke_is_existence_only(mini_spark: Mini) -> None:
    core.test_smoke_is_existence_only(mini_spark)


def test_missing_table_is_named(mini_spark: Mini, tmp_path: Path) -> None:
    core.test_missing_table_is_named(mini_spark, tmp_path)


def test_missing_column_is_named(mini_spark: Mini) -> None:
    core.test_missing_column_is_named(mini_spark)


def test_aggregate_with_a_subquery_is_refused(mini_spark: Mini) -> None:
    core.test_aggregate_with_a_subquery_is_refused(mini_spark)


def test_measurement_binds_dates_as_named_markers(mini_spark: Mini) -> None:
    config, url = mini_spark
    with load(config, warehouse=url) as guard:
        guard.verify(D1)
        sql = guard.warehouse.last_sql
    assert ":start" in sql
    assert ":stop" in sql
    assert "2026" not in sql


def test_a_failing_query_is_a_warehouse_error(mini_spark: Mini) -> None:
    config, url = mini_spark
    config.write_text(
        config.read_text().replace("AVG(ABS(predicted - actual))", "MAX(no_such_column)")
    )
    with load(config, warehouse=url) as guard, pytest.raises(WarehouseError) as info:
        guard.verify(D1)
    assert info.value.exit_code == 4
    assert "warehouse query failed" in str(info.value)


def test_the_catalogue_comes_from_the_spark_catalog(mini_spark: Mini) -> None:
    _, url = mini_spark
    with connect(url) as wh:
        assert {"raw", "proc", "out"} <= set(wh.schemas())
        tables = wh.tables_in_schemas(["proc"])
    assert tables["proc.a"] == {"d": "DATE", "v": "INT"}
    assert set(tables) == {"proc.a", "proc.b", "proc.c"}


def test_a_url_without_master_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no master"):
        connect("spark://", base_dir=tmp_path)


# Last: it writes, so the shared data would be re-seeded for any test after it.
def test_replace_partition_is_idempotent(mini_spark_fresh: Mini, tmp_path: Path) -> None:
    core.test_replace_partition_is_idempotent(mini_spark_fresh, tmp_path)
