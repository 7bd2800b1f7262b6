"""The event store's SQL database: a SQLite file or a PostgreSQL database, one short
transaction at a time.

:class:`SqlStore` connects on first use, creates the tables (``_SCHEMA``) if missing, and
runs each read or write in its own transaction: SQLite in WAL mode with ``BEGIN IMMEDIATE``
(many processes can write at once), Postgres with an advisory lock per row when asked.
An error of the database becomes a ``StoreError``. :class:`~phaseguard.store.EventStore`
builds on it with what is kept; it and this module are the only ones that talk SQL to the
store.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import StoreError

if TYPE_CHECKING:
    import psycopg


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {events} (id TEXT PRIMARY KEY, time TEXT NOT NULL,"
    " kind TEXT NOT NULL, severity TEXT NOT NULL, pipeline TEXT NOT NULL, phase TEXT,"
    " date TEXT, message TEXT NOT NULL, details TEXT NOT NULL, host TEXT NOT NULL,"
    " pid INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {events}_time ON {events} (time)",
    "CREATE INDEX IF NOT EXISTS {events}_kind ON {events} (kind)",
    "CREATE TABLE IF NOT EXISTS {overrides} (id TEXT PRIMARY KEY, gate TEXT NOT NULL,"
    " date TEXT NOT NULL, reason TEXT NOT NULL, created_by TEXT NOT NULL,"
    " created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT, revoked_by TEXT,"
    " expiry_recorded_at TEXT)",
    "CREATE INDEX IF NOT EXISTS {overrides}_gate ON {overrides} (gate, date)",
    "CREATE TABLE IF NOT EXISTS {incidents} (gate TEXT NOT NULL, date TEXT NOT NULL,"
    " severity TEXT, peak_severity TEXT, opened_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
    " status TEXT NOT NULL, PRIMARY KEY (gate, date))",
    "CREATE TABLE IF NOT EXISTS {pending} (id TEXT PRIMARY KEY, sink TEXT NOT NULL,"
    " alert TEXT NOT NULL, attempts INTEGER NOT NULL, created_at TEXT NOT NULL,"
    " last_error TEXT NOT NULL)",
)


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class _PgCursor:
    """A psycopg cursor that takes the ``?`` placeholders the SQLite SQL uses."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any:
        return self._cursor.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any:
        return self._cursor.executemany(sql.replace("?", "%s"), params)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


class SqlStore:
    """The connection to the event store's database, SQLite or Postgres, and its transactions.

    It connects on first use; :meth:`_read` and :meth:`_write` run one statement in a
    transaction of its own and raise ``StoreError`` when the database cannot answer.
    """

    def __init__(
        self,
        *,
        sqlite_path: Path | None = None,
        pg_url: str | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        self._sqlite_path = sqlite_path
        self._pg_url = pg_url
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: Any = None
        # Postgres tables share a schema with the warehouse's, hence the prefix there.
        prefix = "phaseguard_" if pg_url else ""
        self._t = {
            "events": prefix + "events",
            "overrides": prefix + "overrides",
            "incidents": prefix + "incidents",
            "pending": prefix + "pending_alerts",
        }
        self._errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
        if pg_url:
            from .warehouse.drivers import import_psycopg

            self._errors = (*self._errors, import_psycopg(pg_url, key="events").Error)

    @property
    def location(self) -> str:
        """Where the store is, fit to print (a Postgres password is masked)."""
        if self._pg_url:
            from .warehouse import mask_url

            return mask_url(self._pg_url)
        return f"sqlite:///{self._sqlite_path}"

    # -- connection ------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._conn is not None and not getattr(self._conn, "closed", False):
            return self._conn
        if self._sqlite_path is not None:
            self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            conn: Any = sqlite3.connect(
                self._sqlite_path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                self._prepare_sqlite(conn)
            except BaseException:
                conn.close()
                raise
        else:
            import psycopg

            from .warehouse.drivers import encode_userinfo

            url = encode_userinfo(str(self._pg_url))
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            try:
                with conn.transaction(), conn.cursor() as cur:
                    # Concurrent CREATE TABLE IF NOT EXISTS can collide in Postgres' catalog.
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext('phaseguard_schema'))")
                    for statement in _SCHEMA:
                        cur.execute(statement.format(**self._t))
            except BaseException:
                conn.close()
                raise
        self._conn = conn
        return conn

    def close(self) -> None:
        """Close the connection; the store reconnects if used again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def _transaction(self, lock_key: str | None = None, *, write: bool = True) -> Iterator[_Cursor]:
        """One transaction; ``lock_key`` serialises writers of the same row in Postgres."""
        with self._lock:
            try:
                conn = self._connect()
                if self._sqlite_path is not None and not write:
                    # A lone SELECT is its own read transaction; in WAL mode it never waits.
                    yield conn.cursor()
                elif self._sqlite_path is not None:
                    cur = conn.cursor()
                    # IMMEDIATE takes the write lock up front, so the busy timeout applies
                    # instead of a deadlock error when a reader upgrades to a writer.
                    cur.execute("BEGIN IMMEDIATE")
                    try:
                        yield cur
                        conn.execute("COMMIT")
                    finally:
                        if conn.in_transaction:
                            with suppress(sqlite3.Error):
                                conn.execute("ROLLBACK")
                else:
                    with conn.transaction(), conn.cursor() as raw:
                        cur = _PgCursor(raw)
                        if lock_key is not None:
                            cur.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (lock_key,))
                        yield cur
            except Exception as exc:
                # The server went away: drop the connection so the next call reconnects.
                if type(exc).__name__ == "OperationalError" and self._pg_url:
                    self._drop()
                raise

    def _prepare_sqlite(self, conn: Any) -> None:
        """WAL mode and the schema, on a new SQLite connection.

        Several processes opening a new store at once can meet SQLite's lock on the
        journal-mode switch or the WAL index, which it reports as "locked" without waiting
        for the busy timeout; those are retried until the timeout, never reported as a
        store that is down (which would send an alert untracked, twice).
        """
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                # WAL with synchronous=NORMAL stays consistent on power loss, and is much
                # faster than FULL for one small transaction per event.
                conn.execute("PRAGMA synchronous=NORMAL")
                statements = [statement.format(**self._t) for statement in _SCHEMA]
                # Reading the catalogue takes no lock in WAL mode: a reader (a smoke test
                # reading the gap ledger) must not queue behind a writer for the schema.
                names = {sql.split()[5] for sql in statements}  # CREATE x IF NOT EXISTS name
                have = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
                if not names <= have:
                    conn.execute("BEGIN IMMEDIATE")
                    for sql in statements:
                        conn.execute(sql)
                    conn.execute("COMMIT")
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _drop(self) -> None:
        with suppress(*self._errors):
            if self._conn is not None:
                self._conn.close()
        self._conn = None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            with self._transaction(write=False) as cur:
                cur.execute(sql.format(**self._t), params)
                return cur.fetchall()
        except self._errors as exc:
            raise StoreError(f"cannot read the event store {self.location}: {exc}") from exc

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            with self._transaction() as cur:
                cur.execute(sql.format(**self._t), params)
                return cur.rowcount
        except self._errors as exc:
            raise StoreError(f"cannot write the event store {self.location}: {exc}") from exc
