"""Assessing a date range: config -> plan -> one warehouse query -> checks -> verdicts.

``smoke`` runs the existence and quorum checks only (the fast path); ``verify`` runs all
criteria. Both send exactly one query to the warehouse, whatever the range.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Literal

from .checks import Prepared, prepare
from .config import Config
from .days import Days, nothing_scheduled, unproven_off_days
from .errors import UsageError
from .kinds import SMOKE_KINDS, Check, RowsExist
from .plan import Measurements, build_plan
from .selection import Selected, Selection, select
from .verdicts import (
    ERROR,
    EXCELLENT,
    NA,
    PASS,
    DateVerdict,
    Level,
    Overall,
    PhaseVerdict,
    RangeVerdict,
    combine,
    health_score,
    overall,
    overall_of_levels,
    overall_of_range,
)
from .warehouse import Warehouse

Mode = Literal["smoke", "verify"]
MAX_RANGE_DAYS = 3660


# The dates every command can handle: a plan reads up to the day after its end, windows
# reach back before its start, and BigQuery's DATE ends at 9999-12-31.
MIN_DATE = dt.date(1000, 1, 1)
MAX_DATE = dt.date(9998, 12, 31)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def parse_date(text: str, what: str = "date") -> dt.date:
    """Exactly a YYYY-MM-DD date between MIN_DATE and MAX_DATE, or a UsageError naming it.

    ``20260101`` and ``2026-W01-1``, which Python's ``fromisoformat`` also reads, are refused:
    every message says YYYY-MM-DD, and a date must mean the same everywhere.
    """
    shown = repr(text[:40] + ("…" if len(text) > 40 else "")) if isinstance(text, str) else "?"
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        raise UsageError(f"bad {what} {shown}: expected YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"bad {what} {shown}: expected YYYY-MM-DD") from None
    return check_date(day, what)


def check_date(day: dt.date, what: str = "date") -> dt.date:
    """``day`` itself if phaseguard can handle it (MIN_DATE..MAX_DATE), else a UsageError."""
    if not MIN_DATE <= day <= MAX_DATE:
        raise UsageError(f"bad {what} {day.isoformat()}: dates run from {MIN_DATE} to {MAX_DATE}")
    return day


def as_date(value: object, what: str = "date") -> dt.date:
    """A date given to the Python API: a ``date``, a ``datetime`` (its date) or a YYYY-MM-DD str."""
    if isinstance(value, dt.datetime):
        return check_date(value.date(), what)
    if isinstance(value, dt.date):
        return check_date(value, what)
    if isinstance(value, str):
        return parse_date(value, what)
    raise UsageError(f"bad {what} {value!r}: expected a datetime.date or a YYYY-MM-DD string")


def date_range(start: str, end: str | None, max_days: int | None = None) -> tuple[dt.date, dt.date]:
    """Parse and validate START [END]: not reversed, at most ``max_days`` dates (else 10 years)."""
    first = parse_date(start, "start date")
    last = parse_date(end, "end date") if end else first
    return check_range(first, last, max_days)


def check_range(
    first: dt.date, last: dt.date, max_days: int | None = None
) -> tuple[dt.date, dt.date]:
    """``(first, last)`` if it is a range phaseguard will assess, else a UsageError."""
    check_date(first, "start date")
    check_date(last, "end date")
    if last < first:
        raise UsageError(f"reversed range: end {last} is before start {first}")
    if max_days is None and (last - first).days > MAX_RANGE_DAYS:
        raise UsageError(f"range {first}..{last} is longer than 10 years")
    if max_days is not None and (last - first).days + 1 > max_days:
        raise UsageError(f"range {first}..{last} is longer than {max_days} days")
    return first, last


def phase_checks(
    config: Config,
    mode: Mode,
    phases: Sequence[str] | None = None,
    *,
    selection: Selection | None = None,
) -> list[Selected]:
    """The checks each phase runs in ``mode``, narrowed to ``selection`` when one is given.

    ``smoke`` runs a phase's existence and quorum checks, or ``rows_exist`` over its tables
    when it has none. ``verify`` runs every check of the phase and, always, what smoke
    runs: verify sees everything smoke sees, so the two never disagree on a (date, phase)
    they both judge; a verify FAIL that smoke does not show is a check smoke does not run.
    A ``selection`` (``--phase``/``--check``/``--tag``) keeps only the checks it matches;
    an unknown name, or a selection that keeps nothing, is a UsageError.
    """
    if selection:
        every = phase_checks(config, "verify", phases)
        groups = every if mode == "verify" else phase_checks(config, mode, phases)
        return select(config, groups, selection, every=every, command=mode)
    selected = [config.phase(name) for name in phases] if phases else list(config.phases)
    out: list[Selected] = []
    for phase in selected:
        checks: list[Check] = list(phase.checks)
        smoke = [c for c in checks if c.kind in SMOKE_KINDS] or [
            RowsExist.model_construct(kind="rows_exist")
        ]
        if mode == "smoke":
            checks = smoke
        elif not any(c.kind in SMOKE_KINDS for c in checks):
            checks = smoke + checks
        out.append(Selected(phase.name, [t.name for t in phase.tables], checks))
    return out


def judge(
    config: Config,
    measurements: Measurements,
    selection: list[Selected],
    *,
    mode: Mode = "verify",
    now: dt.datetime | None = None,
) -> RangeVerdict:
    """Pure: turn measurements into verdicts for every date of the plan."""
    now = now or dt.datetime.now(dt.timezone.utc)
    health = config.health
    partial_phases = health.partial_phases or [p.name for p in config.phases[:3]]
    scores = {Level(k): v for k, v in health.scores.items()}
    best = PASS if mode == "smoke" else EXCELLENT  # a smoke test says PASS or FAIL
    prepared = [
        (group.name, [prepare(c, config, group.tables, best=best) for c in group.checks])
        for group in selection
    ]
    off_day = tuple(
        PhaseVerdict(name, NA, tuple(nothing_scheduled(c.name) for c in checks))
        for name, checks in prepared
    )
    days, scheduled = Days.of_schedule(measurements, config.schedule, now)
    by_phase = [_judge_phase(name, checks, days) for name, checks in prepared]
    judged = zip(*by_phase, strict=True)
    plan_dates = measurements.plan.dates
    unproven = unproven_off_days(
        measurements,
        config.schedule,
        [day for day, units in zip(plan_dates, scheduled, strict=True) if not units],
    )
    dates: list[DateVerdict] = []
    for day, units in zip(plan_dates, scheduled, strict=True):
        if not units:
            error = unproven.get(day)
            if error is None:
                dates.append(DateVerdict(day, 0, off_day, None, Overall.NA))
            else:
                phases = tuple(PhaseVerdict(name, ERROR, (error,)) for name, _ in prepared)
                dates.append(DateVerdict(day, 0, phases, None, Overall.FAILED))
            continue
        phases = next(judged, ())
        score = health_score(phases, scores)
        if mode == "smoke":
            verdict_all = overall_of_levels(phases)
        else:
            verdict_all = overall(
                phases,
                score,
                complete=health.complete,
                partial=health.partial,
                partial_phases=partial_phases,
            )
        dates.append(DateVerdict(day, units, phases, score, verdict_all))
    scores_seen = [d.health for d in dates if d.health is not None]
    plan = measurements.plan
    return RangeVerdict(
        start=plan.first or plan.start,
        end=plan.end,
        dates=tuple(dates),
        health=round(sum(scores_seen) / len(scores_seen), 1) if scores_seen else None,
        overall=overall_of_range(tuple(dates)),
        mode=mode,
    )


def _judge_phase(name: str, checks: list[Prepared], days: Days) -> list[PhaseVerdict]:
    """A phase's verdict on each of ``days``: its checks judge every date, then combine."""
    if not checks:
        return [combine(name, ())] * len(days.dates)
    columns = [check.judge(days) for check in checks]
    return [combine(name, verdicts) for verdicts in zip(*columns, strict=True)]


def assess(
    config: Config,
    warehouse: Warehouse,
    start: dt.date,
    end: dt.date,
    *,
    mode: Mode = "verify",
    phases: Sequence[str] | None = None,
    selection: Selection | None = None,
    now: dt.datetime | None = None,
) -> RangeVerdict:
    """Measure ``start``..``end`` in one query and judge it.

    With a ``selection``, only the checks it selects are planned (the query reads only what
    they need) and judged; a phase with none of them is left out of the verdicts.
    """
    start, end = check_range(as_date(start, "start date"), as_date(end, "end date"))
    groups = phase_checks(config, mode, phases, selection=selection)
    plan = build_plan(config, [(c, g.tables) for g in groups for c in g.checks], start, end)
    return judge(config, warehouse.measure(plan), groups, mode=mode, now=now)


__all__ = [
    "MAX_DATE",
    "MIN_DATE",
    "Selected",
    "Selection",
    "as_date",
    "assess",
    "check_date",
    "check_range",
    "date_range",
    "judge",
    "parse_date",
    "phase_checks",
]
