"""A season of the example pipeline with phaseguard off and on: permanent gaps, measured.

Both modes run the same season of nightly runs on the same seeded faults, each from a copy of
one warehouse that holds only the schedule (the pipeline fills every other table night by
night), against :func:`phaseguard.nba.bdl_server.serve`, on a
:class:`~phaseguard.nba.bdl_server.VirtualClock` shared by the API (its outage window), the
retries (their waits) and the alerts (when they arrive).

The faults, the action plan's failure model:

* 8 % of API requests fail transiently (500, 502, 503 or a dropped connection);
* the API is down for 20 minutes from the start of one night's run;
* processors crash on the nightly run of chosen dates (PSZA on 3, PDC on 2): a crash happens
  once, on that night; a re-run of the date (the next night's) succeeds, as a crash from a
  bad deploy or a node lost mid-run would.

Both modes get the same fault model and seeds: the same outage, the same crashes, and
transient faults drawn per request from the same seeded sequence (once one mode retries
where the other does not, the same draws fall on different requests, at the same rate).

The modes:

* ``phaseguard off``: each phase runs on its timer whatever happened upstream (the runner
  with ``gates=False, stop_downstream=False``), one attempt per call (no retries), no alerts,
  and nothing re-runs a date: a failure stays.
* ``phaseguard on``: the action plan's retries (5 attempts, waits from 60 s capped at 1800 s,
  full jitter) for the scraper and the steps, the example config's gates, downstream phases
  stopped when a phase fails, alerts to a webhook, and each night first re-runs every
  earlier date that is not COMPLETE (the resumable backfill), with one catch-up night after
  the last date.

Time: night ``n`` (the run for the game date ``n`` days after opening night) starts at
``n * 86,400`` virtual seconds; requests and processors take no virtual time, only retry
waits move the clock within a night. The opening nights that cannot pass phase 4 even
without faults (its processors need history) are run first, fault-free, and left out of the
measures; both modes start from a copy of the warehouse after them.

Measures, over the measured game dates at the end of the season:

* permanent gaps: dates whose box-score partition (phase 2) lacks scheduled games; the API
  serves every game, so only its errors leave them; also counted for every table of every
  phase (a partition empty, or covering fewer games than scheduled);
* downstream runs on incomplete upstream: step runs (phase, date, night) that started while
  a phase upstream of it had failed, been blocked or skipped in that run, or had a FAIL or
  ERROR verdict per its criteria (one ``guard.assess`` before each step);
* dates needing a manual backfill: dates not COMPLETE per ``guard.verify``;
* time from fault to alert: per incident (a step that failed in a run, after its retries),
  virtual seconds from its first failed attempt to the alert's arrival at the webhook.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from phaseguard import config as config_module
from phaseguard.config import Config, Step
from phaseguard.errors import UsageError
from phaseguard.events import Event, Recorder
from phaseguard.guard import Guard
from phaseguard.nba import processors
from phaseguard.nba.bdl_data import season_games
from phaseguard.nba.bdl_server import FaultModel, VirtualClock, serve
from phaseguard.nba.outcome_results import (
    CRASHES,
    DownstreamRun,
    FaultPlan,
    Incident,
    ModeResult,
    OutcomeResult,
    seeded_faults,
)
from phaseguard.nba.scraper import SEED_POLICY, bdl_client, scrape_box_scores
from phaseguard.nba.season import SCHEMA, season_plan
from phaseguard.plan import ROWS, SCHEDULE, Metric, Plan, Probe
from phaseguard.retry import RetryPolicy
from phaseguard.runner import PhaseRun, Runner, backfill
from phaseguard.sinks import WebhookSink
from phaseguard.verdicts import Overall
from phaseguard.warehouse import connect

__all__ = [
    "CRASHES",
    "MODES",
    "DownstreamRun",
    "FaultPlan",
    "Incident",
    "ModeResult",
    "OutcomeResult",
    "phase2",
    "phase3",
    "phase4",
    "phase5",
    "phase6",
    "seeded_faults",
    "simulate_outcome",
]

CONFIG = Path(__file__).with_name("phaseguard.yml")
MODES = ("phaseguard off", "phaseguard on")
KINDS = ("500", "502", "503", "drop")
_DAY = 86_400.0
_KEY = "outcome-key"
_FAILURES = frozenset({"retry_attempt", "retry_exhausted", "retry_gave_up", "phase_failed"})
_STOPPED = frozenset({"failed", "blocked", "skipped"})


# --- the steps the config of both modes calls -------------------------------------------

_season: _Season | None = None


def _current() -> _Season:
    if _season is None:
        raise UsageError("phaseguard.nba.outcome steps run only inside simulate_outcome")
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


class _Tape:
    """The recorder: stamps each event with the virtual time, then keeps it in the store."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.store: Recorder | None = None
        self.kinds: Counter[str] = Counter()
        self.since_phase: list[tuple[float, Event]] = []

    def record(self, event: Event) -> None:
        self.kinds[event.kind] += 1
        self.since_phase.append((self.clock(), event))
        if self.store is not None:
            self.store.record(event)


class _Inbox(ThreadingHTTPServer):
    """The on-call's webhook: keeps each alert with the virtual time it arrived."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(("127.0.0.1", 0), _InboxHandler)
        self.clock = clock
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        host, port = self.server_address[:2]
        self.url = f"http://{host!s}:{port}/alerts"


class _InboxHandler(BaseHTTPRequestHandler):
    server: _Inbox

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the inbox keeps what arrives."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with self.server.lock:
            self.server.received.append((self.server.clock(), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@contextmanager
def _inbox(clock: VirtualClock) -> Iterator[_Inbox]:
    server = _Inbox(clock)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _config(sink_url: str | None) -> Config:
    """The example config, its steps this module's, alerting only to ``sink_url``."""
    config, _ = config_module.load(CONFIG)
    phases = [
        p.model_copy(update={"step": Step(call=f"{__name__}:{p.name}")}) for p in config.phases
    ]
    sinks = [WebhookSink(name="on-call", url=sink_url)] if sink_url else []
    return config.model_copy(update={"phases": phases, "sinks": sinks})


class _Season:
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
        self.tape = _Tape(clock)
        self.config = _config(sink_url)
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
        self.client = bdl_client(_KEY, base_url=api_url)
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


# --- the end of the season ------------------------------------------------------------------


def _partition_gaps(
    guard: Guard, start: dt.date, end: dt.date
) -> list[tuple[str, str, dt.date, int]]:
    """(phase, table key, date, games missing) of every scheduled partition with a gap.

    A partition has a gap when it is empty, or when it is one of the first phase's (the
    scraped box scores) and covers fewer games than the schedule lists. Downstream tables
    are judged by emptiness only: their games follow the players with a history (the
    predictions of a team's first game are few even without faults), not the schedule.
    ``games missing`` counts the schedule's games absent from a first-phase partition.
    """
    config = guard.config
    unit = Metric("units", config.schedule.unit)
    scraped = config.phases[0]
    probes = [Probe(SCHEDULE, config.schedule.table, config.schedule.date_column, (ROWS, unit))]
    for phase in config.phases:
        for t in phase.tables:
            counted = phase is scraped and t.unit is not None
            metrics = (ROWS, Metric("units", t.unit or "")) if counted else (ROWS,)
            probes.append(Probe(t.name, t.table, t.date_column, metrics))
    plan = Plan(start, end, tuple(probes))
    measured = guard.warehouse.measure(plan)
    gaps = []
    for day in plan.dates:
        scheduled = measured.scheduled(day, config.schedule.unit)
        if not scheduled:
            continue
        for phase in config.phases:
            for t in phase.tables:
                missing = 0
                if phase is scraped and t.unit is not None:
                    covered = measured.get(t.name, day, Metric("units", t.unit))
                    missing = scheduled - int(covered or 0)
                if missing > 0 or measured.rows(t.name, day) == 0:
                    gaps.append((phase.name, t.name, day, missing))
    return gaps


# --- the season, twice ----------------------------------------------------------------------


@contextmanager
def _running(season: _Season) -> Iterator[_Season]:
    """Make ``season`` the one the steps call; close it and clear the crashes after."""
    global _season
    _season = season
    try:
        yield season
    finally:
        _season = None
        processors.set_crash_dates(None)
        season.close()


def _opening(base: Path, workdir: Path, days: list[dt.date], seed: int, timeout: float) -> int:
    """Build the schedule-only warehouse at ``base`` and run its opening nights, fault-free.

    Nights run until one verifies COMPLETE; that night's partitions are emptied again, so
    the measures start on it. Returns how many nights came before it.
    """
    plan = season_plan(seed=seed, faults=False)
    config = _config(None)
    with connect(f"duckdb://{base.resolve()}") as warehouse:
        warehouse.run_script(list(plan.statements))
        kept = config.schedule.table
        warehouse.run_script([f"DELETE FROM {table}" for table in SCHEMA if table != kept])
    clock = VirtualClock()
    with serve(api_key=_KEY, clock=clock, seed=seed) as api:
        season = _Season(
            True,
            directory=workdir / "opening",
            warehouse=base,
            clock=clock,
            api_url=api.url,
            sink_url=None,
            first=days[0],
            seed=seed,
            timeout=timeout,
        )
        with _running(season):
            for n, day in enumerate(days[:14]):
                season.runner.run_date(day)
                if season.guard.verify(day).overall is Overall.COMPLETE:
                    for table in (t for p in config.phases for t in p.tables):
                        columns = list(SCHEMA[table.table])
                        season.guard.warehouse.replace_partition(
                            table.table, table.date_column, day, columns, []
                        )
                    return n
    raise UsageError("no opening night of the season verifies COMPLETE without faults")


def _run_mode(
    name: str,
    *,
    base: Path,
    workdir: Path,
    opening: dt.date,
    measured: list[dt.date],
    faults: FaultPlan,
    seed: int,
    timeout: float,
) -> ModeResult:
    started = time.perf_counter()
    guarded = name == MODES[1]
    slug = name.replace(" ", "_")
    warehouse = workdir / f"{slug}.duckdb"
    shutil.copyfile(base, warehouse)
    shutil.rmtree(workdir / slug, ignore_errors=True)
    clock = VirtualClock()

    def start_of(day: dt.date) -> float:
        return (day - opening).days * _DAY

    outages: tuple[tuple[float, float], ...] = ()
    if faults.outage_night is not None:
        down = start_of(measured[faults.outage_night])
        outages = ((down, down + faults.outage_minutes * 60),)
    model = FaultModel(transient_rate=faults.transient_rate, kinds=KINDS, outages=outages)
    crashes: dict[dt.date, dict[str, list[dt.date]]] = {}
    for processor, night in faults.crashes:
        day = measured[night]
        crashes.setdefault(day, {}).setdefault(processor, []).append(day)

    with serve(api_key=_KEY, faults=model, clock=clock, seed=seed) as api, _inbox(clock) as inbox:
        season = _Season(
            guarded,
            directory=workdir / slug,
            warehouse=warehouse,
            clock=clock,
            api_url=api.url,
            sink_url=inbox.url if guarded else None,
            first=measured[0],
            seed=seed,
            timeout=timeout,
        )
        with _running(season):
            for day in measured:
                clock.advance_to(start_of(day))
                season.run_night(day, crashes.get(day, {}))
            if guarded:
                after = measured[-1] + dt.timedelta(days=1)
                clock.advance_to(start_of(after))
                season.catch_up(measured[-1], after)
            gaps = _partition_gaps(season.guard, measured[0], measured[-1])
            verdict = season.guard.verify(measured[0], measured[-1])
        received = list(inbox.received)
        requests, api_faults = api.stats.requests, dict(api.stats.faults)

    def alerted(phase: str, day: dt.date, since: float) -> float | None:
        times = [
            t
            for t, body in received
            if body.get("status") == "opened"
            and body.get("phase") == phase
            and body.get("date") == day.isoformat()
            and t >= since
        ]
        return min(times, default=None)

    first_phase = season.config.phases[0].name
    box = [(day, missing) for phase, _, day, missing in gaps if phase == first_phase]
    return ModeResult(
        name=name,
        box_score_gaps=tuple(day for day, _ in box),
        games_missing=sum(missing for _, missing in box),
        partition_gaps=tuple((key, day) for _, key, day, _ in gaps),
        downstream_on_incomplete=tuple(season.downstream.values()),
        manual_backfill=tuple(
            d.date for d in verdict.dates if d.overall not in (Overall.COMPLETE, Overall.NA)
        ),
        incidents=tuple(
            Incident(phase, day, at, alerted(phase, day, at), error[:200])
            for (phase, day), (at, error) in season.incidents.items()
        ),
        alerts_opened=sum(1 for _, body in received if body.get("status") == "opened"),
        alerts_resolved=sum(1 for _, body in received if body.get("status") == "resolved"),
        catch_up_runs=season.catch_up_runs,
        retries=season.tape.kinds["retry_attempt"],
        api_requests=requests,
        api_faults=api_faults,
        health=verdict.health,
        virtual_hours=round(clock() / 3600, 1),
        wall_seconds=round(time.perf_counter() - started, 2),
    )


def simulate_outcome(
    *,
    seed: int = 7,
    dates: int | None = None,
    faults: FaultPlan | None = None,
    transient_rate: float = 0.08,
    outage_minutes: float = 20.0,
    crashes: Mapping[str, int] = CRASHES,
    timeout: float = 2.0,
    workdir: Path | None = None,
) -> OutcomeResult:
    """Run the season (or its first ``dates`` measured game dates) with phaseguard off, then on.

    Args:
        seed: the season's seed, and the seed of the faults and of the retries' jitter.
        dates: only this many game dates after the opening nights; default all.
        faults: the faults; default :func:`seeded_faults` with the next three arguments.
        transient_rate: share of API requests that fail transiently.
        outage_minutes: how long the API is down on the outage night.
        crashes: processor -> how many nights it crashes on.
        timeout: real seconds the scraper waits for an answer.
        workdir: where the DuckDB files and event stores go; default a temporary
            directory, removed after.

    Returns:
        Both modes' measures.

    Raises:
        UsageError: a fault on a night that is not measured, or an unknown processor.
    """
    started = time.perf_counter()
    named = faults.crashes if faults else tuple((name, 0) for name in crashes)
    unknown = sorted({name for name, _ in named} - set(processors.PROCESSORS))
    if unknown:
        known = ", ".join(processors.PROCESSORS)
        raise UsageError(f"unknown processors {unknown} (known: {known})")
    schedule = season_games(seed)
    days = list(schedule)
    with tempfile.TemporaryDirectory(prefix="phaseguard-outcome-") as tmp:
        where = workdir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        base = where / "opening.duckdb"
        for stale in (base, base.with_name(base.name + ".wal")):
            stale.unlink(missing_ok=True)
        skipped = _opening(base, where, days, seed, timeout)
        measured = days[skipped:][:dates] if dates else days[skipped:]
        plan = faults or seeded_faults(
            len(measured),
            seed=seed,
            transient_rate=transient_rate,
            outage_minutes=outage_minutes,
            crashes=crashes,
        )
        nights = [n for n in (plan.outage_night,) if n is not None] + [n for _, n in plan.crashes]
        if any(not 0 <= n < len(measured) for n in nights):
            raise UsageError(f"fault nights {nights} must be within 0..{len(measured) - 1}")
        modes = tuple(
            _run_mode(
                name,
                base=base,
                workdir=where,
                opening=days[0],
                measured=measured,
                faults=plan,
                seed=seed,
                timeout=timeout,
            )
            for name in MODES
        )
    crash_dates: dict[str, tuple[dt.date, ...]] = {}
    for processor, night in plan.crashes:
        crash_dates[processor] = tuple(sorted((*crash_dates.get(processor, ()), measured[night])))
    return OutcomeResult(
        seed=seed,
        faults=plan,
        outage_date=measured[plan.outage_night] if plan.outage_night is not None else None,
        crash_dates=crash_dates,
        opening_nights=tuple(days[:skipped]),
        dates=tuple(measured),
        games=sum(len(schedule[d]) for d in measured),
        modes=modes,
        wall_seconds=round(time.perf_counter() - started, 2),
    )
