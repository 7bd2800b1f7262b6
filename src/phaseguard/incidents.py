"""Incidents: a gate and a date whose state went bad, changed or recovered, said once each.

An incident is one gate (or step) and one date. Each check of its state is folded into the
stored row (``next_row``: opened, its severity and the highest it reached, resolved), and
only a transition deserves an alert (``transition``), so a blocked date that stays blocked
is announced once, not on every run. Pure: the store's transaction and the sending are
``alerts.Notifier.track``.
"""

from __future__ import annotations

import datetime as dt

from .messages import Severity, Status
from .records import IncidentRow

RANK = {"info": 0, "warning": 1, "critical": 2}
"""Severities in order: a sink hears an alert at or above its ``min_severity``."""


def incident_transition(before: str | None, now: str | None) -> Status | None:
    """Which alert a new check of an incident deserves, if any.

    Args:
        before: the severity of the open incident, or None if there is none.
        now: the severity the check found, or None if healthy.

    Returns:
        ``opened``, ``changed``, ``resolved`` or None (nothing new to say).
    """
    if before is None:
        return None if now is None else "opened"
    if now is None:
        return "resolved"
    return "changed" if now != before else None


def date_key(date: dt.date | None) -> str:
    """How the store names an incident's date: ISO, or empty for a gate-wide incident."""
    return date.isoformat() if date else ""


def next_row(
    row: IncidentRow | None, gate: str, date: str, severity: Severity | None, now: str
) -> IncidentRow | None:
    """The incident as it is after a check found ``severity`` (None: healthy) at ``now``.

    Returns:
        The row to store, or None to leave the stored one as it is.
    """
    is_open = row is not None and row.status == "open"
    if severity is None:
        if row is None or not is_open:
            return None
        return row._replace(updated_at=now, status="resolved")
    if row is None or not is_open:
        return IncidentRow(gate, date, severity, severity, now, now, "open")
    peak = max(severity, row.peak_severity or severity, key=RANK.__getitem__)
    return row._replace(severity=severity, peak_severity=peak, updated_at=now)


def transition(
    before: IncidentRow | None, severity: Severity | None
) -> tuple[Status, Severity] | None:
    """The alert a check deserves given the incident as it was: its status and severity.

    A ``resolved`` alert carries the highest severity the incident reached, so the
    all-clear goes to every sink that heard about it.

    Returns:
        ``(status, severity)``, or None if nothing changed.
    """
    open_before = before if before is not None and before.status == "open" else None
    status = incident_transition(open_before.severity if open_before else None, severity)
    if status is None:
        return None
    if status == "resolved":
        assert open_before is not None
        return status, _severity(open_before.peak_severity or open_before.severity)
    assert severity is not None
    return status, severity


def _severity(name: str | None) -> Severity:
    if name == "info":
        return "info"
    if name == "warning":
        return "warning"
    return "critical"
