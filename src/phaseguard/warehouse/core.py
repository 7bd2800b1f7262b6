"""The warehouse door's front: :class:`Warehouse`, one query per command, and ``connect``.

Every command reads the warehouse through :meth:`Warehouse.measure`, which turns a plan
into ONE SQL statement (a UNION ALL of grouped per-table selects), built as a sqlglot
AST and rendered for the target dialect (the pattern of sqlmesh's engine adapters).
Identifiers are quoted by the generator; dates are bound as parameters; no value is
ever formatted into SQL text. Driver errors become :class:`WarehouseError` here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .sqlcache import load_sql, store_sql

if TYPE_CHECKING:
    import sqlglot
    from sqlglot import exp
else:  # sqlglot is imported on first use: a smoke test whose SQL is cached never needs it
    from .lazy import LazyModule

    sqlglot = LazyModule("sqlglot")
    exp = LazyModule("sqlglot.expressions")

from phaseguard.errors import ConfigError, UnknownObjectError, WarehouseError
from phaseguard.plan import ROWS, Measurements, Metric, Plan, Probe

from .drivers import (
    BulkDriver,
    CatalogDriver,
    Driver,
    DuckDBDriver,
    PostgresDriver,
    ScanDriver,
    _driver_errors,
    mask_url,
)


def connect(url: str, *, base_dir: Path | None = None) -> Warehouse:
    """Open the warehouse at ``url``.

    ``duckdb://FILE`` (relative to base_dir), ``postgresql://USER@HOST:PORT/DB``,
    ``bigquery://PROJECT[/DATASET][?location=&endpoint=]`` (extra ``phaseguard[bigquery]``),
    ``spark://local[2]``, ``spark://HOST:PORT`` or ``sc://HOST:PORT`` (extra ``phaseguard[spark]``).
    """
    try:
        if url.startswith("duckdb:"):
            path = url.removeprefix("duckdb:").removeprefix("//")
            if path != ":memory:" and not path.startswith("/"):
                path = str((base_dir or Path.cwd()) / path)
            return Warehouse(DuckDBDriver(path), url)
        if url.startswith(("postgresql://", "postgres://")):
            return Warehouse(PostgresDriver(url), url)
        if url.startswith(("bigquery://", "spark://", "sc://")):
            return Warehouse(_optional_driver(url), url)
    except _driver_errors() as exc:
        raise WarehouseError(
            f"cannot connect to warehouse {mask_url(url)}: {_first_line(exc)}", url=mask_url(url)
        ) from exc
    except ValueError as exc:
        raise ConfigError(str(exc), key="warehouse") from None
    scheme = url.split(":", 1)[0]
    raise ConfigError(
        f"unknown warehouse scheme {scheme!r} in {mask_url(url)} "
        "(supported: duckdb://FILE, postgresql://USER@HOST:PORT/DB, bigquery://PROJECT, "
        "spark://local[2], spark://HOST:PORT, sc://HOST:PORT)",
        key="warehouse",
    )


def _optional_driver(url: str) -> Driver:
    """The BigQuery or Spark driver, whose client libraries are optional extras."""
    extra = "bigquery" if url.startswith("bigquery:") else "spark"
    try:
        if extra == "bigquery":
            from .bigquery import BigQueryDriver

            return BigQueryDriver.from_url(url)
        from .spark import SparkDriver

        return SparkDriver.from_url(url)
    except ImportError as exc:
        raise ConfigError(
            f"{mask_url(url)} needs the {extra} extra: pip install 'phaseguard[{extra}]' "
            f"({_first_line(exc)})",
            key="warehouse",
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def parse_aggregate(expr: str) -> exp.Expr:
    """Parse one aggregate SQL expression, refusing anything but columns, literals and functions."""
    try:
        tree = sqlglot.parse_one(expr)
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"cannot parse aggregate {expr!r}: {_first_line(exc)}") from None
    allowed = (
        exp.Column,
        exp.Identifier,
        exp.Literal,
        exp.Func,
        exp.Binary,
        exp.Paren,
        exp.Neg,
        exp.Cast,
        exp.DataType,
        exp.Star,
        exp.Case,
        exp.If,
        exp.Boolean,
        exp.Null,
        exp.Not,
    )
    for node in tree.walk():
        if not isinstance(node, allowed) or isinstance(node, exp.Select | exp.Subquery):
            raise ConfigError(f"aggregate {expr!r} may only use columns and functions")
        if isinstance(node, exp.Column) and node.table:
            raise ConfigError(f"aggregate {expr!r}: use unqualified column names")
    if not any(isinstance(n, exp.AggFunc) for n in tree.walk()):
        raise ConfigError(f"aggregate {expr!r} has no aggregate function (AVG, SUM, MAX, ...)")
    return tree


_T = TypeVar("_T")


def table_ref(name: str) -> exp.Table:
    """A table node for a validated ``[catalog.]schema.table`` name, built without parsing."""
    parts = [exp.to_identifier(part) for part in name.split(".")]
    table = parts[-1]
    db = parts[-2] if len(parts) > 1 else None
    catalog = parts[-3] if len(parts) > 2 else None
    return exp.Table(this=table, db=db, catalog=catalog)


class Warehouse:
    """A connection to the pipeline's warehouse, measured in one query per command."""

    def __init__(self, driver: Driver, url: str) -> None:
        self.driver = driver
        self.dialect = driver.dialect
        self.url = mask_url(url)
        self.queries_sent = 0
        self.last_sql = ""
        self.notes: list[str] = []
        self._sql_cache: dict[tuple[Probe, ...], str] = {}
        self._write_cache: dict[tuple[str, str, str], tuple[str, str, str]] = {}

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.driver.close()

    # --- the one read path --------------------------------------------------------------
    def measurement_sql(self, plan: Plan) -> tuple[str, dict[str, Any]]:
        """The single statement answering ``plan``, and its bound parameters.

        The text depends only on the probes (the dates are parameters), so it is rendered
        once and reused: in memory for repeated gate decisions, and on disk (``sqlcache``)
        so that a new process, such as a smoke test, need not import sqlglot at all.
        """
        params: dict[str, Any] = {"start": plan.start, "stop": plan.end + dt.timedelta(days=1)}
        from_metadata = [i for i, p in enumerate(plan.probes) if self._counts_from_metadata(p)]
        self.notes = [
            f"{plan.probes[i].table}: rows read from INFORMATION_SCHEMA.PARTITIONS "
            f"(partitioned by {plan.probes[i].date_column}; 0 bytes scanned)"
            for i in from_metadata
        ]
        params.update({f"t{i}": plan.probes[i].table.rsplit(".", 1)[-1] for i in from_metadata})
        sql = self._sql_cache.get(plan.probes)
        cache_key = f"{self.dialect}|{from_metadata}|{plan.probes!r}"
        if sql is None:
            sql = load_sql(cache_key)
        if sql is None:
            width = max(len(p.metrics) for p in plan.probes)
            selects = [
                self._partitions_select(i, p, width)
                if i in from_metadata
                else self._probe_select(i, p, width)
                for i, p in enumerate(plan.probes)
            ]
            union: exp.Query = selects[0]
            for select in selects[1:]:
                union = exp.Union(this=union, expression=select, distinct=False)
            sql = union.sql(dialect=self.dialect, identify=True)
            store_sql(cache_key, sql)
        self._sql_cache[plan.probes] = sql
        return sql, params

    def _counts_from_metadata(self, probe: Probe) -> bool:
        """Row counts only, on a table partitioned by day on the checked date column."""
        return (
            isinstance(self.driver, ScanDriver)
            and probe.metrics == (ROWS,)
            and probe.table.count(".") == 1
            and self.driver.partitioning(probe.table) == probe.date_column.lower()
        )

    def _partitions_select(self, index: int, probe: Probe, width: int) -> exp.Select:
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
            columns.append(
                exp.cast(value, exp.DataType(this=exp.DataType.Type.DOUBLE)).as_(f"m{i}")
            )
        columns.append(exp.Literal.number(index).as_("src"))
        columns.append(exp.StrToDate(this=partition.copy(), format=ymd.copy()).as_("d"))
        where = exp.and_(
            exp.EQ(
                this=exp.column("table_name", table="p"),
                expression=exp.Placeholder(this=f"t{index}"),
            ),
            exp.GTE(this=partition.copy(), expression=as_id("start")),
            exp.LT(this=partition.copy(), expression=as_id("stop")),
        )
        return exp.select(*columns).from_(exp.alias_(metadata, "p", table=True)).where(where)

    def dry_run(self, plan: Plan) -> tuple[str, int | None]:
        """The statement ``plan`` would send and the bytes it would scan (None: not reported).

        Only BigQuery reports bytes (from a dry run: nothing runs, nothing is billed, and
        it is not counted in ``queries_sent``); :attr:`notes` says which tables would be
        counted from partition metadata instead of scanned.
        """
        sql, params = self.measurement_sql(plan)
        if not isinstance(self.driver, ScanDriver):
            return sql, None
        try:
            return sql, self.driver.bytes_scanned(sql, params)
        except _driver_errors() as exc:
            raise WarehouseError(
                f"dry run failed ({self.url}): {_first_line(exc)}", url=self.url, sql=sql
            ) from exc

    def _probe_select(self, index: int, probe: Probe, width: int) -> exp.Select:
        date_col = exp.column(probe.date_column)
        day = exp.cast(date_col, exp.DataType(this=exp.DataType.Type.DATE))
        where = exp.and_(
            exp.GTE(this=date_col.copy(), expression=exp.Placeholder(this="start")),
            exp.LT(this=date_col.copy(), expression=exp.Placeholder(this="stop")),
        )
        if len(probe.metrics) == 2 and probe.metrics[1].kind in ("units", "distinct"):
            return self._distinct_select(index, probe, width, day, where)
        metrics = [self._metric_expr(m) for m in probe.metrics]
        return (
            exp.select(*self._row_columns(index, metrics, width, day.copy()))
            .from_(table_ref(probe.table))
            .where(where)
            .group_by(day.copy())
        )

    def _distinct_select(
        self, index: int, probe: Probe, width: int, day: exp.Expr, where: exp.Expr
    ) -> exp.Select:
        """Rows and distinct values of one column per date, as two grouping steps.

        ``COUNT(DISTINCT c) ... GROUP BY d`` keeps a set per date; grouping by (d, c) first
        and counting the groups is the same numbers and, on DuckDB, ~20 % faster (NULL is a
        group of its own, which ``COUNT(v)`` leaves out as ``COUNT(DISTINCT)`` does).
        """
        value = exp.column(probe.metrics[1].column)
        inner = (
            exp.select(
                day.copy().as_("d"), value.copy().as_("v"), exp.Count(this=exp.Star()).as_("n")
            )
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
            exp.select(*self._row_columns(index, metrics, width, d.copy()))
            .from_(inner.subquery("g"))
            .group_by(d.copy())
        )

    @staticmethod
    def _row_columns(
        index: int, metrics: list[exp.Expr], width: int, day: exp.Expr
    ) -> list[exp.Expr]:
        """The select list every probe shares: m0..m{width-1} as DOUBLE, src, d."""
        double = exp.DataType(this=exp.DataType.Type.DOUBLE)
        columns: list[exp.Expr] = [
            exp.cast(metrics[i] if i < len(metrics) else exp.null(), double.copy()).as_(f"m{i}")
            for i in range(width)
        ]
        columns.append(exp.Literal.number(index).as_("src"))
        columns.append(day.as_("d"))
        return columns

    def _metric_expr(self, metric: Metric) -> exp.Expr:
        if metric.kind == "rows":
            return exp.Count(this=exp.Star())
        if metric.kind in ("units", "distinct"):
            return exp.Count(this=exp.Distinct(expressions=[exp.column(metric.column)]))
        if metric.kind == "aggregate":
            return parse_aggregate(metric.expr)
        newest = exp.Max(this=exp.column(metric.column))
        if self.dialect == "bigquery":  # sqlglot has no BigQuery rendering of TimeToUnix
            timestamp = exp.DataType(this=exp.DataType.Type.TIMESTAMPTZ)
            return exp.UnixSeconds(this=exp.cast(newest, timestamp))
        return exp.TimeToUnix(this=newest)

    def measure(self, plan: Plan) -> Measurements:
        """Read every metric of ``plan`` for every date of its range, in one query.

        Each row the statement returns is one partition: its metric values, then the probe's
        index and the date. The rows are kept as they come (no copy per partition).
        """
        sql, params = self.measurement_sql(plan)
        rows = self._run(sql, params, plan.probes)
        keys = [probe.key for probe in plan.probes]
        partitions: dict[dt.date, dict[str, Sequence[float | None]]] = {}
        for row in rows:
            day = row[-1]
            if isinstance(day, dt.datetime):
                day = day.date()
            on_day = partitions.get(day)
            if on_day is None:
                on_day = partitions[day] = {}
            on_day[keys[int(row[-2])]] = row
        positions = {p.key: {m.key: i for i, m in enumerate(p.metrics)} for p in plan.probes}
        return Measurements(plan, partitions, positions)

    def _run(
        self, sql: str, params: dict[str, Any], probes: Sequence[Probe] = ()
    ) -> list[tuple[Any, ...]]:
        self.queries_sent += 1
        self.last_sql = sql
        try:
            return self.driver.execute(sql, params)
        except _driver_errors() as exc:
            missing = self._missing_objects(probes) if probes else ""
            if missing:
                raise UnknownObjectError(missing, url=self.url, sql=sql) from exc
            raise WarehouseError(
                f"warehouse query failed ({self.url}): {_first_line(exc)}", url=self.url, sql=sql
            ) from exc

    def _missing_objects(self, probes: Sequence[Probe]) -> str:
        """Name the first table or column of ``probes`` that does not exist, else ''."""
        try:
            existing = self.columns({p.table for p in probes})
        except Exception:
            return ""
        for probe in probes:
            table = probe.table.lower()
            if table not in existing:
                return f"table {probe.table} does not exist in the warehouse ({self.url})"
            needed = {probe.date_column, *(m.column for m in probe.metrics if m.column)}
            for column in sorted(needed):
                if column.lower() not in existing[table]:
                    return f"column {column} does not exist in table {probe.table} ({self.url})"
        return ""

    # --- catalogue ----------------------------------------------------------------------
    def columns(self, tables: Iterable[str]) -> dict[str, dict[str, str]]:
        """For each existing qualified table: {column: data type}, names lower-cased."""
        wanted = {t.lower() for t in tables}
        if isinstance(self.driver, CatalogDriver):
            try:
                return self.driver.describe(wanted)
            except _driver_errors() as exc:
                raise WarehouseError(f"cannot read the catalogue: {_first_line(exc)}") from exc
        schemas = sorted({t.rsplit(".", 1)[0] for t in wanted if "." in t})
        query = exp.select("table_schema", "table_name", "column_name", "data_type").from_(
            exp.to_table("information_schema.columns")
        )
        if schemas:
            query = query.where(
                exp.column("table_schema").isin(
                    *[exp.Placeholder(this=f"s{i}") for i in range(len(schemas))]
                )
            )
        sql = query.sql(dialect=self.dialect)
        params = {f"s{i}": s for i, s in enumerate(schemas)}
        try:
            rows = self.driver.execute(sql, params)
        except _driver_errors() as exc:
            raise WarehouseError(f"cannot read the catalogue: {_first_line(exc)}") from exc
        out: dict[str, dict[str, str]] = {}
        for schema, table, column, dtype in rows:
            name = f"{schema}.{table}".lower()
            if name in wanted or not wanted:
                out.setdefault(name, {})[str(column).lower()] = str(dtype).upper()
        return out

    def schemas(self) -> list[str]:
        """Every schema the catalogue shows, lower-cased and sorted (one query)."""
        if isinstance(self.driver, CatalogDriver):
            return self._catalogue(self.driver.schemas)
        query = (
            exp.select("schema_name").distinct().from_(exp.to_table("information_schema.schemata"))
        )
        rows = self._run(query.sql(dialect=self.dialect), {})
        return sorted({str(name).lower() for (name,) in rows})

    def tables_in_schemas(self, schemas: Iterable[str]) -> dict[str, dict[str, str]]:
        """Every table and view in ``schemas``: {schema.table: {column: data type}} (one query).

        Names are lower-cased and types upper-cased, as :meth:`columns` returns them.
        """
        wanted = sorted({s.lower() for s in schemas})
        if not wanted:
            return {}
        if isinstance(self.driver, CatalogDriver):
            driver = self.driver
            return self._catalogue(lambda: driver.tables_in_schemas(wanted))
        query = (
            exp.select("table_schema", "table_name", "column_name", "data_type")
            .from_(exp.to_table("information_schema.columns"))
            .where(
                exp.Lower(this=exp.column("table_schema")).isin(
                    *[exp.Placeholder(this=f"s{i}") for i in range(len(wanted))]
                )
            )
        )
        params = {f"s{i}": s for i, s in enumerate(wanted)}
        out: dict[str, dict[str, str]] = {}
        for schema, table, column, dtype in self._run(query.sql(dialect=self.dialect), params):
            columns = out.setdefault(f"{schema}.{table}".lower(), {})
            columns[str(column).lower()] = str(dtype).upper()
        return out

    def _catalogue(self, read: Callable[[], _T]) -> _T:
        self.queries_sent += 1
        try:
            return read()
        except _driver_errors() as exc:
            raise WarehouseError(
                f"cannot read the catalogue ({self.url}): {_first_line(exc)}", url=self.url
            ) from exc

    # --- writes, for the example pipeline and tests ---------------------------------------
    def create_table(self, table: str, columns: dict[str, str]) -> None:
        """Create ``table`` (and its schema) if missing, with ``columns`` {name: SQL type}."""
        parsed = exp.to_table(table)
        statements: list[tuple[str, Any]] = []
        if parsed.db:
            schema = exp.Create(
                this=exp.Table(this=exp.to_identifier(parsed.db)), kind="SCHEMA", exists=True
            )
            statements.append((schema.sql(dialect=self.dialect, identify=True), None))
        schema_def = exp.Schema(
            this=parsed,
            expressions=[
                exp.ColumnDef(this=exp.to_identifier(name), kind=exp.DataType.build(dtype))
                for name, dtype in columns.items()
            ],
        )
        create = exp.Create(this=schema_def, kind="TABLE", exists=True)
        if self.dialect == "spark":  # else Spark makes a Hive table, which needs a metastore
            create.set(
                "properties",
                exp.Properties(expressions=[exp.FileFormatProperty(this=exp.var("PARQUET"))]),
            )
        statements.append((create.sql(dialect=self.dialect, identify=True), None))
        self._write(statements)

    def replace_partition(
        self,
        table: str,
        date_column: str,
        date: dt.date,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """Atomically replace the partition of ``table`` for ``date`` with ``rows``.

        Re-running a date replaces it and never duplicates it: the delete and the insert
        commit together or not at all (BigQuery: one MERGE; Spark parquet tables have no
        transactions, see :mod:`phaseguard.warehouse.spark`).
        """
        if isinstance(self.driver, BulkDriver):
            driver = self.driver
            self._bulk(lambda: driver.replace_partition(table, date_column, date, columns, rows))
            return
        target = exp.to_table(table)
        delete = exp.delete(
            target, where=exp.EQ(this=exp.column(date_column), expression=exp.Placeholder(this="d"))
        )
        insert = self._insert_sql(table, columns)
        self._write(
            [(delete.sql(dialect=self.dialect, identify=True), {"d": date}), (insert, list(rows))]
        )

    def replace_partition_from_query(
        self, table: str, date_column: str, date: dt.date, query: str
    ) -> int:
        """Atomically replace the partition of ``table`` for ``date`` with a query's rows.

        ``query`` is trusted pipeline code (the example's processors): one SELECT written in
        DuckDB's dialect, parsed by sqlglot and rendered for this warehouse. It refers to
        the date as the named parameter ``:d`` (``$d`` also works); the value is bound,
        never formatted in. Its select list names the target columns. Returns rows written.
        """
        key = (table, date_column, query)
        statements = self._write_cache.get(key)
        if statements is None:
            statements = self._partition_query_sql(table, date_column, query)
            self._write_cache[key] = statements
        delete, insert, count = statements
        params = {"d": date}
        self._write([(delete, params), (insert, params)])
        return int(self._run(count, params)[0][0])

    def _partition_query_sql(
        self, table: str, date_column: str, query: str
    ) -> tuple[str, str, str]:
        """The delete, insert and count statements of a partition replace, rendered once."""
        try:
            select = sqlglot.parse_one(query.replace(":d", "$d"), read="duckdb")
        except sqlglot.errors.ParseError as exc:
            raise ConfigError(f"cannot parse the query for {table}: {_first_line(exc)}") from None
        if not isinstance(select, exp.Query):
            raise ConfigError(f"the query for {table} must be a SELECT")
        for node in select.find_all(exp.Parameter):
            node.replace(exp.Placeholder(this="d"))
        target = exp.to_table(table)
        columns = [exp.to_identifier(name) for name in select.named_selects]
        insert = exp.Insert(this=exp.Schema(this=target, expressions=columns), expression=select)
        on_date = exp.EQ(this=exp.column(date_column), expression=exp.Placeholder(this="d"))
        delete = exp.delete(target.copy(), where=on_date.copy())
        count = exp.select(exp.Count(this=exp.Star())).from_(target.copy()).where(on_date)
        rendered = [
            node.sql(dialect=self.dialect, identify=True) for node in (delete, insert, count)
        ]
        return rendered[0], rendered[1], rendered[2]

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append ``rows`` to ``table``."""
        if isinstance(self.driver, BulkDriver):
            driver = self.driver
            self._bulk(lambda: driver.insert_rows(table, columns, rows))
            return
        self._write([(self._insert_sql(table, columns), list(rows))])

    def _bulk(self, write: Callable[[], None]) -> None:
        self.queries_sent += 1
        try:
            write()
        except _driver_errors() as exc:
            raise WarehouseError(
                f"warehouse write failed ({self.url}): {_first_line(exc)}", url=self.url
            ) from exc

    def _insert_sql(self, table: str, columns: Sequence[str]) -> str:
        marker = "?" if self.dialect == "duckdb" else "%s"
        cols = ", ".join(
            exp.to_identifier(c, quoted=True).sql(dialect=self.dialect) for c in columns
        )
        target = exp.to_table(table).sql(dialect=self.dialect, identify=True)
        return f"INSERT INTO {target} ({cols}) VALUES ({', '.join([marker] * len(columns))})"

    def run_script(self, statements: Sequence[str]) -> None:
        """Run trusted, parameter-free statements in order (the demo's builder).

        Not atomic: each statement commits on its own. It builds fresh warehouses, where a
        half-built file is simply built again.
        """
        for sql in statements:
            self.queries_sent += 1
            try:
                self.driver.execute(sql)
            except _driver_errors() as exc:
                raise WarehouseError(
                    f"warehouse script failed ({self.url}): {_first_line(exc)}", url=self.url
                ) from exc

    def _write(self, statements: Sequence[tuple[str, Any]]) -> None:
        self.queries_sent += len(statements)
        try:
            self.driver.transaction(statements)
        except _driver_errors() as exc:
            raise WarehouseError(
                f"warehouse write failed ({self.url}): {_first_line(exc)}", url=self.url
            ) from exc
