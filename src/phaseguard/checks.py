"""Checks: pure functions from measurements to verdicts.

A check kind of the config has one judging class, a :class:`Prepared`: ``rows_exist``,
``quorum`` and ``freshness`` in :mod:`phaseguard.presencechecks`; ``rows_per_unit``,
``unit_coverage``, ``distinct_count``, ``aggregate`` and ``ratio`` (graded on one number,
:class:`_Graded`) in :mod:`phaseguard.metricchecks`; the row-level and per-table kinds
(``not_null``, ``accepted_values``, ``range``, ``row_count``, ``reconciliation``) in
:mod:`phaseguard.rowchecks`, the keyed ones in :mod:`phaseguard.keychecks`, the learned
expectations (``volume_anomaly``, ``freshness_anomaly``) in :mod:`phaseguard.learned`.
None of them reads the warehouse. :func:`prepare` builds one against the config once: what
is the same on every date (its name, the threshold text, the metrics it reads) is worked
out there. Its ``judge`` then takes the dates to judge (:class:`~phaseguard.days.Days`),
reads each metric as a column over those dates, and gives one verdict per date: judging a
season is a few list comprehensions per check, not a function call per check per date. A
verdict keeps the raw numbers the check saw and renders ``observed`` and ``details`` from
them only when asked: a season is thousands of verdicts, and few are shown.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from .config import Config
from .days import Days
from .grading import _grade, _op, _rank, describe, grade, tier_text, tiers
from .kindbase import Thresholds
from .kinds import Check, DistinctCount, Ratio, RowsExist, UnitCoverage
from .plan import keyed_variant
from .rowkinds import AcceptedValues, NotNull, Range, Reconciliation, Relationships, Unique
from .verdicts import ACCEPTABLE, EXCELLENT, FAIL, Level, Verdict


def check_name(check: Check) -> str:
    """The check's display name: its own, or kind(table)."""
    if check.name:
        return check.name
    target = getattr(check, "table", None) or getattr(check, "numerator", None)
    if isinstance(check, DistinctCount):
        target = f"{check.table}.{check.column}"
    if isinstance(check, Ratio):
        target = f"{check.numerator}/{check.denominator}"
    if isinstance(check, UnitCoverage | RowsExist) and check.any_of:
        target = "|".join(check.any_of)
    if isinstance(check, NotNull | AcceptedValues | Range):
        columns = check.columns if isinstance(check, NotNull) else [check.column]
        target = f"{check.table}.{','.join(columns)}"
    if isinstance(check, Reconciliation):
        target = f"{check.left.table}={check.right.table}"
    if isinstance(check, Unique | Relationships):  # keyed kinds (#16)
        target = f"{check.table}.{','.join(check.columns)}"
    return f"{check.kind}({target})" if target else check.kind


class Prepared:
    """A check prepared against the config; called with a date's context, gives its verdict."""

    kind: ClassVar[str]
    expected = ""
    graded = False
    top = EXCELLENT  # the best level this check gives; a smoke test caps it at PASS

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        self.name = check_name(check)
        # What a check that does not hold gives: FAIL, or with severity: warn a warning.
        self.beyond = ACCEPTABLE if check.severity == "warn" else FAIL

    def judge(self, days: Days) -> list[Verdict]:
        """One verdict per date of ``days``, in order."""
        raise NotImplementedError

    def cap(self, best: Level) -> None:
        """Give no level better than ``best`` (a smoke test says PASS, never EXCELLENT)."""
        self.top = best

    # Verdicts hold their check: two judgements of the same data must compare equal.
    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash((type(self), self.name, self.expected))

    def observed(self, seen: Any) -> str:
        """What the check saw, as text."""
        return str(seen)

    def details(self, seen: Any) -> dict[str, object]:
        """Structured facts about what the check saw."""
        return {}

    def value(self, seen: Any) -> float | None:
        """The number the thresholds were applied to; None for a check without one."""
        return None


class _Graded(Prepared):
    """A check with traffic-light thresholds, graded on one number.

    Subclasses render what they saw with :meth:`text`; :meth:`observed` adds, for a check
    with ``severity: warn`` whose value is beyond its last tier, the limit it crossed.
    """

    pct = False  # thresholds are shares, shown as percentages

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Thresholds)
        self.tiers = tiers(check)
        self.expected = describe(check, self.pct)
        self.graded = check.excellent is not None
        # The last tier, named, for the warning a severity: warn check gives beyond it.
        op = _op(check)
        self.last_range = self.tiers[-1][1:]
        label, last = next(
            (label, tier)
            for label, tier in (
                ("acceptable", check.acceptable),
                ("pass", check.pass_),
                ("excellent", check.excellent),
            )
            if tier is not None
        )
        self.last_tier = f"{label} {tier_text(last, op, self.pct)}"

    def verdict(self, value: float, seen: Any) -> Verdict:
        level = _grade(value, self.tiers, self.beyond)
        return Verdict(self.name, level, seen, self.expected, self.graded, self)

    def verdicts(self, values: Iterable[float], seen: Iterable[Any]) -> list[Verdict]:
        """:meth:`verdict` for each (value, seen) pair."""
        name, tiers, beyond, expected, graded = (
            self.name,
            self.tiers,
            self.beyond,
            self.expected,
            self.graded,
        )
        return [
            Verdict(name, _grade(value, tiers, beyond), what, expected, graded, self)
            for value, what in zip(values, seen, strict=True)
        ]

    def cap(self, best: Level) -> None:
        super().cap(best)
        self.tiers = tuple((min(lv, best, key=_rank), lo, hi) for lv, lo, hi in self.tiers)

    def text(self, seen: Any) -> str:
        """What the check saw, as text, before any warning."""
        return str(seen)

    def _crossed(self, seen: Any) -> str:
        """'below'/'above' when the value is beyond every tier of a check that only warns."""
        if self.beyond is not ACCEPTABLE:
            return ""
        value = self.value(seen)
        if value is None or _grade(value, self.tiers, FAIL) is not FAIL:
            return ""
        return "below" if value < self.last_range[0] else "above"

    def observed(self, seen: Any) -> str:
        text = self.text(seen)
        crossed = self._crossed(seen)
        return f"{text}, {crossed} {self.last_tier} (a warning)" if crossed else text

    def details(self, seen: Any) -> dict[str, object]:
        crossed = self._crossed(seen)
        return {"warning": f"{crossed} {self.last_tier}"} if crossed else {}


@functools.cache
def _kinds() -> dict[str, type[Prepared]]:
    """Every kind's judging class, from the modules built on this one (imported here, not
    at the top, because they import this module)."""
    from . import keychecks, learned, metricchecks, presencechecks, rowchecks

    return {
        **{kind.kind: kind for kind in presencechecks.KINDS},  # rows_exist, quorum, freshness
        **{kind.kind: kind for kind in metricchecks.KINDS},  # graded on one number
        **{kind.kind: kind for kind in rowchecks.KINDS},  # row-level and per-table (#16)
        **{kind.kind: kind for kind in keychecks.KINDS},  # keyed (#16)
        **{f"{kind.kind}+keyed": kind for kind in keychecks.VARIANTS},
        **{kind.kind: kind for kind in learned.KINDS},  # learned expectations (#16)
    }


def prepare(
    check: Check, config: Config, phase_tables: Sequence[str], *, best: Level = EXCELLENT
) -> Prepared:
    """``check`` ready to judge dates; ``phase_tables`` are its phase's (or gate's) table keys.

    ``best`` caps the levels it gives: a smoke test says PASS, never EXCELLENT.
    """
    kinds, variant = _kinds(), f"{check.kind}+keyed"  # values_from, group_by (#16)
    kind = kinds[variant] if variant in kinds and keyed_variant(check) else kinds[check.kind]
    prepared = kind(check, config, phase_tables)
    if best is not EXCELLENT:
        prepared.cap(best)
    return prepared


# Days, describe and grade live in days.py and grading.py; callers outside the package (the
# tests) import them from here too.
__all__ = ["Days", "Prepared", "check_name", "describe", "grade", "prepare"]
