"""The SQL of the row-level metrics: bad-row counts, observed extremes and ``where:`` filters.

Each is a plain aggregate of the table's one probe (one scan serves every check): a bad-row
count is ``COUNT(CASE WHEN [where AND] bad THEN 1 END)``, and a filtered aggregate reads
``CASE WHEN where THEN x END`` in place of each aggregate's argument (``COUNT(*)`` becomes
``COUNT(CASE WHEN where THEN 1 END)``), so the rows the filter leaves out count as NULL,
which every aggregate skips. Conditions come in parsed (``statement.parse_condition``);
config values are sqlglot literals, never text formatted into SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp
else:  # imported on first use, as in statement.py
    from .lazy import LazyModule

    exp = LazyModule("sqlglot.expressions")

from phaseguard.plan import MISSING_LISTED, Metric


def filtered(value: exp.Expr, cond: exp.Expr | None) -> exp.Expr:
    """``CASE WHEN cond THEN value END``: ``value`` on the rows the filter keeps, else NULL."""
    if cond is None:
        return value
    return exp.Case(ifs=[exp.If(this=_paren(cond.copy()), true=value)])


def count_where(predicate: exp.Expr | None, cond: exp.Expr | None = None) -> exp.Expr:
    """Rows where ``predicate`` (and the filter) hold: ``COUNT(CASE WHEN ... THEN 1 END)``."""
    parts = [_paren(p.copy()) for p in (cond, predicate) if p is not None]
    if not parts:
        return exp.Count(this=exp.Star())
    one = exp.Literal.number(1)
    return exp.Count(this=exp.Case(ifs=[exp.If(this=exp.and_(*parts), true=one)]))


def filter_aggregates(tree: exp.Expr, cond: exp.Expr | None) -> exp.Expr:
    """An allowed aggregate expression reading only the rows where ``cond`` holds: each
    aggregate's argument becomes ``CASE WHEN cond THEN arg END`` (``*`` becomes 1)."""
    if cond is None:
        return tree
    tree = tree.copy()
    for agg in list(tree.find_all(exp.AggFunc)):
        arg = agg.this
        if isinstance(arg, exp.Distinct):
            arg.set("expressions", [filtered(e.copy(), cond) for e in arg.expressions])
        elif isinstance(arg, exp.Star) or arg is None:
            agg.set("this", filtered(exp.Literal.number(1), cond))
        else:
            agg.set("this", filtered(arg.copy(), cond))
    return tree


def bad_rows(metric: Metric) -> exp.Expr:
    """The condition that makes a row bad for a "nulls", "outside" or "rejected" metric."""
    column = exp.column(metric.column) if metric.column else None
    if metric.kind == "nulls":
        columns = [exp.column(c) for c in metric.params] if metric.params else [column]
        return exp.or_(*[exp.Is(this=c, expression=exp.null()) for c in columns])
    assert column is not None
    present = exp.Not(this=exp.Is(this=column.copy(), expression=exp.null()))
    if metric.kind == "rejected":
        listed = exp.In(this=column.copy(), expressions=[_literal(v) for v in metric.params])
        return exp.and_(present, exp.Not(this=_paren(listed)))
    bounds = metric.params  # outside: {"min", "max", "inclusive"}
    low, high = (exp.LT, exp.GT) if bounds["inclusive"] else (exp.LTE, exp.GTE)
    out = [
        op(this=column.copy(), expression=_literal(bounds[end]))
        for op, end in ((low, "min"), (high, "max"))
        if bounds[end] is not None
    ]
    return exp.or_(*out)


def row_metric(metric: Metric, cond: exp.Expr | None) -> exp.Expr:
    """A "rows", "nulls", "outside", "min" or "max" metric, filtered by ``cond``."""
    if metric.kind == "rows":
        return count_where(None, cond)
    if metric.kind == "min":
        return exp.Min(this=filtered(exp.column(metric.column), cond))
    if metric.kind == "max":
        return exp.Max(this=filtered(exp.column(metric.column), cond))
    return count_where(bad_rows(metric), cond)


def listing(
    metric: Metric,
    table: exp.Table,
    day: exp.Expr,
    in_range: Sequence[exp.Expr],
    cond: exp.Expr | None,
) -> tuple[exp.Expr, list[exp.Expr], exp.Expr]:
    """A listing probe's parts: its rows grouped by (date ``d``, bad value ``v``) as the
    subquery ``g``; per date, the bad rows and the distinct bad values; and those values as
    text. Grouping first, as ``statement._distinct_select`` does, keeps one set per date."""
    parts = [*in_range, exp.Paren(this=bad_rows(metric))]
    if cond is not None:
        parts.append(exp.Paren(this=cond))
    value = exp.column(metric.column)
    inner = (
        exp.select(day.copy().as_("d"), value.copy().as_("v"), exp.Count(this=exp.Star()).as_("n"))
        .from_(table)
        .where(exp.and_(*parts))
        .group_by(day.copy(), value.copy())
    )
    distinct = exp.Count(this=exp.column("v", table="g"))
    text = listing_text(exp.column("v", table="g"), distinct.copy())
    return inner.subquery("g"), [exp.Sum(this=exp.column("n", table="g")), distinct], text


def listing_text(value: exp.Expr, count: exp.Expr) -> exp.Expr:
    """The coverage probe's rule for text evidence: every value (``value`` over the
    grouped rows, unordered) when at most ``MISSING_LISTED`` of them, else the smallest."""
    text = exp.DataType(this=exp.DataType.Type.VARCHAR)
    listed = exp.GroupConcat(this=exp.cast(value.copy(), text), separator=exp.Literal.string(", "))
    return exp.Case(
        ifs=[
            exp.If(
                this=exp.LTE(this=count, expression=exp.Literal.number(MISSING_LISTED)),
                true=listed,
            )
        ],
        default=exp.cast(exp.Min(this=value.copy()), text.copy()),
    )


def _literal(value: object) -> exp.Expr:
    if isinstance(value, str):
        return exp.Literal.string(value)
    return exp.Literal.number(repr(value))


def _paren(node: exp.Expr) -> exp.Expr:
    return node if isinstance(node, exp.Paren | exp.Column | exp.Is) else exp.Paren(this=node)
