"""Verdicts, levels, the health score and the overall verdict: plain data, no I/O.

A verdict is one check's level for one date, with the observed value and the threshold.
A phase's level is the worst of its verdicts; a date's health score combines its phases';
the overall verdict (COMPLETE / PARTIAL / FAILED) follows the seed's "Overall Backfill
Success" rules (any phase FAIL is FAILED), with the bands taken from the config, and the
exit code is the overall verdict's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, Protocol


class Level(str, Enum):
    """Traffic-light level of a check, a phase or a gate decision.

    ``rank`` (higher is healthier; N/A sorts above everything so it never drags a phase
    down), ``is_warning`` (ACCEPTABLE) and ``is_failure`` (FAIL, ERROR) are plain member
    attributes rather than properties: judging a season reads them tens of thousands of times.
    """

    rank: int
    is_warning: bool
    is_failure: bool
    __hash__ = str.__hash__  # Enum's own hash is Python code; levels key many dicts

    EXCELLENT = "EXCELLENT"
    PASS = "PASS"
    ACCEPTABLE = "ACCEPTABLE"
    FAIL = "FAIL"
    NA = "N/A"
    ERROR = "ERROR"


for _rank, _level in enumerate(
    (Level.ERROR, Level.FAIL, Level.ACCEPTABLE, Level.PASS, Level.EXCELLENT, Level.NA)
):
    _level.rank = _rank
    _level.is_warning = _level is Level.ACCEPTABLE
    _level.is_failure = _level in (Level.FAIL, Level.ERROR)
del _rank, _level

# The levels by name: an Enum member lookup (``Level.PASS``) costs ~70 ns in CPython 3.11,
# and judging a season makes tens of thousands of them.
EXCELLENT, PASS, ACCEPTABLE, FAIL, NA, ERROR = Level


class Overall(str, Enum):
    """The verdict for a date or a range (seed: Overall Backfill Success)."""

    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    NA = "N/A"


class Observation(Protocol):
    """How a check turns what it saw (its raw numbers) into text, when someone asks."""

    def observed(self, seen: Any) -> str:
        """The observed value as text, e.g. '85% (11/13)'."""

    def details(self, seen: Any) -> dict[str, object]:
        """Structured facts for consumers, e.g. which tables are missing."""

    def value(self, seen: Any) -> float | None:
        """The number the thresholds were applied to (e.g. 0.85), None if there is none."""


class Verdict(NamedTuple):
    """One check's level for one date, with what was observed and what was expected.

    ``seen`` is what the check observed: its raw numbers, rendered to ``observed`` and
    ``details`` by ``source`` on access (judging a season builds thousands of verdicts and
    displays few), or already a text when ``source`` is None.
    """

    check: str
    level: Level
    seen: Any
    expected: str
    graded: bool = False  # graded by thresholds with an EXCELLENT tier (for display only)
    source: Observation | None = None

    @property
    def observed(self) -> str:
        """What was observed, as text."""
        return str(self.seen) if self.source is None else self.source.observed(self.seen)

    @property
    def details(self) -> dict[str, object]:
        """Structured facts about the observation ({} when there are none)."""
        return {} if self.source is None else self.source.details(self.seen)

    @property
    def value(self) -> float | None:
        """The number graded against the thresholds (e.g. 0.85 for 85 %), if any."""
        return None if self.source is None else self.source.value(self.seen)


class PhaseVerdict(NamedTuple):
    """A phase's level for one date and the verdicts it was combined from."""

    phase: str
    level: Level
    verdicts: tuple[Verdict, ...]

    @property
    def failing(self) -> tuple[Verdict, ...]:
        """Verdicts below PASS."""
        return tuple(v for v in self.verdicts if v.level.rank < PASS.rank)


class DateVerdict(NamedTuple):
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
        return min(levels, key=lambda lv: lv.rank, default=NA)


def combine(phase: str, verdicts: tuple[Verdict, ...]) -> PhaseVerdict:
    """A phase's level: the worst level of its verdicts (N/A ones left out; N/A if all are).

    A check that can only hold or fail (rows exist, fresh) is EXCELLENT when it holds, so it
    never keeps a phase down; a graded check is as good as its tier.
    """
    worst = NA
    for v in verdicts:
        if v.level.rank < worst.rank:
            worst = v.level
    return PhaseVerdict(phase, worst, verdicts)


def health_score(phases: tuple[PhaseVerdict, ...], scores: Mapping[Level, float]) -> float | None:
    """Mean score of the phases that apply (N/A phases are left out)."""
    values = [scores.get(p.level, 0.0) for p in phases if p.level is not NA]
    return round(sum(values) / len(values), 1) if values else None


def overall(
    phases: tuple[PhaseVerdict, ...],
    health: float | None,
    *,
    complete: float,
    partial: float,
    partial_phases: list[str],
) -> Overall:
    """The seed's tiers: any phase FAIL (or ERROR) is FAILED. COMPLETE: health >= complete.
    PARTIAL: the partial phases PASS or better and health >= partial. FAILED otherwise: the
    seed's "health < 50", and the band it leaves open (no FAIL, yet below PARTIAL's bar)."""
    if health is None:
        return Overall.NA
    if any(p.level.is_failure for p in phases):
        return Overall.FAILED
    if health >= complete:
        return Overall.COMPLETE
    below_pass = {p.phase for p in phases if p.level.rank < PASS.rank and p.level is not NA}
    if health >= partial and not below_pass.intersection(partial_phases):
        return Overall.PARTIAL
    return Overall.FAILED


def overall_of_levels(phases: tuple[PhaseVerdict, ...]) -> Overall:
    """A smoke test's date verdict, from the levels alone (a smoke test has no health
    bands): FAILED on any phase FAIL, PARTIAL on a warning, COMPLETE when every phase
    passes; N/A when nothing applies."""
    levels = [p.level for p in phases if p.level is not NA]
    if not levels:
        return Overall.NA
    if any(lv.is_failure for lv in levels):
        return Overall.FAILED
    return Overall.PARTIAL if any(lv.is_warning for lv in levels) else Overall.COMPLETE


def overall_of_range(dates: tuple[DateVerdict, ...]) -> Overall:
    """A range is as good as its worst scheduled date."""
    order = [Overall.FAILED, Overall.PARTIAL, Overall.COMPLETE]
    present = [d.overall for d in dates if d.overall is not Overall.NA]
    if not present:
        return Overall.NA
    return min(present, key=order.index)


# The exit code is the headline: the overall verdict of the range.
_EXIT = {Overall.COMPLETE: 0, Overall.NA: 0, Overall.PARTIAL: 1, Overall.FAILED: 2}


def exit_code(result: RangeVerdict) -> int:
    """The documented exit code, agreeing with the "Overall:" headline printed above it.

    0 COMPLETE (warnings inside a COMPLETE date show as ACCEPTABLE, they do not change
    it) or nothing scheduled, 1 PARTIAL, 2 FAILED (any phase FAIL makes a date FAILED).
    The same for ``smoke``, ``verify``, ``run`` and a backfill receipt.
    """
    return _EXIT[result.overall]


def verdict_to_dict(v: Verdict) -> dict[str, object]:
    """One verdict as JSON-ready data."""
    out: dict[str, object] = {
        "check": v.check,
        "status": v.level.value,
        "observed": v.observed,
        "expected": v.expected,
    }
    if v.value is not None:
        out["value"] = v.value
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
