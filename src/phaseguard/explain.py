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
from typing import TYPE_CHECKING, Any

from .config import Config
from .errors import PhaseguardError
from .eventlog import _attach, _findings, _latest_run
from .events import Event
from .explanation import (
    BROKEN_STATES,
    Explanation,
    Node,
    Note,
    chain_text,
    detail_text,
    to_dict,
)
from .verdicts import NA, PASS, DateVerdict, RangeVerdict, Verdict

if TYPE_CHECKING:
    from .guard import Guard

# The details that list tables (a quorum's missing processors, rows_exist's empty tables);
# other details (missing units, offending values) never name a table, even by chance.
_TABLE_DETAILS = ("missing", "missing_required", "empty", "table", "tables")
EVENTS_LIMIT = 5000  # events about one date; a season of retries stays far below


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


# The Explanation and its texts live in explanation.py; callers outside the package import
# the texts from here too.
__all__ = ["chain_text", "detail_text", "explain", "gather", "to_dict"]
