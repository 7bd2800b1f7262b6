"""Events: recorded decisions and errors, and their pattern analysis.

An event is one thing phaseguard decided or saw (a gate decision, an override, an alert
delivery, a retry attempt, an error), written to the central store (``store.py``) so that
``phaseguard events`` and ``phaseguard errors`` can read it back. ``group_errors`` groups
error events by signature: the message with numbers, ids and dates normalised.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Event:
    """One recorded decision or error.

    Attributes:
        kind: what happened, e.g. ``gate_blocked``, ``retry_attempt``, ``alert_failed``.
        severity: one of ``info``, ``warning``, ``critical``, ``error``.
        message: one human line.
        pipeline: the pipeline's name from the config.
        phase: the phase concerned, if any.
        date: the partition date concerned, if any.
        details: structured data (JSON-serialisable); secrets never go here.
    """

    kind: str
    severity: str
    message: str
    pipeline: str = ""
    phase: str | None = None
    date: dt.date | None = None
    details: dict[str, Any] = field(default_factory=dict)
    time: dt.datetime = field(default_factory=_now)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class Recorder(Protocol):
    """Anything that can keep an event: the real store, or a list in a test."""

    def record(self, event: Event) -> None:
        """Keep ``event``; must not raise for a store that is down (spool instead)."""


# --- error signatures -------------------------------------------------------------------

# Order matters: quoted strings and uuids first, so their digits are not read as numbers.
_SIGNATURE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"'[^']*'|\"[^\"]*\""), "'<s>'"),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<id>",
    ),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
            r"|\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b"
        ),
        "<date>",
    ),
    (
        re.compile(
            r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"
        ),
        "<id>",
    ),
    (re.compile(r"\s+"), " "),
)
# A number standing alone (not part of a word, a version like 1.2.7 or a path); paths are
# matched first so that their digits stay as written: ``/data/run-12.3.7/x`` is one file.
_NUMBER_OR_PATH = re.compile(
    r"(?P<path>(?<![\w/])(?:~|\.{1,2})?/[^\s'\"]*|\b[\w.\-]*[A-Za-z][\w.\-]*/[^\s'\"]*)"
    r"|(?<![\w.])-?\d+(?:\.\d+)?(?!\d|\.\d)"
)
# Decisions, not errors: an override is a person's choice, recorded loudly but not a fault.
_DECISION_KINDS = frozenset({"gate_overridden"})


def signature(message: str) -> str:
    """The shape of an error message, with the parts that vary between occurrences replaced.

    Numbers become ``<n>``, hex ids and uuids ``<id>``, ISO dates and times ``<date>`` and
    quoted strings ``'<s>'``, so that the same failure on different dates groups together.

    Args:
        message: one error message.

    Returns:
        The normalised message.
    """
    for pattern, placeholder in _SIGNATURE_RULES[:-1]:
        message = pattern.sub(placeholder, message)
    message = _NUMBER_OR_PATH.sub(lambda m: m.group("path") or "<n>", message)
    pattern, placeholder = _SIGNATURE_RULES[-1]
    return pattern.sub(placeholder, message).strip()


def _is_decision(kind: str) -> bool:
    return kind in _DECISION_KINDS or kind.startswith("override_")


@dataclass(frozen=True)
class ErrorGroup:
    """Error events that share one signature.

    Attributes:
        signature: the normalised message (see ``signature``).
        count: how many events.
        first_seen: time of the oldest event.
        last_seen: time of the newest event.
        dates: the partition dates hit, sorted, without repeats.
        phases: the phases hit, sorted, without repeats.
        kinds: the event kinds seen, sorted.
        example: the message of the oldest event, as written.
    """

    signature: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    dates: tuple[dt.date, ...]
    phases: tuple[str, ...]
    kinds: tuple[str, ...]
    example: str


def group_errors(events: Iterable[Event]) -> list[ErrorGroup]:
    """Group the ``error`` and ``critical`` events by signature, largest group first.

    Overrides (``gate_overridden``, ``override_*``) are decisions, not errors: left out.

    Args:
        events: any events; the others are ignored.

    Returns:
        One group per signature, by count descending, then most recent first.
    """
    buckets: dict[str, list[Event]] = {}
    for event in events:
        if event.severity in ("error", "critical") and not _is_decision(event.kind):
            buckets.setdefault(signature(event.message), []).append(event)
    groups = []
    for sig, members in buckets.items():
        members.sort(key=lambda e: e.time)
        groups.append(
            ErrorGroup(
                signature=sig,
                count=len(members),
                first_seen=members[0].time,
                last_seen=members[-1].time,
                dates=tuple(sorted({e.date for e in members if e.date is not None})),
                phases=tuple(sorted({e.phase for e in members if e.phase})),
                kinds=tuple(sorted({e.kind for e in members})),
                example=members[0].message,
            )
        )
    groups.sort(key=lambda g: (-g.count, -g.last_seen.timestamp(), g.signature))
    return groups
