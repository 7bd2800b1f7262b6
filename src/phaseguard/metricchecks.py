"""Metric checks: one number per date, read from the partition and graded on thresholds.

``rows_per_unit`` and ``unit_coverage`` measure a table against the schedule's units,
``distinct_count`` and ``aggregate`` a column of the partition, ``ratio`` one table's rows
against another's. Each is a :class:`~phaseguard.checks._Graded`: its value earns the best
traffic-light tier it is in (:mod:`phaseguard.grading`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .checks import Prepared, _Graded
from .config import Config
from .days import Days
from .grading import _num, _pct
from .kinds import Aggregate, Check, DistinctCount, Ratio, RowsPerUnit, UnitCoverage
from .plan import MISSING_SHOWN, Metric, coverage_key, covered_metric, rows_metric
from .verdicts import FAIL, NA, PASS, Verdict


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


KINDS: tuple[type[Prepared], ...] = (
    RowsPerUnitCheck,
    UnitCoverageCheck,
    DistinctCountCheck,
    AggregateCheck,
    RatioCheck,
)
