"""The one measurement statement: a plan rendered as SQL for a dialect.

A plan becomes ONE statement: a UNION ALL with one grouped select per probe (table),
each returning, per date, the probe's metrics as ``m0..mN`` (DOUBLE), then, when the plan
has a coverage, listing or keyed probe, ``k`` (text: the first missing units, or offending
values or keys; keyed probes are built in ``keyed.py``),
then ``src`` (the probe's index) and ``d`` (the date). A coverage probe semi-joins the
schedule's units with its sources' units per date; the schedule's horizon probe is one row,
its newest date at or after the start; a listing probe groups the rows a check calls bad by
value. A check's ``where:`` filter is parsed once (:func:`parse_condition`) and rendered
inside its table's probe as a filtered aggregate (``rowmetrics.py``). It is built as a sqlglot AST and rendered for the
target dialect (the pattern of sqlmesh's engine adapters): identifiers are quoted by the
generator, the dates are the bound parameters ``start`` and ``stop``, and no value is
ever formatted into SQL text. Where the engine compares a date column of another type
with a DATE only after a conversion (BigQuery's TIMESTAMP and DATETIME), the parameters
are cast to the column's type, never the column to DATE, so partitions are still pruned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from phaseguard.plan import MISSING_LISTED, Metric, Probe

from . import rowmetrics
from .expressions import parse_aggregate, parse_condition
from .lazy import exp


def measurement_statement(
    probes: Sequence[Probe],
    dialect: str,
    from_metadata: Sequence[int] = (),
    bound_types: Mapping[int, str] | None = None,
) -> str:
    """The statement reading every probe; those in ``from_metadata`` count partition rows
    from the warehouse's partition metadata instead of scanning (BigQuery), and those in
    ``bound_types`` ({probe index: type}) compare their date column with the bound dates
    cast to that type (``TIMESTAMP``, ``DATETIME``: the column's own, on BigQuery)."""
    width = max(len(p.metrics) for p in probes)
    types = bound_types or {}
    keyed = any(p.against or p.listing or p.keyed for p in probes)
    selects: list[exp.Select] = []
    for i, probe in enumerate(probes):
        if i in from_metadata:
            selects.append(_partitions_select(i, probe, width, keyed))
        elif probe.keyed:
            from .keyed import keyed_select  # a module that builds on this one's helpers

            selects.append(keyed_select(i, probe, width, dialect, types.get(i)))
        elif probe.against:
            selects.append(_coverage_select(i, probe, width, dialect, types.get(i)))
        elif probe.listing:
            selects.append(_listing_select(i, probe, width, dialect, types.get(i)))
        elif probe.reach == "after":
            selects.append(_horizon_select(i, probe, width, dialect, types.get(i), keyed))
        else:
            selects.append(_probe_select(i, probe, width, dialect, types.get(i), keyed))
    union: exp.Query = selects[0]
    for select in selects[1:]:
        union = exp.Union(this=union, expression=select, distinct=False)
    return union.sql(dialect=dialect, identify=True)


# What an aggregate expression may contain: sqlglot expression classes, by name, matched
# exactly (a subclass is not let in). Functions are the aggregates and the pure scalar
# functions named here; a function sqlglot does not know (``exp.Anonymous``: ``wipe()``,
# ``nextval()``, ``pg_sleep()``) is refused, as are subqueries, windows and casts to
# anything but a type.
def table_ref(name: str) -> exp.Table:
    """A table node for a validated ``[catalog.]schema.table`` name, built without parsing."""
    parts = [exp.to_identifier(part) for part in name.split(".")]
    table = parts[-1]
    db = parts[-2] if len(parts) > 1 else None
    catalog = parts[-3] if len(parts) > 2 else None
    return exp.Table(this=table, db=db, catalog=catalog)


def _probe_select(
    index: int, probe: Probe, width: int, dialect: str, bound_type: str | None, keyed: bool
) -> exp.Select:
    date_col = exp.column(probe.date_column)
    day = _day(probe.date_column)
    where = exp.and_(
        exp.GTE(this=date_col.copy(), expression=_bound(probe.since, bound_type, dialect)),
        exp.LT(this=date_col.copy(), expression=_bound("stop", bound_type, dialect)),
    )
    second = probe.metrics[1] if len(probe.metrics) == 2 else None
    if second is not None and second.kind in ("units", "distinct") and not second.where:
        return _distinct_select(index, probe, width, day, where, keyed)
    metrics = [_metric_expr(m, dialect) for m in probe.metrics]
    return (
        exp.select(*_row_columns(index, metrics, width, day.copy(), keyed))
        .from_(table_ref(probe.table))
        .where(where)
        .group_by(day.copy())
    )


def _day(column: str, table: str | None = None) -> exp.Expr:
    """``CAST(column AS DATE)``: the date a row belongs to."""
    return exp.cast(exp.column(column, table=table), exp.DataType(this=exp.DataType.Type.DATE))


def _horizon_select(
    index: int, probe: Probe, width: int, dialect: str, bound_type: str | None, keyed: bool
) -> exp.Select:
    """One row: the table's rows at or after the start, and the newest date among them
    (no row when there are none): how far the schedule is loaded."""
    date_col = exp.column(probe.date_column)
    count = exp.Count(this=exp.Star())
    where = exp.GTE(this=date_col, expression=_bound("start", bound_type, dialect))
    newest = exp.Max(this=_day(probe.date_column))
    return (
        exp.select(*_row_columns(index, [count], width, newest, keyed))
        .from_(table_ref(probe.table))
        .where(where)
        .having(exp.GT(this=count.copy(), expression=exp.Literal.number(0)))
    )


def _coverage_select(
    index: int, probe: Probe, width: int, dialect: str, bound_type: str | None
) -> exp.Select:
    """Per scheduled date: the schedule's units, how many have rows in the probe's table or
    any of its ``also`` sources, and the missing ones as text (every one, unordered, up to
    ``MISSING_LISTED``; beyond that only the smallest key, so the text stays small). An
    ordered, limited aggregate (a window's row numbers) took ~3x as long on DuckDB.

    The schedule's distinct (date, unit) pairs are LEFT JOINed with the sources' (a union
    of their distinct pairs), so a unit counts only when the schedule names it on that
    date: a renamed or stray unit in a source covers nothing. Units are compared as text,
    whatever type each table gives them. The probe's own table
    compares its date column with the bound dates as any probe does (cast to its type on
    BigQuery, so partitions are pruned); the schedule and the other sources compare theirs
    cast to DATE.
    """
    assert probe.against is not None
    schedule = probe.against
    sched_day = _day(schedule.date_column)
    scheduled = (
        exp.select(sched_day.copy().as_("d"), _as_text(schedule.unit).as_("u"))
        .distinct()
        .from_(table_ref(schedule.table))
        .where(
            exp.and_(
                _in_range(sched_day.copy(), probe.since),
                exp.Not(this=exp.Is(this=exp.column(schedule.unit), expression=exp.null())),
            )
        )
    )
    own = exp.column(probe.date_column)
    present: exp.Query = (
        exp.select(_day(probe.date_column).as_("d"), _as_text(probe.metrics[1].column).as_("u"))
        .distinct()
        .from_(table_ref(probe.table))
        .where(
            exp.and_(
                exp.GTE(this=own.copy(), expression=_bound(probe.since, bound_type, dialect)),
                exp.LT(this=own.copy(), expression=_bound("stop", bound_type, dialect)),
            )
        )
    )
    where = probe.metrics[1].where  # a where: filter: only the rows it keeps cover a unit
    if where:
        present = present.where(exp.Paren(this=parse_condition(where)))
    for source in probe.also:
        day = _day(source.date_column)
        part = (
            exp.select(day.copy().as_("d"), _as_text(source.unit).as_("u"))
            .distinct()
            .from_(table_ref(source.table))
            .where(_in_range(day.copy(), probe.since))
        )
        if where:
            part = part.where(exp.Paren(this=parse_condition(where)))
        present = exp.Union(this=present, expression=part, distinct=True)
    hit = exp.column("u", table="c")
    unit = exp.column("u", table="s")
    missing_unit = exp.Case(
        ifs=[exp.If(this=exp.Is(this=hit.copy(), expression=exp.null()), true=unit.copy())]
    )
    missing_count = exp.Sub(this=exp.Count(this=exp.Star()), expression=exp.Count(this=hit.copy()))
    listed = exp.GroupConcat(
        this=exp.cast(missing_unit.copy(), _text()), separator=exp.Literal.string(", ")
    )
    first = exp.cast(exp.Min(this=missing_unit.copy()), _text())
    text = exp.Case(
        ifs=[
            exp.If(
                this=exp.LTE(this=missing_count, expression=exp.Literal.number(MISSING_LISTED)),
                true=listed,
            )
        ],
        default=first,
    )
    metrics: list[exp.Expr] = [exp.Count(this=exp.Star()), exp.Count(this=hit.copy())]
    d = exp.column("d", table="s")
    return (
        exp.select(*_row_columns(index, metrics, width, d.copy(), True, text))
        .from_(scheduled.subquery("s"))
        .join(
            exp.Subquery(this=present, alias=exp.TableAlias(this=exp.to_identifier("c"))),
            on=exp.and_(
                exp.EQ(this=exp.column("d", table="c"), expression=d.copy()),
                exp.EQ(this=hit.copy(), expression=unit.copy()),
            ),
            join_type="left",
        )
        .group_by(d.copy())
    )


def _in_range(day: exp.Expr, since: str = "start") -> exp.Expr:
    """``day`` (a DATE) within the bound dates: ``since <= day < stop``."""
    return exp.and_(
        exp.GTE(this=day.copy(), expression=exp.Placeholder(this=since)),
        exp.LT(this=day, expression=exp.Placeholder(this="stop")),
    )


def _as_text(column: str) -> exp.Expr:
    """A unit column compared as text: the schedule may say ``'123'`` where a source says
    ``123`` (PostgreSQL and BigQuery refuse to compare or union the two types)."""
    return exp.cast(exp.column(column), _text())


def _text() -> exp.DataType:
    return exp.DataType(this=exp.DataType.Type.VARCHAR)


def _bound(name: str, bound_type: str | None, dialect: str) -> exp.Expr:
    """The date parameter ``name``, cast to ``bound_type`` (a type name in ``dialect``)."""
    placeholder = exp.Placeholder(this=name)
    if bound_type is None:
        return placeholder
    return exp.cast(placeholder, exp.DataType.build(bound_type, dialect=dialect))


def _distinct_select(
    index: int, probe: Probe, width: int, day: exp.Expr, where: exp.Expr, keyed: bool
) -> exp.Select:
    """Rows and distinct values of one column per date, as two grouping steps.

    ``COUNT(DISTINCT c) ... GROUP BY d`` keeps a set per date; grouping by (d, c) first
    and counting the groups is the same numbers and, on DuckDB, ~20 % faster (NULL is a
    group of its own, which ``COUNT(v)`` leaves out as ``COUNT(DISTINCT)`` does).
    """
    value = exp.column(probe.metrics[1].column)
    inner = (
        exp.select(day.copy().as_("d"), value.copy().as_("v"), exp.Count(this=exp.Star()).as_("n"))
        .from_(table_ref(probe.table))
        .where(where)
        .group_by(day.copy(), value.copy())
    )
    metrics: list[exp.Expr] = [
        exp.Sum(this=exp.column("n", table="g")),
        exp.Count(this=exp.column("v", table="g")),
    ]
    d = exp.column("d", table="g")
    return (
        exp.select(*_row_columns(index, metrics, width, d.copy(), keyed))
        .from_(inner.subquery("g"))
        .group_by(d.copy())
    )


def _row_columns(
    index: int,
    metrics: list[exp.Expr],
    width: int,
    day: exp.Expr,
    keyed: bool = False,
    text: exp.Expr | None = None,
) -> list[exp.Expr]:
    """The select list every probe shares: m0..m{width-1} as DOUBLE, [k,] src, d."""
    double = exp.DataType(this=exp.DataType.Type.DOUBLE)
    columns: list[exp.Expr] = [
        exp.cast(metrics[i] if i < len(metrics) else exp.null(), double.copy()).as_(f"m{i}")
        for i in range(width)
    ]
    if keyed:
        columns.append(exp.cast(text if text is not None else exp.null(), _text()).as_("k"))
    columns.append(exp.Literal.number(index).as_("src"))
    columns.append(day.as_("d"))
    return columns


def _metric_expr(metric: Metric, dialect: str) -> exp.Expr:
    cond = parse_condition(metric.where) if metric.where else None
    if metric.kind in ("units", "distinct"):
        value = rowmetrics.filtered(exp.column(metric.column), cond)
        return exp.Count(this=exp.Distinct(expressions=[value]))
    if metric.kind == "aggregate":
        return rowmetrics.filter_aggregates(parse_aggregate(metric.expr), cond)
    if metric.kind != "max_epoch":
        return rowmetrics.row_metric(metric, cond)
    newest = exp.Max(this=rowmetrics.filtered(exp.column(metric.column), cond))
    if dialect == "bigquery":  # sqlglot has no BigQuery rendering of TimeToUnix
        timestamp = exp.DataType(this=exp.DataType.Type.TIMESTAMPTZ)
        return exp.UnixSeconds(this=exp.cast(newest, timestamp))
    return exp.TimeToUnix(this=newest)


def _listing_select(
    index: int, probe: Probe, width: int, dialect: str, bound_type: str | None
) -> exp.Select:
    """Per date: the rows the probe's metric calls bad, their distinct values, and those
    values as text (:func:`rowmetrics.listing`)."""
    metric, own = probe.metrics[1], exp.column(probe.date_column)
    in_range = [
        exp.GTE(this=own.copy(), expression=_bound(probe.since, bound_type, dialect)),
        exp.LT(this=own.copy(), expression=_bound("stop", bound_type, dialect)),
    ]
    cond = parse_condition(metric.where) if metric.where else None
    grouped, metrics, text = rowmetrics.listing(
        metric, table_ref(probe.table), _day(probe.date_column), in_range, cond, dialect
    )
    d = exp.column("d", table="g")
    return (
        exp.select(*_row_columns(index, metrics, width, d.copy(), True, text))
        .from_(grouped)
        .group_by(d.copy())
    )


def _partitions_select(index: int, probe: Probe, width: int, keyed: bool) -> exp.Select:
    """Rows per date from the partition metadata: BigQuery scans no table bytes for it.

    Partition ids (YYYYMMDD) are filtered as strings, which keeps out ``__NULL__`` and
    ``__UNPARTITIONED__`` before any is parsed as a date. The view is named as one
    quoted path, the form the local emulator also recognises. Rows still in the
    streaming buffer are not counted.
    """
    schema = probe.table.rsplit(".", 1)[0]
    metadata = exp.Table(this=exp.to_identifier(f"{schema}.INFORMATION_SCHEMA.PARTITIONS"))
    partition = exp.column("partition_id", table="p")
    ymd = exp.Literal.string("%Y%m%d")

    def as_id(name: str) -> exp.Expr:
        return exp.TimeToStr(
            this=exp.TsOrDsToDate(this=exp.Placeholder(this=name)), format=ymd.copy()
        )

    columns: list[exp.Expr] = []
    for i in range(width):
        value = exp.column("total_rows", table="p") if i == 0 else exp.null()
        columns.append(exp.cast(value, exp.DataType(this=exp.DataType.Type.DOUBLE)).as_(f"m{i}"))
    if keyed:
        columns.append(exp.cast(exp.null(), _text()).as_("k"))
    columns.append(exp.Literal.number(index).as_("src"))
    columns.append(exp.StrToDate(this=partition.copy(), format=ymd.copy()).as_("d"))
    where = exp.and_(
        exp.EQ(
            this=exp.column("table_name", table="p"),
            expression=exp.Placeholder(this=f"t{index}"),
        ),
        exp.GTE(this=partition.copy(), expression=as_id(probe.since)),
        exp.LT(this=partition.copy(), expression=as_id("stop")),
    )
    return exp.select(*columns).from_(exp.alias_(metadata, "p", table=True)).where(where)
