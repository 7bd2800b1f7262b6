"""Checks: pure functions from measurements to verdicts.

Each check kind of the config (``rows_exist``, ``rows_per_unit``, ``unit_coverage``,
``quorum``, ``distinct_count``, ``aggregate``, ``ratio``, ``freshness``) has one class here;
the row-level and per-table kinds (``not_null``, ``accepted_values``, ``range``,
``row_count``, ``reconciliation``) build on them in :mod:`phaseguard.rowchecks`, the
learned expectations (``volume_anomaly``, ``freshness_anomaly``) in :mod:`phaseguard.learned`.
None of them reads the warehouse. :func:`prepare` builds one against the config once: what
is the same on every date (its name, the threshold text, the metrics it reads) is worked
out there. Its ``judge`` then takes the dates to judge (:class:`Days`), reads each metric
as a column over those dates, and gives one verdict per date: judging a season is a few
list comprehensions per check, not a function call per check per date. A verdict keeps
the raw numbers the check saw and renders ``observed`` and ``details`` from them only
when asked: a season is thousands of verdicts, and few are shown.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from .config import Config, Schedule
from .kinds import (
    AcceptedValues,
    Aggregate,
    Between,
    Check,
    DistinctCount,
    Freshness,
    NotNull,
    Quorum,
    Range,
    Ratio,
    Reconciliation,
    Relationships,
    RowsExist,
    RowsPerUnit,
    Thresholds,
    Unique,
    UnitCoverage,
)
from .plan import (
    HORIZON,
    MISSING_SHOWN,
    ROWS,
    SCHEDULE,
    Measurements,
    Metric,
    coverage_key,
    covered_metric,
    keyed_variant,
    rows_metric,
)
from .verdicts import ACCEPTABLE, ERROR, EXCELLENT, FAIL, NA, PASS, Level, Verdict


class Days:
    """The scheduled dates being judged, with their measurements read column by column.

    A check judges every date at once: it asks for one table's row counts (or another
    metric) as a list aligned with :attr:`dates` and gives back one verdict per date.
    """

    def __init__(
        self,
        measurements: Measurements,
        dates: Sequence[dt.date],
        scheduled: Sequence[int],
        now: dt.datetime,
    ) -> None:
        self.dates = list(dates)
        self.scheduled = list(scheduled)  # units scheduled on each date
        self.now = now
        self.measurements = measurements
        self._on = [measurements.on(day) for day in self.dates]
        self._positions = measurements.positions
        self._rows: dict[str, list[float]] = {}

    @classmethod
    def of_schedule(
        cls, measurements: Measurements, schedule: Schedule, now: dt.datetime
    ) -> tuple[Days, list[int]]:
        """The plan's dates that have something scheduled, and the units on every plan date.

        A schedule table's units come from its probe; a calendar expects one unit on each
        date it names.
        """
        dates = measurements.plan.dates
        every = cls(measurements, dates, [0] * len(dates), now)
        weekdays = schedule.weekdays
        if weekdays is not None:
            scheduled = [int(day.weekday() in weekdays) for day in dates]
        else:
            unit = Metric("units", schedule.unit or "").key
            scheduled = [int(n or 0) for n in every.values(SCHEDULE, unit)]
        busy = [(day, n) for day, n in zip(dates, scheduled, strict=True) if n]
        return cls(measurements, [d for d, _ in busy], [n for _, n in busy], now), scheduled

    def rows(self, key: str) -> list[float]:
        """Rows of table ``key`` on each date (a probe reads the row count first)."""
        column = self._rows.get(key)
        if column is None:
            column = [(row[0] or 0) if (row := on.get(key)) else 0 for on in self._on]
            self._rows[key] = column
        return column

    def count(self, key: str, metric: Metric) -> list[int]:
        """A count ``metric`` of table ``key`` (rows, rows ``where`` keeps, bad rows) on each
        date, 0 where the table has no rows."""
        if metric == ROWS:
            return [int(n) for n in self.rows(key)]
        return [int(n or 0) for n in self.values(key, metric.key)]

    def values(self, key: str, metric: str) -> list[float | None]:
        """Metric ``metric`` (a :attr:`Metric.key`) of table ``key`` on each date; None: no rows."""
        index = self._positions.get(key, {}).get(metric)
        if index is None:
            return [None] * len(self._on)
        return [row[index] if (row := on.get(key)) else None for on in self._on]

    def texts(self, key: str) -> list[str | None]:
        """The text a probe returned on each date (a coverage probe's first missing units)."""
        text = self.measurements.text
        return [text(key, day) for day in self.dates]


Tier = tuple[Level, float, float]  # (level, lo, hi): the tier holds when lo <= value <= hi


def tiers(t: Thresholds) -> tuple[Tier, ...]:
    """The thresholds that are set, best level first, each as the closed range it accepts.

    Higher is better: ``value >= t``. Lower is better: ``value < t`` (the range ends just
    below t). A band ``{between: [lo, hi]}``: ``lo <= value <= hi`` in either direction.
    """
    lower = t.direction == "lower"
    out: list[Tier] = []
    for level, tier in ((EXCELLENT, t.excellent), (PASS, t.pass_), (ACCEPTABLE, t.acceptable)):
        if tier is None:
            continue
        if isinstance(tier, Between):
            out.append((level, *tier.between))
        elif lower and t.at_most:  # a bad-row count: at most t
            out.append((level, -math.inf, tier))
        elif lower:
            out.append((level, -math.inf, math.nextafter(tier, -math.inf)))
        else:
            out.append((level, tier, math.inf))
    return tuple(out)


def grade(value: float, t: Thresholds) -> Level:
    """The traffic light for ``value``: the best tier it is in; FAIL (or, with
    ``severity: warn``, ACCEPTABLE) when it is in none."""
    return _grade(value, tiers(t), ACCEPTABLE if t.severity == "warn" else FAIL)


def _grade(value: float, tiers: tuple[Tier, ...], beyond: Level = FAIL) -> Level:
    for level, lo, hi in tiers:
        if lo <= value <= hi:
            return level
    return beyond


def threshold_text(value: float, pct: bool = False) -> str:
    """A threshold exactly as written in the config (0.001, 1.001, 0.999 stay themselves);
    ``pct`` shows a share as a percentage without rounding (0.999 is 99.9%)."""
    from decimal import Decimal  # only verify and criteria print thresholds: smoke never does

    if pct:
        text = format((Decimal(repr(float(value))) * 100).normalize(), "f")
        return f"{text}%"
    return (
        format(Decimal(repr(float(value))).normalize(), "f") if abs(value) < 1e15 else repr(value)
    )


def tier_text(tier: float | Between, op: str, pct: bool = False) -> str:
    """One tier as text: '>= 90%', '< 8', 'between 10 and 30'."""
    if isinstance(tier, Between):
        lo, hi = (threshold_text(v, pct) for v in tier.between)
        return f"between {lo} and {hi}"
    return f"{op} {threshold_text(tier, pct)}"


def describe(t: Thresholds, pct: bool = False) -> str:
    """Thresholds as text, each as written, e.g. '>= 90% excellent, >= 70% acceptable'."""
    op = _op(t)
    parts = [
        f"{tier_text(tier, op, pct)} {label}"
        for label, tier in (
            ("excellent", t.excellent),
            ("pass", t.pass_),
            ("acceptable", t.acceptable),
        )
        if tier is not None
    ]
    text = ", ".join(parts)
    if text and t.severity == "warn":
        text += "; beyond: a warning (severity: warn)"
    return text


def _op(t: Thresholds) -> str:
    """How a one-sided tier compares: '>=' (higher is better), '<', or '<=' (at most)."""
    if t.direction != "lower":
        return ">="
    return "<=" if t.at_most else "<"


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


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


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


class RowsExistCheck(Prepared):
    """FAIL if any named table has no rows for the date; else EXCELLENT.

    A check that can only hold or not is at its best when it holds: it never keeps a
    phase below EXCELLENT (a phase takes the worst level of its checks).
    """

    kind = "rows_exist"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, RowsExist)
        self.any_of = check.any_of is not None
        self.tables = tuple(check.any_of or check.tables or phase_tables)
        if self.any_of:
            self.expected = "rows in any of " + ", ".join(self.tables)
        else:
            self.expected = "rows in " + ("every table" if len(self.tables) > 1 else self.tables[0])

    def judge(self, days: Days) -> list[Verdict]:
        name, expected, top, beyond = self.name, self.expected, self.top, self.beyond
        columns = zip(*[days.rows(key) for key in self.tables], strict=True)
        if self.any_of:
            return [
                Verdict(name, top if any(counts) else beyond, counts, expected, False, self)
                for counts in columns
            ]
        return [
            Verdict(name, beyond if 0 in counts else top, counts, expected, False, self)
            for counts in columns
        ]

    def _warns(self, seen: tuple[float, ...]) -> bool:
        """Whether ``seen`` fails the check and the check only warns (severity: warn)."""
        failed = not any(seen) if self.any_of else 0 in seen
        return failed and self.beyond is ACCEPTABLE

    def observed(self, seen: tuple[float, ...]) -> str:
        text = ", ".join(f"{key}={n:.0f}" for key, n in zip(self.tables, seen, strict=True))
        return f"{text} (a warning: severity warn)" if self._warns(seen) else text

    def details(self, seen: tuple[float, ...]) -> dict[str, object]:
        out: dict[str, object] = {
            "empty": [key for key, n in zip(self.tables, seen, strict=True) if n == 0]
        }
        if self._warns(seen):
            out["warning"] = f"not {self.expected}"
        return out


class RowsPerUnitCheck(_Graded):
    """Rows per scheduled unit (e.g. per game) against thresholds."""

    kind = "rows_per_unit"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, RowsPerUnit)
        self.table = check.table
        self.rows = rows_metric(check.where)

    def judge(self, days: Days) -> list[Verdict]:
        pairs = list(zip(days.count(self.table, self.rows), days.scheduled, strict=True))
        return self.verdicts([rows / scheduled for rows, scheduled in pairs], pairs)

    def text(self, seen: tuple[float, int]) -> str:
        rows, scheduled = seen
        return f"{_num(rows / scheduled)}/unit ({rows:.0f} rows, {scheduled} scheduled)"

    def value(self, seen: tuple[float, int]) -> float:
        return seen[0] / seen[1]


class UnitCoverageCheck(_Graded):
    """Share of the schedule's units for the date that have rows in the table (or in any of
    its ``any_of`` sources; over a rolling ``window`` of days ending on the date).

    The warehouse semi-joins the schedule's units with the sources' (a coverage probe), so
    a unit counts only when the schedule names it: a renamed unit is missing, not covered.
    Below PASS, the verdict names the first missing units and how many there are.
    """

    kind = "unit_coverage"
    pct = True

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, UnitCoverage)
        self.window = check.window_days
        if self.window > 1:
            self.expected += f" over {self.window} days"
        self.key = coverage_key(check.sources, check.where)
        self.covered = covered_metric(config, check.sources, check.where)
        self.metric = self.covered.key

    def judge(self, days: Days) -> list[Verdict]:
        if self.window > 1:
            seen = self._windows(days)
            return self.verdicts([c / n if n else 0.0 for c, n, _ in seen], seen)
        covered = [int(n or 0) for n in days.values(self.key, self.metric)]
        both = zip(covered, days.scheduled, days.texts(self.key), strict=True)
        seen_day = list(both)
        return self.verdicts([c / n for c, n, _ in seen_day], seen_day)

    def _windows(self, days: Days) -> list[tuple[int, int, None]]:
        """(covered, scheduled, None) over the window's days ending on each date judged:
        running sums over every date the plan read (its range reaches back a window)."""
        measured = days.measurements
        first = measured.plan.start
        index = measured.positions.get(self.key, {}).get(self.metric)
        covered, scheduled = [0], [0]  # running sums; [i + 1] is through first + i days
        for i in range((measured.plan.end - first).days + 1):
            row = measured.on(first + dt.timedelta(days=i)).get(self.key)
            scheduled.append(scheduled[-1] + int((row[0] or 0) if row else 0))
            hits = row[index] if row is not None and index is not None else 0
            covered.append(covered[-1] + int(hits or 0))
        out = []
        for day in days.dates:
            end = (day - first).days + 1
            start = max(0, end - self.window)
            out.append((covered[end] - covered[start], scheduled[end] - scheduled[start], None))
        return out

    def text(self, seen: tuple[int, int, str | None]) -> str:
        covered, scheduled, _ = seen
        share = _pct(covered / scheduled) if scheduled else "no units"
        text = f"{share} ({covered}/{scheduled})"
        if self.window > 1:
            text = f"{share} over {self.window} days ({covered}/{scheduled})"
        missing = self._missing(seen)
        if missing:
            more = scheduled - covered - len(missing)
            text += f"; missing {scheduled - covered}: {', '.join(missing)}"
            text += f" and {more} more" if more > 0 else ""
        return text

    def details(self, seen: tuple[int, int, str | None]) -> dict[str, object]:
        covered, scheduled, _ = seen
        out = super().details(seen)
        if covered < scheduled:
            out.update(missing_count=scheduled - covered, missing=self._missing(seen))
        return out

    @staticmethod
    def _missing(seen: tuple[int, int, str | None]) -> list[str]:
        """The first missing units the warehouse named, in key order."""
        named = seen[2]
        return sorted(named.split(", "))[:MISSING_SHOWN] if named else []

    def value(self, seen: tuple[int, int, str | None]) -> float:
        return seen[0] / seen[1] if seen[1] else 0.0


class QuorumCheck(Prepared):
    """At least ``min_present`` tables have rows and every required one does (the breaker).

    All present EXCELLENT; met with more than ``min_present`` PASS; met at exactly
    ``min_present`` ACCEPTABLE; fewer, or a required one missing, FAIL.
    """

    kind = "quorum"
    graded = True

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Quorum)
        self.tables = tuple(check.tables or phase_tables)
        self.required = tuple(
            check.required
            if check.required is not None
            else [k for k in self.tables if config.table(k).critical]
        )
        # A required table outside the quorum's own tables is never present: always FAIL.
        self.required_at = tuple(
            self.tables.index(k) if k in self.tables else -1 for k in self.required
        )
        self.min_present = check.min_present
        self.expected = f">= {check.min_present}/{len(self.tables)}"
        if self.required:
            self.expected += f" incl. {', '.join(self.required)}"

    def judge(self, days: Days) -> list[Verdict]:
        columns = [days.rows(key) for key in self.tables]
        return [self._one(counts) for counts in zip(*columns, strict=True)]

    def _one(self, counts: tuple[float, ...]) -> Verdict:
        present = len(counts) - counts.count(0)
        if present < self.min_present or any(i < 0 or not counts[i] for i in self.required_at):
            level = self.beyond  # FAIL, or a warning with severity: warn
        elif present == len(counts):
            level = self.top
        elif present == self.min_present:
            level = ACCEPTABLE  # met at its minimum: the seeds' early-season bootstrap
        else:
            level = min(PASS, self.top, key=_rank)
        return Verdict(self.name, level, counts, self.expected, True, self)

    def observed(self, seen: tuple[float, ...]) -> str:
        present, missing, missing_required = self._split(seen)
        text = f"{len(present)}/{len(self.tables)} present"
        if missing and len(present) == self.min_present:
            text += " (the minimum)"
        if missing:
            text += f"; missing {', '.join(missing)}"
        if missing_required:
            text += f" (required: {', '.join(missing_required)})"
        if self.beyond is ACCEPTABLE and self._short(seen):
            text += f", short of {self.expected} (a warning)"
        return text

    def _short(self, seen: tuple[float, ...]) -> bool:
        """Whether the quorum is not met (too few present, or a required one missing)."""
        _, _, missing_required = self._split(seen)
        return self.value(seen) < self.min_present or bool(missing_required)

    def details(self, seen: tuple[float, ...]) -> dict[str, object]:
        present, missing, missing_required = self._split(seen)
        out: dict[str, object] = {
            "present": present,
            "missing": missing,
            "missing_required": missing_required,
        }
        if self.beyond is ACCEPTABLE and self._short(seen):
            out["warning"] = f"short of {self.expected}"
        return out

    def value(self, seen: tuple[float, ...]) -> float:
        return float(len(seen) - seen.count(0))  # tables present

    def _split(self, seen: tuple[float, ...]) -> tuple[list[str], list[str], list[str]]:
        """(present, missing, required but missing) table keys."""
        present = [key for key, n in zip(self.tables, seen, strict=True) if n]
        missing = [key for key in self.tables if key not in present]
        return present, missing, [key for key in self.required if key not in present]


class DistinctCountCheck(_Graded):
    """Distinct values of a column for the date (e.g. prediction systems)."""

    kind = "distinct_count"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, DistinctCount)
        self.table = check.table
        self.metric = Metric("distinct", check.column, where=check.where or "").key

    def judge(self, days: Days) -> list[Verdict]:
        values = [n or 0 for n in days.values(self.table, self.metric)]
        return self.verdicts(values, values)

    def text(self, seen: float) -> str:
        return f"{seen:.0f}"

    def value(self, seen: float) -> float:
        return seen


class AggregateCheck(_Graded):
    """An aggregate over the partition (e.g. MAE); a scheduled date with no rows is FAIL
    (nothing to aggregate is missing data), or N/A with ``on_empty: na``."""

    kind = "aggregate"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Aggregate)
        self.table = check.table
        self.metric = Metric("aggregate", expr=check.expr, where=check.where or "").key
        self.on_empty = FAIL if check.on_empty == "fail" else NA
        self.empty = f"no rows in {self.table}" + (f" where {check.where}" if check.where else "")

    def judge(self, days: Days) -> list[Verdict]:
        empty = Verdict(self.name, self.on_empty, self.empty, self.expected)
        return [
            empty if value is None else self.verdict(value, value)
            for value in days.values(self.table, self.metric)
        ]

    def text(self, seen: float) -> str:
        return _num(seen)

    def value(self, seen: float) -> float:
        return seen


class RatioCheck(_Graded):
    """Rows of numerator over rows of denominator (e.g. graded over predicted)."""

    kind = "ratio"
    pct = True

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Ratio)
        self.numerator, self.denominator = check.numerator, check.denominator
        self.top_rows = rows_metric(check.where)

    def judge(self, days: Days) -> list[Verdict]:
        tops = days.count(self.numerator, self.top_rows)
        pairs = zip(tops, days.rows(self.denominator), strict=True)
        return [self._one(top, bottom) for top, bottom in pairs]

    def _one(self, top: float, bottom: float) -> Verdict:
        if bottom == 0:
            level = NA if top == 0 else PASS
            return Verdict(self.name, level, f"{top:.0f}/0", self.expected)
        return self.verdict(top / bottom, (top, bottom))

    def text(self, seen: tuple[float, int]) -> str:
        top, bottom = seen
        return f"{_pct(top / bottom)} ({top:.0f}/{bottom:.0f})"

    def value(self, seen: tuple[float, int]) -> float:
        return seen[0] / seen[1]


class FreshnessCheck(Prepared):
    """The newest timestamp in the partition is at most ``max_age_hours`` old."""

    kind = "freshness"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Freshness)
        self.table = check.table
        self.metric = Metric("max_epoch", check.column, where=check.where or "").key
        self.max_age_hours = check.max_age_hours
        self.expected = f"newest {check.column} within {_num(check.max_age_hours)}h"
        if check.where:
            self.expected += f" where {check.where}"
        self.warning = " (a warning: severity warn)" if self.beyond is ACCEPTABLE else ""

    def judge(self, days: Days) -> list[Verdict]:
        return [self._one(epoch, days.now) for epoch in days.values(self.table, self.metric)]

    def _one(self, epoch: float | None, now: dt.datetime) -> Verdict:
        if epoch is None:
            return Verdict(self.name, self.beyond, "no rows" + self.warning, self.expected)
        newest = dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)
        age = (now - newest).total_seconds() / 3600
        if age <= self.max_age_hours:  # holds: at its best
            return Verdict(self.name, self.top, f"{_num(age)}h old", self.expected)
        return Verdict(self.name, self.beyond, f"{_num(age)}h old{self.warning}", self.expected)


_KINDS: dict[str, type[Prepared]] = {
    kind.kind: kind
    for kind in (
        RowsExistCheck,
        RowsPerUnitCheck,
        UnitCoverageCheck,
        QuorumCheck,
        DistinctCountCheck,
        AggregateCheck,
        RatioCheck,
        FreshnessCheck,
    )
}


@functools.cache
@functools.cache
def _kinds() -> dict[str, type[Prepared]]:
    """Every kind's judging class: the ones above, and those of the modules built on them
    (imported here, not at the top, because they import this module)."""
    from . import keychecks, learned, rowchecks

    return {
        **_KINDS,
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


def _rank(level: Level) -> int:
    return level.rank


@functools.cache
def nothing_scheduled(name: str) -> Verdict:
    """The verdict of any check on a date with nothing scheduled: N/A, never FAIL."""
    return Verdict(name, NA, "nothing scheduled", "")


def unproven_off_days(
    measurements: Measurements, schedule: Schedule, dates: Iterable[dt.date]
) -> dict[dt.date, Verdict]:
    """An ERROR verdict for each of ``dates`` (dates the schedule calls empty) that is not
    proven an off-day, naming the schedule.

    "Nothing scheduled" is a claim about the schedule, and an empty or stale schedule must
    not open every gate. A date is proven empty only when the schedule table holds rows
    on or after it (it is loaded that far), and none of the measured tables has rows on it
    (a loaded date the schedule calls empty means the schedule lost it). A calendar
    schedule is a rule, not data: its off-days need no proof.
    """
    if schedule.table is None:
        return {}
    horizon = measurements.horizon
    tables = [
        p.key
        for p in measurements.plan.probes
        if p.key not in (SCHEDULE, HORIZON)
        and p.against is None
        and not p.listing
        and p.reach == "range"
    ]
    table = schedule.table
    out: dict[dt.date, Verdict] = {}
    for day in dates:
        if horizon is None or horizon < day:
            loaded = f"loaded only through {horizon}" if horizon else f"empty from {day} on"
            text = f"{table} is {loaded}: an off-day or a schedule not loaded yet?"
            out[day] = Verdict("schedule", ERROR, text, f"{table} loaded through {day}")
            continue
        loaded_here = [(key, n) for key in tables if (n := measurements.rows(key, day))]
        if loaded_here:
            rows = ", ".join(f"{key}={n}" for key, n in loaded_here[:3])
            text = f"{table} has nothing on {day}, but {rows} rows: a date missing from it?"
            out[day] = Verdict("schedule", ERROR, text, "no rows on a date it calls empty")
    return out
