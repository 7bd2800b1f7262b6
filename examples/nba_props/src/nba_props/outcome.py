"""A season of the example pipeline with phaseguard off and on: permanent gaps, measured.

Both modes run the same season of nightly runs on the same seeded faults, each from a copy of
one warehouse that holds only the schedule (the pipeline fills every other table night by
night), against :func:`nba_props.bdl_server.serve`, on a
:class:`~nba_props.bdl_server.VirtualClock` shared by the API (its outage window), the
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

One mode's pipeline and the steps its config calls are in
:mod:`~nba_props.outcome_season`, the tape, the inbox and the gap count in
:mod:`~nba_props.outcome_instruments`, what goes in and comes out in
:mod:`~nba_props.outcome_results`.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from nba_props import processors
from nba_props.bdl_data import season_games
from nba_props.bdl_server import FaultModel, VirtualClock, serve
from nba_props.outcome_instruments import partition_gaps, serve_inbox
from nba_props.outcome_results import (
    CRASHES,
    DownstreamRun,
    FaultPlan,
    Incident,
    ModeResult,
    OutcomeResult,
    seeded_faults,
)
from nba_props.outcome_season import API_KEY, Season, example_config, running
from nba_props.schema import SCHEMA
from nba_props.season import season_plan
from phaseguard.errors import UsageError
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
    "seeded_faults",
    "simulate_outcome",
]

MODES = ("phaseguard off", "phaseguard on")
KINDS = ("500", "502", "503", "drop")
_DAY = 86_400.0


def _opening(base: Path, workdir: Path, days: list[dt.date], seed: int, timeout: float) -> int:
    """Build the schedule-only warehouse at ``base`` and run its opening nights, fault-free.

    Nights run until one verifies COMPLETE; that night's partitions are emptied again, so
    the measures start on it. Returns how many nights came before it.
    """
    plan = season_plan(seed=seed, faults=False)
    config = example_config(None)
    with connect(f"duckdb://{base.resolve()}") as warehouse:
        warehouse.run_script(list(plan.statements))
        kept = config.schedule.table
        warehouse.run_script([f"DELETE FROM {table}" for table in SCHEMA if table != kept])
    clock = VirtualClock()
    with serve(api_key=API_KEY, clock=clock, seed=seed) as api:
        season = Season(
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
        with running(season):
            for n, day in enumerate(days[:14]):
                season.runner.run_date(day)
                if season.guard.verify(day).overall is Overall.COMPLETE:
                    with season.guard.writing():
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

    with (
        serve(api_key=API_KEY, faults=model, clock=clock, seed=seed) as api,
        serve_inbox(clock) as inbox,
    ):
        season = Season(
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
        with running(season):
            for day in measured:
                clock.advance_to(start_of(day))
                season.run_night(day, crashes.get(day, {}))
            if guarded:
                after = measured[-1] + dt.timedelta(days=1)
                clock.advance_to(start_of(after))
                season.catch_up(measured[-1], after)
            gaps = partition_gaps(season.guard, measured[0], measured[-1])
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
