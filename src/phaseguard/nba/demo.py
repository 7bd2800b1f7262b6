"""The demo: the example warehouse with a season of seeded faults, ready to verify.

Needs no network: the season is generated (``season.py``) straight into a DuckDB file
next to a copy of the example config.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from phaseguard.verdicts import Level, RangeVerdict
from phaseguard.warehouse import connect

from .season import Fault, SeasonPlan, season_plan

CONFIG = Path(__file__).with_name("phaseguard.yml")
WAREHOUSE_FILE = "nba_props.duckdb"


@dataclass(frozen=True)
class BuiltDemo:
    """A demo warehouse on disk and what was injected into it."""

    directory: Path
    config_path: Path
    warehouse_path: Path
    plan: SeasonPlan
    seconds: float

    def unflagged(self, result: RangeVerdict) -> list[Fault]:
        """The injected faults that no non-passing phase shows on any of their dates."""
        flagged = {
            day.date
            for day in result.dates
            if any(p.level.rank < Level.PASS.rank for p in day.phases)
        }
        return [fault for fault in self.plan.faults if not flagged.intersection(fault.dates)]


def build_demo(directory: Path, *, scale: int = 1, seed: int = 7, faults: bool = True) -> BuiltDemo:
    """Write the example config and a fresh season warehouse into ``directory``."""
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "phaseguard.yml"
    shutil.copyfile(CONFIG, config_path)
    warehouse_path = directory / WAREHOUSE_FILE
    for stale in (warehouse_path, warehouse_path.with_name(WAREHOUSE_FILE + ".wal")):
        stale.unlink(missing_ok=True)
    plan = season_plan(scale=scale, seed=seed, faults=faults)
    with connect(f"duckdb://{warehouse_path.resolve()}") as warehouse:
        warehouse.run_script(list(plan.statements))
    return BuiltDemo(
        directory=directory,
        config_path=config_path,
        warehouse_path=warehouse_path,
        plan=plan,
        seconds=time.perf_counter() - started,
    )
