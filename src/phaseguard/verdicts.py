"""Verdicts, levels, the health score and the overall verdict: plain data, no I/O.

A verdict is one check's level for one date, with the observed value and the threshold.
A phase's level combines its verdicts; a date's health score combines its phases'; the
overall verdict (COMPLETE / PARTIAL / FAILED) follows the seed's "Overall Backfill
Success" rules, with the bands taken from the config.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum


class Level(str, Enum):
    """Traffic-light level of a check, a phase or a gate decision."""

    EXCELLENT = "EXCELLENT"
    PASS = "PASS"
    ACCEPTABLE = "ACCEPTABLE"
    FAIL = "FAIL"
    NA = "N/A"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        """Higher is healthier; N/A sorts above everything so it never drags a phase down."""
        return _RANK[self]

    @property
    def is_warning(self) -> bool:
        """ACCEPTABLE counts as a warning."""
        return self is Level.ACCEPTABLE

    @property
    def is_failure(self) -> bool:
        """FAIL and ERROR are failures."""
        return self in (Level.FAIL, Level.ERROR)


_RANK = {
    Level.ERROR: 0,
    Level.FAIL: 1,
    Level.ACCEPTABLE: 2,
    Level.PASS: 3,
    Level.EXCELLENT: 4,
    Level.NA: 5,
}


class Overall(str, Enum):
    """The verdict for a date or a range (seed: Overall Backfill Success)."""

    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    NA = "N/A"


@dataclass(frozen=True)
class Verdict:
    """One check's level for one date, with what was observed and what was expected."""

    check: str
    level: Level
    observed: str
    expected: str
    graded: bool = False  # has an EXCELLENT tier, so it can lift a phase to EXCELLENT
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseVerdict:
    """A phase's level for one date and the verdicts it was combined from."""

    phase: str
    level: Level
    verdicts: tuple[Verdict, ...]

    @property
    def failing(self) -> tuple[Verdict, ...]:
        """Verdicts below PASS."""
        return tuple(v for v in self.verdicts if v.level.rank < Level.PASS.rank)


@dataclass(frozen=True)
class DateVerdict:
    """Every phase's verdict for one date, the health score and the overall verdict."""

    date: dt.date
    scheduled: int
    phases: tuple[PhaseVerdict, ...]
    health: float | None
    overall: Overall

    def phase(self, name: str) -> PhaseVerdict:
        """The verdict of phase ``name``."""
        return next(p for p in self.phases if p.phase == name)


@dataclass(frozen=True)
class RangeVerdict:
    """The verdicts of a date range and their summary."""

    start: dt.date
    end: dt.date
    dates: tuple[DateVerdict, ...]
    health: float | None
    overall: Overall
    mode: str = "verify"

    @property
    def worst(self) -> Level:
        """The worst phase level over the range (N/A if nothing was scheduled)."""
        levels = [p.level for d in self.dates for p in d.phases]
        return min(levels, key=lambda lv: lv.rank, default=Level.NA)


def combine(phase: str, verdicts: tuple[Verdict, ...]) -> PhaseVerdict:
    """A phase's level: the worst of its verdicts; EXCELLENT when every graded one is."""
    if not verdicts:
        return PhaseVerdict(phase, Level.NA, verdicts)
    worst = min((v.level for v in verdicts), key=lambda lv: lv.rank)
    if worst.rank < Level.PASS.rank or worst is Level.NA:
        return PhaseVerdict(phase, worst, verdicts)
    graded = [v for v in verdicts if v.graded and v.level is not Level.NA]
    if graded and all(v.level is Level.EXCELLENT for v in graded):
        return PhaseVerdict(phase, Level.EXCELLENT, verdicts)
    return PhaseVerdict(phase, Level.PASS, verdicts)


def health_score(phases: tuple[PhaseVerdict, ...], scores: dict[str, float]) -> float | None:
    """Mean score of the phases that apply (N/A phases are left out)."""
    values = [scores.get(p.level.value, 0.0) for p in phases if p.level is not Level.NA]
    return round(sum(values) / len(values), 1) if values else None


def overall(
    phases: tuple[PhaseVerdict, ...],
    health: float | None,
    *,
    complete: float,
    partial: float,
    partial_phases: list[str],
) -> Overall:
    """COMPLETE: no phase fails and health >= complete. PARTIAL: the partial phases hold
    and health >= partial. FAILED otherwise."""
    if health is None:
        return Overall.NA
    failing = {p.phase for p in phases if p.level.is_failure}
    if not failing and health >= complete:
        return Overall.COMPLETE
    if not failing.intersection(partial_phases) and health >= partial:
        return Overall.PARTIAL
    return Overall.FAILED


def overall_of_range(dates: tuple[DateVerdict, ...]) -> Overall:
    """A range is as good as its worst scheduled date."""
    order = [Overall.FAILED, Overall.PARTIAL, Overall.COMPLETE]
    present = [d.overall for d in dates if d.overall is not Overall.NA]
    if not present:
        return Overall.NA
    return min(present, key=order.index)


def exit_code(result: RangeVerdict) -> int:
    """0 all pass, 1 warnings only, 2 any failure (the CLI's documented exit codes)."""
    worst = result.worst
    if worst.is_failure or result.overall is Overall.FAILED:
        return 2
    if worst.is_warning or result.overall is Overall.PARTIAL:
        return 1
    return 0


def verdict_to_dict(v: Verdict) -> dict[str, object]:
    """One verdict as JSON-ready data."""
    out: dict[str, object] = {
        "check": v.check,
        "status": v.level.value,
        "observed": v.observed,
        "expected": v.expected,
    }
    if v.details:
        out["details"] = v.details
    return out


def to_dict(result: RangeVerdict) -> dict[str, object]:
    """The JSON shape of ``smoke``/``verify --format json`` and of ``/api/health``."""
    return {
        "mode": result.mode,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "health": result.health,
        "overall": result.overall.value,
        "exit_code": exit_code(result),
        "dates": [
            {
                "date": d.date.isoformat(),
                "scheduled": d.scheduled,
                "health": d.health,
                "overall": d.overall.value,
                "phases": {
                    p.phase: {
                        "status": p.level.value,
                        "checks": [verdict_to_dict(v) for v in p.verdicts],
                    }
                    for p in d.phases
                },
            }
            for d in result.dates
        ],
    }
