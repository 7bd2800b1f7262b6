"""Checks: pure functions from measurements to verdicts.

Each check kind of the config (``rows_exist``, ``rows_per_unit``, ``unit_coverage``,
``quorum``, ``distinct_count``, ``aggregate``, ``ratio``, ``freshness``) has one function
here. None of them reads the warehouse: they get a :class:`Measurements` and a date.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .config import (
    Aggregate,
    Check,
    Config,
    DistinctCount,
    Freshness,
    Quorum,
    Ratio,
    RowsExist,
    RowsPerUnit,
    Thresholds,
    UnitCoverage,
)
from .plan import Measurements, Metric
from .verdicts import Level, Verdict


@dataclass(frozen=True)
class Context:
    """What every check sees for one date."""

    config: Config
    measurements: Measurements
    date: dt.date
    phase_tables: Sequence[str]
    now: dt.datetime
    scheduled: int = field(init=False)

    def __post_init__(self) -> None:
        scheduled = self.measurements.scheduled(self.date, self.config.schedule.unit)
        object.__setattr__(self, "scheduled", scheduled)

    def rows(self, key: str) -> int:
        """Rows of table ``key`` on this date."""
        return self.measurements.rows(key, self.date)


def _per_object(fn: Callable[..., str]) -> Callable[..., str]:
    """Memoise a text derived from config objects (frozen, but not hashable: they hold lists).

    Keyed by the objects' ids; the objects are kept with the value, so an id is never reused
    while its entry lives. Judging a season asks for the same texts thousands of times.
    """
    memo: dict[tuple[int, ...], tuple[tuple[object, ...], str]] = {}

    @functools.wraps(fn)
    def wrapper(*args: object) -> str:
        key = tuple(id(a) for a in args)
        hit = memo.get(key)
        if hit is None:
            hit = (args, fn(*args))
            memo[key] = hit
        return hit[1]

    return wrapper


@_per_object
def check_name(check: Check) -> str:
    """The check's display name: its own, or kind(table)."""
    if check.name:
        return check.name
    target = getattr(check, "table", None) or getattr(check, "numerator", None)
    if isinstance(check, DistinctCount):
        target = f"{check.table}.{check.column}"
    if isinstance(check, Ratio):
        target = f"{check.numerator}/{check.denominator}"
    return f"{check.kind}({target})" if target else check.kind


def grade(value: float, t: Thresholds) -> Level:
    """The traffic light for ``value``: higher is better (>=) unless direction is lower (<)."""
    for level, threshold in (
        (Level.EXCELLENT, t.excellent),
        (Level.PASS, t.pass_),
        (Level.ACCEPTABLE, t.acceptable),
    ):
        if threshold is None:
            continue
        ok = value < threshold if t.direction == "lower" else value >= threshold
        if ok:
            return level
    return Level.FAIL


def describe(t: Thresholds, fmt: Callable[[float], str] = str) -> str:
    """Thresholds as text, e.g. '>= 90% excellent, >= 70% acceptable'."""
    op = "<" if t.direction == "lower" else ">="
    parts = [
        f"{op} {fmt(value)} {label}"
        for label, value in (
            ("excellent", t.excellent),
            ("pass", t.pass_),
            ("acceptable", t.acceptable),
        )
        if value is not None
    ]
    return ", ".join(parts)


# The expected-text of a check is the same on every date: computed once per check.
_expected = _per_object(describe)


def _whole(value: float) -> str:
    return f"{value:.0f}"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def rows_exist(check: RowsExist, ctx: Context) -> Verdict:
    """FAIL if any named table has no rows for the date."""
    tables = list(check.tables or ctx.phase_tables)
    counts = {key: ctx.rows(key) for key in tables}
    empty = [key for key, n in counts.items() if n == 0]
    observed = ", ".join(f"{key}={n}" for key, n in counts.items())
    expected = "rows in " + ("every table" if len(tables) > 1 else tables[0])
    level = Level.FAIL if empty else Level.PASS
    return Verdict(check_name(check), level, observed, expected, details={"empty": empty})


def rows_per_unit(check: RowsPerUnit, ctx: Context) -> Verdict:
    """Rows per scheduled unit (e.g. per game) against thresholds."""
    rows = ctx.rows(check.table)
    value = rows / ctx.scheduled
    return Verdict(
        check_name(check),
        grade(value, check),
        f"{_num(value)}/unit ({rows} rows, {ctx.scheduled} scheduled)",
        _expected(check, _num),
        graded=check.excellent is not None,
    )


def unit_coverage(check: UnitCoverage, ctx: Context) -> Verdict:
    """Share of scheduled units present in the table."""
    table = ctx.config.table(check.table)
    metric = Metric("units", table.unit or ctx.config.schedule.unit)
    covered = int(ctx.measurements.get(check.table, ctx.date, metric) or 0)
    value = covered / ctx.scheduled
    return Verdict(
        check_name(check),
        grade(value, check),
        f"{_pct(value)} ({covered}/{ctx.scheduled})",
        _expected(check, _pct),
        graded=check.excellent is not None,
    )


def quorum(check: Quorum, ctx: Context) -> Verdict:
    """At least ``min_present`` tables have rows and every required one does (the breaker)."""
    tables = list(check.tables or ctx.phase_tables)
    required = (
        check.required
        if check.required is not None
        else [k for k in tables if ctx.config.table(k).critical]
    )
    present = [k for k in tables if ctx.rows(k) > 0]
    missing = [k for k in tables if k not in present]
    missing_required = [k for k in required if k not in present]
    ok = len(present) >= check.min_present and not missing_required
    if not ok:
        level = Level.FAIL
    elif not missing:
        level = Level.EXCELLENT
    else:
        level = Level.PASS
    observed = f"{len(present)}/{len(tables)} present"
    if missing:
        observed += f"; missing {', '.join(missing)}"
    if missing_required:
        observed += f" (required: {', '.join(missing_required)})"
    expected = f">= {check.min_present}/{len(tables)}"
    if required:
        expected += f" incl. {', '.join(required)}"
    return Verdict(
        check_name(check),
        level,
        observed,
        expected,
        graded=True,
        details={"present": present, "missing": missing, "missing_required": missing_required},
    )


def distinct_count(check: DistinctCount, ctx: Context) -> Verdict:
    """Distinct values of a column for the date (e.g. prediction systems)."""
    value = ctx.measurements.get(check.table, ctx.date, Metric("distinct", check.column)) or 0
    return Verdict(
        check_name(check),
        grade(value, check),
        f"{value:.0f}",
        _expected(check, _whole),
        graded=check.excellent is not None,
    )


def aggregate(check: Aggregate, ctx: Context) -> Verdict:
    """An aggregate over the partition (e.g. MAE); N/A when the partition is empty."""
    value = ctx.measurements.get(check.table, ctx.date, Metric("aggregate", expr=check.expr))
    if value is None:
        return Verdict(check_name(check), Level.NA, "no rows", _expected(check, _num))
    return Verdict(
        check_name(check),
        grade(value, check),
        _num(value),
        _expected(check, _num),
        graded=check.excellent is not None,
    )


def ratio(check: Ratio, ctx: Context) -> Verdict:
    """Rows of numerator over rows of denominator (e.g. graded over predicted)."""
    top, bottom = ctx.rows(check.numerator), ctx.rows(check.denominator)
    if bottom == 0:
        level = Level.NA if top == 0 else Level.PASS
        return Verdict(check_name(check), level, f"{top}/0", _expected(check, _pct))
    value = top / bottom
    return Verdict(
        check_name(check),
        grade(value, check),
        f"{_pct(value)} ({top}/{bottom})",
        _expected(check, _pct),
        graded=check.excellent is not None,
    )


def freshness(check: Freshness, ctx: Context) -> Verdict:
    """The newest timestamp in the partition is at most ``max_age_hours`` old."""
    epoch = ctx.measurements.get(check.table, ctx.date, Metric("max_epoch", check.column))
    expected = f"newest {check.column} within {_num(check.max_age_hours)}h"
    if epoch is None:
        return Verdict(check_name(check), Level.FAIL, "no rows", expected)
    newest = dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)
    age = (ctx.now - newest).total_seconds() / 3600
    level = Level.PASS if age <= check.max_age_hours else Level.FAIL
    return Verdict(check_name(check), level, f"{_num(age)}h old", expected)


_KINDS: dict[str, Callable[..., Verdict]] = {
    "rows_exist": rows_exist,
    "rows_per_unit": rows_per_unit,
    "unit_coverage": unit_coverage,
    "quorum": quorum,
    "distinct_count": distinct_count,
    "aggregate": aggregate,
    "ratio": ratio,
    "freshness": freshness,
}


def evaluate(check: Check, ctx: Context) -> Verdict:
    """The verdict of one check for one date; N/A when nothing is scheduled."""
    if ctx.scheduled == 0:
        return Verdict(check_name(check), Level.NA, "nothing scheduled", "")
    return _KINDS[check.kind](check, ctx)
