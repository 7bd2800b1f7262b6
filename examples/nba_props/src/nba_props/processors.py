"""The example pipeline's processors (phases 3 to 6), their registry and the phase steps.

Every processor is a function ``(date, warehouse) -> rows written`` that replaces one
date's partition of one table with one SELECT (see :mod:`~nba_props.analytics`,
:mod:`~nba_props.precompute`, :mod:`~nba_props.predict`), so it is idempotent
per date: re-running a date replaces its rows, never duplicates them. They run the same on
DuckDB and PostgreSQL.

A config calls a whole phase as one step, ``call: nba_props.processors:phase4``; the
runner calls it as ``fn(date, ctx)`` with ``ctx.warehouse`` an open warehouse. A step runs
all of its processors even when one fails, then raises :class:`ProcessorsFailed` naming the
failed ones: the step is marked failed while the rows of the others stay, as in the real
pipeline where one crashed processor leaves the rest of phase 4 in place.

Faults for the benchmarks: a processor (a :data:`PROCESSORS` name) or a prediction system
(a :data:`~nba_props.schema.SYSTEMS` name) crashes on chosen dates, named in the
environment variable ``PHASEGUARD_NBA_CRASH`` (``"PSZA:2026-01-05,PDC:2026-02-10"``) or set
with :func:`set_crash_dates`. A crashing processor raises ``RuntimeError`` before writing
(rows it wrote for that date on an earlier run stay); a crashing system is left out of the
predictions, written without it, and then the predictions processor raises.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from phaseguard.errors import UsageError
from phaseguard.warehouse import Warehouse

from . import analytics, precompute, predict
from .schema import REFERENCE, SCHEMA, SYSTEMS, TEAM_ROWS, TEAMS_TABLE

__all__ = [
    "CRASH_ENV",
    "PHASES",
    "PROCESSORS",
    "STEPS",
    "Processor",
    "ProcessorsFailed",
    "StepContext",
    "crash_dates",
    "ensure_schema",
    "phase3",
    "phase4",
    "phase5",
    "phase6",
    "run_phase",
    "set_crash_dates",
]

Processor = Callable[[dt.date, Warehouse], int]
"""One processor: writes one table's partition for a date, returns the rows written."""

CRASH_ENV = "PHASEGUARD_NBA_CRASH"


class StepContext(Protocol):
    """What a phase step needs from the runner: an open warehouse."""

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse the step writes to."""
        ...


class ProcessorsFailed(RuntimeError):
    """Some processors of a phase step failed; the others' rows were written.

    Attributes:
        phase: The phase step's name.
        date: The date it ran for.
        failures: Processor name -> the error it raised, in run order.
        rows: Processor name -> rows written, for those that succeeded.
    """

    def __init__(
        self,
        phase: str,
        date: dt.date,
        failures: dict[str, Exception],
        rows: dict[str, int],
    ) -> None:
        self.phase = phase
        self.date = date
        self.failures = failures
        self.rows = rows
        total = len(failures) + len(rows)
        named = "; ".join(f"{name}: {error}" for name, error in failures.items())
        super().__init__(f"{phase} {date}: {len(failures)} of {total} processors failed ({named})")


# --- fault injection ------------------------------------------------------------------------

_hooked: dict[str, frozenset[dt.date]] = {}


def set_crash_dates(spec: Mapping[str, Iterable[dt.date]] | None) -> None:
    """Make processors or prediction systems crash on dates (``None`` or ``{}`` clears).

    Replaces any earlier call; the environment variable :data:`CRASH_ENV` adds to it.

    Raises:
        UsageError: A name that is neither a processor nor a prediction system.
    """
    global _hooked
    hooked = {name: frozenset(days) for name, days in (spec or {}).items()}
    for name in hooked:
        _check_name(name, "set_crash_dates")
    _hooked = hooked


def crash_dates() -> dict[str, frozenset[dt.date]]:
    """Every injected crash: name -> dates, from :func:`set_crash_dates` and the environment.

    The environment is read on each call, so a change takes effect on the next processor.

    Raises:
        UsageError: :data:`CRASH_ENV` is malformed or names an unknown processor.
    """
    merged = {name: set(days) for name, days in _hooked.items()}
    for item in os.environ.get(CRASH_ENV, "").split(","):
        if not item.strip():
            continue
        name, _, day = item.strip().rpartition(":")
        try:
            parsed = dt.date.fromisoformat(day)
        except ValueError:
            raise UsageError(
                f"{CRASH_ENV}: {item.strip()!r} is not NAME:YYYY-MM-DD "
                "(for example PSZA:2026-01-05)"
            ) from None
        _check_name(name, CRASH_ENV)
        merged.setdefault(name, set()).add(parsed)
    return {name: frozenset(days) for name, days in merged.items()}


def _check_name(name: str, where: str) -> None:
    if name not in PROCESSORS and name not in SYSTEMS:
        known = ", ".join([*PROCESSORS, *SYSTEMS])
        raise UsageError(f"{where}: unknown processor {name!r} (known: {known})")


def _crashes(name: str, date: dt.date) -> bool:
    return date in crash_dates().get(name, frozenset())


def _injectable(name: str, processor: Processor) -> Processor:
    """``processor``, made to raise before writing on the dates its crash is injected."""

    def run(date: dt.date, warehouse: Warehouse) -> int:
        if _crashes(name, date):
            raise RuntimeError(f"{name} crashed (injected fault)")
        return processor(date, warehouse)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = processor.__doc__
    return run


def _predictions(date: dt.date, warehouse: Warehouse) -> int:
    """The five prediction systems, less those crashing on ``date`` (the others are written)."""
    crashed = [s for s in SYSTEMS if _crashes(s, date)]
    written = predict.predictions(date, warehouse, [s for s in SYSTEMS if s not in crashed])
    if crashed:
        raise RuntimeError(
            f"prediction systems {', '.join(crashed)} crashed (injected fault); "
            f"{written} rows of the others written"
        )
    return written


# --- the registry ---------------------------------------------------------------------------

PROCESSORS: dict[str, Processor] = {
    name: _injectable(name, processor)
    for name, processor in {
        "player_game_summary": analytics.player_game_summary,
        "team_defense": analytics.team_defense_game_summary,
        "upcoming_context": analytics.upcoming_player_game_context,
        "PDC": precompute.player_daily_cache,
        "PSZA": precompute.player_shot_zone_analysis,
        "TDZA": precompute.team_defense_zone_analysis,
        "PCF": precompute.player_composite_factors,
        "MLFS": precompute.ml_feature_store,
        "predictions": _predictions,
        "grades": predict.grades,
    }.items()
}
"""Every processor, keyed by the name the example config gives its table, with its faults."""

PHASES: dict[str, tuple[str, ...]] = {
    "phase3": ("player_game_summary", "team_defense", "upcoming_context"),
    # MLFS reads the date's PDC and TDZA, so it runs last.
    "phase4": ("PDC", "PSZA", "TDZA", "PCF", "MLFS"),
    "phase5": ("predictions",),
    "phase6": ("grades",),
}
"""Each phase step's processors, in run order."""


def ensure_schema(warehouse: Warehouse) -> None:
    """Create every table of the example pipeline (and its schema) that is missing, and the
    teams list (filled) if it is."""
    for table, columns in SCHEMA.items():
        warehouse.create_table(table, columns)
    if not warehouse.columns([TEAMS_TABLE]):
        warehouse.create_table(TEAMS_TABLE, REFERENCE[TEAMS_TABLE])
        warehouse.insert_rows(TEAMS_TABLE, list(REFERENCE[TEAMS_TABLE]), TEAM_ROWS)


# The warehouses (by URL) whose tables exist: a step opens a new write connection each
# time it runs, so the connection object cannot be the key.
_ensured: set[str] = set()


def run_phase(phase: str, date: dt.date, warehouse: Warehouse) -> dict[str, int]:
    """Run every processor of ``phase`` for ``date``, in order, whichever fail.

    The tables are created on the first call for a warehouse.

    Returns:
        Processor name -> rows written.

    Raises:
        UsageError: ``phase`` is not one of :data:`PHASES`.
        ProcessorsFailed: One or more processors raised; the others' rows are written.
    """
    if phase not in PHASES:
        raise UsageError(f"unknown phase {phase!r} (known: {', '.join(PHASES)})")
    if warehouse.url not in _ensured:
        ensure_schema(warehouse)
        _ensured.add(warehouse.url)
    rows: dict[str, int] = {}
    failures: dict[str, Exception] = {}
    first: Exception | None = None
    for name in PHASES[phase]:
        try:
            rows[name] = PROCESSORS[name](date, warehouse)
        except Exception as exc:  # one processor's failure must not stop the others
            failures[name] = exc
            first = first or exc
    if failures:
        raise ProcessorsFailed(phase, date, failures, rows) from first
    return rows


def phase3(date: dt.date, ctx: StepContext) -> int:
    """Step: the phase-3 summaries for ``date``; returns the rows written."""
    return sum(run_phase("phase3", date, ctx.warehouse).values())


def phase4(date: dt.date, ctx: StepContext) -> int:
    """Step: the five phase-4 processors for ``date``; returns the rows written."""
    return sum(run_phase("phase4", date, ctx.warehouse).values())


def phase5(date: dt.date, ctx: StepContext) -> int:
    """Step: the five prediction systems for ``date``; returns the rows written."""
    return sum(run_phase("phase5", date, ctx.warehouse).values())


def phase6(date: dt.date, ctx: StepContext) -> int:
    """Step: the grades for ``date``; returns the rows written."""
    return sum(run_phase("phase6", date, ctx.warehouse).values())


STEPS: dict[str, Callable[[dt.date, StepContext], int]] = {
    "phase3": phase3,
    "phase4": phase4,
    "phase5": phase5,
    "phase6": phase6,
}
"""The phase steps a config can call, keyed by phase name."""
