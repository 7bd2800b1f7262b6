"""What the event log says about a date: each event's phase, each phase's latest run, and
that run's events as findings.

An event belongs to the phase it names, else to the gate or the table its details name;
alerts are left out (an alert tells of a cause, it is none). A phase's latest run is what
happened since the run before it ended; its retries are grouped by call and error
(``bdl.games ServerError: Service Unavailable × 5``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .config import Config
from .events import Event
from .explanation import Finding

# The events that end a phase's run for a date (``Runner``), and the gate decisions.
_RUN_ENDS = {
    "phase_ran": "ran",
    "phase_failed": "failed",
    "phase_unhealthy": "unhealthy",
    "gate_blocked": "blocked",
}
_GATE_OPEN = {"gate_open": "open", "gate_warned": "warned", "gate_overridden": "overridden"}
_RETRY_KINDS = ("retry_attempt", "retry_exhausted", "retry_gave_up", "retry_budget_exceeded")
# A retried step whose inner call ran out of attempts says so once more; the inner
# call's attempts already tell it.
_WRAPPED_ERRORS = ("RetryExhausted", "RetryBudgetExceeded")
MAX_EVENTS = 8  # per phase, beside the retry groups


def _attach(config: Config, events: Sequence[Event]) -> tuple[dict[str, list[Event]], list[Event]]:
    """Each event to the phase it is about: its ``phase``, else the gate or the table its
    details name (an override names its gate; a scraper's event its table)."""
    phases = {p.name for p in config.phases}
    owner = {t.table: p.name for p in config.phases for t in p.tables}
    owner.update({t.name: p.name for p in config.phases for t in p.tables})
    by_phase: dict[str, list[Event]] = {}
    loose: list[Event] = []
    for event in events:
        if event.kind.startswith("alert_"):
            continue  # an alert tells of a cause, it is none
        name = event.phase
        if name not in phases:
            gate, table = event.details.get("gate"), event.details.get("table")
            name = (
                gate
                if isinstance(gate, str) and gate in phases
                else owner.get(table)
                if isinstance(table, str)
                else None
            )
        if name is None:
            loose.append(event)
        else:
            by_phase.setdefault(name, []).append(event)
    return by_phase, loose


def _latest_run(events: Sequence[Event]) -> tuple[str | None, dt.datetime | None, list[Event]]:
    """How the phase's latest run ended, when, and that run's events.

    The run is what happened since the run before it ended: retries, fallbacks and the
    gate's decision belong to the run they precede.
    """
    marks = [i for i, e in enumerate(events) if e.kind in _RUN_ENDS or e.kind in _GATE_OPEN]
    if not marks:
        return None, None, list(events)
    last = pivot = marks[-1]
    if events[last].kind == "phase_unhealthy":  # judged after the step of the same run
        pivot = max((i for i in range(last) if events[i].kind == "phase_ran"), default=last)
    ends_before = [i for i in range(pivot) if events[i].kind in _RUN_ENDS]
    start = ends_before[-1] + 1 if ends_before else 0
    event = events[last]
    state = _RUN_ENDS.get(event.kind) or _GATE_OPEN[event.kind]
    return state, event.time, list(events[start:])


def _findings(events: Sequence[Event]) -> tuple[Finding, ...]:
    """The events of a run as findings: retries grouped by call and error, the rest as they
    are (the newest ``MAX_EVENTS``), in time order."""
    groups: dict[tuple[str, str, str], list[Event]] = {}
    single: list[Event] = []
    for event in events:
        if event.kind in _RETRY_KINDS:
            d = event.details
            if event.kind == "retry_gave_up" and d.get("error_class") in _WRAPPED_ERRORS:
                continue
            key = (
                str(d.get("function", "")),
                str(d.get("error_class", "")),
                str(d.get("error", "")),
            )
            groups.setdefault(key, []).append(event)
        elif event.kind not in ("phase_ran", "gate_open"):
            single.append(event)
    out = [
        Finding(e.kind, e.severity, e.time, e.message, 1, dict(e.details))
        for e in single[-MAX_EVENTS:]
    ]
    for (function, error_class, error), members in groups.items():
        attempts = sum(1 for e in members if e.kind in ("retry_attempt", "retry_exhausted"))
        count = attempts or len(members)
        worst = "error" if any(e.severity in ("error", "critical") for e in members) else "warning"
        what = f"{error_class}: {error}" if error_class else error
        final = [e.kind for e in members if e.kind != "retry_attempt"]
        ending = f", {final[-1].replace('_', ' ')}" if final else ""
        text = f"{function or 'call'} {what} × {count}{ending}"
        details = {"function": function, "error_class": error_class, "error": error}
        out.append(Finding("retries", worst, members[-1].time, text, count, details))
    return tuple(sorted(out, key=lambda f: f.time))
