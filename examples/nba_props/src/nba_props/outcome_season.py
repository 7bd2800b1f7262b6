"""One mode's season in the outcome benchmark: its pipeline, and the steps its config calls.

A :class:`Season` is the guard, the runner and the API client of one mode (phaseguard off or
on, see :mod:`nba_props.outcome`), and what it notes as the nights run: the runs
downstream of an incomplete upstream and the incidents. The example config of both modes
calls this module's steps (:func:`phase2` .. :func:`phase6`, see :func:`example_config`),
which hand each call to the season made current by :func:`running`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nba_props import processors
from nba_props.bdl_server import VirtualClock
from nba_props.demo import CONFIG
from nba_props.outcome_instruments import Tape
from nba_props.outcome_results import DownstreamRun
from nba_props.scraper import SEED_POLICY, bdl_client, scrape_box_scores
from phaseguard import config as config_module
from phaseguard.backoff import RetryPolicy
from phaseguard.config import Config, Step
from phaseguard.errors import UsageError
from phaseguard.guard import Guard
from phaseguard.runner import PhaseRun, Runner, backfill
from phaseguard.sinks import WebhookSink

__all__ = [
    "API_KEY",
    "CONFIG",
    "Season",
    "example_config",
    "phase2",
    "phase3",
    "phase4",
    "phase5",
    "phase6",
    "running",
]

API_KEY = "outcome-key"
_FAILURES = frozenset({"retry_attempt", "retry_exhausted", "retry_gave_up", "phase_failed"})
_STOPPED = frozenset({"failed", "blocked", "skipped"})


# --- the steps the config of both modes calls -------------------------------------------

_season: Season | None = None


def _current() -> Season:
    if _season is None:
        raise UsageError("nba_props.outcome steps run only inside simulate_outcome")
    return _season


def phase2(date: dt.date, ctx: Any) -> int:
    """Step: scrape ``date`` with the mode's retry policy."""
    return _current().scrape(date, ctx)


def phase3(date: dt.date, ctx: Any) -> int:
    """Step: the phase-3 processors, after the upstream is measured."""
    return _current().process("phase3", date, ctx)


def phase4(date: dt.date, ctx: Any) -> int:
    """Step: the phase-4 processors, after the upstream is measured."""
    return _current().process("phase4", date, ctx)


def phase5(date: dt.date, ctx: Any) -> int:
    """Step: the predictions, after the upstream is measured."""
    return _current().process("phase5", date, ctx)


def phase6(date: dt.date, ctx: Any) -> int:
    """Step: the grades, after the upstream is measured."""
    return _current().process("phase6", date, ctx)


# --- one mode's season ---------------------------------------------------------------------


def example_config(sink_url: str | None) -> Config:
    """The example config, its steps this module's, alerting only to ``sink_url``."""
    config, _ = config_module.load(CONFIG)
    phases = [
        p.model_copy(update={"step": Step(call=f"{__name__}:{p.name}")}) for p in config.phases
    ]
    sinks = [WebhookSink(name="on-call", url=sink_url)] if sink_url else []
    return config.model_copy(update={"phases": phases, "sinks": sinks})


class Season:
    """One mode's pipeline: guard, runner and API, and what it measures as nights run."""

    def __init__(
        self,
        guarded: bool,
        *,
        directory: Path,
        warehouse: Path,
        clock: VirtualClock,
        api_url: str,
        sink_url: str | None,
        first: dt.date,
        seed: int,
        timeout: float,
    ) -> None:
        self.guarded = guarded
        self.first = first
        self.clock = clock
        self.tape = Tape(clock)
        self.config = example_config(sink_url)
        epoch = dt.datetime(2000, 1, 1, 6, tzinfo=dt.timezone.utc)
        self.guard = Guard(
            self.config,
            directory,
            warehouse_url=f"duckdb://{warehouse.resolve()}",
            clock=lambda: epoch + dt.timedelta(seconds=clock()),
            recorder=self.tape,
        )
        self.tape.store = self.guard.store
        policy = SEED_POLICY if guarded else RetryPolicy(max_attempts=1)
        self.policy = policy
        self.runner = Runner(
            self.guard,
            sleep=clock.sleep,
            on_phase=self.on_phase,
            step_attempts=policy.max_attempts,
            step_base_delay=policy.base_delay,
            step_max_delay=policy.max_delay,
            gates=guarded,
            stop_downstream=guarded,
        )
        self.client = bdl_client(API_KEY, base_url=api_url)
        self.rng = random.Random(f"jitter-{seed}")
        self.timeout = timeout
        self.upstream = {p.name: self.config.upstream(p.name) for p in self.config.phases}
        self.night = dt.date.min
        self.statuses: dict[str, str] = {}
        self.downstream: dict[tuple[str, dt.date, dt.date], DownstreamRun] = {}
        self.incidents: dict[tuple[str, dt.date], tuple[float, str]] = {}
        self.catch_up_runs = 0

    def run_night(self, night: dt.date, crashes: Mapping[str, list[dt.date]]) -> None:
        """The nightly run: earlier dates not COMPLETE (guarded), then the night's own date."""
        self.night = night
        if self.guarded and night > self.first:
            receipt = backfill(
                self.guard, self.first, night - dt.timedelta(days=1), runner=self.runner
            )
            self.catch_up_runs += sum(1 for r in receipt.runs if r.phases)
        processors.set_crash_dates(crashes)
        try:
            self.runner.run_date(night)
        finally:
            processors.set_crash_dates(None)

    def catch_up(self, last: dt.date, night: dt.date) -> None:
        """A night with no game date of its own: only the backfill of earlier dates."""
        self.night = night
        receipt = backfill(self.guard, self.first, last, runner=self.runner)
        self.catch_up_runs += sum(1 for r in receipt.runs if r.phases)

    def scrape(self, date: dt.date, ctx: Any) -> int:
        """The phase-2 step: the scraper with this mode's policy, on the virtual clock."""
        return scrape_box_scores(
            date,
            client=self.client,
            warehouse=ctx.warehouse,
            recorder=self.guard.recorder,
            sleep=self.clock.sleep,
            clock=self.clock,
            policy=self.policy,
            rng=self.rng,
            timeout=self.timeout,
            pipeline=self.config.pipeline,
        ).rows

    def process(self, phase: str, date: dt.date, ctx: Any) -> int:
        """A phase-3..6 step: measure its upstream for ``date``, then run the processors."""
        upstream = self.upstream[phase]
        stopped = [f"{p} {self.statuses[p]}" for p in upstream if self.statuses.get(p) in _STOPPED]
        verdict = self.guard.assess(date, phases=upstream).dates[0]
        failing = [f"{p.phase} {p.level.value}" for p in verdict.phases if p.level.is_failure]
        if stopped or failing:
            key = (phase, date, self.night)
            self.downstream.setdefault(
                key, DownstreamRun(phase, date, self.night, (*stopped, *failing))
            )
        return processors.STEPS[phase](date, ctx)

    def on_phase(self, date: dt.date, run: PhaseRun) -> None:
        """After each phase of a run: keep its status; a failed step opens an incident."""
        if run.phase == self.config.phases[0].name:
            self.statuses = {}
        self.statuses[run.phase] = run.status
        if run.status == "failed" and (run.phase, date) not in self.incidents:
            failed = [t for t, e in self.tape.since_phase if e.kind in _FAILURES]
            self.incidents[(run.phase, date)] = (min(failed, default=self.clock()), run.message)
        self.tape.since_phase = []

    def close(self) -> None:
        """Close the warehouse and the event store."""
        self.guard.close()
        self.guard.store.close()


@contextmanager
def running(season: Season) -> Iterator[Season]:
    """Make ``season`` the one the steps call; close it and clear the crashes after."""
    global _season
    _season = season
    try:
        yield season
    finally:
        _season = None
        processors.set_crash_dates(None)
        season.close()
