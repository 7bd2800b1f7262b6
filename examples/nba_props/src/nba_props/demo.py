"""The demo: the example warehouse with a season of seeded faults, ready to verify.

Needs no network: the season is generated (``season.py``) straight into a DuckDB file
next to a copy of the example config.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nba_props import steps
from nba_props.bdl_server import FaultModel, VirtualClock, serve
from nba_props.scraper import bdl_client
from phaseguard.gate import Decision
from phaseguard.guard import load
from phaseguard.runner import DateRun, Receipt, Runner, backfill
from phaseguard.verdicts import Level, RangeVerdict
from phaseguard.warehouse import connect

from .analytics import GAMEBOOK
from .faults import Fault
from .schema import SCHEMA
from .season import SeasonPlan, season_plan


def _example_config() -> Path:
    """The example's ``phaseguard.yml``: inside this package when installed from a wheel,
    at the project's root (``examples/nba_props/``) in a checkout or an editable install."""
    here = Path(__file__).parent
    packaged = here / "phaseguard.yml"
    return packaged if packaged.exists() else here.parents[1] / "phaseguard.yml"


CONFIG = _example_config()
WAREHOUSE_FILE = "nba_props.duckdb"
DEMO_KEY = "demo-key"


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


def existing(directory: Path) -> list[str]:
    """What a demo build in ``directory`` would replace: its warehouse, its event log."""
    found = [WAREHOUSE_FILE] if (directory / WAREHOUSE_FILE).exists() else []
    return found + ([".phaseguard/"] if (directory / ".phaseguard").exists() else [])


def build_demo(directory: Path, *, scale: int = 1, seed: int = 7, faults: bool = True) -> BuiltDemo:
    """Write the example config and a fresh season warehouse into ``directory``.

    It replaces the warehouse and the event log there (see :func:`existing`); the
    ``demo`` command asks for ``--force`` first.
    """
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "phaseguard.yml"
    shutil.copyfile(CONFIG, config_path)
    shutil.rmtree(directory / ".phaseguard", ignore_errors=True)  # a fresh event log
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


@dataclass(frozen=True)
class Story:
    """The second half of the demo: gates on the broken dates, then a backfill that fixes them."""

    decisions: tuple[Decision, ...]
    first: Receipt
    second: Receipt
    api_requests: int
    api_faults: int
    alerts_sent: int
    retries: int


GATE_DATES = (("phase4", dt.date(2026, 1, 16)), ("phase4", dt.date(2026, 1, 18)))
BREAKER_DATES = tuple(("phase5", dt.date(2026, 1, d)) for d in range(20, 24))


@contextmanager
def _scraping(url: str, clock: VirtualClock, seed: str) -> Iterator[None]:
    """The example's steps scrape the local API at ``url`` on the demo's virtual clock."""
    steps.configure(
        sleep=clock.sleep,
        clock=clock,
        client=bdl_client(DEMO_KEY, base_url=url),
        timeout=2.0,
        rng=random.Random(seed),
    )
    try:
        yield
    finally:
        steps.configure()


def backfill_story(built: BuiltDemo, *, seed: int = 7) -> Story:
    """Ask the gates about the broken dates, then backfill the season through a flaky API.

    The fault-injecting balldontlie server answers 10 % of requests with a transient error
    and is down for the first 20 minutes of the run, on a virtual clock shared with the
    retries (a season of 60-second back-offs takes seconds). The first backfill leaves the
    date the outage swallowed FAILED, with its gap in the ledger; the second, after the
    outage, finishes it: a backfill is resumable and skips COMPLETE dates. Every random
    draw (the server's faults, the retries' jitter) comes from ``seed``: the same seed tells
    the same story.
    """
    clock = VirtualClock()
    faults = FaultModel(
        transient_rate=0.10,
        kinds=("500", "502", "503", "drop"),
        outages=((0.0, 20 * 60.0),),  # down as the run starts; back after 20 minutes
    )
    url = f"duckdb://{built.warehouse_path.resolve()}"
    first_day, last_day = built.plan.first_date, built.plan.last_date
    with (
        serve(api_key=DEMO_KEY, faults=faults, clock=clock, seed=seed) as server,
        _scraping(server.url, clock, f"demo-scraper-{seed}"),
        load(built.config_path, warehouse=url) as guard,
    ):
        decisions = tuple(guard.gate(gate).decide(day) for gate, day in GATE_DATES + BREAKER_DATES)
        runner = Runner(guard, sleep=clock.sleep, rng=random.Random(f"demo-steps-{seed}"))
        first = backfill(guard, first_day, last_day, runner=runner)
        clock.advance_to(clock() + 3600)  # the next run, an hour later
        second = backfill(guard, first_day, last_day, runner=runner)
        events = guard.store.query()
    stats = server.stats
    return Story(
        decisions=decisions,
        first=first,
        second=second,
        api_requests=stats.requests,
        api_faults=sum(stats.faults.values()),
        alerts_sent=sum(1 for e in events if e.kind == "alert_sent"),
        retries=sum(1 for e in events if e.kind == "retry_attempt"),
    )


@dataclass(frozen=True)
class Tonight:
    """The seeds' real symptom, live: the API answers 200 with half the games, then heals.

    Attributes:
        date: the night's game date.
        runs: the night's run (stopped at phase 3) and the next night's (whole).
        alerts: the alerts about that date, in order: ``(title, status)``.
        missing: the games the gap ledger kept for the next night.
    """

    date: dt.date
    runs: tuple[DateRun, DateRun]
    alerts: tuple[tuple[str, str], ...]
    missing: int


def tonight_story(built: BuiltDemo, *, seed: int = 7) -> Tonight:
    """Run the season's last date as tonight's run through an API that drops half its games.

    NBA.com's gamebook is not out yet (its partition is emptied), so nothing fills the gap:
    phase 2 is left FAIL, the 2 -> 3 gate blocks phase 3 and alerts once, and the missing
    games stay in the gap ledger. The next night the API answers whole: the date runs to
    the end and the incident resolves.
    """
    day = built.plan.last_date
    url = f"duckdb://{built.warehouse_path.resolve()}"
    clock = VirtualClock()
    runs: list[DateRun] = []
    missing = 0
    with load(built.config_path, warehouse=url) as guard:
        with guard.writing():
            guard.warehouse.replace_partition(
                GAMEBOOK, "game_date", day, tuple(SCHEMA[GAMEBOOK]), []
            )
        runner = Runner(guard, sleep=clock.sleep, rng=random.Random(f"demo-tonight-{seed}"))
        for faults in (FaultModel(incomplete_dates=(day,)), FaultModel()):
            with (
                serve(api_key=DEMO_KEY, faults=faults, clock=clock, seed=seed) as server,
                _scraping(server.url, clock, f"demo-tonight-{seed}"),
            ):
                runs.append(runner.run_date(day))
            if not runs[1:]:
                ledger = guard.gaps(day, day).get(day, [])
                missing = sum(len(g.get("missing", ())) for g in ledger)
        sent = [e for e in guard.store.query(kind="alert_sent") if e.date == day]
    alerts = tuple(
        (str(e.details.get("title", "")), str(e.details.get("alert_status", "")))
        for e in sorted(sent, key=lambda e: e.time)
    )
    return Tonight(day, (runs[0], runs[1]), alerts, missing)
