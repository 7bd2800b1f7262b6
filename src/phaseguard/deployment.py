"""Judging a deployment's warehouse: the tables and schemas it needs against the catalogue.

Pure: the warehouse's catalogue in, deploy items out (present, missing, wrong column type,
drift). Every table the phases name, and the schedule table, is expected by default, with
the columns and types the ``infrastructure`` section (:mod:`phaseguard.infra`) adds. Running
the probes is :mod:`phaseguard.probes`; reading the catalogue is the warehouse door's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from .infra import Infrastructure

if TYPE_CHECKING:
    from .config import Config


# Spellings of one type across DuckDB, PostgreSQL and BigQuery: canonical -> aliases.
_TYPE_FAMILIES = {
    "VARCHAR": ("TEXT", "CHARACTER VARYING", "CHAR VARYING", "STRING"),
    "INTEGER": ("INT", "INT4", "SIGNED"),
    "BIGINT": ("INT8", "INT64", "LONG"),
    "SMALLINT": ("INT2", "SHORT"),
    "DOUBLE": ("DOUBLE PRECISION", "FLOAT8", "FLOAT64"),
    "REAL": ("FLOAT4",),
    "TIMESTAMP": ("TIMESTAMP WITHOUT TIME ZONE", "DATETIME"),
    "TIMESTAMPTZ": ("TIMESTAMP WITH TIME ZONE",),
    "TIME": ("TIME WITHOUT TIME ZONE",),
    "BOOLEAN": ("BOOL", "LOGICAL"),
    "NUMERIC": ("DECIMAL",),
}
_TYPE_ALIASES = {alias: name for name, aliases in _TYPE_FAMILIES.items() for alias in aliases}


def normalize_type(name: str) -> str:
    """One spelling per type across DuckDB and PostgreSQL: ``character varying(20)`` -> VARCHAR."""
    bare = " ".join(re.sub(r"\(.*?\)", " ", name).upper().split())
    return _TYPE_ALIASES.get(bare, bare)


class Status(str, Enum):
    """Whether a deploy item is there: PRESENT, MISSING, DRIFT (there but undeclared), or
    SKIPPED (a probe not run: ``deploy-check --offline``)."""

    PRESENT = "present"
    MISSING = "missing"
    DRIFT = "drift"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class DeployItem:
    """One expected thing (schema, table, probe) or one drifted table, and what was found."""

    group: str
    name: str
    status: Status
    detail: str = ""
    how_to_check: str = ""


@dataclass(frozen=True)
class DeployReport:
    """Every deploy item of one ``deploy-check``, warehouse first, then probes in order."""

    pipeline: str
    items: tuple[DeployItem, ...]

    def count(self, status: Status) -> int:
        """How many items have ``status``."""
        return sum(1 for item in self.items if item.status is status)

    @property
    def exit_code(self) -> int:
        """0 when nothing is missing (drift alone passes), 2 otherwise."""
        return 2 if self.count(Status.MISSING) else 0

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``deploy-check --format json``."""
        return {
            "pipeline": self.pipeline,
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "counts": {status.value: self.count(status) for status in Status},
            "items": [{**asdict(i), "status": i.status.value} for i in self.items],
        }


class Catalogue(Protocol):
    """What deploy-check reads from the warehouse (the door implements it)."""

    def schemas(self) -> list[str]:
        """Every schema, lower-cased."""

    def tables_in_schemas(self, schemas: Iterable[str]) -> dict[str, dict[str, str]]:
        """{schema.table: {column: TYPE}} for every table in ``schemas``."""


def expected_tables(config: Config, infra: Infrastructure) -> dict[str, dict[str, str | None]]:
    """Table -> required {column: type or None}: schedule, phase and dimension tables, then
    declared ones."""
    out: dict[str, dict[str, str | None]] = {}
    if infra.phase_tables:
        if config.schedule.table is not None:
            name, date_column, unit = config.schedule.columns()
            out[name] = {date_column: None, unit: None}
        for phase in config.phases:
            for table in phase.tables:
                columns = out.setdefault(table.table, {})
                columns.setdefault(table.date_column, None)
                if table.unit:
                    columns.setdefault(table.unit, None)
        for dimension in config.dimensions:  # parents and reference lists of keyed checks
            out.setdefault(dimension.table, {})
    for declared in infra.tables:
        columns = out.setdefault(declared.table, {})
        for column, dtype in declared.columns.items():
            if dtype is not None or column not in columns:
                columns[column] = dtype
    return out


def _candidates(table: str) -> list[str]:
    parts = table.lower().split(".")[-2:]
    if len(parts) == 2:
        return [".".join(parts)]
    return [f"main.{parts[0]}", f"public.{parts[0]}"]  # the DuckDB and PostgreSQL defaults


def implicit(config: Config) -> Infrastructure:
    """The section a config without ``infrastructure:`` is checked against: its tables, and
    the schemas they live in (so drift is listed there too)."""
    schemas = [t.split(".")[-2] for t in expected_tables(config, Infrastructure()) if "." in t]
    return Infrastructure(schemas=list(dict.fromkeys(schemas)))


def catalogue_schemas(config: Config, infra: Infrastructure) -> list[str]:
    """The schemas whose tables deploy-check reads: declared ones and the expected tables'."""
    names = [s.lower() for s in infra.schemas]
    for table in expected_tables(config, infra):
        names += [c.split(".")[0] for c in _candidates(table)]
    return list(dict.fromkeys(names))


def judge_warehouse(
    config: Config,
    infra: Infrastructure,
    schemas: Iterable[str],
    tables: Mapping[str, Mapping[str, str]],
) -> list[DeployItem]:
    """Schemas, tables, columns and types against the catalogue; then drift (pure)."""
    present = {s.lower() for s in schemas}
    items = [
        DeployItem(
            "schema",
            schema,
            Status.PRESENT if schema.lower() in present else Status.MISSING,
            "" if schema.lower() in present else "schema does not exist",
            f"SELECT schema_name FROM information_schema.schemata WHERE schema_name = '{schema}'",
        )
        for schema in infra.schemas
    ]
    known: set[str] = set()
    for table, columns in expected_tables(config, infra).items():
        candidates = _candidates(table)
        known.update(candidates)
        found = next((tables[c] for c in candidates if c in tables), None)
        schema, _, bare = candidates[0].partition(".")
        how = (
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{schema}' AND table_name = '{bare}'"
        )
        if found is None:
            detail = "table does not exist"
            if len(table.split(".")) > 1 and schema not in present:
                detail += f" (nor does schema {schema})"
            items.append(DeployItem("table", table, Status.MISSING, detail, how))
            continue
        problems = []
        for column, wanted in columns.items():
            actual = found.get(column.lower())
            if actual is None:
                problems.append(f"no column {column}")
            elif wanted and normalize_type(wanted) != normalize_type(actual):
                problems.append(f"{column} is {actual}, expected {wanted.upper()}")
        status = Status.MISSING if problems else Status.PRESENT
        items.append(DeployItem("table", table, status, "; ".join(problems), how))
    declared = {s.lower() for s in infra.schemas}
    for name in sorted(tables):
        if name.split(".")[0] in declared and name not in known:
            items.append(
                DeployItem(
                    "drift",
                    name,
                    Status.DRIFT,
                    f"in schema {name.split('.')[0]} but not named by the config",
                    "declare it under infrastructure.tables if the pipeline uses it, else drop it",
                )
            )
    return items


def check_warehouse(
    config: Config, infra: Infrastructure, catalogue: Catalogue
) -> list[DeployItem]:
    """Read the catalogue in two queries (schemas, tables with columns) and judge it."""
    schemas = catalogue.schemas()
    tables = catalogue.tables_in_schemas(catalogue_schemas(config, infra))
    return judge_warehouse(config, infra, schemas, tables)
