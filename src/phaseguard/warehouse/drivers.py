"""Drivers: a DB-API connection behind one dialect (DuckDB, PostgreSQL), and their protocols.

BigQuery and Spark drivers live beside this module and are imported only when a URL asks
for them. Every driver error is translated to :class:`~phaseguard.errors.WarehouseError`
by the :class:`~phaseguard.warehouse.Warehouse` that holds the driver.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from phaseguard.errors import ConfigError, WarehouseBusyError
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


# How long opening the warehouse waits for a lock another process holds, by default.
LOCK_TIMEOUT = 20.0


class DuckDBDriver:
    """An embedded DuckDB file (the default warehouse).

    ``read_only`` opens the file with a shared lock: any number of processes read it at
    once (gates, smoke tests, the dashboard), a file of mode 0444 can be read, and nothing
    a statement does can write it. A file held by a writer in another process is waited
    for, up to ``lock_timeout`` seconds, then :class:`WarehouseBusyError`. Inside one
    process DuckDB keeps one configuration per file: when this process already holds the
    file read-write (a step's write connection), a reader shares it and runs every
    statement in a ``READ ONLY`` transaction instead.
    """

    dialect = "duckdb"

    def __init__(
        self,
        path: str,
        *,
        read_only: bool = False,
        lock_timeout: float = LOCK_TIMEOUT,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        import duckdb

        self._duckdb = duckdb
        self.read_only = read_only
        self._read_transactions = False
        if path != ":memory:" and not read_only:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + lock_timeout
        delay = 0.02
        while True:
            try:
                self.conn = self._open(path)
                return
            except duckdb.Error as exc:
                if not _is_lock_conflict(exc):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WarehouseBusyError(
                        f"warehouse busy: {path} is locked by another process "
                        f"(waited {lock_timeout:g}s; warehouse_lock_timeout sets the wait): "
                        f"{first_line(exc)}"
                    ) from exc
                sleep(min(delay, left))
                delay = min(delay * 2, 0.25)

    def _open(self, path: str) -> Any:
        duckdb = self._duckdb
        if not self.read_only or path == ":memory:":
            return duckdb.connect(path)
        try:
            return duckdb.connect(path, read_only=True)
        except duckdb.ConnectionException as exc:
            if "different configuration" not in str(exc):
                raise
        self._read_transactions = True
        return duckdb.connect(path)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if self._read_transactions:
            return self._execute_read_only(sql, params)
        cursor = self.conn.execute(sql, params or {})
        return cursor.fetchall() if cursor.description else []

    def _execute_read_only(self, sql: str, params: dict[str, Any] | None) -> list[tuple[Any, ...]]:
        self.conn.execute("BEGIN TRANSACTION READ ONLY")
        try:
            cursor = self.conn.execute(sql, params or {})
            rows = cursor.fetchall() if cursor.description else []
        except BaseException:
            with contextlib.suppress(self._duckdb.Error):
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._writable()
            self.conn.executemany(sql, [list(r) for r in rows])

    def transaction(self, statements: Sequence[tuple[str, Any]]) -> None:
        self._writable()
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

    def _writable(self) -> None:
        if self.read_only:
            raise self._duckdb.InvalidInputException(
                "the warehouse is open read-only: this connection cannot write"
            )

    def close(self) -> None:
        self.conn.close()


def _is_lock_conflict(exc: BaseException) -> bool:
    """A DuckDB open refused because another holder has the file: another process's lock,
    or (in this process) a connection of the other mode, which is closed soon after."""
    text = str(exc)
    return "Could not set lock" in text or "different configuration" in text


class PostgresDriver:
    """A PostgreSQL server through psycopg 3.

    ``read_only`` makes every transaction of the session READ ONLY: a volatile function
    that deletes rows, or ``nextval()``, fails instead of writing. A lock held by another
    session is waited for ``lock_timeout`` seconds (PostgreSQL's own ``lock_timeout``).
    """

    dialect = "postgres"

    def __init__(
        self, url: str, *, read_only: bool = False, lock_timeout: float = LOCK_TIMEOUT
    ) -> None:
        psycopg = import_psycopg(url, key="warehouse")
        self.read_only = read_only
        self.conn = psycopg.connect(encode_userinfo(url), autocommit=True, connect_timeout=10)
        with self.conn.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, false)", (f"{int(lock_timeout * 1000)}ms",)
            )
            if read_only:
                cursor.execute(b"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")

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


def is_busy(exc: BaseException) -> bool:
    """A driver error that means another session held a lock past the wait."""
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate == "55P03" or _is_lock_conflict(exc)  # lock_not_available


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    try:
        import duckdb

        errors.append(duckdb.Error)
    except ImportError:  # pragma: no cover - duckdb is a hard dependency
        pass
    # The optional drivers' errors count only once their module has been opened, so a
    # DuckDB user never pays for importing psycopg, the BigQuery or the Spark client.
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        errors.append(psycopg.Error)
    for name in ("phaseguard.warehouse.bigquery", "phaseguard.warehouse.spark"):
        module = sys.modules.get(name)
        if module is not None:
            errors.extend(module.driver_errors())
    return tuple(errors)


def import_psycopg(url: str, *, key: str) -> Any:
    """psycopg, the ``postgres`` extra's driver, imported when a postgresql:// URL is opened;
    not installed, one line saying which extra to install (``key``: the config key)."""
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigError(
            f"{mask_url(url)} needs the postgres extra: pip install 'phaseguard[postgres]' ({exc})",
            key=key,
        ) from None
    return psycopg


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
