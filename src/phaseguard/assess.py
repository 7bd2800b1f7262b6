"""Assessing a date range: config -> plan -> one warehouse query -> checks -> verdicts.

``smoke`` runs the existence and quorum checks only (the fast path); ``verify`` runs all
criteria. Both send exactly one query to the warehouse, whatever the range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .checks import Days, Prepared, nothing_scheduled, prepare
from .config import SMOKE_KINDS, Check, Config, RowsExist
from .errors import UsageError
from .plan import Measurements, Metric, build_plan
from .verdicts import (
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


def parse_date(text: str, what: str = "date") -> dt.date:
    """A YYYY-MM-DD date, or a UsageError naming the bad value."""
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise UsageError(f"bad {what} {text!r}: expected YYYY-MM-DD") from None


def as_date(value: object, what: str = "date") -> dt.date:
    """A date given to the Python API: a ``date``, a ``datetime`` (its date) or 'YYYY-MM-DD'."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return parse_date(value, what)
    raise UsageError(f"bad {what} {value!r}: expected a date or 'YYYY-MM-DD'")


def date_range(start: str, end: str | None) -> tuple[dt.date, dt.date]:
    """Parse and validate START [END]: not reversed, at most 10 years."""
    first = parse_date(start, "start date")
    last = parse_date(end, "end date") if end else first
    if last < first:
        raise UsageError(f"reversed range: end {last} is before start {first}")
    if (last - first).days > MAX_RANGE_DAYS:
        raise UsageError(f"range {first}..{last} is longer than 10 years")
    return first, last


@dataclass(frozen=True)
class Selected:
    """A group of checks judged together: a phase (or a gate's upstream) and its tables."""

    name: str
    tables: list[str]
    checks: list[Check]


def phase_checks(config: Config, mode: Mode, phases: Sequence[str] | None = None) -> list[Selected]:
    """The checks each phase runs in ``mode``.

    ``smoke`` runs a phase's existence and quorum checks, or ``rows_exist`` over its tables
    when it has none. ``verify`` runs every check of the phase and, always, what smoke
    runs: verify sees everything smoke sees, so the two never disagree on a (date, phase)
    they both judge; a verify FAIL that smoke does not show is a check smoke does not run.
    """
    selected = [config.phase(name) for name in phases] if phases else list(config.phases)
    out: list[Selected] = []
    for phase in selected:
        checks: list[Check] = list(phase.checks)
        smoke = [c for c in checks if c.kind in SMOKE_KINDS] or [RowsExist(kind="rows_exist")]
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
    days, scheduled = Days.of_schedule(measurements, Metric("units", config.schedule.unit).key, now)
    by_phase = [_judge_phase(name, checks, days) for name, checks in prepared]
    judged = zip(*by_phase, strict=True)
    dates: list[DateVerdict] = []
    for day, units in zip(measurements.plan.dates, scheduled, strict=True):
        if not units:
            dates.append(DateVerdict(day, 0, off_day, None, Overall.NA))
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
        start=plan.start,
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
    now: dt.datetime | None = None,
) -> RangeVerdict:
    """Measure ``start``..``end`` in one query and judge it."""
    selection = phase_checks(config, mode, phases)
    plan = build_plan(config, [(c, g.tables) for g in selection for c in g.checks], start, end)
    return judge(config, warehouse.measure(plan), selection, mode=mode, now=now)


__all__ = ["Selected", "assess", "date_range", "judge", "parse_date", "phase_checks"]
