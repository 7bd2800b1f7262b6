"""The pipeline config: one YAML file parsed once into frozen pydantic models.

The file declares the warehouse, the schedule (what is expected per date), the phases in
dependency order with their tables and criteria, the gates, the alert sinks and the
health-score bands. Every error names the file, the line and the key.
"""

from __future__ import annotations

import itertools
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .infra import Infrastructure, LocatedError, merge, read_include
from .kindbase import _g, _tags
from .kinds import Check
from .model import Model, _ident, _qualified
from .references import RefError, validate_references
from .sinks import Sink
from .yamlsource import Source, load_yaml, read_text

LEVELS_BLOCKING = Literal["FAIL", "ACCEPTABLE"]
ScoredLevel = Literal["EXCELLENT", "PASS", "ACCEPTABLE", "FAIL"]


def _default_block_on() -> list[LEVELS_BLOCKING]:
    return ["FAIL"]


def _default_scores() -> dict[ScoredLevel, float]:
    return {"EXCELLENT": 100.0, "PASS": 90.0, "ACCEPTABLE": 70.0, "FAIL": 0.0}


# The warehouse URL schemes phaseguard.warehouse.connect opens.
WAREHOUSE_SCHEMES = ("duckdb", "postgresql", "postgres", "bigquery", "spark", "sc")


def _warehouse_url(value: str) -> str:
    scheme = value.split(":", 1)[0] if ":" in value else ""
    if scheme not in WAREHOUSE_SCHEMES:
        raise ValueError(
            f"unknown warehouse scheme {scheme or value!r} "
            f"(supported: {', '.join(s + '://' for s in WAREHOUSE_SCHEMES)})"
        )
    return value


# The event store URLs phaseguard.store.open_store opens.
EVENTS_SCHEMES = ("sqlite:///", "postgresql://", "postgres://", "bigquery://")


def _events_url(value: str | None) -> str | None:
    if value == "":
        raise ValueError("empty event store URL (leave events out for SQLite beside the config)")
    if value is not None and not value.startswith(EVENTS_SCHEMES):
        scheme = value.split(":", 1)[0] if ":" in value else value
        raise ValueError(
            f"unknown event store scheme {scheme[:40]!r} (supported: {', '.join(EVENTS_SCHEMES)}; "
            "leave events out for SQLite beside the config)"
        )
    return value


class TableSpec(Model):
    """One table of a phase: a partition is its rows for one date."""

    name: str = Field(description="short key used by checks, e.g. PDC")
    table: str = Field(description="qualified name in the warehouse, e.g. nba_raw.boxscores")
    date_column: str
    unit: str | None = Field(None, description="column naming the scheduled unit, e.g. game_id")
    critical: bool = False

    _v_name = field_validator("name", "date_column")(_ident)
    _v_table = field_validator("table")(_qualified)

    @field_validator("unit")
    @classmethod
    def _v_unit(cls, value: str | None) -> str | None:
        return None if value is None else _ident(value)


class Dimension(Model):
    """A table without a date column (a carriers or teams list): only ever a parent or a
    reference list of the keyed checks, never graded per date."""

    name: str = Field(description="short key checks name it by, e.g. teams")
    table: str = Field(description="qualified name in the warehouse, e.g. nba_ref.teams")
    _v_name = field_validator("name")(_ident)
    _v_table = field_validator("table")(_qualified)


class Step(Model):
    """What runs a phase for one date: a Python callable or a shell command with {date}."""

    call: str | None = Field(None, description="module:function taking the date")
    command: str | None = Field(None, description="shell command; {date} is replaced")
    timeout_seconds: float = 3600

    @model_validator(mode="after")
    def _one(self) -> Step:
        if (self.call is None) == (self.command is None):
            raise ValueError("give exactly one of call, command")
        return self


class Phase(Model):
    """One phase of the pipeline: its tables, its criteria and what it depends on."""

    name: str
    description: str = ""
    depends_on: list[str] = Field(default_factory=list)
    tables: list[TableSpec] = Field(min_length=1)
    checks: list[Check] = Field(default_factory=list)
    step: Step | None = None
    tags: tuple[str, ...] = Field((), description="labels for --tag, shared by all its checks")
    _v_name = field_validator("name")(_ident)
    _v_tags = field_validator("tags", mode="before")(_tags)


class Gate(Model):
    """A gate named after the phase it guards: upstream criteria that must hold first."""

    phase: str
    upstream: list[str] | None = Field(None, description="default: the phase's depends_on")
    checks: list[Check] | None = Field(None, description="default: the upstream criteria")
    block_on: list[LEVELS_BLOCKING] = Field(default_factory=_default_block_on)
    on_warehouse_error: Literal["block", "open"] = "block"

    @field_validator("checks")
    @classmethod
    def _v_checks(cls, value: list[Check] | None) -> list[Check] | None:
        if value is not None and not value:
            raise ValueError(
                "a gate with no checks would open on anything: "
                "leave checks out for the upstream's criteria"
            )
        for j, check in enumerate(value or []):
            if check.tags:  # --tag selects what smoke/verify/report run, never a gate's checks
                raise LocatedError(
                    "a gate always runs all its checks, so tags on them would select nothing "
                    "(tag the phase's checks instead)",
                    (j, "tags"),
                )
        return value

    @field_validator("block_on")
    @classmethod
    def _v_block_on(cls, value: list[LEVELS_BLOCKING]) -> list[LEVELS_BLOCKING]:
        if not value:
            raise ValueError(
                "a gate that blocks on nothing would open on anything: "
                "leave block_on out for [FAIL]"
            )
        return value


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)


class Schedule(Model):
    """What is expected per date: distinct units (e.g. games) per date in a table, or a
    calendar (``every: day``, ``every: weekday`` or a list of weekdays) where each date
    it names expects one unit, with no table to read."""

    table: str | None = None
    date_column: str | None = None
    unit: str | None = None
    every: Literal["day", "weekday"] | list[Weekday] | None = Field(
        None, description="a calendar instead of a table: day, weekday, or [mon, tue, ...]"
    )

    @field_validator("table")
    @classmethod
    def _v_table(cls, value: str | None) -> str | None:
        return None if value is None else _qualified(value)

    @field_validator("every", mode="before")
    @classmethod
    def _v_every(cls, value: Any) -> Any:
        days = value if isinstance(value, list) else [value]
        if value is None or value in ("day", "weekday"):
            return value
        if isinstance(value, list) and all(day in WEEKDAYS for day in days):
            return value
        raise ValueError(
            f"{value!r}: expected day, weekday or a list of weekdays ({', '.join(WEEKDAYS)})"
        )

    @field_validator("date_column", "unit")
    @classmethod
    def _v_cols(cls, value: str | None) -> str | None:
        return None if value is None else _ident(value)

    @model_validator(mode="after")
    def _table_or_calendar(self) -> Schedule:
        if self.every is not None:
            if self.table is not None or self.date_column is not None or self.unit is not None:
                raise ValueError("a calendar schedule (every) takes no table, date_column or unit")
            if isinstance(self.every, list) and not self.every:
                raise ValueError("every: name at least one weekday (mon, tue, ...)")
            return self
        if self.table is None or self.date_column is None or self.unit is None:
            raise ValueError(
                "give table, date_column and unit (a schedule table), or every: day | weekday"
            )
        return self

    @property
    def weekdays(self) -> frozenset[int] | None:
        """A calendar's weekdays (0 = Monday), None for a schedule table."""
        if self.every is None:
            return None
        if self.every == "day":
            return frozenset(range(7))
        if self.every == "weekday":
            return frozenset(range(5))
        return frozenset(WEEKDAYS.index(day) for day in self.every)

    def columns(self) -> tuple[str, str, str]:
        """(table, date column, unit) of a schedule table; ValueError for a calendar."""
        if self.table is None or self.date_column is None or self.unit is None:
            raise ValueError(f"the schedule is a {self.describe}, not a table")
        return self.table, self.date_column, self.unit

    @property
    def describe(self) -> str:
        """The schedule as a reader knows it: its table, or its calendar."""
        if self.table is not None:
            return self.table
        every = self.every if isinstance(self.every, str) else ", ".join(self.every or [])
        return f"calendar (every {every})"


class Health(Model):
    """Health-score bands and the overall verdict rules (seed: Overall Backfill Success).

    COMPLETE: no phase FAIL and health >= ``complete``. PARTIAL: no phase FAIL, the
    ``partial_phases`` PASS or better and health >= ``partial``. FAILED: any phase FAIL,
    and every date that reaches neither (the seed's "health < 50", and the band it leaves
    open below PARTIAL's bar). Scores and bands are 0-100, complete >= partial.
    """

    scores: dict[ScoredLevel, float] = Field(default_factory=_default_scores)
    complete: float = Field(85.0, description="COMPLETE: no phase FAIL and health >= this")
    partial: float = Field(
        70.0, description="PARTIAL: no FAIL, partial_phases PASS or better, health >= this"
    )
    partial_phases: list[str] | None = Field(None, description="default: the first three phases")

    @model_validator(mode="after")
    def _in_range_and_order(self) -> Health:
        for level, score in self.scores.items():
            if not (math.isfinite(score) and 0 <= score <= 100):
                raise LocatedError(
                    f"a score is a number from 0 to 100, not {_g(score)}",
                    ("scores", level),
                )
        scores: dict[str, float] = {str(k): v for k, v in self.scores.items()}
        order = [lv for lv in ("EXCELLENT", "PASS", "ACCEPTABLE", "FAIL") if lv in scores]
        for better, worse in itertools.pairwise(order):
            if scores[better] < scores[worse]:
                raise LocatedError(
                    f"scores out of order: {better} {_g(scores[better])} "
                    f"is below {worse} {_g(scores[worse])}",
                    ("scores", better),
                )
        for key in ("complete", "partial"):
            value = getattr(self, key)
            if not (math.isfinite(value) and 0 <= value <= 100):
                raise LocatedError(
                    f"a health threshold is a number from 0 to 100, not {_g(value)}", (key,)
                )
        if self.complete < self.partial:
            raise LocatedError(
                f"out of order: complete {_g(self.complete)} is below "
                f"partial {_g(self.partial)} (COMPLETE needs the higher health)",
                ("complete",),
            )
        return self


class Config(Model):
    """A whole pipeline declaration."""

    pipeline: str
    warehouse: str = "duckdb://warehouse.duckdb"
    warehouse_lock_timeout: float = Field(
        20.0,
        ge=0,
        le=3600,
        description="seconds to wait for a warehouse lock another process holds",
    )
    events: str | None = Field(None, description="event store URL; default SQLite beside config")
    schedule: Schedule
    phases: list[Phase] = Field(min_length=1)
    dimensions: list[Dimension] = Field(
        default_factory=list, description="tables without a date column: parents, reference lists"
    )
    gates: list[Gate] = Field(default_factory=list)
    sinks: list[Sink] = Field(default_factory=list)
    health: Health = Field(default_factory=Health)
    infrastructure: Infrastructure | None = Field(
        None, description="what deploy-check expects to exist: warehouse objects and probes"
    )
    _v_warehouse = field_validator("warehouse")(_warehouse_url)
    _v_events = field_validator("events")(_events_url)

    @model_validator(mode="after")
    def _references(self) -> Config:
        validate_references(self)
        return self

    # --- lookups used by every consumer -------------------------------------------------
    def phase(self, name: str) -> Phase:
        """The phase called ``name``; KeyError if there is none."""
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(name)

    def table(self, key: str) -> TableSpec:
        """The table whose short key is ``key``, in any phase."""
        for phase in self.phases:
            for table in phase.tables:
                if table.name == key:
                    return table
        raise KeyError(key)

    def dimension(self, name: str) -> Dimension:
        """The dimension called ``name``; KeyError if there is none."""
        for dimension in self.dimensions:
            if dimension.name == name:
                return dimension
        raise KeyError(name)

    def upstream(self, phase: str) -> list[str]:
        """Every phase ``phase`` depends on, directly or through others, in config order."""
        todo, seen = list(self.phase(phase).depends_on), set()
        while todo:
            dep = todo.pop()
            if dep not in seen:
                seen.add(dep)
                todo.extend(self.phase(dep).depends_on)
        return [p.name for p in self.phases if p.name in seen]

    def gate(self, phase: str) -> Gate:
        """The gate guarding ``phase``; KeyError if there is none."""
        for gate in self.gates:
            if gate.phase == phase:
                return gate
        raise KeyError(phase)


def parse(text: str, file: str = "<config>") -> Config:
    """Parse config text; every problem becomes one ConfigError naming file, line and key."""
    source = load_yaml(text, file)
    if not isinstance(source.data, dict):
        raise ConfigError("the config must be a mapping of keys", file=file, line=1)
    # Top-level keys starting with x- hold YAML anchors to merge elsewhere (<<: *name),
    # as in Docker Compose; phaseguard reads nothing else from them.
    data = {k: v for k, v in source.data.items() if not k.startswith("x-")}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, source) from None
    return _with_includes(config, source)


def _with_includes(config: Config, source: Source) -> Config:
    """Fold the presets and files ``infrastructure.include`` names into the section, and
    expand its ``for_each`` probes."""
    infra = config.infrastructure
    if infra is None:
        return config
    included: list[Infrastructure] = []
    for i, name in enumerate(infra.include):
        try:
            preset = read_include(name, Path(source.file).parent)
        except LocatedError as exc:
            raise source.error(str(exc), ("infrastructure", "include", i)) from None
        try:
            part = Infrastructure.model_validate(preset.data)
        except ValidationError as exc:
            raise _first_error(exc, preset) from None
        if part.include:
            raise preset.error("an included file cannot include another", ("include",))
        included.append(part)
    try:
        merged = merge(infra, included)
    except LocatedError as exc:
        raise source.error(str(exc), ("infrastructure", *exc.loc)) from None
    return config.model_copy(update={"infrastructure": merged})


def _first_error(exc: ValidationError, source: Source) -> ConfigError:
    errors = exc.errors()
    # An unknown key first: a typo (``date_colum``) also makes its key "missing", and the
    # typo is what the user must fix.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, RefError):
        return source.error(str(ctx_error), ctx_error.loc)
    if isinstance(ctx_error, LocatedError):  # raised inside a nested model: loc is relative
        return source.error(str(ctx_error), _user_loc((*error["loc"], *ctx_error.loc), source.data))
    loc = _user_loc(tuple(error["loc"]), source.data)
    message = {
        "extra_forbidden": "unknown key" + _known_keys(source.data, loc),
        "missing": "required key is missing",
    }.get(error["type"], error["msg"])
    return source.error(message.removeprefix("Value error, "), loc)


def _known_keys(data: Any, loc: tuple[str | int, ...]) -> str:
    """ " (did you mean 'x'?)" for an unknown key at ``loc``, else the keys allowed there."""
    model = _model_at(data, loc[:-1])
    if model is None or not loc:
        return ""
    import difflib  # only for an error

    keys = [field.alias or name for name, field in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known keys: {', '.join(keys)})"


def _model_at(data: Any, loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The config model that reads the mapping at ``loc`` of ``data``; None if unknown."""
    annotation: Any = Config
    for part in loc:
        annotation = _unwrap(annotation, data)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = next(
                (f for n, f in annotation.model_fields.items() if part in (n, f.alias)), None
            )
            annotation = field.annotation if field is not None else None
        elif typing.get_origin(annotation) in (list, dict):
            annotation = typing.get_args(annotation)[-1]
        else:
            return None
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            data = None
    annotation = _unwrap(annotation, data)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _unwrap(annotation: Any, data: Any) -> Any:
    """Strip Annotated and Optional; pick a union's member by the data's ``kind``."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
        kind = data.get("kind") if isinstance(data, dict) else None
        for model in models:
            tag = model.model_fields.get("kind")
            if tag is not None and kind in typing.get_args(tag.annotation):
                return model
        if len(members) == 1:
            return _unwrap(members[0], data)
        return models[0] if len(models) == 1 else None
    return annotation


def _user_loc(loc: tuple[str | int, ...], data: Any) -> tuple[str | int, ...]:
    """Drop the tags pydantic adds for discriminated unions, so the path matches the YAML."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(data, dict) and part not in data and data.get("kind") == part:
            continue
        out.append(part)
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            data = None
    return tuple(out)


def load(path: str | Path) -> tuple[Config, Path]:
    """Read and parse the config at ``path``; returns it and the directory it lives in."""
    file = Path(path)
    try:
        text = read_text(file, allow_pipe=True)  # refuses devices, huge files, non-UTF-8
    except FileNotFoundError:
        raise ConfigError("config file not found (give --config FILE)", file=str(file)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", file=str(file)) from None
    return parse(text, str(file)), file.resolve().parent
