"""A scaffold: a starter pipeline config written from the warehouse's own catalogue.

``phaseguard init`` reads the catalogue once ({schema.table: {column: TYPE}}, from
:meth:`phaseguard.warehouse.Warehouse.tables_in_schemas`) and hands it to
:func:`scaffold`, which turns it into YAML text and touches nothing else. The guesses,
kept simple on purpose, so that the file is a start to edit, never a finished config:

- **Phases.** One phase per schema, in the order given, named after the schema; each
  depends on the one before and gets ``checks: [{kind: rows_exist}]``. A schema whose
  every table is skipped gets no phase (a comment says so).
- **Date column.** A ``DATE`` column first; else a ``TIMESTAMP`` / ``DATETIME`` one (a
  partition is then one day of it). Among columns of the same kind, the names
  ``game_date``, ``date``, ``ds``, ``event_date``, ``partition_date`` win, in that order,
  then any ``*_date``, then the alphabetically first. A table with no such column is a
  dimension table: listed in a comment under its schema's phase, not checked per date.
  A table whose name or date column the config's identifier rules (``config.IDENT_RE``)
  reject is skipped, named in a comment with the reason.
- **Schedule** (what is expected per date). The ``schedule`` given (a table, or ``day``
  / ``weekday`` for a calendar), else the first table named like a schedule or a calendar
  (``SCHEDULE_WORDS``), with a comment asking to check it. Else there is no schedule
  table to trust (a data table would call every date that never loaded "nothing
  scheduled"): the schedule is the calendar ``every: day``, and a comment says so.
  A schedule table's date column is picked as above; its unit is ``X_id`` when the date
  column is ``X_date``, else the schedule's key: among its ``*_id`` (or ``id``) columns,
  else among all its other text or integer columns, the one the most phase tables also
  have (a join key, such as a ``carrier`` code), ties to the alphabetically first. When
  no column fits, the unit is the date column itself (each date with rows counts as one
  unit: smoke still tells scheduled dates from empty ones) and a comment asks which
  column names one unit.
- **Units of tables.** A table gets ``unit:`` when it has a column named like the
  schedule's unit.
- **Table keys** (``name:``) are the table names; when two schemas hold the same name,
  the later one is ``schema_table`` (then ``_2``, ``_3``... if still taken).

Names come from the warehouse, so every one written as YAML is quoted when plain YAML
would read it as something else (``on``, ``null``), and every one written into a comment
is escaped when it holds a line break or other unprintable character.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import yaml

from .config import Health
from .errors import UsageError
from .model import IDENT_RE

Catalogue = Mapping[str, Mapping[str, str]]

PREFERRED_DATE_NAMES = ("game_date", "date", "ds", "event_date", "partition_date")
NO_DATE_COLUMN = "no DATE, TIMESTAMP or DATETIME column"
# Words in a table's name that make it the likely schedule (what is expected per date).
SCHEDULE_WORDS = ("schedule", "calendar")
# --schedule values that choose a calendar instead of a table.
CALENDARS = ("day", "weekday")
# Column types a unit (a key) may have.
KEY_TYPES = ("VARCHAR", "TEXT", "STRING", "CHAR", "INT", "BIGINT", "SMALLINT", "INTEGER", "HUGEINT")


@dataclass(frozen=True)
class Skipped:
    """A table of the catalogue left out of the scaffold, and why."""

    table: str
    reason: str


@dataclass(frozen=True)
class TableChoice:
    """One table of a phase, with its key and the columns picked for it."""

    key: str
    table: str
    date_column: str
    date_type: str
    unit: str | None
    other_dates: tuple[str, ...]


@dataclass(frozen=True)
class Scaffold:
    """A starter config: its YAML text and what was guessed, for the command to report.

    ``schedule`` is the schedule table, or ``every: day`` (``weekday``) for a calendar
    (then its date column and unit are empty).
    """

    text: str
    phases: tuple[str, ...]
    tables: tuple[TableChoice, ...]
    skipped: tuple[Skipped, ...]
    schedule: str
    schedule_date_column: str
    schedule_unit: str
    unit_guessed: bool
    dimensions: tuple[str, ...] = ()

    @property
    def calendar(self) -> bool:
        """Whether the schedule is a calendar (no table)."""
        return self.schedule.startswith("every:")


def parse_schemas(text: str) -> list[str]:
    """``raw, analytics`` -> ``["raw", "analytics"]``: lower-cased, in order, once each."""
    out: list[str] = []
    for part in text.split(","):
        name = part.strip().lower()
        if name and name not in out:
            out.append(name)
    if not out:
        raise UsageError("--schemas needs at least one schema, e.g. --schemas raw,analytics")
    for name in out:
        if not IDENT_RE.match(name):
            raise UsageError(f"--schemas: {name!r} is not a plain identifier (letters, digits, _)")
    return out


def config_url(url: str, cwd: PurePath, config_dir: PurePath) -> str:
    """The warehouse URL as the config at ``config_dir`` must say it.

    On the command line a relative DuckDB path is relative to ``cwd``; in the config it is
    relative to the config's directory, so it is rewritten relative to that. A password in
    the URL is left out: secrets never go into the file (libpq reads ``PGPASSWORD``).
    """
    if url.startswith("duckdb:"):
        path = url.removeprefix("duckdb:").removeprefix("//")
        if path == ":memory:" or path.startswith("/"):
            return f"duckdb://{path}"
        absolute = os.path.normpath(os.path.join(cwd, path))
        return f"duckdb://{PurePath(os.path.relpath(absolute, config_dir)).as_posix()}"
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1@", url)


def default_pipeline(url: str) -> str:
    """A pipeline name from the warehouse URL: the DuckDB file's stem, the database name."""
    rest = url.split("://", 1)[-1].split("?", 1)[0].rstrip("/")
    if url.startswith("duckdb:"):
        name = PurePath(rest.removeprefix("duckdb:")).stem
    elif url.startswith(("postgresql:", "postgres:")):
        name = rest.rsplit("/", 1)[-1] if "/" in rest else ""
    elif url.startswith("bigquery:"):
        name = rest.split("/", 1)[0]
    else:
        name = ""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower()
    return name if name and not name[0].isdigit() else "pipeline"


def _date_kind(dtype: str) -> int | None:
    """0 for DATE, 1 for a timestamp type, None for anything else."""
    dtype = dtype.upper()
    if dtype == "DATE":
        return 0
    if dtype.startswith(("TIMESTAMP", "DATETIME")):
        return 1
    return None


def _date_rank(column: str, dtype: str) -> tuple[int, int, str] | None:
    kind = _date_kind(dtype)
    if kind is None:
        return None
    if column in PREFERRED_DATE_NAMES:
        name_rank = PREFERRED_DATE_NAMES.index(column)
    elif column.endswith("_date"):
        name_rank = len(PREFERRED_DATE_NAMES)
    else:
        name_rank = len(PREFERRED_DATE_NAMES) + 1
    return kind, name_rank, column


def pick_date_column(columns: Mapping[str, str]) -> tuple[str, list[str]] | str:
    """The date column of a table and the other DATE columns, or why there is none."""
    ranked = sorted(
        (rank, column)
        for column, dtype in columns.items()
        if (rank := _date_rank(column, dtype)) is not None
    )
    if not ranked:
        return NO_DATE_COLUMN
    valid = [column for _, column in ranked if IDENT_RE.match(column)]
    if not valid:
        names = ", ".join(_shown(column) for _, column in ranked)
        return f"its date columns ({names}) are not plain identifiers"
    best = valid[0]
    others = [c for c in valid[1:] if _date_kind(columns[c]) == 0]
    return best, others


def guess_unit(
    columns: Mapping[str, str], date_column: str, others: Sequence[Mapping[str, str]] = ()
) -> str | None:
    """The column naming one scheduled unit (the schedule's key): ``X_id`` beside
    ``X_date``; else among the ``*_id`` columns, else among the other text or integer
    columns, the one most of ``others`` (the phase tables' columns) also have."""
    if date_column.endswith("_date"):
        candidate = date_column.removesuffix("_date") + "_id"
        if candidate in columns:
            return candidate
    usable = [
        c
        for c in sorted(columns)
        if c != date_column and IDENT_RE.match(c) and _date_kind(columns[c]) is None
    ]
    ids = [c for c in usable if c == "id" or c.endswith("_id")]
    if len(ids) == 1:
        return ids[0]
    keys = ids or [c for c in usable if columns[c].upper().split("(")[0] in KEY_TYPES]
    shared = [(sum(c in table for table in others), c) for c in keys]
    best = max(shared, key=lambda pair: pair[0], default=(0, ""))
    return best[1] if best[0] else None


def scaffold(
    catalogue: Catalogue,
    schemas: Sequence[str],
    *,
    warehouse: str,
    pipeline: str,
    schedule: str | None = None,
    source: str = "",
) -> Scaffold:
    """The starter config for ``schemas`` of ``catalogue``, as YAML text.

    Args:
        catalogue: {schema.table: {column: TYPE}}, names lower-cased, as the warehouse
            door's ``tables_in_schemas`` returns it (it may hold other schemas too).
        schemas: the schemas to make phases of, in pipeline order, lower-cased.
        warehouse: the URL the ``warehouse:`` line says (see :func:`config_url`).
        pipeline: the pipeline's name.
        schedule: ``schema.table`` that says what is expected per date; default: guessed.
        source: where the catalogue was read, for the header comment.

    Raises:
        UsageError: a schema has no tables, the schedule table is not there or has no
            date column, or no table has a date column.
    """
    by_schema: dict[str, list[str]] = {s: [] for s in schemas}
    for qualified in sorted(catalogue):
        schema = qualified.split(".", 1)[0]
        if schema in by_schema:
            by_schema[schema].append(qualified)
    missing = [s for s, tables in by_schema.items() if not tables]
    if missing:
        where = f" in {source}" if source else ""
        raise UsageError(
            f"no tables in schema {', '.join(map(repr, missing))}{where}: "
            "check the names given to --schemas (is the schema there, can this user read it?)"
        )

    chosen: dict[str, list[TableChoice]] = {}
    skipped: dict[str, list[Skipped]] = {}
    dimensions: dict[str, list[str]] = {}
    taken: set[str] = set()
    for schema, tables in by_schema.items():
        for qualified in tables:
            choice = _choose(qualified, catalogue[qualified], taken)
            if isinstance(choice, Skipped) and choice.reason == NO_DATE_COLUMN:
                dimensions.setdefault(schema, []).append(qualified)
            elif isinstance(choice, Skipped):
                skipped.setdefault(schema, []).append(choice)
            else:
                taken.add(choice.key)
                chosen.setdefault(schema, []).append(choice)
    if not chosen:
        raise UsageError(
            f"no table in {', '.join(schemas)} has a DATE, TIMESTAMP or DATETIME column "
            "to partition by"
        )

    sched_table, sched_date, unit, unit_guessed = _schedule(catalogue, schedule, chosen)
    unit_for_tables = unit if unit_guessed and sched_date else None
    final = {
        schema: [
            TableChoice(
                t.key,
                t.table,
                t.date_column,
                t.date_type,
                unit_for_tables if unit_for_tables in catalogue[t.table] else None,
                t.other_dates,
            )
            for t in tables
        ]
        for schema, tables in chosen.items()
    }
    text = _render(
        final,
        skipped,
        dimensions,
        schemas,
        warehouse=warehouse,
        pipeline=pipeline,
        source=source,
        schedule=(sched_table, sched_date, unit, unit_guessed, schedule is not None),
    )
    return Scaffold(
        text=text,
        phases=tuple(final),
        tables=tuple(t for tables in final.values() for t in tables),
        skipped=tuple(s for group in skipped.values() for s in group),
        schedule=sched_table,
        schedule_date_column=sched_date,
        schedule_unit=unit,
        unit_guessed=unit_guessed,
        dimensions=tuple(t for group in dimensions.values() for t in group),
    )


def _choose(qualified: str, columns: Mapping[str, str], taken: set[str]) -> TableChoice | Skipped:
    schema, name = qualified.split(".", 1)
    if not IDENT_RE.match(name):
        return Skipped(qualified, "its name is not a plain identifier (letters, digits, _)")
    picked = pick_date_column(columns)
    if isinstance(picked, str):
        return Skipped(qualified, picked)
    date_column, others = picked
    key = name
    if key in taken:
        key = f"{schema}_{name}"
        base, n = key, 2
        while key in taken:
            key, n = f"{base}_{n}", n + 1
    return TableChoice(key, qualified, date_column, columns[date_column], None, tuple(others))


def _schedule(
    catalogue: Catalogue, given: str | None, chosen: Mapping[str, list[TableChoice]]
) -> tuple[str, str, str, bool]:
    """The schedule's table, date column and unit, and whether the unit was guessed; for a
    calendar, ``("every: day", "", "", False)`` (or ``weekday``)."""
    tables = [choice for choices in chosen.values() for choice in choices]
    if given is not None and given.lower() in CALENDARS:
        return f"every: {given.lower()}", "", "", False
    if given is None:
        named = [c for c in tables if any(w in c.table.split(".")[-1] for w in SCHEDULE_WORDS)]
        if not named:
            return "every: day", "", "", False
        table, date_column = named[0].table, named[0].date_column
    else:
        table = given.lower()
        schema, _, name = table.partition(".")
        if not (IDENT_RE.match(schema) and IDENT_RE.match(name)):
            raise UsageError(
                f"--schedule: {given!r} is not a table name like schema.table "
                f"(or {' / '.join(CALENDARS)} for a calendar)"
            )
        if table not in catalogue:
            raise UsageError(f"--schedule: table {given} is not in the warehouse's catalogue")
        picked = pick_date_column(catalogue[table])
        if isinstance(picked, str):
            raise UsageError(f"--schedule: table {given} has {picked}")
        date_column = picked[0]
    others = [catalogue[c.table] for c in tables if c.table != table]
    unit = guess_unit(catalogue[table], date_column, others)
    if unit is None:
        return table, date_column, date_column, False
    return table, date_column, unit, True


# --- rendering ---------------------------------------------------------------------------


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as that same string, in any context."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.$-]*", value):
        try:
            if yaml.safe_load(f"[{value}]") == [value]:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value)


def _shown(name: str) -> str:
    """``name`` as it may appear in a comment: escaped if it holds a line break."""
    return name if name.isprintable() and name.isascii() else json.dumps(name)


def _flow(items: Sequence[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"


def _render(
    chosen: Mapping[str, list[TableChoice]],
    skipped: Mapping[str, list[Skipped]],
    dimensions: Mapping[str, list[str]],
    schemas: Sequence[str],
    *,
    warehouse: str,
    pipeline: str,
    source: str,
    schedule: tuple[str, str, str, bool, bool],
) -> str:
    lines = [
        "# A starter phaseguard config, written by `phaseguard init` from the catalogue of",
        f"# {_shown(source or warehouse)} (schemas: {', '.join(schemas)}).",
        "# Read it, answer the comments marked ASK, then: phaseguard smoke YYYY-MM-DD",
        f"pipeline: {_scalar(pipeline)}",
        "# Relative paths are relative to this file. --warehouse or PHASEGUARD_WAREHOUSE override it.",
        f"warehouse: {json.dumps(warehouse)}",
        "",
    ]
    lines += _schedule_lines(schedule)
    lines += [
        "",
        "# One phase per schema, each depending on the one before. Tables: their date column",
        "# (a DATE first, else a TIMESTAMP: a partition is one day of it) and, when a column is",
        "# named like the schedule's unit, that unit. Check kinds to add: rows_per_unit,",
        "# unit_coverage, quorum, distinct_count, aggregate, ratio, freshness (see the README).",
        "phases:",
    ]
    previous: str | None = None
    for schema in schemas:
        tables = chosen.get(schema, [])
        if not tables:
            lines.append(f"  # {schema}: no phase, no table has a date to check per date:")
            lines += [f"  #   {_shown(s.table)}: {s.reason}" for s in skipped.get(schema, [])]
            lines += _dimension_lines(dimensions.get(schema, []), "  #   ")
            continue
        lines.append(f"  - name: {_scalar(schema)}")
        if previous is not None:
            lines.append(f"    depends_on: [{_scalar(previous)}]")
        lines.append("    tables:")
        for t in tables:
            items = [
                ("name", _scalar(t.key)),
                ("table", _scalar(t.table)),
                ("date_column", _scalar(t.date_column)),
            ]
            if t.unit is not None:
                items.append(("unit", _scalar(t.unit)))
            notes = []
            if _date_kind(t.date_type) == 1:
                notes.append(f"{t.date_column} is {_shown(t.date_type)}")
            if t.other_dates:
                notes.append(f"other DATE columns: {', '.join(t.other_dates)}")
            note = f"  # {'; '.join(notes)}" if notes else ""
            lines.append(f"      - {_flow(items)}{note}")
        for s in skipped.get(schema, []):
            lines.append(f"      # skipped {_shown(s.table)}: {s.reason}")
        lines += _dimension_lines(dimensions.get(schema, []), "      # ")
        lines += ["    checks:", "      - {kind: rows_exist}"]
        previous = schema
    lines += ["", *_examples(list(chosen), chosen), *_health()]
    return "\n".join(lines) + "\n"


def _schedule_lines(schedule: tuple[str, str, str, bool, bool]) -> list[str]:
    """The ``schedule:`` section: a table with its date column and unit, or a calendar."""
    sched_table, sched_date, unit, unit_guessed, sched_given = schedule
    if sched_table.startswith("every:"):
        lines = [
            "# What is expected per date: a calendar, no table. Every date it names expects",
            "# rows, so a date that never loaded FAILs (a data table as the schedule would",
            "# call that date 'nothing scheduled' and pass it).",
        ]
        if not sched_given:
            lines += [
                "# No table named like a schedule or calendar was found, so every day is",
                "# expected. ASK: use every: weekday or a list ([mon, tue, ...]) if loads skip",
                "# days, or point schedule at a table {table, date_column, unit} that says what",
                "# is expected per date (unit_coverage needs one).",
            ]
        return [*lines, f"schedule: {{{sched_table}}}"]
    lines = [
        "# What is expected per date: distinct units (e.g. games, orders) per date in one table."
    ]
    if not sched_given:
        lines += [
            "# ASK: this is a guess (a table named like a schedule or calendar). Point it at",
            "# the table that says what is expected per date, with its date column and the",
            "# column naming one unit.",
        ]
    lines += [
        "schedule:",
        f"  table: {_scalar(sched_table)}",
        f"  date_column: {_scalar(sched_date)}",
    ]
    if unit_guessed:
        return [*lines, f"  unit: {_scalar(unit)}"]
    return [
        *lines,
        "  # ASK: which column names one scheduled unit (game_id, order_id, ...)? None could",
        "  # be guessed, so each date with rows counts as one unit until you say.",
        f"  unit: {_scalar(unit)}",
    ]


def _dimension_lines(tables: Sequence[str], prefix: str) -> list[str]:
    """Dimension tables (no date column), named in a comment: not checked per date."""
    if not tables:
        return []
    names = ", ".join(_shown(t) for t in tables)
    return [f"{prefix}dimension tables (no date column, not checked per date): {names}"]


def _examples(phases: list[str], chosen: Mapping[str, list[TableChoice]]) -> list[str]:
    """Commented-out gates and sinks: valid YAML once the leading ``# `` is removed."""
    lines = [
        "# Gates: a gate is named after the phase it guards; with no checks it holds the phase",
        "# until the phases it depends on pass theirs. Uncomment to use:",
    ]
    if len(phases) > 1:
        lines.append("# gates:")
        upstream = [t.key for t in chosen[phases[0]]]
        for phase in phases[1:]:
            lines.append(f"#   - phase: {_scalar(phase)}")
            if phase == phases[1] and len(upstream) > 1:
                lines += [
                    "#     checks:   # or say which upstream tables must have rows, and how many",
                    f"#       - {{kind: quorum, tables: [{', '.join(map(_scalar, upstream))}], "
                    f"min_present: {len(upstream) - 1}}}",
                ]
    else:
        lines += [
            "# gates:",
            f"#   - phase: next_phase   # a phase depending on {_scalar(phases[0])}",
        ]
    lines += [
        "",
        "# Sinks: where alerts go. A sink with an empty URL is off. Uncomment to use:",
        "# sinks:",
        "#   - {kind: stderr, min_severity: warning}",
        '#   - {kind: slack, url: "${SLACK_WEBHOOK_URL:-}", min_severity: warning}',
        "",
    ]
    return lines


def _health() -> list[str]:
    """The health-score defaults, written out so that the file shows them."""
    health = Health()
    scores = ", ".join(f"{level}: {score:g}" for level, score in health.scores.items())
    return [
        "# Health score: points per level, and the score a date needs to be COMPLETE or PARTIAL.",
        "health:",
        f"  scores: {{{scores}}}",
        f"  complete: {health.complete:g}",
        f"  partial: {health.partial:g}",
        "  # partial_phases: [...]   # PARTIAL needs these PASS or better; default: the first three phases",
    ]
