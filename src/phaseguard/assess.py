"""Assessing a date range: config -> plan -> one warehouse query -> checks -> verdicts.

``smoke`` runs the existence and quorum checks only (the fast path); ``verify`` runs all
criteria. Both send exactly one query to the warehouse, whatever the range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .checks import Context, evaluate
from .config import SMOKE_KINDS, Check, Config, RowsExist
from .errors import UsageError
from .plan import Measurements, build_plan
from .verdicts import (
    DateVerdict,
    Level,
    PhaseVerdict,
    RangeVerdict,
    combine,
    health_score,
    overall,
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
    """The checks each phase runs in ``mode``; smoke falls back to rows_exist."""
    selected = [config.phase(name) for name in phases] if phases else list(config.phases)
    out: list[Selected] = []
    for phase in selected:
        checks: list[Check] = list(phase.checks)
        if mode == "smoke":
            checks = [c for c in checks if c.kind in SMOKE_KINDS]
        if not checks:
            checks = [RowsExist(kind="rows_exist")]
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
    dates: list[DateVerdict] = []
    for day in measurements.plan.dates:
        scheduled = measurements.scheduled(day, config.schedule.unit)
        phases: list[PhaseVerdict] = []
        for group in selection:
            ctx = Context(config, measurements, day, group.tables, now)
            verdict = combine(group.name, tuple(evaluate(c, ctx) for c in group.checks))
            if mode == "smoke" and verdict.level is Level.EXCELLENT:
                verdict = PhaseVerdict(verdict.phase, Level.PASS, verdict.verdicts)
            phases.append(verdict)
        frozen = tuple(phases)
        score = health_score(frozen, {str(k): v for k, v in health.scores.items()})
        verdict_all = overall(
            frozen,
            score,
            complete=health.complete,
            partial=health.partial,
            partial_phases=partial_phases,
        )
        dates.append(DateVerdict(day, scheduled, frozen, score, verdict_all))
    scores = [d.health for d in dates if d.health is not None]
    plan = measurements.plan
    return RangeVerdict(
        start=plan.start,
        end=plan.end,
        dates=tuple(dates),
        health=round(sum(scores) / len(scores), 1) if scores else None,
        overall=overall_of_range(tuple(dates)),
        mode=mode,
    )


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
