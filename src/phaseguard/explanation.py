"""An explanation of a date: its broken phases as chains down to their root causes.

:class:`Explanation` holds them as :class:`Node` trees, each phase with its evidence (its
checks below PASS, the :class:`Finding` of its latest run), and :class:`Note` for a check at
PASS that still names something missing. :func:`to_dict` is its JSON shape (``phaseguard
explain --format json``, the dashboard); :func:`chain_text` and :func:`detail_text` are its
one-line texts (the CLI, the report). :func:`phaseguard.explain.explain` builds it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .verdicts import NA, Level, Overall, Verdict, verdict_to_dict

BROKEN_STATES = ("failed", "blocked", "unhealthy")
SHOWN = 5  # list items a text line shows; JSON carries them all


@dataclass(frozen=True)
class Finding:
    """What the event log says about a phase's latest run: one event, or a retry group.

    Attributes:
        kind: the event kind (``phase_failed``, ``gate_blocked``, ``retries``, ...).
        severity: the event's severity (a retry group: its worst).
        time: when it happened (a retry group: its last attempt).
        text: one human line.
        count: how many events it stands for (a retry group: its attempts).
        details: the event's details (a retry group: function, error class, error).
    """

    kind: str
    severity: str
    time: dt.datetime
    text: str
    count: int = 1
    details: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "time": self.time.isoformat(),
            "text": self.text,
            "count": self.count,
            "details": dict(self.details or {}),
        }


@dataclass(frozen=True)
class Node:
    """One broken phase of a date, its evidence, and the broken phases it depends on.

    Attributes:
        phase: the phase's name.
        level: its verdict (N/A when the date has none for it).
        state: its latest run as the event log tells it (``ran``, ``failed``, ``blocked``,
            ``unhealthy``, ``open``, ``warned``, ``overridden``), or None if none was recorded.
        state_time: when that was recorded.
        checks: its verdicts below PASS.
        tables: the table keys those checks read (the phase's tables if they name none).
        findings: the events of its latest run.
        causes: the broken phases among its direct upstream; empty for a root cause.
    """

    phase: str
    level: Level
    state: str | None
    state_time: dt.datetime | None
    checks: tuple[Verdict, ...]
    tables: tuple[str, ...]
    findings: tuple[Finding, ...]
    causes: tuple[Node, ...]

    @property
    def root(self) -> bool:
        """Whether every upstream phase holds: the cause is here."""
        return not self.causes

    @property
    def status(self) -> str:
        """The level, and how its run ended when that is what breaks it: ``PASS, blocked``."""
        if self.state in BROKEN_STATES:
            label = f"{self.state} {self.state_time:%H:%M}" if self.state_time else str(self.state)
            return label if self.level is NA else f"{self.level.value}, {label}"
        return str(self.level.value)

    @property
    def cause(self) -> str:
        """Why this phase is broken, in one line: its worst checks' evidence and its events
        (its warnings too stay in ``checks``)."""
        worst = [v for v in self.checks if v.level is self.level] or list(self.checks)
        parts = [f"{v.check}: {v.observed}" for v in worst]
        # A step left unhealthy says again what its checks say.
        told = ("phase_unhealthy",) if worst else ()
        parts += [
            f.text
            for f in self.findings
            if (f.kind == "retries" or f.severity != "info") and f.kind not in told
        ]
        return "; ".join(dict.fromkeys(parts)) or f"{self.phase} {self.status}"


@dataclass(frozen=True)
class Note:
    """A check at PASS, below its best: it names something missing (4 of 5 processors),
    or it has an EXCELLENT tier it did not reach (82 % graded)."""

    phase: str
    verdict: Verdict
    tables: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    """Why a date is what it is: the broken phases as chains down to their root causes.

    Attributes:
        date: the partition date.
        overall: the date's verdict (verify's).
        health: its health score.
        scheduled: the units scheduled on it.
        heads: the broken phases that no broken phase depends on (where chains start).
        roots: the root causes, in config order.
        notes: PASS checks that still name something missing.
        findings: events about the date that no phase claims.
        events_error: why the event log could not be read, if it could not.
    """

    date: dt.date
    overall: Overall
    health: float | None
    scheduled: int
    heads: tuple[Node, ...]
    roots: tuple[Node, ...]
    notes: tuple[Note, ...]
    findings: tuple[Finding, ...]
    events_error: str | None = None

    @property
    def chains(self) -> list[tuple[Node, ...]]:
        """Every path from a head down to a root cause, heads in config order."""
        paths: list[tuple[Node, ...]] = []

        def walk(node: Node, path: tuple[Node, ...]) -> None:
            path = (*path, node)
            if node.root:
                paths.append(path)
            for cause in node.causes:
                walk(cause, path)

        for head in self.heads:
            walk(head, ())
        return paths

    @property
    def nodes(self) -> list[Node]:
        """Each broken phase once, as the chains meet them (downstream first)."""
        seen: dict[str, Node] = {}

        def walk(node: Node) -> None:
            seen.setdefault(node.phase, node)
            for cause in node.causes:
                walk(cause)

        for head in self.heads:
            walk(head)
        return list(seen.values())

    @property
    def headline(self) -> str:
        """One line: the date's verdict and its root causes."""
        verdict = f"{self.date} {self.overall.value}"
        if self.health is not None:
            verdict += f" (health {self.health:g})"
        if not self.roots:
            if self.overall is Overall.NA:
                return f"{verdict}: nothing scheduled"
            return f"{verdict}: every phase holds"
        causes = "; ".join(f"{r.phase} {r.status}: {r.cause}" for r in self.roots)
        return f"{verdict}: root cause {causes}"


def chain_text(chain: Sequence[Node]) -> str:
    """A chain as one line, downstream first: ``phase6 FAIL ← phase5 FAIL ← phase4 FAIL``."""
    return " ← ".join(f"{n.phase} {n.status}" for n in chain)


# --- JSON -------------------------------------------------------------------------------


def node_to_dict(node: Node) -> dict[str, object]:
    """One broken phase as JSON-ready data."""
    return {
        "phase": node.phase,
        "status": node.level.value,
        "state": node.state,
        "state_time": node.state_time.isoformat() if node.state_time else None,
        "root": node.root,
        "upstream": [c.phase for c in node.causes],
        "cause": node.cause,
        "tables": list(node.tables),
        "checks": [verdict_to_dict(v) for v in node.checks],
        "events": [f.to_dict() for f in node.findings],
    }


def to_dict(explanation: Explanation, exit_code: int | None = None) -> dict[str, object]:
    """The JSON shape of ``phaseguard explain --format json``."""
    out: dict[str, object] = {
        "date": explanation.date.isoformat(),
        "overall": explanation.overall.value,
        "health": explanation.health,
        "scheduled": explanation.scheduled,
        "headline": explanation.headline,
        "root_causes": [node_to_dict(r) for r in explanation.roots],
        "chains": [[n.phase for n in chain] for chain in explanation.chains],
        "chain_text": [chain_text(chain) for chain in explanation.chains],
        "phases": {n.phase: node_to_dict(n) for n in explanation.nodes},
        "notes": [
            {"phase": n.phase, **verdict_to_dict(n.verdict), "tables": list(n.tables)}
            for n in explanation.notes
        ],
        "events": [f.to_dict() for f in explanation.findings],
        "events_error": explanation.events_error,
    }
    if exit_code is not None:
        out["exit_code"] = exit_code
    return out


def shorten(items: Sequence[object], shown: int = SHOWN) -> str:
    """A list for one line: the first ``shown`` items and how many more."""
    head = ", ".join(str(i) for i in items[:shown])
    return head + (f" and {len(items) - shown} more" if len(items) > shown else "")


def detail_text(details: Mapping[str, object]) -> str:
    """A check's ``details()`` as one line, whatever its keys: ``missing: a, b and 3 more``."""
    parts = []
    for key, value in details.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list | tuple):
            parts.append(f"{key}: {shorten(list(value))}")
        elif isinstance(value, Mapping):
            pairs = [f"{k}={v}" for k, v in value.items()]
            parts.append(f"{key}: {shorten(pairs)}")
        else:
            parts.append(f"{key}: {value}")
    return "; ".join(parts)


__all__ = [
    "Explanation",
    "Finding",
    "Node",
    "Note",
    "chain_text",
    "detail_text",
    "node_to_dict",
    "to_dict",
]
