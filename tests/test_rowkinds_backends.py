"""The row-level and per-table kinds on BigQuery (the local emulator) and Spark: every kind,
with and without ``where:``, gives the same levels, numbers and evidence as on DuckDB, from
the same one statement builder, in one query.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import D1, D4, MINI_CONFIG, seed_mini
from phaseguard import load
from phaseguard.assess import assess
from phaseguard.verdicts import Level
from test_rowkinds import NOW, quality_config, seed_quality

pytestmark = pytest.mark.slow

Mini = tuple[Path, str]
Numbers = dict[tuple[dt.date, str], tuple[str, str, object, dict[str, object]]]


def _numbers(config: Path, url: str) -> Numbers:
    """Every verdict of the quality phase over D1..D4: level, observed, value, details."""
    with load(config, warehouse=url) as guard:
        before = guard.warehouse.queries_sent
        result = assess(guard.config, guard.warehouse, D1, D4, now=NOW)
        assert guard.warehouse.queries_sent - before == 1
    return {
        (d.date, v.check): (v.level.value, v.observed, v.value, v.details)
        for d in result.dates
        for p in d.phases
        if p.phase == "quality"
        for v in p.verdicts
    }


@pytest.fixture
def reference(tmp_path: Path) -> Numbers:
    """The numbers on a DuckDB file seeded the same way."""
    base = tmp_path / "reference"
    base.mkdir()
    config = base / "phaseguard.yml"
    config.write_text(MINI_CONFIG)
    url = f"duckdb://{base / 'mini.duckdb'}"
    seed_mini(url, base)
    seed_quality(url, base)
    numbers = _numbers(quality_config(config), url)
    levels = [level for level, *_ in numbers.values()]
    assert levels.count(Level.FAIL.value) >= 10  # the faults are there to be found
    return numbers


def _same(numbers: Numbers, reference: Numbers) -> None:
    assert numbers.keys() == reference.keys()
    for key, expected in reference.items():
        assert numbers[key] == expected, key


def test_bigquery_gives_the_same_numbers(mini_bq_fresh: Mini, reference: Numbers) -> None:
    config, url = mini_bq_fresh
    seed_quality(url, config.parent)
    _same(_numbers(quality_config(config), url), reference)


def test_spark_gives_the_same_numbers(mini_spark_fresh: Mini, reference: Numbers) -> None:
    config, url = mini_spark_fresh
    seed_quality(url, config.parent)
    _same(_numbers(quality_config(config), url), reference)
