"""The Spark driver behind the warehouse door, through pyspark (Spark SQL dialect).

URLs:

* ``spark://local[2]`` (or ``spark://local``, ``spark://local[*]``): a session inside this
  process. ``SPARK_LOCAL_IP`` defaults to 127.0.0.1 and the web UI is off.
* ``spark://HOST:PORT``: a standalone cluster's master URL, used as is.
* ``sc://HOST:PORT``: a Spark Connect server (``SparkSession.builder.remote``).

Query-string options are Spark settings, e.g.
``spark://local[2]?spark.sql.warehouse.dir=/data/wh&spark.sql.catalogImplementation=hive``
(without a Hive or other persistent catalogue, a local session forgets its tables when it
ends). A session already active in the process is reused and left running on close.

Schemas are Spark databases; tables made by :meth:`Warehouse.create_table` are parquet.
Plain parquet tables have no transactions and no DELETE, so :meth:`replace_partition`
rewrites the table from a checkpoint of the rows it keeps plus the new ones.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl

LOCAL_DEFAULTS = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}


def driver_errors() -> tuple[type[BaseException], ...]:
    """Every error pyspark raises for a failed statement (analysis, runtime, JVM bridge)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError)


def _require_select(sql: str) -> None:
    """Refuse ``sql`` unless it is exactly one query (SELECT, UNION of SELECTs)."""
    import sqlglot
    from sqlglot import exp

    from phaseguard.errors import WarehouseError

    try:
        statements = sqlglot.parse(sql, read="spark")
    except sqlglot.errors.ParseError:
        statements = []
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise WarehouseError(
            "refused a statement that is not a SELECT on a read-only Spark session", sql=sql
        )


class SparkDriver:
    """A Spark session running Spark SQL."""

    dialect = "spark"

    def __init__(
        self,
        *,
        master: str | None = None,
        remote: str | None = None,
        conf: dict[str, str],
        read_only: bool = False,
    ) -> None:
        from pyspark.sql import SparkSession

        # Read-only: Spark SQL has no read-only session, so only a statement that parses
        # as one query (a SELECT) is sent.
        self.read_only = read_only
        self._owns_session = SparkSession.getActiveSession() is None
        builder: Any = SparkSession.builder
        builder = builder.remote(remote) if remote else builder.master(master or "local[2]")
        for key, value in conf.items():
            builder = builder.config(key, value)
        self.spark: Any = builder.getOrCreate()

    @classmethod
    def from_url(cls, url: str, *, read_only: bool = False) -> SparkDriver:
        """Open ``spark://local[N]``, ``spark://HOST:PORT`` or ``sc://HOST:PORT``."""
        # Not urlsplit: it refuses "local[2]" as a host.
        base, _, query = url.partition("?")
        scheme, _, master = base.partition("://")
        conf = dict(parse_qsl(query))
        if scheme == "sc":
            return cls(remote=base, conf=conf, read_only=read_only)
        master = master.rstrip("/")
        if not master:
            raise ValueError(
                f"no master in {url!r}: expected spark://local[2] or spark://HOST:PORT"
            )
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            return cls(master=master, conf={**LOCAL_DEFAULTS, **conf}, read_only=read_only)
        return cls(master=f"spark://{master}", conf=conf, read_only=read_only)

    # --- Driver ---------------------------------------------------------------------------
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement with named parameter markers (``:start``) bound from ``params``."""
        if self.read_only:
            _require_select(sql)
        frame = self.spark.sql(sql, args=params or None)
        return [tuple(row) for row in frame.collect()]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per row; it names its parameters ``:p0``, ``:p1``, ..."""
        for row in rows:
            self.execute(sql, {f"p{i}": value for i, value in enumerate(row)})

    def transaction(self, statements: Sequence[tuple[str, Any]]) -> None:
        """Run statements in order: Spark has no multi-statement transactions."""
        for sql, params in statements:
            if isinstance(params, list):
                self.executemany(sql, params)
            else:
                self.execute(sql, params)

    def close(self) -> None:
        """Stop the session if this driver started it."""
        if self._owns_session:
            self.spark.stop()

    # --- bulk writes ----------------------------------------------------------------------
    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append ``rows`` as one DataFrame write (one job, not one statement per row)."""
        if rows:
            self._frame(table, columns, rows).write.insertInto(table)

    def replace_partition(
        self,
        table: str,
        date_column: str,
        date: dt.date,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """Rewrite ``table`` as its rows of other dates plus ``rows``.

        The kept rows are checkpointed first, because Spark refuses to overwrite a table
        while reading it. Idempotent, but not atomic: a failure during the overwrite can
        leave the table partly written (use a Delta or Iceberg table for atomic writes).
        """
        from pyspark.sql import functions as f

        current = self.spark.table(table)
        same_day = f.coalesce(f.col(date_column) == f.lit(date), f.lit(False))
        kept = current.where(~same_day)
        if rows:
            kept = kept.unionByName(self._frame(table, columns, rows))
        kept.localCheckpoint(eager=True).write.insertInto(table, overwrite=True)

    def _frame(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
        """A DataFrame of ``rows`` in ``table``'s schema; absent columns are NULL."""
        from pyspark.sql import functions as f
        from pyspark.sql.types import DoubleType, FloatType, StructType

        schema = self.spark.table(table).schema
        by_name = {field.name.lower(): field for field in schema.fields}
        fields = [by_name[c.lower()] for c in columns]
        floats = [isinstance(field.dataType, DoubleType | FloatType) for field in fields]
        data = [
            tuple(
                float(v) if fl and isinstance(v, int) else v
                for v, fl in zip(row, floats, strict=True)
            )
            for row in rows
        ]
        frame = self.spark.createDataFrame(data, StructType(fields))
        given = {c.lower() for c in columns}
        return frame.select(
            *[
                f.col(field.name)
                if field.name.lower() in given
                else f.lit(None).cast(field.dataType)
                for field in schema.fields
            ]
        )

    # --- catalogue ------------------------------------------------------------------------
    def describe(self, tables: Iterable[str]) -> dict[str, dict[str, str]]:
        """{database.table: {column: TYPE}} for each of ``tables`` that exists."""
        catalog = self.spark.catalog
        out: dict[str, dict[str, str]] = {}
        for table in {t.lower() for t in tables}:
            if catalog.tableExists(table):
                out[table] = {
                    c.name.lower(): str(c.dataType).upper() for c in catalog.listColumns(table)
                }
        return out

    def schemas(self) -> list[str]:
        """Every database, lower-cased."""
        return sorted(d.name.lower() for d in self.spark.catalog.listDatabases())

    def tables_in_schemas(self, schemas: Iterable[str]) -> dict[str, dict[str, str]]:
        """Every table and view of the databases ``schemas``: {db.table: {column: TYPE}}."""
        catalog = self.spark.catalog
        names: list[str] = []
        for schema in sorted({s.lower() for s in schemas}):
            if catalog.databaseExists(schema):
                names += [
                    f"{schema}.{t.name}".lower()
                    for t in catalog.listTables(schema)
                    if not t.isTemporary
                ]
        return self.describe(names)
