"""Drivers: a DB-API connection behind one dialect (DuckDB, PostgreSQL), and their protocols.

BigQuery and Spark drivers live beside this module and are imported only when a URL asks
for them. Every driver error is translated to :class:`~phaseguard.errors.WarehouseError`
by the :class:`~phaseguard.warehouse.Warehouse` that holds the driver.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from phaseguard.redact import redact


class Driver(Protocol):
    """A DB-API connection behind one dialect."""

    dialect: str

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return all its rows (empty for statements without rows)."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters."""

    def transaction(self, statements: Sequence[tuple[str, Any]]) -> None:
        """Run statements (sql, params or list of param rows) atomically."""

    def close(self) -> None:
        """Release the connection."""


@runtime_checkable
class CatalogDriver(Protocol):
    """A driver that reads the catalogue through its engine's API (BigQuery, Spark), where
    ``information_schema`` is missing or scoped differently."""

    def describe(self, tables: Iterable[str]) -> dict[str, dict[str, str]]:
        """{schema.table: {column: TYPE}} for each of ``tables`` that exists, lower-cased."""

    def schemas(self) -> list[str]:
        """Every schema, lower-cased."""

    def tables_in_schemas(self, schemas: Iterable[str]) -> dict[str, dict[str, str]]:
        """{schema.table: {column: TYPE}} for every table in ``schemas``."""


@runtime_checkable
class BulkDriver(Protocol):
    """A driver with its own write paths, where row-by-row DML is slow or missing."""

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append ``rows``."""

    def replace_partition(
        self,
        table: str,
        date_column: str,
        date: dt.date,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """Replace the rows of ``date`` with ``rows``."""


@runtime_checkable
class TypedDateDriver(Protocol):
    """A driver whose engine compares a date column with the bound dates only in the
    column's own type (BigQuery has no ``TIMESTAMP >= DATE``)."""

    def date_bound_type(self, table: str, column: str) -> str | None:
        """The type the bound dates are cast to before they are compared with ``column``
        of ``table`` (e.g. ``TIMESTAMP``), else None (a DATE column, or none found)."""

    def prefetch(self, tables: Iterable[str]) -> None:
        """Read the metadata of ``tables`` ahead, all at once."""


@runtime_checkable
class ScanDriver(Protocol):
    """A driver that bills by bytes scanned (BigQuery): it reports partitioning and dry runs."""

    def partitioning(self, table: str) -> str | None:
        """The column ``table`` is partitioned on by day (lower-cased), else None."""

    def bytes_scanned(self, sql: str, params: dict[str, Any]) -> int:
        """The bytes running ``sql`` would scan, from a dry run."""


class DuckDBDriver:
    """An embedded DuckDB file (the default warehouse)."""

    dialect = "duckdb"

    def __init__(self, path: str) -> None:
        import duckdb

        self._duckdb = duckdb
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = duckdb.connect(path)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(sql, params or {})
        return cursor.fetchall() if cursor.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.conn.executemany(sql, [list(r) for r in rows])

    def transaction(self, statements: Sequence[tuple[str, Any]]) -> None:
        self.conn.execute("BEGIN TRANSACTION")
        try:
            for sql, params in statements:
                if isinstance(params, list):
                    self.executemany(sql, params)
                else:
                    self.conn.execute(sql, params or {})
            self.conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(self._duckdb.Error):
                self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()


class PostgresDriver:
    """A PostgreSQL server through psycopg 3."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(encode_userinfo(url), autocommit=True, connect_timeout=10)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql.encode() if params is None else sql, params)
            return cursor.fetchall() if cursor.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(sql, [tuple(r) for r in rows])

    def transaction(self, statements: Sequence[tuple[str, Any]]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cursor:
            for sql, params in statements:
                if isinstance(params, list):
                    if params:
                        cursor.executemany(sql, [tuple(r) for r in params])
                else:
                    cursor.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    try:
        import duckdb

        errors.append(duckdb.Error)
    except ImportError:  # pragma: no cover - duckdb is a hard dependency
        pass
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:  # pragma: no cover
        pass
    # The optional drivers' errors count only once their module has been opened, so a
    # DuckDB user never pays for importing the BigQuery or Spark client.
    for name in ("phaseguard.warehouse.bigquery", "phaseguard.warehouse.spark"):
        module = sys.modules.get(name)
        if module is not None:
            errors.extend(module.driver_errors())
    return tuple(errors)


def mask_url(url: str) -> str:
    """The URL with every credential replaced by ``***``, safe to print (``redact.redact``)."""
    return redact(url)


def encode_userinfo(url: str) -> str:
    """``url`` with its password %-encoded when it holds ``@``, ``/`` or ``#`` as typed.

    libpq splits ``postgresql://etl:p@ss@host/db`` at the first ``@`` (host ``ss@host``);
    the userinfo ends at the last ``@`` before the query, as ``redact`` reads it too.
    """
    from urllib.parse import quote

    scheme, sep, rest = url.partition("://")
    head = rest.split("?", 1)[0]
    at = head.rfind("@")
    user, colon, password = head[: max(at, 0)].partition(":")
    if not sep or at < 0 or not colon or "/" in user or not any(c in password for c in "@/#"):
        return url
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}{rest[at:]}"


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (drivers' messages run to many lines)."""
    text = str(exc).strip() or type(exc).__name__
    return redact(text.splitlines()[0])
