"""The keyed probes of the measurement statement: checks that group a partition by a key first.

``unique``, ``relationships``, ``accepted_values`` with ``values_from`` and ``row_count``
with ``group_by`` each read one select of the ONE statement (a branch of its UNION ALL,
see ``statement.py``).
The partition's rows are grouped by (date, key) with their count ``n``; a second grouping
by date then gives the probe's metrics (rows, bad rows, offending keys; for groups the
number of groups, the smallest and the largest) and, as text, the offending keys as
``key=n:len`` items, the first ``MISSING_LISTED`` of them in key order (the rest are
counted; ``rowmetrics.first_items``). A lookup (relationships, a reference
list) LEFT JOINs the keys with the parent's distinct keys, compared as text (as the
coverage probe compares units): on the same date when the parent has a date column, in
any row when it is a dimension. Keys are rendered as text
(several columns as ``a|b``) with CAST and ``||``, which DuckDB, PostgreSQL, BigQuery and
Spark all read the same way; a NULL in a key is skipped (a group's NULL is ``NULL``). A
check's ``where:`` filter keeps only the rows of its own table where it holds.
"""

from __future__ import annotations

from phaseguard.plan import KEY_SEPARATOR, KeySpec, Probe, Reference

from .expressions import parse_condition
from .lazy import exp
from .rowmetrics import first_items, item
from .statement import _bound, _day, _in_range, _row_columns, _text, table_ref

_COMPARE = {"<": "LT", "<=": "LTE", ">": "GT", ">=": "GTE"}


def keyed_select(
    index: int, probe: Probe, width: int, dialect: str, bound_type: str | None
) -> exp.Select:
    """Per date: the probe's metrics over its table's (date, key) groups, and the offending
    keys as text (see the module docstring)."""
    spec = probe.keyed
    assert spec is not None
    own = exp.column(probe.date_column)
    in_range: list[exp.Expr] = [
        exp.GTE(this=own.copy(), expression=_bound(probe.since, bound_type, dialect)),
        exp.LT(this=own.copy(), expression=_bound("stop", bound_type, dialect)),
    ]
    if spec.where:
        in_range.append(exp.Paren(this=parse_condition(spec.where)))
    grouped = (
        exp.select(
            _day(probe.date_column).as_("d"),
            *[exp.column(c).as_(f"k{i}") for i, c in enumerate(spec.columns)],
            exp.Count(this=exp.Star()).as_("n"),
        )
        .from_(table_ref(probe.table))
        .where(exp.and_(*in_range))
        .group_by(_day(probe.date_column), *[exp.column(c) for c in spec.columns])
    )
    n = exp.column("n", table="c")
    keys = [exp.column(f"k{i}", table="c") for i in range(len(spec.columns))]
    select = exp.select().from_(grouped.subquery("c"))
    if spec.kind == "unique":
        offending: exp.Expr = exp.and_(
            _not_null(keys), exp.GT(this=n.copy(), expression=exp.Literal.number(1))
        )
        bad: exp.Expr = exp.Sub(this=n.copy(), expression=exp.Literal.number(1))
    elif spec.kind == "groups":
        offending = exp.Not(this=exp.Paren(this=exp.and_(*_band(n, spec))))
        bad = n.copy()
    else:
        offending, select = _lookup(select, keys, spec, probe.since)
        bad = n.copy()
    flag = exp.Case(
        ifs=[exp.If(this=offending.copy(), true=exp.Literal.number(1))], default=_zero()
    )
    offenders = exp.Sum(this=flag)
    metrics: list[exp.Expr] = [exp.Sum(this=n.copy())]
    if spec.kind == "groups":
        metrics += [exp.Count(this=exp.Star()), exp.Min(this=n.copy()), exp.Max(this=n.copy())]
    else:
        metrics.append(
            exp.Sum(this=exp.Case(ifs=[exp.If(this=offending.copy(), true=bad)], default=_zero()))
        )
    metrics.append(offenders.copy())
    text = _evidence(offending, keys, n, dialect)
    d = exp.column("d", table="c")
    return select.select(*_row_columns(index, metrics, width, d.copy(), True, text)).group_by(
        d.copy()
    )


def _zero() -> exp.Expr:
    return exp.Literal.number(0)


def _not_null(keys: list[exp.Column]) -> exp.Expr:
    return exp.and_(*[exp.Not(this=exp.Is(this=key.copy(), expression=exp.null())) for key in keys])


def _band(n: exp.Expr, spec: KeySpec) -> list[exp.Expr]:
    """``n`` within the group band: one comparison per bound."""
    out: list[exp.Expr] = []
    for op, value in spec.band:
        literal = exp.Literal.number(int(value) if float(value).is_integer() else value)
        out.append(getattr(exp, _COMPARE[op])(this=n.copy(), expression=literal))
    return out


def _lookup(
    select: exp.Select, keys: list[exp.Column], spec: KeySpec, since: str
) -> tuple[exp.Expr, exp.Select]:
    """Keys not found in the reference: a LEFT JOIN with the parent's distinct keys (same
    date when it has a date column)."""
    reference = spec.reference
    assert reference is not None
    parent = _parent(reference, since)
    on = [
        exp.EQ(this=exp.column(f"k{i}", table="p"), expression=_as_text(key))
        for i, key in enumerate(keys)
    ]
    if reference.date_column is not None:
        on.insert(0, exp.EQ(this=exp.column("d", table="p"), expression=exp.column("d", table="c")))
    joined = select.join(parent.subquery("p"), on=exp.and_(*on), join_type="left")
    missing = exp.Is(this=exp.column("k0", table="p"), expression=exp.null())
    return exp.and_(_not_null(keys), missing), joined


def _parent(reference: Reference, since: str) -> exp.Select:
    """The parent's distinct non-NULL keys (with their date, when it has one, from the
    bound parameter ``since``)."""
    columns: list[exp.Expr] = [
        _as_text(exp.column(c)).as_(f"k{i}") for i, c in enumerate(reference.columns)
    ]
    conditions: list[exp.Expr] = [
        exp.Not(this=exp.Is(this=exp.column(c), expression=exp.null())) for c in reference.columns
    ]
    if reference.date_column is not None:
        day = _day(reference.date_column)
        columns.insert(0, day.copy().as_("d"))
        conditions.insert(0, _in_range(day, since))
    return (
        exp.select(*columns)
        .distinct()
        .from_(table_ref(reference.table))
        .where(exp.and_(*conditions))
    )


def _as_text(key: exp.Expr) -> exp.Expr:
    """A key compared as text, as the coverage probe compares units: a child may hold
    ``123`` where its parent holds ``'123'`` (PostgreSQL and BigQuery refuse to compare)."""
    return exp.cast(key.copy(), _text())


def _evidence(offending: exp.Expr, keys: list[exp.Column], n: exp.Expr, dialect: str) -> exp.Expr:
    """The offending keys as ``key=n:len`` items, the first ``MISSING_LISTED`` in key
    order (``rowmetrics.first_items``); a key of several columns reads ``a|b``."""
    parts: list[exp.Expr] = []
    for i, key in enumerate(keys):
        if i:
            parts.append(exp.Literal.string(KEY_SEPARATOR))
        parts.append(
            exp.Coalesce(
                this=exp.cast(key.copy(), _text()), expressions=[exp.Literal.string("NULL")]
            )
        )
    shown: exp.Expr = parts[0]
    for part in parts[1:]:
        shown = exp.DPipe(this=shown, expression=part, safe=True)
    return first_items(item(shown, n), shown, offending, dialect)
