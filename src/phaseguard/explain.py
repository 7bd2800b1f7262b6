"""Explaining a date: from each broken phase down its upstream to the root cause.

Pure: ``explain`` takes the config, one date's verdicts (``Guard.verify``: the one query)
and the events recorded about that date, and returns an :class:`Explanation`, which the
CLI draws, ``--format json`` prints (:func:`to_dict`), the dashboard answers and the report
shows for every date with a red cell. Nothing here reads the warehouse or the event store;
:func:`gather` asks the Guard for both, the one path every consumer takes.

A phase is **broken** on a date when its verdict is below PASS, or when its latest run,
as the event log tells it, failed, was blocked by its gate, or left its checks FAIL. Its
**causes** are the broken phases among its direct upstream (``depends_on`` and its gate's
``upstream``); a broken phase whose upstream all hold is a **root cause**. Each phase
carries its evidence: the checks below PASS with whatever ``details()`` they name (missing
units, empty tables, offending values) and the events of its latest run, retries grouped
by error (``bdl.games ServerError: Service Unavailable × 5``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import Config
from .errors import PhaseguardError
from .events import Event
from .verdicts import (
    NA,
    PASS,
    DateVerdict,
    Level,
    Overall,
    RangeVerdict,
    Verdict,
    verdict_to_dict,
)

if TYPE_CHECKING:
    from .guard import Guard

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
BROKEN_STATES = ("failed", "blocked", "unhealthy")
MAX_EVENTS = 8  # per phase, beside the retry groups
SHOWN = 5  # list items a text line shows; JSON carries them all
# The details that list tables (a quorum's missing processors, rows_exist's empty tables);
# other details (missing units, offending values) never name a table, even by chance.
_TABLE_DETAILS = ("missing", "missing_required", "empty", "table", "tables")
EVENTS_LIMIT = 5000  # events about one date; a season of retries stays far below


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


def explain(
    config: Config,
    day: DateVerdict,
    events: Iterable[Event] = (),
    *,
    events_error: str | None = None,
) -> Explanation:
    """Explain one date from its verdicts and the events recorded about it.

    Args:
        config: the pipeline config (the dependency graph, the tables of each phase).
        day: the date's verdicts, as ``verify`` judged them.
        events: events about the date (others are ignored), in any order.
        events_error: why the event log could not be read; the verdicts still explain.
    """
    mine = sorted((e for e in events if e.date == day.date), key=lambda e: (e.time, e.id))
    phases = _upstream_first(config)
    by_phase, loose = _attach(config, mine)
    levels = {p.phase: p for p in day.phases}
    built: dict[str, Node] = {}
    broken: set[str] = set()
    for name in phases:
        verdict = levels.get(name)
        level = verdict.level if verdict is not None else NA
        state, state_time, window = _latest_run(by_phase.get(name, []))
        if not (level.rank < PASS.rank or state in BROKEN_STATES):
            continue
        failing = verdict.failing if verdict is not None else ()
        broken.add(name)
        built[name] = Node(
            phase=name,
            level=level,
            state=state,
            state_time=state_time,
            checks=failing,
            tables=_tables_read(config, name, failing),
            findings=_findings(window),
            causes=tuple(built[up] for up in _direct_upstream(config, name) if up in broken),
        )
    below: set[str] = {c.phase for n in built.values() for c in n.causes}
    heads = tuple(built[name] for name in phases if name in built and name not in below)
    roots = tuple(n for n in built.values() if n.root)
    notes = tuple(
        Note(p.phase, v, _tables_read(config, p.phase, (v,)))
        for p in day.phases
        if p.phase not in built
        for v in p.verdicts
        if v.level is PASS and (v.graded or _names_something(v))
    )
    return Explanation(
        date=day.date,
        overall=day.overall,
        health=day.health,
        scheduled=day.scheduled,
        heads=heads,
        roots=roots,
        notes=notes,
        findings=_findings(loose),
        events_error=events_error,
    )


def gather(guard: Guard, day: dt.date) -> tuple[RangeVerdict, list[Event], str | None]:
    """What explaining ``day`` reads, through the Guard: verify's verdicts (the one warehouse
    query) and the events about the date, or, when the event log cannot be read, why."""
    result = guard.verify(day)
    try:
        return result, guard.store.query(date=day, limit=EVENTS_LIMIT), None
    except PhaseguardError as exc:
        return result, [], exc.message


def _upstream_first(config: Config) -> list[str]:
    """The phases, each after its upstream phases, else in config order.

    A gate's ``upstream`` may point downstream (the config refuses cycles of ``depends_on``
    only): the walk stops there, so a phase never waits on itself.
    """
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name not in order and name not in visiting:
            visiting.add(name)
            for up in _direct_upstream(config, name):
                visit(up)
            order.append(name)

    for phase in config.phases:
        visit(phase.name)
    return order


def _direct_upstream(config: Config, phase: str) -> list[str]:
    """The phases ``phase`` reads directly: its ``depends_on`` and its gate's ``upstream``,
    those the config holds (a report of a selection narrows the config to its phases)."""
    known = {p.name for p in config.phases}
    ups = list(config.phase(phase).depends_on)
    for gate in config.gates:
        if gate.phase == phase and gate.upstream:
            ups += gate.upstream
    return [up for up in dict.fromkeys(ups) if up in known]


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


def _tables_read(config: Config, phase: str, verdicts: Sequence[Verdict]) -> tuple[str, ...]:
    """The table keys that ``verdicts`` of ``phase`` are about.

    First the tables a verdict's ``details()`` lists (a quorum's missing processors, the
    empty tables of ``rows_exist``), else the tables its check's config fields name
    (``table``, ``tables``, ``any_of``, a ratio's sides, a nested ``{table: ...}``), else
    the phase's own: found generically, so a new check kind needs nothing here.
    """
    keys = {t.name for p in config.phases for t in p.tables}
    checks = {_check_name(c): c for c in config.phase(phase).checks}
    found: list[str] = []
    for verdict in verdicts:
        named = [
            k
            for key, value in verdict.details.items()
            if key in _TABLE_DETAILS
            for k in _strings(value)
            if k in keys
        ]
        if not named and verdict.check in checks:
            named = [k for k in _table_fields(checks[verdict.check].model_dump()) if k in keys]
        found += named or [t.name for t in config.phase(phase).tables]
    return tuple(dict.fromkeys(found))


def _check_name(check: Any) -> str:
    from .checks import check_name

    return check_name(check)


def _strings(value: Any) -> Iterable[str]:
    """Every string in a detail's value (a list, a mapping's values, nested)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


# The fields of a check that name tables, at any depth (a relationship's ``to: {table}``).
_TABLE_FIELDS = ("table", "tables", "any_of", "numerator", "denominator", "values_from", "to")
_SIDES = ("left", "right")


def _table_fields(value: Any) -> Iterable[str]:
    """The strings under a check's table-naming fields, not its columns, values or SQL."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in _TABLE_FIELDS and not isinstance(item, Mapping):
                yield from _strings(item)
            elif key in _TABLE_FIELDS or key in _SIDES:
                yield from _table_fields(item)


def _names_something(verdict: Verdict) -> bool:
    """A PASS whose details still name something (missing tables, missing units)."""
    return any(bool(v) for k, v in verdict.details.items() if k != "present")


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
    "explain",
    "gather",
    "node_to_dict",
    "to_dict",
]
