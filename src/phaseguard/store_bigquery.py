"""The event store in BigQuery, for deployments with many stateless workers.

``open_store("bigquery://PROJECT/DATASET[?endpoint=..&location=..&timeout=..]")`` returns a
:class:`BigQueryStore`: the same interface as the SQLite and PostgreSQL store, kept in the
tables ``phaseguard_events``, ``phaseguard_overrides``, ``phaseguard_incidents`` and
``phaseguard_pending_alerts`` of DATASET (the dataset and the tables are created if missing).
``endpoint`` points the client at an emulator with anonymous credentials; without it the
client uses application-default credentials. Every value is a named query parameter
(``@x``); only the project, dataset and table names, checked when the URL is read, go into
SQL text.

BigQuery has no row locks and (on the emulator) no multi-statement transactions, so the
consistency comes from single conditional statements, each atomic on its own:

* events are appended with multi-row ``INSERT`` DML (not streaming inserts, whose buffer
  blocks later DML; not ``MERGE``, because appends are free of the per-table limit on
  concurrent mutating DML, which many workers recording at once would hit). An event can be
  stored twice only if a spool is flushed and the process dies before emptying it; ``query``
  keeps one row per id, so readers never see the double;
* an override or a pending alert is inserted with ``MERGE ... WHEN NOT MATCHED``, revoked,
  claimed or removed with ``UPDATE``/``DELETE ... WHERE <still in the old state>``; the
  affected-row count tells the one caller that won;
* an incident carries a ``version``. ``swap_incident`` reads it, then writes with
  ``UPDATE ... WHERE version = @old``; a worker that lost the race reads again and calls
  ``update`` again, so two workers that see the same failure alert once. A new incident is
  inserted by a ``MERGE ... WHEN NOT MATCHED`` that also bumps a lock row of the table:
  BigQuery lets insert-only statements run side by side (both would insert), but runs
  statements that change the same row one after the other, re-running the later one,
  which then finds the incident and inserts nothing. The worker whose write id is on the
  stored row is the one that opened it.

BigQuery may also reject a mutating statement that collides with another one on the same
table ("concurrent update"); such a statement is run again a few times, which is safe
because every write here is conditional or keyed.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import ConfigError, StoreError
from .events import Event
from .records import IncidentRow, OverrideRow, PendingAlert, iso_utc
from .spool import user_spool_path
from .store import EventStore

# BigQuery allows 10,000 query parameters per statement; stay well below it.
_MAX_PARAMS = 9000
# Tries of a statement that BigQuery rejects for a concurrent update, and of swap_incident
# when another worker changed the incident between its read and its write.
_CONFLICT_TRIES = 5
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]*")
_DATASET = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_Columns = tuple[tuple[str, str, bool], ...]  # (name, BigQuery type, required)

_EVENTS: _Columns = (
    ("id", "STRING", True),
    ("time", "TIMESTAMP", True),
    ("kind", "STRING", True),
    ("severity", "STRING", True),
    ("pipeline", "STRING", True),
    ("phase", "STRING", False),
    ("date", "DATE", False),
    ("message", "STRING", True),
    ("details", "STRING", True),
    ("host", "STRING", True),
    ("pid", "INT64", True),
)
_OVERRIDES: _Columns = (
    ("id", "STRING", True),
    ("gate", "STRING", True),
    ("date", "STRING", True),
    ("reason", "STRING", True),
    ("created_by", "STRING", True),
    ("created_at", "STRING", True),
    ("expires_at", "STRING", True),
    ("revoked_at", "STRING", False),
    ("revoked_by", "STRING", False),
    ("expiry_recorded_at", "STRING", False),
)
_INCIDENT_ROW: _Columns = (
    ("gate", "STRING", True),
    ("date", "STRING", True),
    ("severity", "STRING", False),
    ("peak_severity", "STRING", False),
    ("opened_at", "STRING", True),
    ("updated_at", "STRING", True),
    ("status", "STRING", True),
)
# Besides the incident, each row keeps a version (for compare-and-set) and the random id of
# the write that made it (to tell the worker whose insert won).
_INCIDENTS: _Columns = (*_INCIDENT_ROW, ("version", "INT64", True), ("writer", "STRING", True))
# The lock row: not an incident (no gate has an empty name); see swap_incident.
_LOCK = ""
_ADD_LOCK = (
    "INSERT INTO {incidents} (gate, date, opened_at, updated_at, status, version, writer)"
    " SELECT @lock, @lock, @lock, @lock, @status, 0, @lock"
    " FROM (SELECT 1) WHERE NOT EXISTS (SELECT 1 FROM {incidents} WHERE gate = @lock)"
)
_PENDING: _Columns = (
    ("id", "STRING", True),
    ("sink", "STRING", True),
    ("alert", "STRING", True),
    ("attempts", "INT64", True),
    ("created_at", "STRING", True),
    ("last_error", "STRING", True),
)
_TABLES = {
    "events": ("phaseguard_events", _EVENTS),
    "overrides": ("phaseguard_overrides", _OVERRIDES),
    "incidents": ("phaseguard_incidents", _INCIDENTS),
    "pending": ("phaseguard_pending_alerts", _PENDING),
}


def _names(columns: _Columns) -> str:
    return ", ".join(name for name, _, _ in columns)


class BigQueryStore(EventStore):
    """The event store in a BigQuery dataset; build it with ``open_store``.

    Like the other stores it connects on first use: ``record`` on a store that cannot be
    reached spools the event (after the client's retries give up, within ``timeout``) and
    raises nothing; the methods that must answer raise ``StoreError``.

    Args:
        url: the ``bigquery://`` URL, shown as the store's location.
        project: the Google Cloud project.
        dataset: the dataset that holds the tables.
        spool_dir: where the spool file goes.
        location: the dataset's location (e.g. ``US``), if not the default.
        endpoint: an emulator's REST endpoint; anonymous credentials are used with it.
        timeout: seconds one call may take, retries included.
    """

    def __init__(
        self,
        url: str,
        project: str,
        dataset: str,
        *,
        spool_dir: Path,
        location: str | None = None,
        endpoint: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(spool_dir=spool_dir)
        try:
            import requests
            from google.api_core.exceptions import GoogleAPIError
            from google.auth.exceptions import GoogleAuthError
            from google.cloud import bigquery
        except ImportError as exc:
            raise ConfigError(
                "a bigquery:// event store needs the bigquery extra:"
                " pip install 'phaseguard[bigquery]'",
                key="events",
            ) from exc
        self._bq = bigquery
        self._url = url
        self._project = project
        self._dataset = dataset
        self._bq_location = location
        self._endpoint = endpoint
        self._timeout = timeout
        self._t = {key: f"`{project}.{dataset}.{name}`" for key, (name, _) in _TABLES.items()}
        # Everything a call can fail with: API and auth errors, the transport, a timeout.
        self._errors = (
            GoogleAPIError,
            GoogleAuthError,
            requests.RequestException,
            concurrent.futures.TimeoutError,
            OSError,
        )
        self.fallback_spool_path = user_spool_path(url)
        # The client's default retries keep trying for 10 minutes; a store that is down must
        # fail (and spool) within the timeout instead.
        self._retry = bigquery.DEFAULT_RETRY.with_deadline(timeout)

    @classmethod
    def from_url(cls, url: str, *, spool_dir: Path) -> BigQueryStore:
        """Open ``bigquery://PROJECT/DATASET[?endpoint=..&location=..&timeout=..]``.

        Raises:
            ConfigError: no project or dataset, a bad name, or an unknown option.
        """
        parts = urlsplit(url)
        project, dataset = parts.netloc, parts.path.strip("/")
        if not _PROJECT.fullmatch(project) or not _DATASET.fullmatch(dataset):
            raise ConfigError(
                f"bad BigQuery event store URL {url!r}: expected bigquery://PROJECT/DATASET",
                key="events",
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"location", "endpoint", "timeout"}
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(sorted(unknown))} in {url!r}", key="events"
            )
        try:
            timeout = float(query.get("timeout", 30))
        except ValueError:
            raise ConfigError(f"bad timeout in {url!r}: not a number", key="events") from None
        return cls(
            url,
            project,
            dataset,
            spool_dir=spool_dir,
            location=query.get("location"),
            endpoint=query.get("endpoint"),
            timeout=timeout,
        )

    @property
    def location(self) -> str:
        """Where the store is, fit to print (the URL holds no secret)."""
        return self._url

    # -- connection ------------------------------------------------------------------

    def _connect(self) -> Any:
        with self._lock:
            if self._conn is not None:
                return self._conn
            options: dict[str, Any] = {}
            if self._endpoint:
                from google.api_core.client_options import ClientOptions
                from google.auth.credentials import AnonymousCredentials

                options = {
                    "credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
                    "client_options": ClientOptions(api_endpoint=self._endpoint),
                }
            client = self._bq.Client(project=self._project, location=self._bq_location, **options)
            try:
                self._create_tables(client)
            except BaseException:
                client.close()  # type: ignore[no-untyped-call]
                raise
            self._conn = client
            return client

    def _create_tables(self, client: Any) -> None:
        """Create the dataset and the tables that are missing (API calls, no query jobs)."""
        from google.api_core.exceptions import NotFound

        dataset = f"{self._project}.{self._dataset}"
        try:
            client.get_dataset(dataset, retry=self._retry, timeout=self._timeout)
        except NotFound:
            # exists_ok: another worker may create it at the same moment.
            client.create_dataset(dataset, exists_ok=True, retry=self._retry, timeout=self._timeout)
        found = {t.table_id for t in client.list_tables(dataset, retry=self._retry)}
        for key, (name, columns) in _TABLES.items():
            if name in found:
                continue
            schema = [
                self._bq.SchemaField(column, kind, mode="REQUIRED" if required else "NULLABLE")
                for column, kind, required in columns
            ]
            table = self._bq.Table(f"{dataset}.{name}", schema=schema)
            if key == "events":
                # Day partitions on time, so ``query(since=...)`` reads only recent days.
                table.time_partitioning = self._bq.TimePartitioning(field="time")
                table.clustering_fields = ["kind", "phase"]
            client.create_table(table, exists_ok=True, retry=self._retry, timeout=self._timeout)

    # -- statements ------------------------------------------------------------------

    def _run(self, sql: str, params: dict[str, tuple[str, Any]]) -> tuple[list[Any], int]:
        """Run one statement; its rows and how many rows it changed.

        ``params`` maps each ``@name`` to its BigQuery type and value. A statement refused
        for a concurrent update of the same table is run again (see the module docstring).
        """
        client = self._connect()
        config = self._bq.QueryJobConfig(
            query_parameters=[
                self._bq.ScalarQueryParameter(name, kind, value)
                for name, (kind, value) in params.items()
            ]
        )
        for attempt in range(_CONFLICT_TRIES):
            try:
                job = client.query(sql, job_config=config, retry=self._retry, timeout=self._timeout)
                rows = job.result(retry=self._retry, timeout=self._timeout)
                if job.error_result:  # emulators may report a failure on a finished job
                    from google.api_core.exceptions import BadRequest

                    message = str(job.error_result.get("message", job.error_result))
                    raise BadRequest(message)  # type: ignore[no-untyped-call]
                return [tuple(row.values()) for row in rows], int(job.num_dml_affected_rows or 0)
            except self._errors as exc:
                if "concurrent update" not in str(exc) or attempt == _CONFLICT_TRIES - 1:
                    raise
                # Jittered, so workers that collided do not collide again in step.
                time.sleep(0.2 * 2**attempt * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")  # pragma: no cover

    def _select(self, sql: str, params: dict[str, tuple[str, Any]] | None = None) -> list[Any]:
        try:
            return self._run(sql.format(**self._t), params or {})[0]
        except self._errors as exc:
            raise StoreError(f"cannot read the event store {self.location}: {exc}") from exc

    def _change(self, sql: str, params: dict[str, tuple[str, Any]]) -> int:
        try:
            return self._run(sql.format(**self._t), params)[1]
        except self._errors as exc:
            raise StoreError(f"cannot write the event store {self.location}: {exc}") from exc

    # -- events ----------------------------------------------------------------------

    def _insert_events(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append rows shaped like the spool's (ISO strings) with multi-row INSERTs."""
        size = _MAX_PARAMS // len(_EVENTS)
        for start in range(0, len(rows), size):
            values, params = [], {}
            for i, row in enumerate(rows[start : start + size]):
                names = []
                for (column, kind, _), value in zip(_EVENTS, row, strict=True):
                    name = f"r{i}_{column}"
                    params[name] = (kind, _typed(kind, value))
                    names.append(f"@{name}")
                values.append(f"({', '.join(names)})")
            sql = f"INSERT INTO {self._t['events']} ({_names(_EVENTS)}) VALUES {', '.join(values)}"
            self._run(sql, params)

    def query(
        self,
        since: dt.datetime | None = None,
        kind: str | None = None,
        phase: str | None = None,
        date: dt.date | None = None,
        severity: str | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """The stored events that match every filter given, newest last (see ``EventStore``).

        Raises:
            StoreError: the store cannot be read.
        """
        where = ["TRUE"]
        params: dict[str, tuple[str, Any]] = {}
        for name, kind_, value in (
            ("time", "TIMESTAMP", _typed("TIMESTAMP", iso_utc(since)) if since else None),
            ("kind", "STRING", kind),
            ("phase", "STRING", phase),
            ("date", "DATE", date),
            ("severity", "STRING", severity),
        ):
            if value is not None:
                where.append(f"{name} {'>=' if name == 'time' else '='} @{name}")
                params[name] = (kind_, value)
        # One row per id: an event flushed twice from a spool is stored twice.
        sql = (
            f"SELECT {_names(_EVENTS)} FROM {{events}} WHERE {' AND '.join(where)}"
            " QUALIFY ROW_NUMBER() OVER (PARTITION BY id) = 1 ORDER BY time DESC, id DESC"
        )
        if limit is not None:
            sql += " LIMIT @limit"
            params["limit"] = ("INT64", int(limit))
        return [_row_event(row) for row in reversed(self._select(sql, params))]

    # -- overrides -------------------------------------------------------------------

    def add_override(self, row: OverrideRow) -> bool:
        """Insert an override; False if its id is taken."""
        return (
            self._change(_insert_new("overrides", _OVERRIDES, ("id",)), _params(_OVERRIDES, row))
            == 1
        )

    def overrides(
        self, *, id: str | None = None, gate: str | None = None, date: str | None = None
    ) -> list[OverrideRow]:
        """The overrides matching the filters, oldest first."""
        where = ["TRUE"]
        params: dict[str, tuple[str, Any]] = {}
        for name, value in (("id", id), ("gate", gate), ("date", date)):
            if value is not None:
                where.append(f"{name} = @{name}")
                params[name] = ("STRING", value)
        sql = (
            f"SELECT {_names(_OVERRIDES)} FROM {{overrides}} WHERE {' AND '.join(where)}"
            " ORDER BY created_at, id"
        )
        return [OverrideRow(*row) for row in self._select(sql, params)]

    def revoke_override(self, id: str, by: str, at: str) -> bool:
        """Mark an override revoked; False if unknown or already revoked."""
        sql = (
            "UPDATE {overrides} SET revoked_at = @at, revoked_by = @by"
            " WHERE id = @id AND revoked_at IS NULL"
        )
        params = {"at": ("STRING", at), "by": ("STRING", by), "id": ("STRING", id)}
        return self._change(sql, params) == 1

    def claim_override_expiry(self, id: str, at: str) -> bool:
        """Note that an override's expiry was recorded; True for the one caller that did it."""
        sql = (
            "UPDATE {overrides} SET expiry_recorded_at = @at"
            " WHERE id = @id AND expiry_recorded_at IS NULL AND revoked_at IS NULL"
        )
        return self._change(sql, {"at": ("STRING", at), "id": ("STRING", id)}) == 1

    # -- incidents -------------------------------------------------------------------

    def swap_incident(
        self,
        gate: str,
        date: str,
        update: Callable[[IncidentRow | None], IncidentRow | None],
    ) -> IncidentRow | None:
        """Read, change and write one incident, as one compare-and-set on its version.

        ``update`` gets the stored row (or None) and returns the row to store (or None to
        leave it). If another worker writes the incident between the read and the write,
        the write changes nothing and the whole step runs again, so ``update`` may be
        called more than once and must only compute.

        Returns:
            The row as it was before the write that won.

        Raises:
            StoreError: the store cannot be read or written, or other workers kept changing
                the incident through every try.
        """
        key = {"gate": ("STRING", gate), "date": ("STRING", date), "lock": ("STRING", _LOCK)}
        for _ in range(_CONFLICT_TRIES):
            found = self._select(
                f"SELECT {_names(_INCIDENTS)} FROM {{incidents}}"
                " WHERE (gate = @gate AND date = @date) OR gate = @lock ORDER BY version",
                key,
            )
            rows = [r for r in found if r[0] != _LOCK]
            if len(rows) == len(found):
                self._change(_ADD_LOCK, {"lock": ("STRING", _LOCK), "status": ("STRING", "lock")})
                continue
            before = IncidentRow(*rows[0][: len(_INCIDENT_ROW)]) if rows else None
            after = update(before)
            if after is None:
                return before
            writer = uuid.uuid4().hex
            if rows:
                sets = ", ".join(f"{c} = @{c}" for c, _, _ in _INCIDENT_ROW[2:])
                sql = (
                    f"UPDATE {{incidents}} SET {sets}, version = version + 1, writer = @writer"
                    " WHERE gate = @gate AND date = @date AND version = @old"
                )
                old = ("INT64", rows[0][len(_INCIDENT_ROW)])
                params = {**_params(_INCIDENT_ROW, after), **key, "old": old}
                params["writer"] = ("STRING", writer)
                if self._change(sql, params) == 1:
                    return before
                continue
            # Touching the lock row makes this MERGE a mutating statement, which BigQuery
            # runs one at a time with the others on the table; an insert-only MERGE would
            # run beside a twin, and both would insert.
            sql = _insert_new(
                "incidents",
                _INCIDENTS,
                ("gate", "date"),
                by_source="AND t.gate = @lock THEN UPDATE SET version = t.version + 1",
            )
            params = {**_params(_INCIDENTS, (*after, 1, writer)), "lock": ("STRING", _LOCK)}
            self._change(sql, params)
            stored = self._select(
                "SELECT writer FROM {incidents} WHERE gate = @gate AND date = @date", key
            )
            if [w for (w,) in stored] == [writer]:
                return before
        raise StoreError(
            f"cannot write incident {gate} {date} in the event store {self.location}:"
            f" other workers changed it {_CONFLICT_TRIES} times in a row"
        )

    def incidents(self, *, open_only: bool = True) -> list[IncidentRow]:
        """The incidents (only the open ones by default), oldest first."""
        sql = f"SELECT {_names(_INCIDENT_ROW)} FROM {{incidents}} WHERE gate != @lock"
        params: dict[str, tuple[str, Any]] = {"lock": ("STRING", _LOCK)}
        if open_only:
            sql += " AND status = @status"
            params["status"] = ("STRING", "open")
        return [IncidentRow(*row) for row in self._select(sql + " ORDER BY opened_at", params)]

    # -- pending alerts --------------------------------------------------------------

    def add_pending(self, row: PendingAlert) -> None:
        """Keep an alert to re-send (replacing one with the same id)."""
        sql = _insert_new(
            "pending",
            _PENDING,
            ("id",),
            matched="UPDATE SET attempts = s.attempts, last_error = s.last_error",
        )
        self._change(sql, _params(_PENDING, row))

    def pending(self) -> list[PendingAlert]:
        """The alerts waiting to be re-sent, oldest first."""
        sql = f"SELECT {_names(_PENDING)} FROM {{pending}} ORDER BY created_at, id"
        return [PendingAlert(*row) for row in self._select(sql)]

    def remove_pending(self, id: str) -> bool:
        """Forget a pending alert; True for the one caller that removed it."""
        return self._change("DELETE FROM {pending} WHERE id = @id", {"id": ("STRING", id)}) == 1


def _insert_new(
    table: str, columns: _Columns, key: Sequence[str], *, matched: str = "", by_source: str = ""
) -> str:
    """A MERGE that inserts the row of parameters ``@column`` unless its ``key`` is taken.

    ``matched`` is the action on the row with that key, ``by_source`` the condition and
    action on the other rows, if any.
    """
    names = [name for name, _, _ in columns]
    source = ", ".join(f"@{name} AS {name}" for name in names)
    on = " AND ".join(f"t.{k} = s.{k}" for k in key)
    when = f" WHEN MATCHED THEN {matched}" if matched else ""
    if by_source:
        when += f" WHEN NOT MATCHED BY SOURCE {by_source}"
    return (
        f"MERGE {{{table}}} AS t USING (SELECT {source}) AS s ON {on}{when}"
        f" WHEN NOT MATCHED THEN INSERT ({', '.join(names)})"
        f" VALUES ({', '.join(f's.{name}' for name in names)})"
    )


def _params(columns: _Columns, row: Sequence[Any]) -> dict[str, tuple[str, Any]]:
    return {name: (kind, value) for (name, kind, _), value in zip(columns, row, strict=True)}


def _typed(kind: str, value: Any) -> Any:
    """A spool row's value (ISO strings for times and dates) as the column's type wants it."""
    if value is None:
        return None
    if kind == "TIMESTAMP":
        return dt.datetime.fromisoformat(value)
    if kind == "DATE":
        return dt.date.fromisoformat(value)
    return value


def _row_event(row: Sequence[Any]) -> Event:
    return Event(
        id=row[0],
        time=row[1].astimezone(dt.timezone.utc),
        kind=row[2],
        severity=row[3],
        pipeline=row[4],
        phase=row[5],
        date=row[6],
        message=row[7],
        details=json.loads(row[8]),
        host=row[9],
        pid=int(row[10]),
    )
