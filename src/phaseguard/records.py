"""The rows the event store keeps, whatever the backend: overrides, incidents, pending
alerts, and events as a row of plain values.

``store`` (SQLite, PostgreSQL) and ``store_bigquery`` keep these; ``overrides`` and
``alerts`` work on them. Times are ISO UTC strings, so rows sort and compare as text.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from .events import Event
from .redact import clean, redact


class OverrideRow(NamedTuple):
    """An override as stored: times are ISO UTC strings, ``date`` an ISO date."""

    id: str
    gate: str
    date: str
    reason: str
    created_by: str
    created_at: str
    expires_at: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    expiry_recorded_at: str | None = None


class IncidentRow(NamedTuple):
    """An incident (one gate, one date) as stored; ``status`` is ``open`` or ``resolved``."""

    gate: str
    date: str
    severity: str | None
    peak_severity: str | None
    opened_at: str
    updated_at: str
    status: str


class PendingAlert(NamedTuple):
    """An alert whose delivery failed, kept to be sent again; ``alert`` is its JSON."""

    id: str
    sink: str
    alert: str
    attempts: int
    created_at: str
    last_error: str


def iso_utc(moment: dt.datetime) -> str:
    """``moment`` as a sortable ISO string in UTC (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def event_row(event: Event) -> tuple[Any, ...]:
    """``event`` as the row of the events table (details as JSON, times ISO UTC).

    URL credentials are masked and control characters stripped here, so no event anywhere
    (store, spool) keeps a password or a terminal escape.
    """
    return (
        event.id,
        iso_utc(event.time),
        event.kind,
        event.severity,
        event.pipeline,
        event.phase,
        event.date.isoformat() if event.date else None,
        redact(clean(event.message, newlines=True)),
        redact(json.dumps(event.details, default=str, sort_keys=True)),
        event.host,
        event.pid,
    )


def row_event(row: Sequence[Any]) -> Event:
    """The event a row of the events table holds."""
    return Event(
        id=row[0],
        time=dt.datetime.fromisoformat(row[1]),
        kind=row[2],
        severity=row[3],
        pipeline=row[4],
        phase=row[5],
        date=dt.date.fromisoformat(row[6]) if row[6] else None,
        message=row[7],
        details=json.loads(row[8]),
        host=row[9],
        pid=int(row[10]),
    )
