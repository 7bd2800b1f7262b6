"""Learned expectations: a date's number against a band learned from its own recent history.

``volume_anomaly`` grades rows per scheduled unit (or per date), ``freshness_anomaly`` how
late a partition landed (its newest timestamp minus the date's start, 00:00 UTC). Neither
has thresholds: the band is the median ± ``sensitivity`` robust standard deviations of
the same number over the last ``history`` *comparable* dates before the judged one,
where a robust SD is 1.4826 × the median absolute deviation (MAD; Rousseeuw & Croux,
"Alternatives to the Median Absolute Deviation", JASA 1993: the factor makes the MAD
estimate the SD of normal data). Median and MAD ignore up to half the history being
odd, so a past partial load, a double run or a late night neither widens the band nor
has to be left out by hand (leaving out what the check itself called anomalous would keep
a real, lasting change of level alarming for ever).

A date is comparable when something is scheduled on it (the schedule table's units, or
the calendar) and the table has rows on it: an off-day is N/A for every check and an empty
scheduled date is already a coverage failure, so neither is history. With fewer than
``min_history`` comparable dates the check is N/A ("learning: 3 of 7 game dates").

The history is read by the same one query: the plan reads the check's ``reach`` in
calendar days before the first date judged (:meth:`phaseguard.kinds._Learned.reach`),
and dates inside the range judged are history for the later ones.

A floor keeps the band from collapsing on very regular data (a MAD of 0: 24 hourly rows
every day): volume's band is at least ± ``tolerance_pct`` % of the median (default 10 %,
so a 2 % wobble is no anomaly, a 60 % load is), freshness's reaches at least
``tolerance_hours`` past the median (default 1 h).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .checks import Prepared
from .days import Days
from .grading import _rank
from .kinds import Check
from .learnedkinds import FreshnessAnomaly, VolumeAnomaly
from .plan import SCHEDULE, Measurements, Metric, loaded_units_metric, rows_metric
from .verdicts import ACCEPTABLE, EXCELLENT, FAIL, NA, Level, Verdict

if TYPE_CHECKING:
    from .config import Config, Schedule
    from .verdicts import Observation

SIGMA = 1.4826  # MAD x 1.4826 estimates the standard deviation of normal data
_EPOCH = dt.date(1970, 1, 1)


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence (the mean of the middle two for an even count)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2


class Baseline(NamedTuple):
    """What was learned from a history: its median and MAD, and the band [lo, hi] they give."""

    median: float
    mad: float
    lo: float
    hi: float
    n: int  # comparable dates it was learned from


def baseline(
    history: Sequence[float],
    sensitivity: float,
    *,
    relative_floor: float = 0.0,
    absolute_floor: float = 0.0,
) -> Baseline:
    """The band median ± max(sensitivity × 1.4826 × MAD, relative_floor × |median|,
    absolute_floor) of a non-empty ``history``."""
    mid = median(history)
    mad = median([abs(v - mid) for v in history])
    half = max(sensitivity * SIGMA * mad, relative_floor * abs(mid), absolute_floor)
    return Baseline(mid, mad, mid - half, mid + half, len(history))


class Seen(NamedTuple):
    """What a learned check saw on a date: its number (None: no rows), the partition's rows
    and scheduled units, and the baseline (None while learning: ``n`` dates so far)."""

    value: float | None
    rows: float
    units: int
    base: Baseline | None
    n: int


def unit_noun(schedule: Schedule) -> str:
    """What one scheduled unit is called: ``game_id`` -> game; a calendar's is a date."""
    if schedule.unit is None:
        return "date"
    return schedule.unit.removesuffix("_id") or schedule.unit


@dataclass(eq=True)
class Learned:
    """A ``volume_anomaly`` or ``freshness_anomaly`` prepared against the config.

    :meth:`judge` builds the comparable history once over every date the plan read, then
    gives each judged date the band of the ``history`` comparable dates before it.
    """

    name: str
    table: str
    freshness: bool
    per_unit: bool
    loaded: Metric | None  # per loaded unit: the distinct units the table holds
    history: int
    min_history: int
    sensitivity: float
    relative_floor: float
    absolute_floor: float
    beyond: Level
    top: Level
    weekdays: frozenset[int] | None
    units: Metric  # the schedule probe's units per date
    noun: str
    rows: Metric  # the partition's rows (where ``where`` holds)
    newest: Metric  # freshness: its newest timestamp, as epoch seconds
    column: str = ""
    where: str = ""

    @classmethod
    def of(cls, name: str, check: VolumeAnomaly | FreshnessAnomaly, config: Config) -> Learned:
        """The check's rule, with what it reads and how it names things."""
        schedule = config.schedule
        volume = check if isinstance(check, VolumeAnomaly) else None
        fresh = check if isinstance(check, FreshnessAnomaly) else None
        return cls(
            name=name,
            table=check.table,
            freshness=fresh is not None,
            per_unit=volume is not None and volume.per != "date",
            loaded=(
                loaded_units_metric(volume, config)
                if volume is not None and volume.per == "loaded_unit"
                else None
            ),
            history=check.history,
            min_history=check.min_history,
            sensitivity=check.sensitivity,
            relative_floor=volume.tolerance_pct / 100 if volume else 0.0,
            absolute_floor=fresh.tolerance_hours if fresh else 0.0,
            beyond=ACCEPTABLE if check.severity == "warn" else FAIL,
            top=EXCELLENT,
            weekdays=schedule.weekdays,
            units=Metric("units", schedule.unit or ""),
            noun=unit_noun(schedule),
            rows=rows_metric(check.where),
            newest=Metric("max_epoch", fresh.column if fresh else "", where=check.where or ""),
            column=fresh.column if fresh else "",
            where=check.where or "",
        )

    # -- what is learned ---------------------------------------------------------------

    @property
    def dates_word(self) -> str:
        """What a comparable date is called: 'game dates', or 'scheduled dates' on a calendar."""
        return "scheduled dates" if self.weekdays is not None else f"{self.noun} dates"

    def _units(self, measurements: Measurements, day: dt.date) -> int:
        if self.weekdays is not None:
            return int(day.weekday() in self.weekdays)
        return int(measurements.get(SCHEDULE, day, self.units) or 0)

    def _value(self, measurements: Measurements, day: dt.date, units: int) -> float | None:
        """The number judged on ``day``: rows (per unit; 0 for no rows, far below any band),
        or hours from its start to its newest timestamp (None: no rows, nothing landed)."""
        if self.freshness:
            epoch = measurements.get(self.table, day, self.newest)
            if epoch is None:  # no rows, or every timestamp NULL: nothing says when it landed
                return None
            start = (day - _EPOCH).days * 86400
            return (epoch - start) / 3600
        rows = measurements.get(self.table, day, self.rows) or 0.0
        if not self.per_unit:
            return rows
        units = self.loaded_units(measurements, day, units)
        return rows / units if units else 0.0

    def loaded_units(self, measurements: Measurements, day: dt.date, scheduled: int) -> int:
        """The units a date's number is per: those the table holds (per loaded unit), else
        the scheduled ones."""
        if self.loaded is None:
            return scheduled
        return int(measurements.get(self.table, day, self.loaded) or 0)

    def comparable(self, measurements: Measurements) -> tuple[list[dt.date], list[float]]:
        """Every comparable date the plan read (scheduled, with rows), in order, with its number."""
        plan = measurements.plan
        days: list[dt.date] = []
        values: list[float] = []
        for i in range((plan.end - plan.start).days + 1):
            day = plan.start + dt.timedelta(days=i)
            units = self._units(measurements, day)
            if not units:
                continue  # an off-day
            value = self._value(measurements, day, units)
            # An empty scheduled date (no rows, no timestamp) is a coverage failure, not history.
            if value is not None and (value > 0 or self.freshness):
                days.append(day)
                values.append(value)
        return days, values

    def judge(self, days: Days, source: Observation) -> list[Verdict]:
        """One verdict per judged date: N/A while learning, else in the band or beyond it."""
        measurements = days.measurements
        known, values = self.comparable(measurements)
        out: list[Verdict] = []
        for day, units in zip(days.dates, days.scheduled, strict=True):
            at = bisect.bisect_left(known, day)
            history = values[max(0, at - self.history) : at]
            value = self._value(measurements, day, units)
            rows = measurements.get(self.table, day, self.rows) or 0.0
            units = self.loaded_units(measurements, day, units)
            if len(history) < self.min_history:
                seen = Seen(value, rows, units, None, len(history))
                out.append(Verdict(self.name, NA, seen, self.describe(), False, source))
                continue
            base = baseline(
                history,
                self.sensitivity,
                relative_floor=self.relative_floor,
                absolute_floor=self.absolute_floor,
            )
            seen = Seen(value, rows, units, base, len(history))
            level = self.top if self.inside(value, base) else self.beyond
            out.append(Verdict(self.name, level, seen, self.expected(base), False, source))
        return out

    def inside(self, value: float | None, base: Baseline) -> bool:
        """Whether ``value`` is within the band (freshness: not later than its top). An empty
        scheduled partition never is: every date the band was learned from had rows, even
        when the history varies so much that the band reaches down to 0."""
        if value is None:
            return False
        if self.freshness:
            return value <= base.hi
        return value > 0 and base.lo <= value <= base.hi

    # -- what it says ------------------------------------------------------------------

    def _band(self, base: Baseline) -> tuple[float | None, float]:
        """The band as shown: whole rows for a count (exact: counts are whole), else rounded
        outwards to 3 significant digits (a freshness band to 0.1 h)."""
        if self.freshness:
            return None, math.ceil(base.hi * 10) / 10
        if not self.per_unit:
            return float(max(0, math.ceil(base.lo))), float(math.floor(base.hi))
        digits = _digits(base.median)
        scale = 10**digits
        return max(0.0, math.floor(base.lo * scale) / scale), math.ceil(base.hi * scale) / scale

    def expected(self, base: Baseline) -> str:
        """'24–29 rows per game, learned from the last 28 game dates'."""
        lo, hi = self._band(base)
        learned = f"learned from the last {base.n} {self.dates_word}"
        if self.freshness:
            return (
                f"newest {self.column} within {_fmt(hi, 1)} h of the date's start "
                f"(usually {_fmt(base.median, 1)} h), {learned}"
            )
        assert lo is not None
        digits = _digits(base.median) if self.per_unit else 0
        what = f"rows per {self.noun}" if self.per_unit else "rows"
        return f"{_fmt(lo, digits)}–{_fmt(hi, digits)} {what}, {learned}"

    def describe(self) -> str:
        """The rule, before anything is learned (a date still learning shows it)."""
        what = (
            f"lateness of the newest {self.column}"
            if self.freshness
            else f"rows per {self.noun}"
            if self.per_unit
            else "rows"
        )
        band = "at most the median +" if self.freshness else "within the median ±"
        return (
            f"{what} {band} {_fmt(self.sensitivity, 2)} robust SDs of the last "
            f"{self.history} {self.dates_word} (at least {self.min_history} needed)"
        )

    def observed(self, seen: Seen) -> str:
        """'15.00 rows per game (375 rows, 25 games), below the band' or 'learning: 3 of 7 …'."""
        if seen.base is None:
            return f"learning: {seen.n} of {self.min_history} {self.dates_word}"
        if seen.value is None:
            text = f"no {self.column} timestamp" if seen.rows else "no rows"
        elif self.freshness:
            text = f"newest {self.column} {_fmt(seen.value, 1)} h after the date's start"
        elif self.per_unit:
            plural = f"{self.noun}s" if seen.units != 1 else self.noun
            digits = _digits(seen.base.median) + 1
            text = (
                f"{_fmt(seen.value, digits)} rows per {self.noun} "
                f"({seen.rows:.0f} rows, {seen.units} {plural})"
            )
        else:
            text = f"{seen.rows:.0f} rows"
        if self.inside(seen.value, seen.base):
            return text
        side = "later than" if self.freshness else self._side(seen.value, seen.base)
        warning = " (a warning)" if self.beyond is ACCEPTABLE else ""
        return f"{text}, {side} the learned band{warning}"

    @staticmethod
    def _side(value: float | None, base: Baseline) -> str:
        return "above" if value is not None and value > base.hi else "below"

    def details(self, seen: Seen) -> dict[str, object]:
        """``expected`` [lo, hi] (lo null for freshness), ``learned_from``, ``per``, the
        median and MAD; while learning, ``learning`` and ``needed``."""
        if seen.base is None:
            return {"learning": seen.n, "needed": self.min_history}
        lo, hi = self._band(seen.base)
        out: dict[str, object] = {
            "expected": [lo, hi],
            "learned_from": seen.base.n,
            "median": round(seen.base.median, 4),
            "mad": round(seen.base.mad, 4),
        }
        if self.freshness:
            out["unit"] = "hours"
        else:
            out["per"] = "date" if not self.per_unit else "loaded_unit" if self.loaded else "unit"
        if not self.inside(seen.value, seen.base):
            side = "later" if self.freshness else self._side(seen.value, seen.base)
            out["anomaly"] = side
        return out

    def value(self, seen: Seen) -> float | None:
        """The number judged: rows (per unit), or hours after the date's start."""
        return seen.value


def _digits(median: float) -> int:
    """Decimals that show a number near ``median`` to 3 significant digits (25 -> 1)."""
    if median <= 0:
        return 2
    return max(0, min(6, 2 - math.floor(math.log10(median))))


def _fmt(value: float, digits: int) -> str:
    """``value`` with at most ``digits`` decimals, trailing zeros dropped."""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class _LearnedCheck(Prepared):
    """A learned expectation prepared against the config: the rule is :class:`Learned`."""

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, VolumeAnomaly | FreshnessAnomaly)
        self.rule = Learned.of(self.name, check, config)
        self.expected = self.rule.describe()

    def judge(self, days: Days) -> list[Verdict]:
        return self.rule.judge(days, self)

    def cap(self, best: Level) -> None:
        super().cap(best)
        self.rule.top = min(self.rule.top, best, key=_rank)

    def observed(self, seen: Any) -> str:
        return self.rule.observed(seen)

    def details(self, seen: Any) -> dict[str, object]:
        return self.rule.details(seen)

    def value(self, seen: Any) -> float | None:
        return self.rule.value(seen)


class VolumeAnomalyCheck(_LearnedCheck):
    """Rows per scheduled unit (or per date) within the band learned from the history."""

    kind = "volume_anomaly"


class FreshnessAnomalyCheck(_LearnedCheck):
    """A partition's lateness no later than the band learned from the history."""

    kind = "freshness_anomaly"


KINDS: tuple[type[Prepared], ...] = (VolumeAnomalyCheck, FreshnessAnomalyCheck)
