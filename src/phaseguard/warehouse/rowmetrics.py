"""The SQL of the row-level metrics: bad-row counts, observed extremes and ``where:`` filters.

Each is a plain aggregate of the table's one probe (one scan serves every check): a bad-row
count is ``COUNT(CASE WHEN [where AND] bad THEN 1 END)``, and a filtered aggregate reads
``CASE WHEN where THEN x END`` in place of each aggregate's argument (``COUNT(*)`` becomes
``COUNT(CASE WHEN where THEN 1 END)``), so the rows the filter leaves out count as NULL,
which every aggregate skips. Conditions come in parsed (``expressions.parse_condition``);
config values are sqlglot literals, never text formatted into SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from phaseguard.plan import ITEM_SEPARATOR, MISSING_LISTED, Metric

from .lazy import exp


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
    bounds = metric.params  # outside: {"min", "max", "inclusive"[, "dates"]}
    dates = bool(bounds.get("dates"))
    value = _as_date(column) if dates else column
    low, high = (exp.LT, exp.GT) if bounds["inclusive"] else (exp.LTE, exp.GTE)
    out = [
        op(this=value.copy(), expression=_date(bounds[end]) if dates else _literal(bounds[end]))
        for op, end in ((low, "min"), (high, "max"))
        if bounds[end] is not None
    ]
    return exp.or_(*out)


def row_metric(metric: Metric, cond: exp.Expr | None) -> exp.Expr:
    """A "rows", "nulls", "outside", "min" or "max" metric, filtered by ``cond``; the
    extremes of a column compared as dates (``expr`` "date") are days since 1970-01-01."""
    if metric.kind == "rows":
        return count_where(None, cond)
    if metric.kind in ("min", "max"):
        agg = exp.Min if metric.kind == "min" else exp.Max
        column: exp.Expr = exp.column(metric.column)
        if metric.expr != "date":
            return agg(this=filtered(column, cond))
        day = agg(this=filtered(_as_date(column), cond))
        return exp.DateDiff(this=day, expression=_date(EPOCH), unit=exp.var("DAY"))
    return count_where(bad_rows(metric), cond)


EPOCH = "1970-01-01"


def listing(
    metric: Metric,
    table: exp.Table,
    day: exp.Expr,
    in_range: Sequence[exp.Expr],
    cond: exp.Expr | None,
    dialect: str,
) -> tuple[exp.Expr, list[exp.Expr], exp.Expr]:
    """A listing probe's parts: its rows grouped by (date ``d``, bad value ``v``) as the
    subquery ``g``; per date, the bad rows and the distinct bad values; and the first of
    those values as ``value=rows`` items (:func:`first_items`). Grouping first, as
    ``statement._distinct_select`` does, keeps one set per date."""
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
    shown = exp.cast(exp.column("v", table="g"), _varchar())
    text = first_items(item(shown, exp.column("n", table="g")), shown, None, dialect)
    return inner.subquery("g"), [exp.Sum(this=exp.column("n", table="g")), distinct], text


def item(key: exp.Expr, n: exp.Expr) -> exp.Expr:
    """One offending value or key with its rows, as text: ``key=n:len``, where ``len`` is
    the key's length in characters, so that it reads back whole whatever the key holds
    (``, ``, ``=``, digits; see ``phaseguard.rowchecks.offending_items``)."""
    parts = [
        key.copy(),
        exp.Literal.string("="),
        exp.cast(n.copy(), _varchar()),
        exp.Literal.string(":"),
        exp.cast(exp.Length(this=key.copy()), _varchar()),
    ]
    out = parts[0]
    for part in parts[1:]:
        out = exp.DPipe(this=out, expression=part, safe=True)
    return out


def first_items(item: exp.Expr, key: exp.Expr, cond: exp.Expr | None, dialect: str) -> exp.Expr:
    """The first ``MISSING_LISTED`` items (:func:`item`) in the order of their ``key`` text,
    of the rows where ``cond`` holds (every row when None), joined by ``ITEM_SEPARATOR``
    (NULL or '' when there are none). Beyond that many only the count says how many more.

    An ordered aggregate of the offending rows only (FILTER; BigQuery's STRING_AGG skips
    NULLs, the kept rows ordered first so that its LIMIT counts only them), so a clean
    partition sorts nothing. The item and its key are also built only where ``cond`` holds
    (CASE): DuckDB evaluates an aggregate's arguments before its FILTER, and building the
    text of every key cost ~3x the whole keyed probe. Written per dialect, as each limits an
    aggregate its own way (an array slice; LIMIT in BigQuery's; a sorted array on Spark).
    """
    limit = exp.Literal.number(MISSING_LISTED)
    separator = exp.Literal.string(ITEM_SEPARATOR)
    if cond is not None:
        item, key = (exp.Case(ifs=[exp.If(this=cond.copy(), true=e)]) for e in (item, key))
    if dialect == "spark":  # no ordered aggregates: sort the items (each starts with its key)
        listed = exp.ArraySort(this=exp.ArrayAgg(this=item, nulls_excluded=True))
        first: exp.Expr = exp.ArraySlice(
            this=listed, start=exp.Literal.number(1), end=limit, is_length=True
        )
        return exp.ArrayToString(this=first, expression=separator)
    if dialect == "bigquery":  # STRING_AGG skips NULLs; the kept rows sort first
        order = [exp.Ordered(this=key, nulls_first=True)]
        if cond is not None:
            rank = exp.If(this=cond.copy(), true=_zero(), false=exp.Literal.number(1))
            order.insert(0, exp.Ordered(this=rank, nulls_first=True))
        limited = exp.Limit(this=exp.Order(this=item, expressions=order), expression=limit)
        return exp.GroupConcat(this=limited, separator=separator)
    ordered = exp.Order(this=item, expressions=[exp.Ordered(this=key, nulls_first=False)])
    agg: exp.Expr = exp.ArrayAgg(this=ordered)
    if cond is not None:
        agg = exp.Filter(this=agg, expression=exp.Where(this=cond.copy()))
    first = exp.Bracket(
        this=exp.Paren(this=agg),
        expressions=[exp.Slice(this=exp.Literal.number(1), expression=limit)],
    )
    return exp.ArrayToString(this=first, expression=separator)


def _zero() -> exp.Expr:
    return exp.Literal.number(0)


def _varchar() -> exp.DataType:
    return exp.DataType(this=exp.DataType.Type.VARCHAR)


def _as_date(value: exp.Expr) -> exp.Expr:
    """A DATE or TIMESTAMP column compared as a date: ``CAST(value AS DATE)``."""
    return exp.cast(value.copy(), exp.DataType(this=exp.DataType.Type.DATE))


def _date(iso: str) -> exp.Expr:
    """A date bound as a literal: ``CAST('2020-01-01' AS DATE)`` (an ISO date validated by
    the config, a sqlglot string literal, never formatted into SQL text)."""
    return exp.cast(exp.Literal.string(iso), exp.DataType(this=exp.DataType.Type.DATE))


def _literal(value: object) -> exp.Expr:
    if isinstance(value, str):
        return exp.Literal.string(value)
    return exp.Literal.number(repr(value))


def _paren(node: exp.Expr) -> exp.Expr:
    return node if isinstance(node, exp.Paren | exp.Column | exp.Is) else exp.Paren(this=node)
