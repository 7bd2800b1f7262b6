"""The warehouse door's front: :class:`Warehouse`, one query per command, and ``connect``.

Every command reads the warehouse through :meth:`Warehouse.measure`, which sends a plan
as ONE SQL statement (built in ``statement.py``, cached in ``sqlcache.py``) and keeps
the rows it returns as :class:`~phaseguard.plan.Measurements`. The catalogue reads and
the example pipeline's writes are built with sqlglot here too. Identifiers are quoted by
the generator; values are bound as parameters, never formatted into SQL text. Driver
errors become :class:`WarehouseError` here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from phaseguard.errors import (
    ConfigError,
    UnknownObjectError,
    WarehouseBusyError,
    WarehouseError,
)
from phaseguard.plan import ROWS, Measurements, Plan, Probe

from .drivers import (
    LOCK_TIMEOUT,
    BulkDriver,
    CatalogDriver,
    Driver,
    DuckDBDriver,
    PostgresDriver,
    ScanDriver,
    TypedDateDriver,
    _driver_errors,
    first_line,
    is_busy,
    mask_url,
)
from .lazy import exp, sqlglot
from .misread import misread
from .sqlcache import load_sql, store_sql
from .statement import measurement_statement


def connect(
    url: str,
    *,
    base_dir: Path | None = None,
    create: bool = True,
    read_only: bool = False,
    lock_timeout: float = LOCK_TIMEOUT,
) -> Warehouse:
    """Open the warehouse at ``url``.

    ``duckdb://FILE`` (relative to base_dir), ``postgresql://USER@HOST:PORT/DB``,
    ``bigquery://PROJECT[/DATASET][?location=&endpoint=]`` (extra ``phaseguard[bigquery]``),
    ``spark://local[2]``, ``spark://HOST:PORT`` or ``sc://HOST:PORT`` (extra ``phaseguard[spark]``).
    With ``create=False`` a DuckDB file that does not exist is an error rather than a new,
    empty warehouse: a mistyped path must not leave a stray file behind.

    ``read_only`` is how every command that only reads opens it: DuckDB with a shared
    lock (many readers at once, a 0444 file readable), PostgreSQL in a session whose
    transactions are READ ONLY, BigQuery and Spark sending only statements that are a
    SELECT. A lock another process holds is waited for ``lock_timeout`` seconds, then
    :class:`~phaseguard.errors.WarehouseBusyError`.
    """
    try:
        if url.startswith("duckdb:"):
            path = url.removeprefix("duckdb:").removeprefix("//")
            if path != ":memory:" and not path.startswith("/"):
                path = str((base_dir or Path.cwd()) / path)
            if (not create or read_only) and path != ":memory:" and not Path(path).exists():
                raise UnknownObjectError(
                    f"DuckDB warehouse {path} does not exist (a mistyped path? "
                    "phaseguard demo builds the example one)",
                    url=mask_url(url),
                )
            return Warehouse(
                DuckDBDriver(path, read_only=read_only, lock_timeout=lock_timeout), url
            )
        if url.startswith(("postgresql://", "postgres://")):
            return Warehouse(
                PostgresDriver(url, read_only=read_only, lock_timeout=lock_timeout), url
            )
        if url.startswith(("bigquery://", "spark://", "sc://")):
            return Warehouse(_optional_driver(url, read_only), url)
    except _driver_errors() as exc:
        if is_busy(exc):
            raise WarehouseBusyError(
                f"warehouse busy: {mask_url(url)} is locked by another process: {first_line(exc)}",
                url=mask_url(url),
            ) from exc
        raise WarehouseError(
            f"cannot connect to warehouse {mask_url(url)}: {first_line(exc)}", url=mask_url(url)
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


def _optional_driver(url: str, read_only: bool) -> Driver:
    """The BigQuery or Spark driver, whose client libraries are optional extras."""
    extra = "bigquery" if url.startswith("bigquery:") else "spark"
    try:
        if extra == "bigquery":
            from .bigquery import BigQueryDriver

            return BigQueryDriver.from_url(url, read_only=read_only)
        from .spark import SparkDriver

        return SparkDriver.from_url(url, read_only=read_only)
    except ImportError as exc:
        raise ConfigError(
            f"{mask_url(url)} needs the {extra} extra: pip install 'phaseguard[{extra}]' "
            f"({first_line(exc)})",
            key="warehouse",
        ) from None


_T = TypeVar("_T")

# Rendered partition-replace statements, {(dialect, table, date column, query): (delete,
# insert, count)}: shared by every connection of the process, because the runner opens a
# new write connection for each step.
_WRITE_SQL: dict[tuple[str, str, str, str], tuple[str, str, str]] = {}


class Warehouse:
    """A connection to the pipeline's warehouse, measured in one query per command."""

    def __init__(self, driver: Driver, url: str) -> None:
        self.driver = driver
        self.dialect = driver.dialect
        self.url = mask_url(url)
        self.queries_sent = 0
        self.last_sql = ""
        self.notes: list[str] = []
        self._sql_cache: dict[str, str] = {}

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

        The text depends only on the probes (the dates are parameters) and, on BigQuery,
        on what the driver's table metadata says of them (which are counted from partition
        metadata, which date columns are TIMESTAMP or DATETIME), so it is rendered once and
        reused: in memory for repeated gate decisions, and on disk (``sqlcache``) so that a
        new process, such as a smoke test, need not import sqlglot at all.
        """
        params: dict[str, Any] = dict(plan.bounds())
        from_metadata, bound_types = self._table_facts(plan.probes)
        self.notes = [
            f"{plan.probes[i].table}: rows read from INFORMATION_SCHEMA.PARTITIONS "
            f"(partitioned by {plan.probes[i].date_column}; 0 bytes scanned)"
            for i in from_metadata
        ]
        params.update({f"t{i}": plan.probes[i].table.rsplit(".", 1)[-1] for i in from_metadata})
        cache_key = f"{self.dialect}|{from_metadata}|{bound_types}|{plan.probes!r}"
        sql = self._sql_cache.get(cache_key)
        if sql is None:
            sql = load_sql(cache_key)
        if sql is None:
            sql = measurement_statement(plan.probes, self.dialect, from_metadata, bound_types)
            store_sql(cache_key, sql)
        self._sql_cache[cache_key] = sql
        return sql, params

    def _table_facts(self, probes: Sequence[Probe]) -> tuple[list[int], dict[int, str]]:
        """What the statement must know of the probes' tables, from the driver's metadata:
        the probes counted from partition metadata, and {probe: the type its bound dates
        are cast to} for the others."""
        try:
            if isinstance(self.driver, TypedDateDriver):
                self.driver.prefetch(p.table for p in probes)
            from_metadata = [i for i, p in enumerate(probes) if self._counts_from_metadata(p)]
            bound_types: dict[int, str] = {}
            if isinstance(self.driver, TypedDateDriver):
                for i, probe in enumerate(probes):
                    if i in from_metadata:  # partition metadata never reads the column
                        continue
                    found = self.driver.date_bound_type(probe.table, probe.date_column)
                    if found is not None:
                        bound_types[i] = found
        except _driver_errors() as exc:
            raise WarehouseError(
                f"cannot read table metadata ({self.url}): {first_line(exc)}", url=self.url
            ) from exc
        return from_metadata, bound_types

    def _counts_from_metadata(self, probe: Probe) -> bool:
        """Row counts only, on a table partitioned by day on the checked date column."""
        return (
            isinstance(self.driver, ScanDriver)
            and probe.metrics == (ROWS,)
            and probe.table.count(".") == 1
            and self.driver.partitioning(probe.table) == probe.date_column.lower()
        )

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
                f"dry run failed ({self.url}): {first_line(exc)}", url=self.url, sql=sql
            ) from exc

    def measure(self, plan: Plan) -> Measurements:
        """Read every metric of ``plan`` for every date of its range, in one query.

        Each row the statement returns is one partition: its metric values, then the probe's
        index and the date. The rows are kept as they come (no copy per partition), except
        that aggregates are rounded to 9 decimals: parallel float sums (AVG, SUM) differ in
        the last bits from run to run, and two reads of the same data must give equal
        measurements and the same verdicts.
        """
        sql, params = self.measurement_sql(plan)
        rows = self._run(sql, params, plan.probes, plan.names)
        keys = [probe.key for probe in plan.probes]
        floats = [
            [i for i, m in enumerate(probe.metrics) if m.kind == "aggregate"]
            for probe in plan.probes
        ]
        partitions: dict[dt.date, dict[str, Sequence[float | None]]] = {}
        for row in rows:
            day = row[-1]
            if isinstance(day, dt.datetime):
                day = day.date()
            on_day = partitions.get(day)
            if on_day is None:
                on_day = partitions[day] = {}
            src = int(row[-2])
            if floats[src]:
                row = tuple(
                    round(v, 9) if i in floats[src] and v is not None else v
                    for i, v in enumerate(row)
                )
            on_day[keys[src]] = row
        positions = {p.key: {m.key: i for i, m in enumerate(p.metrics)} for p in plan.probes}
        return Measurements(plan, partitions, positions)

    def _run(
        self,
        sql: str,
        params: dict[str, Any],
        probes: Sequence[Probe] = (),
        names: Mapping[str, str] | None = None,
    ) -> list[tuple[Any, ...]]:
        self.queries_sent += 1
        self.last_sql = sql
        try:
            return self.driver.execute(sql, params)
        except _driver_errors() as exc:
            if is_busy(exc):
                raise WarehouseBusyError(
                    f"warehouse busy ({self.url}): locked by another session: {first_line(exc)}",
                    url=self.url,
                    sql=sql,
                ) from exc
            missing = self._missing_objects(probes, names or {}) if probes else ""
            if missing:
                raise UnknownObjectError(missing, url=self.url, sql=sql) from exc
            raise WarehouseError(
                f"warehouse query failed ({self.url}): {first_line(exc)}", url=self.url, sql=sql
            ) from exc

    def _missing_objects(self, probes: Sequence[Probe], names: Mapping[str, str]) -> str:
        """Name the first table or column of ``probes`` that does not exist, else ''
        (a keyed probe's parent and a coverage probe's other sources count too); then a
        check whose config its table cannot answer (``misread.misread``)."""
        reads = [read for probe in probes for read in _reads(probe)]
        try:
            existing = self.columns({table for table, _ in reads})
        except Exception:
            return ""
        for name, columns in reads:
            table = name.lower()
            if table not in existing:
                return f"table {name} does not exist in the warehouse ({self.url})"
            for column in sorted(set(columns)):
                if column.lower() not in existing[table]:
                    return f"column {column} does not exist in table {name} ({self.url})"
        return misread(probes, existing, names)

    # --- catalogue ----------------------------------------------------------------------
    def columns(self, tables: Iterable[str]) -> dict[str, dict[str, str]]:
        """For each existing qualified table: {column: data type}, names lower-cased."""
        wanted = {t.lower() for t in tables}
        if isinstance(self.driver, CatalogDriver):
            try:
                return self.driver.describe(wanted)
            except _driver_errors() as exc:
                raise WarehouseError(f"cannot read the catalogue: {first_line(exc)}") from exc
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
            raise WarehouseError(f"cannot read the catalogue: {first_line(exc)}") from exc
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
                f"cannot read the catalogue ({self.url}): {first_line(exc)}", url=self.url
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
        key = (self.dialect, table, date_column, query)
        statements = _WRITE_SQL.get(key)
        if statements is None:
            statements = self._partition_query_sql(table, date_column, query)
            _WRITE_SQL[key] = statements
        delete, insert, count = statements
        params = {"d": date}
        self._write([(delete, params), (insert, params)])
        return int(self._run(count, params)[0][0])

    def select_for_date(self, query: str, date: dt.date) -> list[tuple[Any, ...]]:
        """Rows of one trusted SELECT (DuckDB dialect, the date as ``:d``, bound), rendered here."""
        try:
            select = sqlglot.parse_one(query.replace(":d", "$d"), read="duckdb")
        except sqlglot.errors.ParseError as exc:
            raise ConfigError(f"cannot parse the query: {first_line(exc)}") from None
        for node in select.find_all(exp.Parameter):
            node.replace(exp.Placeholder(this="d"))
        return self._run(select.sql(dialect=self.dialect, identify=True), {"d": date})

    def _partition_query_sql(
        self, table: str, date_column: str, query: str
    ) -> tuple[str, str, str]:
        """The delete, insert and count statements of a partition replace, rendered once."""
        try:
            select = sqlglot.parse_one(query.replace(":d", "$d"), read="duckdb")
        except sqlglot.errors.ParseError as exc:
            raise ConfigError(f"cannot parse the query for {table}: {first_line(exc)}") from None
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
                f"warehouse write failed ({self.url}): {first_line(exc)}", url=self.url
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
                    f"warehouse script failed ({self.url}): {first_line(exc)}", url=self.url
                ) from exc

    def _write(self, statements: Sequence[tuple[str, Any]]) -> None:
        self.queries_sent += len(statements)
        try:
            self.driver.transaction(statements)
        except _driver_errors() as exc:
            if is_busy(exc):  # PostgreSQL: a row or table lock held past lock_timeout
                raise WarehouseBusyError(
                    f"warehouse busy ({self.url}): locked by another session: {first_line(exc)}",
                    url=self.url,
                ) from exc
            raise WarehouseError(
                f"warehouse write failed ({self.url}): {first_line(exc)}", url=self.url
            ) from exc


def _reads(probe: Probe) -> list[tuple[str, tuple[str, ...]]]:
    """Every (table, columns) a probe reads: its own, a keyed probe's parent, a coverage
    probe's schedule and other sources."""
    reads = [(probe.table, probe.columns)]
    reference = probe.keyed.reference if probe.keyed else None
    if reference is not None:
        own_date = (reference.date_column,) if reference.date_column else ()
        reads.append((reference.table, (*own_date, *reference.columns)))
    for source in (probe.against, *probe.also):
        if source is not None:
            reads.append((source.table, (source.date_column, source.unit)))
    return reads
