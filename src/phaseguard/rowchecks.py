"""Row-level and per-table checks: bad rows, row counts and reconciliations, with evidence.

``not_null``, ``accepted_values`` and ``range`` count the BAD rows of a partition (graded
lower-is-better, as a count or a share of the rows ``where`` keeps; a date with no such rows
is N/A) and say why in ``details``: the NULL count per column, the offending values, the
observed min and max. ``row_count`` grades the rows themselves, and ``reconciliation``
compares an aggregate of one table with an aggregate of another for the same date. Each
reads metrics of its tables' one probe (accepted_values' values, a listing probe of their
own): still one statement per command.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from .checks import Prepared, _Graded
from .config import Config
from .days import Days
from .grading import _num
from .kinds import Check
from .plan import (
    ITEM_SEPARATOR,
    MISSING_SHOWN,
    Metric,
    extreme_metric,
    listing_key,
    nulls_metric,
    outside_metric,
    rejected_metric,
    rows_metric,
)
from .rowkinds import AcceptedValues, NotNull, Range, Reconciliation, RowCount, RowLevel
from .verdicts import ACCEPTABLE, NA, Verdict

Seen = tuple[int, int, Any]  # (bad rows, rows, evidence)


def _share(value: float) -> str:
    """A share of rows as a percentage: one decimal, two significant digits below 0.1 %."""
    pct = value * 100
    return f"{pct:.2g}%" if 0 < pct < 0.1 else f"{pct:.1f}".removesuffix(".0") + "%"


def _filter(where: str | None) -> str:
    return f" where {where}" if where else ""


def offending_items(text: str | None) -> list[tuple[str, int]]:
    """The ``key=rows:len`` items of a listing or keyed probe's text, in key order.

    Read from the right: an item's last ``=`` is the one before its rows (only digits and
    ``:`` follow it), and ``len`` says how many characters the key before it has, so a key
    holding ``, ``, ``=`` or digits reads back whole.
    """
    out: list[tuple[str, int]] = []
    rest = text or ""
    while rest:
        eq = rest.rfind("=")
        rows, _, size = rest[eq + 1 :].partition(":")
        start = eq - int(size) if eq >= 0 and rows.isdigit() and size.isdigit() else -1
        if start < 0:
            break  # not an item: keep what was read
        out.append((rest[start:eq], int(rows)))
        rest = rest[:start].removesuffix(ITEM_SEPARATOR)
    return sorted(out)


class _RowLevelCheck(_Graded):
    """Bad rows of one table per date, against lower-is-better "at most" tiers.

    Subclasses read the bad rows (:meth:`bad`) and their evidence (:meth:`evidence`) for
    every date, and say what the evidence is (:meth:`evidence_text`, :meth:`evidence_details`).
    """

    what = "bad rows"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        assert isinstance(check, RowLevel)
        self.pct = check.measure == "share"
        super().__init__(check, config, phase_tables)
        self.table = check.table
        self.rows = rows_metric(check.where)
        self.empty = f"no rows in {check.table}{_filter(check.where)}"

    def judge(self, days: Days) -> list[Verdict]:
        rows = days.count(self.table, self.rows)
        bad = self.bad(days)
        evidence = self.evidence(days)
        share = self.pct
        out = []
        for n, b, ev in zip(rows, bad, evidence, strict=True):
            if not n:
                out.append(Verdict(self.name, NA, self.empty, self.expected))
            else:
                out.append(self.verdict(b / n if share else b, (b, n, ev)))
        return out

    def bad(self, days: Days) -> list[int]:
        raise NotImplementedError

    def evidence(self, days: Days) -> Sequence[Any]:
        return [None] * len(days.dates)

    def evidence_text(self, evidence: Any) -> str:
        return ""

    def evidence_details(self, evidence: Any) -> dict[str, object]:
        return {}

    def value(self, seen: Seen) -> float:
        bad, rows, _ = seen
        return bad / rows if self.pct else float(bad)

    def text(self, seen: Seen) -> str:
        bad, rows, evidence = seen
        text = f"{bad} {self.what} of {rows}"
        if self.pct:
            text = f"{_share(bad / rows)} ({text})"
        more = self.evidence_text(evidence) if bad else ""
        return f"{text}; {more}" if more else text

    def details(self, seen: Seen) -> dict[str, object]:
        bad, rows, evidence = seen
        out: dict[str, object] = {"bad": bad, "rows": rows, **self.evidence_details(evidence)}
        out.update(super().details(seen))
        return out


class NotNullCheck(_RowLevelCheck):
    """Rows with a NULL in any of the columns; evidence: the NULL count per column."""

    kind = "not_null"
    what = "rows with a NULL"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, NotNull)
        self.columns = tuple(check.columns)
        self.per_column = [nulls_metric([c], check.where) for c in self.columns]
        self.any_null = nulls_metric(self.columns, check.where)

    def bad(self, days: Days) -> list[int]:
        return days.count(self.table, self.any_null)

    def evidence(self, days: Days) -> Sequence[Any]:
        if len(self.columns) == 1:
            return [(n,) for n in self.bad(days)]
        return list(zip(*[days.count(self.table, m) for m in self.per_column], strict=True))

    def evidence_text(self, evidence: tuple[int, ...]) -> str:
        return ", ".join(f"{c} {n}" for c, n in zip(self.columns, evidence, strict=True) if n)

    def evidence_details(self, evidence: tuple[int, ...]) -> dict[str, object]:
        return {"nulls": dict(zip(self.columns, evidence, strict=True))}


class AcceptedValuesCheck(_RowLevelCheck):
    """Rows whose non-NULL value is not an accepted one; evidence: the offending values
    (the first ``MISSING_LISTED`` in order, each whole), read by a listing probe."""

    kind = "accepted_values"
    what = "rows with a value not accepted"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, AcceptedValues)
        self.metric = rejected_metric(check)
        self.key = listing_key(check.table, self.metric)

    def bad(self, days: Days) -> list[int]:
        return [int(n) for n in days.rows(self.key)]

    def evidence(self, days: Days) -> Sequence[Any]:
        distinct = days.values(self.key, self.metric.key)
        return list(zip([int(n or 0) for n in distinct], days.texts(self.key), strict=True))

    @staticmethod
    def _values(evidence: tuple[int, str | None]) -> list[str]:
        return [value for value, _ in offending_items(evidence[1])]

    def evidence_text(self, evidence: tuple[int, str | None]) -> str:
        values = self._values(evidence)
        shown = ", ".join(_shown(v) for v in values[:MISSING_SHOWN])
        more = evidence[0] - min(len(values), MISSING_SHOWN)
        return f"{shown} and {more} more" if more > 0 else shown

    def evidence_details(self, evidence: tuple[int, str | None]) -> dict[str, object]:
        return {"offending": self._values(evidence), "offending_count": evidence[0]}


def _shown(value: str) -> str:
    """A value as the text lists it: quoted when it holds the list's separator (``'A, B'``)."""
    return f"'{value}'" if ITEM_SEPARATOR in value else value


class RangeCheck(_RowLevelCheck):
    """Rows whose non-NULL value lies outside [min, max]; evidence: the observed min, max
    (dates as ISO text when the bounds are dates)."""

    kind = "range"
    what = "rows out of range"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Range)
        self.outside = outside_metric(check)
        self.dates = check.dates
        self.extremes = (extreme_metric("min", check).key, extreme_metric("max", check).key)

    def bad(self, days: Days) -> list[int]:
        return days.count(self.table, self.outside)

    def evidence(self, days: Days) -> Sequence[Any]:
        low, high = (days.values(self.table, key) for key in self.extremes)
        if self.dates:  # read as days since 1970-01-01
            return [(_day(a), _day(b)) for a, b in zip(low, high, strict=True)]
        return list(zip(low, high, strict=True))

    def evidence_text(self, evidence: tuple[Any, Any]) -> str:
        low, high = evidence
        if low is None or high is None:
            return ""
        if self.dates:
            return f"observed {low}..{high}"
        return f"observed {_num(low)}..{_num(high)}"

    def evidence_details(self, evidence: tuple[Any, Any]) -> dict[str, object]:
        return {"min": evidence[0], "max": evidence[1]}


def _day(days: float | None) -> str | None:
    """A date read as days since 1970-01-01, as ISO text."""
    if days is None:
        return None
    return (dt.date(1970, 1, 1) + dt.timedelta(days=round(days))).isoformat()


class RowCountCheck(_Graded):
    """Rows of the table for the date (those ``where`` keeps), against the thresholds."""

    kind = "row_count"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, RowCount)
        self.table = check.table
        self.rows = rows_metric(check.where)

    def judge(self, days: Days) -> list[Verdict]:
        counts = days.count(self.table, self.rows)
        return self.verdicts(counts, counts)

    def text(self, seen: int) -> str:
        return f"{seen} rows"

    def value(self, seen: int) -> float:
        return float(seen)


class ReconciliationCheck(Prepared):
    """|left - right| within the tolerance (absolute, or a percent of right): EXCELLENT,
    else FAIL (a warning with ``severity: warn``); N/A when both tables have no rows.

    Both sides are aggregate metrics of their tables' probes (rounded to 9 decimals as every
    aggregate is), so the check is a pure comparison.
    """

    kind = "reconciliation"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Reconciliation)
        self.sides = tuple(
            (side.table, Metric("aggregate", expr=side.expr, where=side.where or "").key)
            for side in (check.left, check.right)
        )
        self.pct = check.tolerance_pct
        self.tolerance = check.tolerance or 0.0
        left, right = (f"{s.table}.{s.expr}{_filter(s.where)}" for s in (check.left, check.right))
        within = f"{_num(self.pct)}%" if self.pct is not None else _num(self.tolerance)
        self.expected = f"{left} = {right} within {within}"

    def judge(self, days: Days) -> list[Verdict]:
        (lt, lm), (rt, rm) = self.sides
        lefts, rights = days.values(lt, lm), days.values(rt, rm)
        rows = zip(days.rows(lt), days.rows(rt), strict=True)
        out = []
        for (l_rows, r_rows), left, right in zip(rows, lefts, rights, strict=True):
            if not l_rows and not r_rows:
                out.append(Verdict(self.name, NA, f"no rows in {lt} or {rt}", self.expected))
                continue
            level = self.top if self._holds(left, right) else self.beyond
            out.append(Verdict(self.name, level, (left, right), self.expected, False, self))
        return out

    def _holds(self, left: float | None, right: float | None) -> bool:
        if left is None or right is None:
            return False
        allowed = abs(right) * self.pct / 100 if self.pct is not None else self.tolerance
        return round(abs(left - right), 9) <= allowed

    def observed(self, seen: tuple[float | None, float | None]) -> str:
        left, right = seen
        shown = ["no value" if v is None else _num(v) for v in seen]
        text = f"{shown[0]} vs {shown[1]}"
        if left is not None and right is not None:
            text += f" (difference {_num(left - right)})"
        if self.beyond is ACCEPTABLE and not self._holds(left, right):
            text += " (a warning)"
        return text

    def details(self, seen: tuple[float | None, float | None]) -> dict[str, object]:
        left, right = seen
        diff = None if left is None or right is None else round(left - right, 9)
        out: dict[str, object] = {"left": left, "right": right, "difference": diff}
        if self.beyond is ACCEPTABLE and not self._holds(left, right):
            out["warning"] = f"outside the tolerance ({self.expected})"
        return out

    def value(self, seen: tuple[float | None, float | None]) -> float | None:
        left, right = seen
        return None if left is None or right is None else abs(left - right)


KINDS: tuple[type[Prepared], ...] = (
    NotNullCheck,
    AcceptedValuesCheck,
    RangeCheck,
    RowCountCheck,
    ReconciliationCheck,
)
