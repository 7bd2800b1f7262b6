"""Hand-built measurements of the mini pipeline (conftest's MINI_CONFIG) on one date.

For tests of the judging alone: no warehouse, the numbers a verify would read. ``HEALTHY``
is a date where every check holds; a test overrides the cells it is about.
"""

from __future__ import annotations

import datetime as dt

from phaseguard.assess import judge, phase_checks
from phaseguard.config import Config
from phaseguard.plan import HORIZON, ROWS, SCHEDULE, Measurements, Metric, Plan
from phaseguard.verdicts import PhaseVerdict

DAY = dt.date(2026, 1, 15)
MAE = "aggregate:AVG(ABS(predicted - actual))"
HEALTHY: dict[tuple[str, str], float | None] = {
    ("box", "rows"): 260,
    ("coverage:box", "covered:game_id"): 10,
    ("A", "rows"): 1,
    ("B", "rows"): 1,
    ("C", "rows"): 1,
    ("preds", "rows"): 100,
    ("preds", "distinct:system_id"): 2,
    ("grades", "rows"): 100,
    ("grades", MAE): 4.5,
}


def measured(values: dict[tuple[str, str], float | None], scheduled: int = 10) -> Measurements:
    """``values`` ({(table key, metric key): value}) on :data:`DAY`, with ``scheduled`` games
    and a schedule loaded a month past it."""
    cells: dict[tuple[str, dt.date], dict[str, float | None]] = {
        (SCHEDULE, DAY): {ROWS.key: scheduled, Metric("units", "game_id").key: scheduled},
        (HORIZON, DAY + dt.timedelta(days=30)): {ROWS.key: 1},  # the schedule is loaded on
    }
    for (table, metric), value in values.items():
        cells.setdefault((table, DAY), {})[metric] = value
    return Measurements.from_values(Plan(DAY, DAY, ()), cells)


def phases_of(
    config: Config, values: dict[tuple[str, str], float | None], scheduled: int = 10
) -> dict[str, PhaseVerdict]:
    """The verify verdicts of every phase on :data:`DAY`, by phase name."""
    result = judge(config, measured(values, scheduled), phase_checks(config, "verify"))
    return {p.phase: p for p in result.dates[0].phases}
