"""Overrides: a person's signed, time-limited permission to pass a gate for one date.

An override names the gate and the partition date it opens, who gave it and why, and when
it expires. It lives in the event store beside the events, so every run on every host sees
it, and each step of its life (created, used, expired, revoked) is recorded as an event.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from .errors import UsageError
from .events import Event, Recorder
from .records import OverrideRow, iso_utc
from .store import EventStore

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"([0-9]+)\s*([smhdw])", re.ASCII)
# Ten years, as for a date range: longer would reach past the dates phaseguard handles.
MAX_DURATION_DAYS = 3660


def parse_duration(text: str) -> dt.timedelta:
    """A duration such as ``90s``, ``30m``, ``24h``, ``7d``, ``2w`` or ``1h30m``.

    Raises:
        UsageError: the text is not a positive duration in those units, or it is longer
            than MAX_DURATION_DAYS.
    """
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or _DURATION.sub("", compact).strip():
        raise UsageError(
            f"bad duration {text!r}: use a number and a unit s, m, h, d or w, e.g. 24h or 30m"
        )
    if any(len(n) > 12 for n, _ in parts):
        raise UsageError(f"bad duration {text[:40]!r}: longer than {MAX_DURATION_DAYS} days")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in parts)
    if seconds <= 0:
        raise UsageError(f"bad duration {text!r}: it must be longer than zero")
    if seconds > MAX_DURATION_DAYS * 86400:
        raise UsageError(f"bad duration {text!r}: longer than {MAX_DURATION_DAYS} days")
    return dt.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Override:
    """Permission to pass one gate for one partition date, until it expires or is revoked.

    Attributes:
        id: a short id people can type (8 hex characters).
        gate: the gate it opens.
        date: the partition date it opens the gate for.
        reason: why, in the words of the person who created it.
        by: who created it.
        created_at: when it was created (UTC).
        expires_at: when it stops counting (UTC).
        revoked_at: when it was revoked, if it was.
        revoked_by: who revoked it, if anyone.
    """

    id: str
    gate: str
    date: dt.date
    reason: str
    by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None

    def is_active(self, now: dt.datetime) -> bool:
        """Whether it still counts at ``now``: not revoked and not expired."""
        return self.revoked_at is None and now < self.expires_at


def _from_row(row: OverrideRow) -> Override:
    return Override(
        id=row.id,
        gate=row.gate,
        date=dt.date.fromisoformat(row.date),
        reason=row.reason,
        by=row.created_by,
        created_at=dt.datetime.fromisoformat(row.created_at),
        expires_at=dt.datetime.fromisoformat(row.expires_at),
        revoked_at=dt.datetime.fromisoformat(row.revoked_at) if row.revoked_at else None,
        revoked_by=row.revoked_by,
    )


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Overrides:
    """The overrides kept in the event store, and the events that tell their story.

    Args:
        store: the event store that keeps them.
        recorder: where ``override_*`` events go; default the store.
        clock: the current time, aware UTC (injected in tests).
        pipeline: the pipeline named in events.
    """

    def __init__(
        self,
        store: EventStore,
        recorder: Recorder | None = None,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
        pipeline: str = "",
    ) -> None:
        self._store = store
        self._recorder: Recorder = recorder if recorder is not None else store
        self._clock = clock
        self._pipeline = pipeline

    def create(
        self, gate: str, date: dt.date, reason: str, by: str, expires: dt.timedelta
    ) -> Override:
        """Create an override of ``gate`` for ``date`` that lasts ``expires`` from now.

        Raises:
            UsageError: empty gate, reason or author, or a duration that is not positive.
            StoreError: the store cannot be written.
        """
        for name, value in (("gate", gate), ("reason", reason), ("by", by)):
            if not value.strip():
                raise UsageError(f"an override needs a non-empty {name}")
        if expires <= dt.timedelta(0):
            raise UsageError(f"an override must last longer than zero, not {expires}")
        now = self._clock()
        while True:
            override = Override(
                secrets.token_hex(4), gate, date, reason.strip(), by.strip(), now, now + expires
            )
            row = OverrideRow(
                override.id,
                gate,
                date.isoformat(),
                override.reason,
                override.by,
                iso_utc(now),
                iso_utc(override.expires_at),
            )
            # 8 hex characters collide rarely; when they do, draw again.
            if self._store.add_override(row):
                break
        self._event(
            "override_created",
            override,
            f"override {override.id} of {gate} for {date} by {override.by} "
            f"until {override.expires_at:%Y-%m-%d %H:%M} UTC: {override.reason}",
        )
        return override

    def get(self, id: str) -> Override:
        """The override with this id.

        Raises:
            UsageError: no override has this id.
        """
        rows = self._store.overrides(id=id.strip())
        if not rows:
            raise UsageError(f"no override with id {id!r}")
        return _from_row(rows[0])

    def active(self, gate: str, date: dt.date) -> Override | None:
        """The newest override of ``gate`` for ``date`` that still counts, if any."""
        now = self._clock()
        found = [_from_row(row) for row in self._store.overrides(gate=gate, date=date.isoformat())]
        live = [o for o in found if o.is_active(now)]
        return live[-1] if live else None

    def use(self, override: Override) -> None:
        """Record that a gate let a date pass because of ``override``."""
        self._event(
            "override_used",
            override,
            f"gate {override.gate} passed {override.date} on override {override.id} "
            f"by {override.by}: {override.reason}",
        )

    def revoke(self, id: str, by: str) -> Override:
        """Revoke an override so it no longer counts.

        Raises:
            UsageError: unknown id, empty ``by``, or already revoked.
        """
        if not by.strip():
            raise UsageError("revoking an override needs a non-empty by")
        override = self.get(id)
        if not self._store.revoke_override(override.id, by.strip(), iso_utc(self._clock())):
            current = self.get(id)
            raise UsageError(
                f"override {override.id} was already revoked by {current.revoked_by} "
                f"at {current.revoked_at}"
            )
        revoked = self.get(id)
        self._event("override_revoked", revoked, f"override {revoked.id} revoked by {by}")
        return revoked

    def list(self, include_inactive: bool = False) -> builtins.list[Override]:
        """The overrides, oldest first: only those that still count, unless asked for all."""
        now = self._clock()
        found = [_from_row(row) for row in self._store.overrides()]
        return found if include_inactive else [o for o in found if o.is_active(now)]

    def expire_due(self) -> builtins.list[Override]:
        """Record ``override_expired`` once for each override whose time is up.

        Safe to call from every run on every host: the store lets only one caller claim each
        expiry. Revoked overrides do not expire (their revocation was already recorded).

        Returns:
            The overrides this call recorded as expired.
        """
        now = self._clock()
        expired = []
        for row in self._store.overrides():
            override = _from_row(row)
            if row.expiry_recorded_at is not None or override.revoked_at is not None:
                continue
            if now < override.expires_at:
                continue
            if self._store.claim_override_expiry(override.id, iso_utc(now)):
                self._event(
                    "override_expired",
                    override,
                    f"override {override.id} of {override.gate} for {override.date} expired",
                )
                expired.append(override)
        return expired

    def _event(self, kind: str, override: Override, message: str) -> None:
        details = {
            "id": override.id,
            "gate": override.gate,
            "reason": override.reason,
            "by": override.by,
            "expires_at": iso_utc(override.expires_at),
        }
        if override.revoked_by is not None:
            details["revoked_by"] = override.revoked_by
        self._recorder.record(
            Event(kind, "warning", message, self._pipeline, date=override.date, details=details)
        )
