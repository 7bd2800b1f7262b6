"""A window or a learned history reads back only the tables it judges.

A learned check needs 56 days of its own table's history; the schedule's history tells
which of those days were game dates. Every other table is read from the first judged date
only, in the same one statement: on BigQuery, the bytes scanned of a gate decision do not
grow 57-fold because one table of the pipeline learns its volume.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from phaseguard import load
from phaseguard.assess import phase_checks
from phaseguard.plan import SCHEDULE, build_plan
from test_learned import CONFIG, LATE, game_days, seed

# The same box table under a second name that only rows_exist reads.
TWO_TABLES = CONFIG.replace(
    "      - {name: box, table: games.box, date_column: game_date, unit: game_id}\n",
    "      - {name: box, table: games.box, date_column: game_date, unit: game_id}\n"
    "      - {name: plain, table: games.box, date_column: game_date}\n",
)
WINDOWED = """\
pipeline: window
warehouse: duckdb://learn.duckdb
schedule: {table: games.schedule, date_column: game_date, unit: game_id}
phases:
  - name: ingest
    tables:
      - {name: box, table: games.box, date_column: game_date, unit: game_id}
      - {name: plain, table: games.box, date_column: game_date}
    checks:
      - {kind: rows_exist, tables: [plain]}
      - {kind: unit_coverage, table: box, window: 7d, pass: 0.9}
"""


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'learn.duckdb'}"
    else:
        url = request.getfixturevalue("pg_url")
    seed(url, tmp_path)
    return url


def _plan_and_measure(text: str, url: str, tmp_path: Path) -> tuple[object, object]:
    config_path = tmp_path / "phaseguard.yml"
    config_path.write_text(text)
    with load(config_path, warehouse=url) as guard:
        groups = phase_checks(guard.config, "verify")
        plan = build_plan(
            guard.config, [(c, g.tables) for g in groups for c in g.checks], LATE, LATE
        )
        return plan, guard.warehouse.measure(plan)


def test_only_the_learned_table_and_the_schedule_read_its_history(
    warehouse_url: str, tmp_path: Path
) -> None:
    plan, measured = _plan_and_measure(TWO_TABLES, warehouse_url, tmp_path)
    backs = {p.key: p.back for p in plan.probes}
    assert backs["box"] is None  # from the plan's start
    assert backs[SCHEDULE] is None
    assert backs["plain"] == 0  # from the first judged date
    assert plan.bounds()["start_0"] == LATE
    history = [d for d in game_days() if plan.start <= d < LATE]
    assert len(history) > 30
    for day in history:
        on = measured.on(day)
        assert "box" in on, day
        assert SCHEDULE in on, day
        assert "plain" not in on, day  # today's plan read it 56 days back
    assert "plain" in measured.on(LATE)


def test_a_coverage_window_reads_back_its_window_only(warehouse_url: str, tmp_path: Path) -> None:
    plan, measured = _plan_and_measure(WINDOWED, warehouse_url, tmp_path)
    assert plan.start == LATE - dt.timedelta(days=6)
    backs = {p.key: p.back for p in plan.probes}
    assert backs["plain"] == 0
    (coverage,) = [k for k in backs if k.startswith("coverage:")]
    assert backs[coverage] is None
    window = [d for d in game_days() if plan.start <= d < LATE]
    assert window
    for day in window:
        assert coverage in measured.on(day)
        assert "plain" not in measured.on(day)
