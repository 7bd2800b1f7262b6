"""Steps of the mini pipeline, for the runner tests: real writes through the warehouse door.

Faults are switched on by files in the warehouse directory, so a test (or a killed and
restarted process) controls them without globals: ``flaky-<date>`` makes ingest fail once
with a transient error, ``broken-<date>`` makes process fail every time.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any


def _flag(ctx: Any, name: str) -> Path:
    return Path(ctx.guard.base_dir) / name


def ingest(date: dt.date, ctx: Any) -> None:
    """Copy the day's scheduled games into raw.box (every game covered)."""
    flaky = _flag(ctx, f"flaky-{date}")
    if flaky.exists():
        flaky.unlink()
        raise TimeoutError(f"API timed out for {date} (injected)")
    pause = os.environ.get("MINI_STEP_PAUSE")
    if pause:
        time.sleep(float(pause))
    ctx.warehouse.replace_partition_from_query(
        "raw.box",
        "game_date",
        date,
        "SELECT game_id, game_date, 10 AS pts FROM raw.schedule WHERE game_date = :d",
    )


def process(date: dt.date, ctx: Any) -> None:
    """Write the three processor tables for the day."""
    if _flag(ctx, f"broken-{date}").exists():
        raise RuntimeError(f"processor crashed on {date} (injected)")
    for table in ("proc.a", "proc.b", "proc.c"):
        ctx.warehouse.replace_partition_from_query(
            table, "d", date, "SELECT CAST(:d AS DATE) AS d, 1 AS v"
        )


def predict(date: dt.date, ctx: Any) -> None:
    """Two systems per game, and grades for all of them."""
    ctx.warehouse.replace_partition_from_query(
        "out.preds",
        "game_date",
        date,
        "SELECT b.game_date, s.system_id, 10.0 AS predicted FROM raw.box AS b "
        "CROSS JOIN (SELECT 's1' AS system_id UNION ALL SELECT 's2') AS s "
        "WHERE b.game_date = :d",
    )
    ctx.warehouse.replace_partition_from_query(
        "out.grades",
        "game_date",
        date,
        "SELECT game_date, system_id, predicted, 11.0 AS actual FROM out.preds "
        "WHERE game_date = :d",
    )
