"""Pending alerts: deliveries that failed, kept in the store to be sent again later.

A failed delivery is kept as a ``PendingAlert`` row naming its sink by the sink's name
(``kind:name``, never the URL, so a rotated URL keeps it). A later command claims (removes)
each row before re-sending it, so two runs do not both send it, and keeps it again if it
fails again; one too old, or whose sink is gone, is dropped. The store that keeps them is
``store``; the sending and the background re-sends are ``alerts.Notifier``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .messages import Alert, alert_from_json, alert_to_json
from .records import PendingAlert, iso_utc
from .sinks import AnySink

if TYPE_CHECKING:
    from .store import EventStore


def sink_keys(sinks: Sequence[AnySink]) -> list[str]:
    """How kept alerts name their sink: ``kind:name`` (or ``kind``), never the URL.

    A second unnamed sink of the same kind is ``kind#2``, and so on, in config order.
    """
    keys, seen = [], dict[str, int]()
    for sink in sinks:
        label = sink.label
        seen[label] = seen.get(label, 0) + 1
        keys.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return keys


def kept_row(
    key: str, alert: Alert, attempts: int, error: str | None, now: dt.datetime
) -> PendingAlert:
    """A new pending alert: ``alert`` failed ``attempts`` times on the sink named ``key``."""
    return PendingAlert(
        id=uuid.uuid4().hex,
        sink=key,
        alert=json.dumps(alert_to_json(alert)),
        attempts=attempts,
        created_at=iso_utc(now),
        last_error=error or "",
    )


def kept_again(row: PendingAlert, attempts: int, error: str | None) -> PendingAlert:
    """``row`` after ``attempts`` more failed tries, the last with ``error``."""
    return row._replace(attempts=row.attempts + attempts, last_error=error or "")


@dataclass(frozen=True)
class Claimed:
    """A pending alert taken from the store: to send again, or to drop (``dropped`` says why).

    Attributes:
        row: the row as it was kept.
        alert: the alert it keeps.
        sink: the configured sink it names, or None if there is none any more.
        dropped: why not to send it again, or None to send it.
    """

    row: PendingAlert
    alert: Alert
    sink: AnySink | None
    dropped: str | None


def claim(
    store: EventStore,
    sinks: Mapping[str, AnySink],
    clock: Callable[[], dt.datetime],
    max_age: dt.timedelta,
) -> Iterator[Claimed]:
    """Take the pending alerts out of ``store``, one at a time, each claimed (removed) first.

    A row another run claimed first is skipped. One older than ``max_age`` or whose sink is
    not in ``sinks`` (by its key) comes out ``dropped``.

    Raises:
        StoreError: the store cannot be read or written.
    """
    for row in store.pending():
        if not store.remove_pending(row.id):
            continue
        alert = alert_from_json(json.loads(row.alert))
        sink = sinks.get(row.sink) or sinks.get(_legacy_key(row.sink))
        age = clock() - dt.datetime.fromisoformat(row.created_at)
        dropped = None
        if sink is None or age > max_age:
            dropped = "its sink is no longer configured" if sink is None else "it is too old"
        yield Claimed(row, alert, sink, dropped)


def _legacy_key(key: str) -> str:
    """The name-only key of a row kept by an older phaseguard (``kind:<url digest>``)."""
    head, _, tail = key.rpartition(":")
    return head if head and len(tail) == 12 and all(c in "0123456789abcdef" for c in tail) else key
