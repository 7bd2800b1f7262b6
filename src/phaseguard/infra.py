"""Deployment verification: what the pipeline needs to exist, and whether it does.

The ``infrastructure`` section of the config declares the warehouse objects (schemas, and
tables with required columns and types) and the external resources, as probes: a command
that exits 0, a URL that answers the expected status, an environment variable that is set.
Every table the phases name, and the schedule table, is expected by default.

This module holds the config models, presets and their vars; judging the warehouse against
them is :mod:`phaseguard.deployment`, running the probes :mod:`phaseguard.probes`.
A packaged preset (``include: [gcp]``) is an infrastructure section in ``presets/NAME.yml``.
A var may be a list of names; a probe with ``for_each: VAR`` stands for one probe per name
(the name as ``{name}``), so a preset holds the probe's shape and the config the names.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .errors import ConfigError
from .yamlsource import Source, load_yaml, read_text

if TYPE_CHECKING:
    pass


class LocatedError(ValueError):
    """A config problem found after parsing, with its key path relative to where it was raised."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def _scalar_text(value: Any) -> Any:
    # YAML reads `port: 8080` as an int; a template variable is text either way.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_scalar_text)]


def _var_value(value: Any) -> Any:
    # A var is text (a number reads as text) or a list of names, each non-empty text.
    if isinstance(value, list):
        items = [_scalar_text(item) for item in value]
        for item in items:
            if not isinstance(item, str) or not item:
                raise ValueError(f"a list var holds names (non-empty text), not {item!r}")
        return items
    value = _scalar_text(value)
    if not isinstance(value, str):
        raise ValueError(f"a var is text or a list of names, not {value!r}")
    return value


VarValue = Annotated[str | list[str], BeforeValidator(_var_value)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ExpectedTable(_Model):
    """A table that must exist, with required columns {name: type}; a null type means any."""

    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$-]*(\.[A-Za-z_][A-Za-z0-9_$-]*){0,2}$")
    columns: dict[str, str | None] = Field(default_factory=dict)


class _Probe(_Model):
    name: str = Field("", description="required unless for_each names the probes")
    for_each: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="a list var: one probe per name in it, that name as {name}",
    )
    group: str | None = Field(None, description="heading it is listed under; default: the kind")
    how_to_check: str | None = Field(None, description="shown when missing; default derived")
    timeout_seconds: float | None = Field(None, gt=0, description="default: --timeout")

    @model_validator(mode="after")
    def _named(self) -> _Probe:
        if self.for_each is None and not self.name:
            raise LocatedError("a probe needs a name (or for_each: a list var of names)", ("name",))
        if self.for_each is not None and self.name:
            raise LocatedError(
                f"a for_each probe is named by the items of {self.for_each}; drop name", ("name",)
            )
        return self

    @property
    def heading(self) -> str:
        """The group it is listed under."""
        return self.group or str(getattr(self, "kind", "probe"))

    def templates(self) -> dict[str, str]:
        """Every templated text of the probe, keyed by the field it sits in."""
        return {"how_to_check": self.how_to_check} if self.how_to_check else {}

    def variables(self, shared: Mapping[str, str]) -> dict[str, str]:
        """The mapping its templates are rendered with: shared vars, then its own, then name."""
        return {**shared, "name": self.name}

    def default_how(self, variables: Mapping[str, str]) -> str:
        """The by-hand check shown when no ``how_to_check`` is given."""
        raise NotImplementedError

    def how(self, variables: Mapping[str, str]) -> str:
        """The by-hand check, rendered."""
        if self.how_to_check:
            return self.how_to_check.format_map(variables)
        return self.default_how(variables)


class CommandProbe(_Probe):
    """Present when ``argv`` (a list, never a shell string) exits 0 within the timeout."""

    kind: Literal["command"]
    argv: list[str] = Field(min_length=1)
    vars: dict[str, Text] = Field(default_factory=dict)
    env: dict[str, Text] = Field(
        default_factory=dict, description="extra environment; an entry rendering empty is unset"
    )
    expect_output: bool = Field(False, description="also require non-empty standard output")

    def templates(self) -> dict[str, str]:
        out = {f"argv[{i}]": arg for i, arg in enumerate(self.argv)}
        out.update({f"env.{key}": value for key, value in self.env.items()})
        return {**out, **super().templates()}

    def variables(self, shared: Mapping[str, str]) -> dict[str, str]:
        return {**shared, **self.vars, "name": self.name}

    def command(self, variables: Mapping[str, str]) -> list[str]:
        """The argv with its placeholders filled in."""
        return [arg.format_map(variables) for arg in self.argv]

    def environment(self, variables: Mapping[str, str]) -> dict[str, str]:
        """The extra environment entries that render non-empty."""
        rendered = {key: value.format_map(variables) for key, value in self.env.items()}
        return {key: value for key, value in rendered.items() if value}

    def default_how(self, variables: Mapping[str, str]) -> str:
        prefix = [f"{k}={shlex.quote(v)}" for k, v in self.environment(variables).items()]
        return " ".join([*prefix, shlex.join(self.command(variables))])


class HttpProbe(_Probe):
    """Present when a GET of ``url`` answers ``expect_status`` within the timeout."""

    kind: Literal["http"]
    url: str = Field(min_length=1, description="http(s) URL; {placeholders} allowed")
    expect_status: int = Field(200, ge=100, le=599)

    def templates(self) -> dict[str, str]:
        return {"url": self.url, **super().templates()}

    def target(self, variables: Mapping[str, str]) -> str:
        """The URL with its placeholders filled in."""
        return self.url.format_map(variables)

    def default_how(self, variables: Mapping[str, str]) -> str:
        url = shlex.quote(self.target(variables))
        return f"curl -sS -o /dev/null -w '%{{http_code}}\\n' {url}"


class EnvProbe(_Probe):
    """Present when the environment variable is set and non-empty; its value is never shown."""

    kind: Literal["env"]
    variable: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    def default_how(self, variables: Mapping[str, str]) -> str:
        return f"echo ${{{self.variable}:+set}}"


Probe = Annotated[CommandProbe | HttpProbe | EnvProbe, Field(discriminator="kind")]


class Infrastructure(_Model):
    """The ``infrastructure`` section: expected warehouse objects and probes, plus presets."""

    include: list[str] = Field(default_factory=list, description="preset names or file paths")
    vars: dict[str, VarValue] = Field(
        default_factory=dict, description="text for {placeholders}; lists of names for for_each"
    )
    schemas: list[str] = Field(default_factory=list, description="schemas that must exist")
    tables: list[ExpectedTable] = Field(default_factory=list)
    phase_tables: bool = Field(True, description="expect every table the phases name")
    probes: list[Probe] = Field(default_factory=list)

    @property
    def texts(self) -> dict[str, str]:
        """The text vars, which fill ``{placeholders}`` (list vars feed ``for_each``)."""
        return {key: value for key, value in self.vars.items() if isinstance(value, str)}

    @model_validator(mode="after")
    def _consistent(self) -> Infrastructure:
        _check_unique([(i, p) for i, p in enumerate(self.probes) if p.for_each is None], set())
        _check_lists(self.vars)
        if not self.include:  # with includes, the merge checks against the presets' vars
            _check_for_each(self.probes, self.vars)
            _check_placeholders(self.probes, self.vars)
            _check_vars_used(self.vars, self.probes, declared=())
            _check_unique(_expanded(self.probes, self.vars), set())
        return self


def _check_unique(probes: Iterable[tuple[int, Any]], seen: set[tuple[str, str]]) -> None:
    for i, probe in probes:
        key = (probe.heading, probe.name)
        if key in seen:
            raise LocatedError(
                f"probe {probe.heading} {probe.name} is declared twice", ("probes", i)
            )
        seen.add(key)


def _list_names(vars_: Mapping[str, str | list[str]]) -> str:
    return ", ".join(sorted(k for k, v in vars_.items() if isinstance(v, list))) or "none"


def _check_lists(vars_: Mapping[str, str | list[str]]) -> None:
    for key, value in vars_.items():
        if isinstance(value, list):
            for j, item in enumerate(value):
                if item in value[:j]:
                    raise LocatedError(f"var {key!r} names {item!r} twice", ("vars", key, j))


def _check_for_each(probes: list[Any], shared: Mapping[str, str | list[str]]) -> None:
    for i, probe in enumerate(probes):
        key = probe.for_each
        if key is not None and not isinstance(shared.get(key), list):
            what = "is text, not a list of names" if key in shared else "is not declared"
            raise LocatedError(
                f"var {key!r} {what} (list vars: {_list_names(shared)})",
                ("probes", i, "for_each"),
            )


def _check_kinds(
    main: Mapping[str, str | list[str]], shared: Mapping[str, str | list[str]]
) -> None:
    """A var the config sets must be of the kind (text or list) the include declares."""
    for key, value in main.items():
        if key in shared and isinstance(shared[key], list) != isinstance(value, list):
            if isinstance(shared[key], list):
                raise LocatedError(
                    f"var {key!r} is a list of names, e.g. [a, b], not {value!r}", ("vars", key)
                )
            raise LocatedError(f"var {key!r} is text, not a list", ("vars", key))


def _expanded(probes: list[Any], shared: Mapping[str, str | list[str]]) -> list[tuple[int, Any]]:
    """(index, probe) per probe, a for_each probe once per name of its list var."""
    out: list[tuple[int, Any]] = []
    for i, probe in enumerate(probes):
        if probe.for_each is None:
            out.append((i, probe))
            continue
        for name in shared[probe.for_each]:
            out.append((i, probe.model_copy(update={"name": name, "for_each": None})))
    return out


def placeholders(text: str) -> set[str]:
    """The variable names a ``str.format`` template uses; ValueError if it is malformed."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None:
            root = re.split(r"[.\[]", field, maxsplit=1)[0]
            if not root:
                raise ValueError("positional {} placeholders are not allowed; name them")
            names.add(root)
    return names


def _check_placeholders(probes: list[Any], shared: Mapping[str, str | list[str]]) -> None:
    texts = {key: value for key, value in shared.items() if isinstance(value, str)}
    for i, probe in enumerate(probes):
        known = probe.variables(texts)
        for field, text in probe.templates().items():
            try:
                unknown = sorted(placeholders(text) - set(known))
            except ValueError as exc:
                raise LocatedError(f"bad template {text!r}: {exc}", ("probes", i, field)) from None
            if unknown and unknown[0] in shared:
                raise LocatedError(
                    f"{{{unknown[0]}}} is a list var: give it as for_each: {unknown[0]}, "
                    "and each of its names is {name}",
                    ("probes", i, field),
                )
            if unknown:
                names = ", ".join(sorted(known)) or "none"
                raise LocatedError(
                    f"unknown placeholder {{{unknown[0]}}} (vars: {names}; write {{{{ for a literal brace)",
                    ("probes", i, field),
                )


def _check_vars_used(
    vars_: Mapping[str, str | list[str]], probes: list[Any], declared: Iterable[str]
) -> None:
    used = set(declared)
    for probe in probes:
        if probe.for_each is not None:
            used.add(probe.for_each)
        for text in probe.templates().values():
            used |= placeholders(text)
    for key in vars_:
        if key not in used:
            import difflib  # only for an error

            close = difflib.get_close_matches(key, sorted(used), n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"used: {', '.join(sorted(used)) or 'none'}"
            )
            raise LocatedError(f"var {key!r} is used by no probe ({hint})", ("vars", key))


# --- presets ------------------------------------------------------------------------------
def presets() -> list[str]:
    """The names of the packaged presets (``include: [NAME]``)."""
    folder = resources.files("phaseguard.presets")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".yml"))


def read_include(name: str, base_dir: Path) -> Source:
    """The YAML of one include: a packaged preset by name, else a path relative to the config.

    Raises:
        LocatedError: no such preset or file (loc is empty: the caller knows where it was named).
    """
    if re.fullmatch(r"[A-Za-z0-9_-]+", name):
        resource = resources.files("phaseguard.presets") / f"{name}.yml"
        if not resource.is_file():
            raise LocatedError(f"unknown preset {name!r} (presets: {', '.join(presets())})", ())
        return load_yaml(resource.read_text(encoding="utf-8"), f"preset {name} ({resource})")
    path = Path(name) if Path(name).is_absolute() else base_dir / name
    try:
        return load_yaml(read_text(path), str(path))  # a regular file of bounded size only
    except ConfigError as exc:
        if exc.line is not None:  # inside the included file: it names its own line
            raise
        raise LocatedError(f"cannot read include {name!r}: {exc.reason} ({path})", ()) from None
    except OSError as exc:
        raise LocatedError(f"cannot read include {name!r}: {exc.strerror} ({path})", ()) from None


def merge(main: Infrastructure, included: list[Infrastructure]) -> Infrastructure:
    """``main`` with its includes folded in: presets' vars are defaults, lists are joined,
    and every ``for_each`` probe is expanded, one per name of its list var.

    Raises:
        LocatedError: a var no probe uses or of the wrong kind (text or list), a placeholder
            no var fills, a for_each on no list var, a probe declared twice (loc relative
            to ``main``).
    """
    shared: dict[str, str | list[str]] = {}
    for part in included:
        shared.update(part.vars)
    _check_kinds(main.vars, shared)
    _check_for_each(main.probes, {**shared, **main.vars})
    _check_placeholders(main.probes, {**shared, **main.vars})
    _check_vars_used(main.vars, main.probes, declared=shared)
    shared.update(main.vars)
    seen: set[tuple[str, str]] = set()
    probes = []
    for part in [*included, main]:
        expanded = _expanded(part.probes, shared)
        _check_unique(expanded, seen)
        probes += [probe for _, probe in expanded]
    schemas = list(dict.fromkeys(s for part in [*included, main] for s in part.schemas))
    return main.model_copy(
        update={
            "include": [],
            "vars": shared,
            "schemas": schemas,
            "tables": [t for part in [*included, main] for t in part.tables],
            "probes": probes,
        }
    )
