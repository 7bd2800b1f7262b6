"""The keyed kinds on BigQuery (a local emulator) and Spark: the same numbers and evidence.

The mini pipeline and the ``quality`` phase of ``test_keykinds.py`` (with a ``where:``
filtered unique check besides) are seeded in an
emulator project of their own, in the session's Spark catalogue and in a DuckDB file;
verify over D1..D4 must give every keyed check the same level, value, observed text and
details on each, in one statement.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import D1, D4, seed_mini
from phaseguard import load
from test_keykinds import KEYED_CONFIG, seed_quality

pytestmark = pytest.mark.slow

CONFIG = KEYED_CONFIG.replace(
    "      - {kind: row_count, table: weather,",
    "      - {kind: unique, name: without_p1, table: lines, columns: [game_id, player_id], "
    "where: player_id <> 1}\n"
    "      - {kind: row_count, table: weather,",
)
KEYED = (
    "unique(lines.game_id,player_id)",
    "without_p1",
    "relationships(lines.game_id)",
    "accepted_values(lines.team)",
    "row_count(weather)",
)


def _graded(config: Path, url: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Every keyed check's verdict over D1..D4: {(date, check): (level, value, observed,
    details)}, read in one statement."""
    with load(config, warehouse=url) as guard:
        before = guard.warehouse.queries_sent
        result = guard.verify(D1, D4)
        assert guard.warehouse.queries_sent - before == 1
    return {
        (str(day.date), v.check): (v.level, v.value, v.observed, v.details)
        for day in result.dates
        for v in day.phase("quality").verdicts
        if v.check in KEYED
    }


def _reference(tmp_path: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    base = tmp_path / "duckdb"
    base.mkdir()
    config = base / "phaseguard.yml"
    config.write_text(CONFIG)
    url = f"duckdb://{base / 'mini.duckdb'}"
    seed_mini(url, base)
    seed_quality(url, base)
    return _graded(config, url)


def _assert_same(seen: dict[tuple[str, str], tuple[Any, ...]], tmp_path: Path) -> None:
    reference = _reference(tmp_path)
    assert len(reference) == 20  # 5 checks x 4 dates (D3: N/A, nothing scheduled)
    assert reference[("2026-01-02", KEYED[0])][3]["counts"] == {"g20|1": 3, "g20|2": 2}
    assert reference[("2026-01-02", "without_p1")][3]["counts"] == {"g20|2": 2}
    assert seen == reference


def test_bigquery_gives_the_same_numbers_and_evidence(bq_endpoint: str, tmp_path: Path) -> None:
    url = f"bigquery://t-{uuid.uuid4().hex[:12]}?endpoint={bq_endpoint}&timeout=30"
    config = tmp_path / "phaseguard.yml"
    config.write_text(CONFIG)
    seed_mini(url, tmp_path)
    seed_quality(url, tmp_path)
    _assert_same(_graded(config, url), tmp_path)


def test_spark_gives_the_same_numbers_and_evidence(
    mini_spark_fresh: tuple[Path, str], tmp_path: Path
) -> None:
    config, url = mini_spark_fresh
    config.write_text(CONFIG)
    seed_quality(url, tmp_path)
    _assert_same(_graded(config, url), tmp_path)
