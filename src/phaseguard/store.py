"""The event store: where events, overrides, incidents and pending alerts are kept.

A SQLite file (WAL mode, one short transaction per write, so many processes can write at
once) or a PostgreSQL database, reached through :class:`~phaseguard.store_sql.SqlStore`.
Besides events it keeps the little state the other modules need between runs: overrides,
open incidents and alerts waiting to be re-sent. It is the only module that talks SQL to the
store (with ``store_sql``, its connection, and ``store_bigquery``, its BigQuery subclass);
the others work on the plain rows it returns.
Every value is bound as a parameter; only table names, which are constants, go into SQL text.
When the store cannot be written, events go to a spool file and are flushed on the next
good write: none is lost.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError, StoreError
from .events import Event
from .records import (
    IncidentRow,
    OverrideRow,
    PendingAlert,
    event_row,
    iso_utc,
    row_event,
)
from .spool import drain, pending_line, spool_line, user_spool_path
from .store_sql import SqlStore

_EVENT_COLUMNS = "id, time, kind, severity, pipeline, phase, date, message, details, host, pid"


class EventStore(SqlStore):
    """The event store: events, overrides, incidents and pending alerts, in SQLite or Postgres.

    Build it with ``open_store``. It connects on first use, so a store that cannot be opened
    still accepts ``record`` (the event is spooled to a file) and raises ``StoreError`` only
    from the methods that must answer (``query`` and the state methods).
    """

    def __init__(
        self,
        *,
        sqlite_path: Path | None = None,
        pg_url: str | None = None,
        spool_dir: Path,
        busy_timeout: float = 30.0,
    ) -> None:
        super().__init__(sqlite_path=sqlite_path, pg_url=pg_url, busy_timeout=busy_timeout)
        self.spool_path = spool_dir / "spool" / "events.jsonl"
        self.fallback_spool_path = user_spool_path(pg_url or str(sqlite_path))

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ------------------------------------------------------------------------

    def record(self, event: Event) -> None:
        """Keep ``event``; never raises. A store that cannot be written gets it spooled.

        The spool is a private JSON-lines file beside the store (or, if that directory
        cannot be written, in the user's own spool directory: see ``spool``). The next
        successful ``record`` inserts the spooled events first, ignoring ids already stored,
        so none is lost or doubled.
        """
        errors: tuple[type[BaseException], ...] = (*self._errors, StoreError)
        try:
            self.flush_spool()
            self._insert_events([event_row(event)])
        except errors:
            self._spool(json.dumps(event_row(event)))

    def keep_pending(self, row: PendingAlert) -> None:
        """Keep an alert to re-send; never raises. A store that is down gets it spooled."""
        try:
            self.add_pending(row)
        except StoreError:
            self._spool(pending_line(row))

    def _insert_events(self, rows: Sequence[tuple[Any, ...]]) -> None:
        sql = (
            f"INSERT INTO {self._t['events']} ({_EVENT_COLUMNS}) VALUES ({', '.join('?' * 11)})"
            " ON CONFLICT (id) DO NOTHING"
        )
        with self._transaction() as cur:
            cur.executemany(sql, rows)

    def _spool(self, line: str) -> None:
        spool_line((self.spool_path, self.fallback_spool_path), line)

    def flush_spool(self) -> int:
        """Insert the spooled events and pending alerts into the store, then empty the spool.

        A spool that is not the user's own private file is refused (said on stderr), never
        read.

        Returns:
            How many spooled lines were read.

        Raises:
            sqlite3.Error, psycopg.Error, OSError, StoreError: the store is still unwritable.
        """
        return drain((self.spool_path, self.fallback_spool_path), self._insert_spooled)

    def _insert_spooled(self, events: list[tuple[Any, ...]], pending: list[PendingAlert]) -> None:
        if events:
            self._insert_events(events)
        for row in pending:
            self.add_pending(row)

    def query(
        self,
        since: dt.datetime | None = None,
        kind: str | None = None,
        phase: str | None = None,
        date: dt.date | None = None,
        severity: str | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """The stored events that match every filter given, newest last.

        Args:
            since: only events at or after this time.
            kind: only this kind.
            phase: only this phase.
            date: only this partition date.
            severity: only this severity.
            limit: only the newest ``limit`` events.

        Raises:
            StoreError: the store cannot be read.
        """
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("time >= ?", iso_utc(since) if since else None),
            ("kind = ?", kind),
            ("phase = ?", phase),
            ("date = ?", date.isoformat() if date else None),
            ("severity = ?", severity),
        ):
            if value is not None:
                where.append(column)
                params.append(value)
        sql = f"SELECT {_EVENT_COLUMNS} FROM {{events}}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [row_event(row) for row in reversed(self._read(sql, params))]

    # -- overrides -----------------------------------------------------------------------

    def add_override(self, row: OverrideRow) -> bool:
        """Insert an override; False if its id is taken."""
        sql = (
            "INSERT INTO {overrides} (id, gate, date, reason, created_by, created_at,"
            " expires_at, revoked_at, revoked_by, expiry_recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
        )
        return self._write(sql, tuple(row)) == 1

    def overrides(
        self, *, id: str | None = None, gate: str | None = None, date: str | None = None
    ) -> list[OverrideRow]:
        """The overrides matching the filters, oldest first."""
        where, params = ["1 = 1"], []
        for column, value in (("id = ?", id), ("gate = ?", gate), ("date = ?", date)):
            if value is not None:
                where.append(column)
                params.append(value)
        sql = f"SELECT * FROM {{overrides}} WHERE {' AND '.join(where)} ORDER BY created_at, id"
        return [OverrideRow(*row) for row in self._read(sql, params)]

    def revoke_override(self, id: str, by: str, at: str) -> bool:
        """Mark an override revoked; False if unknown or already revoked."""
        sql = (
            "UPDATE {overrides} SET revoked_at = ?, revoked_by = ?"
            " WHERE id = ? AND revoked_at IS NULL"
        )
        return self._write(sql, (at, by, id)) == 1

    def claim_override_expiry(self, id: str, at: str) -> bool:
        """Note that an override's expiry was recorded; True for the one caller that did it."""
        sql = (
            "UPDATE {overrides} SET expiry_recorded_at = ?"
            " WHERE id = ? AND expiry_recorded_at IS NULL AND revoked_at IS NULL"
        )
        return self._write(sql, (at, id)) == 1

    # -- incidents -----------------------------------------------------------------------

    def swap_incident(
        self,
        gate: str,
        date: str,
        update: Callable[[IncidentRow | None], IncidentRow | None],
    ) -> IncidentRow | None:
        """Read, change and write one incident in one transaction.

        ``update`` gets the stored row (or None) and returns the row to store (or None to
        leave it). No other process can change the row in between, so two runs that see the
        same failure open it once.

        Returns:
            The row as it was before.
        """
        try:
            with self._transaction(lock_key=f"incident:{gate}:{date}") as cur:
                cur.execute(
                    "SELECT gate, date, severity, peak_severity, opened_at, updated_at, status"
                    f" FROM {self._t['incidents']} WHERE gate = ? AND date = ?",
                    (gate, date),
                )
                found = cur.fetchone()
                before = IncidentRow(*found) if found else None
                after = update(before)
                if after is not None:
                    cur.execute(
                        f"INSERT INTO {self._t['incidents']} (gate, date, severity,"
                        " peak_severity, opened_at, updated_at, status)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gate, date) DO UPDATE SET"
                        " severity = excluded.severity, peak_severity = excluded.peak_severity,"
                        " opened_at = excluded.opened_at, updated_at = excluded.updated_at,"
                        " status = excluded.status",
                        tuple(after),
                    )
                return before
        except self._errors as exc:
            raise StoreError(f"cannot write the event store {self.location}: {exc}") from exc

    def incidents(self, *, open_only: bool = True) -> list[IncidentRow]:
        """The incidents (only the open ones by default), oldest first."""
        sql = (
            "SELECT gate, date, severity, peak_severity, opened_at, updated_at, status"
            " FROM {incidents}"
        )
        params: tuple[str, ...] = ()
        if open_only:
            sql += " WHERE status = ?"
            params = ("open",)
        return [IncidentRow(*row) for row in self._read(sql + " ORDER BY opened_at", params)]

    # -- pending alerts ------------------------------------------------------------------

    def add_pending(self, row: PendingAlert) -> None:
        """Keep an alert to re-send (replacing one with the same id)."""
        sql = (
            "INSERT INTO {pending} (id, sink, alert, attempts, created_at, last_error)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " attempts = excluded.attempts, last_error = excluded.last_error"
        )
        self._write(sql, tuple(row))

    def pending(self) -> list[PendingAlert]:
        """The alerts waiting to be re-sent, oldest first."""
        sql = "SELECT * FROM {pending} ORDER BY created_at, id"
        return [PendingAlert(*row) for row in self._read(sql)]

    def remove_pending(self, id: str) -> bool:
        """Forget a pending alert; True for the one caller that removed it."""
        return self._write("DELETE FROM {pending} WHERE id = ?", (id,)) == 1


def open_store(url: str | None, *, default_path: Path, busy_timeout: float = 30.0) -> EventStore:
    """Open the event store named by ``url``.

    Args:
        url: None for a SQLite file at ``default_path``; ``sqlite:///relative/path`` or
            ``sqlite:////absolute/path``; ``postgresql://...`` (or ``postgres://``) for
            tables ``phaseguard_*`` in that database, created if missing;
            ``bigquery://PROJECT/DATASET[?endpoint=..&location=..&timeout=..]`` for tables
            ``phaseguard_*`` in that BigQuery dataset (see ``store_bigquery``).
        default_path: the SQLite file used when ``url`` is None; the CLI passes
            ``<config dir>/.phaseguard/events.sqlite``. Its directory also holds the spool.
        busy_timeout: seconds a SQLite write waits for another writer before giving up.

    Raises:
        ConfigError: the URL has a scheme phaseguard cannot store events in, or a
            ``bigquery://`` URL is malformed or its client library is not installed.
    """
    if url is None:
        return EventStore(
            sqlite_path=default_path, spool_dir=default_path.parent, busy_timeout=busy_timeout
        )
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        return EventStore(sqlite_path=path, spool_dir=path.parent, busy_timeout=busy_timeout)
    if url.startswith(("postgresql://", "postgres://")):
        return EventStore(pg_url=url, spool_dir=default_path.parent, busy_timeout=busy_timeout)
    if url.startswith("bigquery://"):
        from .store_bigquery import BigQueryStore

        return BigQueryStore.from_url(url, spool_dir=default_path.parent)
    scheme = url.split(":", 1)[0]
    raise ConfigError(
        f"event store URL scheme {scheme!r} is not supported;"
        " use sqlite:///, postgresql:// or bigquery://",
        key="events",
    )
