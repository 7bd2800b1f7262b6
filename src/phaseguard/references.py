"""A config's cross-references: every name it uses exists where it must.

Phases, table keys and dimensions are each declared once; ``depends_on``, gates and
``health.partial_phases`` name phases that exist; a check names tables of its phase (or,
for a gate, of the pipeline), a keyed check's parent is a phase table or a dimension; a
quorum can be met; a range on a table's date column has dates for bounds; phases form no
cycle; coverage has a schedule table to cover. Each failure is a :class:`RefError` with
the location of the key at fault, which the config loader turns into one
``file:line: key: message`` error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .kinds import Quorum
from .rowkinds import Range

if TYPE_CHECKING:
    from .config import Config


class RefError(ValueError):
    """A name that does not exist where it must, at ``loc`` (the key's path in the config)."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def validate_references(config: Config) -> None:
    """Names that must exist do; phases form no cycle. Raises RefError with a location."""
    phase_names = [p.name for p in config.phases]
    tables: dict[str, str] = {}
    for i, phase in enumerate(config.phases):
        if phase_names.count(phase.name) > 1:
            raise RefError(f"phase {phase.name!r} is declared twice", ("phases", i, "name"))
        for j, table in enumerate(phase.tables):
            if table.name in tables:
                raise RefError(
                    f"table key {table.name!r} is used twice", ("phases", i, "tables", j, "name")
                )
            tables[table.name] = phase.name
        for j, dep in enumerate(phase.depends_on):
            if dep not in phase_names:
                raise RefError(f"unknown phase {dep!r}", ("phases", i, "depends_on", j))
    dimensions = _check_dimensions(config, tables)
    for i, phase in enumerate(config.phases):
        own = {t.name for t in phase.tables}
        for j, check in enumerate(phase.checks):
            _check_parents(check, tables, dimensions, ("phases", i, "checks", j))
            _check_refs(check, own, tables, ("phases", i, "checks", j))
            _check_range(check, config, ("phases", i, "checks", j))
            _check_quorum(check, config, [t.name for t in phase.tables], ("phases", i, "checks", j))
    _check_cycles(config)
    for i, gate in enumerate(config.gates):
        if gate.phase not in phase_names:
            raise RefError(f"unknown phase {gate.phase!r}", ("gates", i, "phase"))
        for j, up in enumerate(gate.upstream or []):
            if up not in phase_names:
                raise RefError(f"unknown phase {up!r}", ("gates", i, "upstream", j))
        upstream = gate.upstream or config.phase(gate.phase).depends_on
        if not upstream:
            where = ("gates", i, "upstream") if gate.upstream is not None else ("gates", i, "phase")
            raise RefError(
                f"gate {gate.phase!r} has no upstream: phase {gate.phase!r} has no depends_on "
                "and the gate names no upstream, so there is nothing to check",
                where,
            )
        upstream_tables = [t.name for p in config.phases if p.name in upstream for t in p.tables]
        for j, check in enumerate(gate.checks or []):
            _check_parents(check, tables, dimensions, ("gates", i, "checks", j))
            _check_refs(check, set(tables), tables, ("gates", i, "checks", j))
            _check_range(check, config, ("gates", i, "checks", j))
            _check_quorum(check, config, upstream_tables, ("gates", i, "checks", j))
    if config.schedule.table is None:
        for i, phase in enumerate(config.phases):
            for j, check in enumerate(phase.checks):
                _needs_schedule_table(check, ("phases", i, "checks", j))
        for i, gate in enumerate(config.gates):
            for j, check in enumerate(gate.checks or []):
                _needs_schedule_table(check, ("gates", i, "checks", j))
    for j, name in enumerate(config.health.partial_phases or []):
        if name not in phase_names:
            raise RefError(f"unknown phase {name!r}", ("health", "partial_phases", j))


def _check_dimensions(config: Config, tables: dict[str, str]) -> set[str]:
    """Dimension names: each once, none a phase table's key. Returns them."""
    names: set[str] = set()
    for i, dimension in enumerate(config.dimensions):
        if dimension.name in names or dimension.name in tables:
            what = "dimension" if dimension.name in names else "phase table"
            raise RefError(
                f"{dimension.name!r} is already a {what}'s name", ("dimensions", i, "name")
            )
        names.add(dimension.name)
    return names


def _check_parents(
    check: Any, tables: dict[str, str], dimensions: set[str], loc: tuple[str | int, ...]
) -> None:
    """A keyed check's parent (``to.table``) or reference list (``values_from.table``) is a
    phase table or a dimension; the table it grades is not a dimension (no dates)."""
    if getattr(check, "table", None) in dimensions:
        raise RefError(
            f"{check.table!r} is a dimension (no date column): it can only be a parent "
            "(to.table) or a reference list (values_from.table)",
            (*loc, "table"),
        )
    for attr in ("to", "values_from"):
        ref = getattr(check, attr, None)
        if ref is not None and ref.table not in tables and ref.table not in dimensions:
            import difflib  # only for an error

            close = difflib.get_close_matches(ref.table, [*tables, *dimensions], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RefError(
                f"unknown table {ref.table!r}: not a phase table or a dimension{hint}",
                (*loc, attr, "table"),
            )


def _needs_schedule_table(check: Any, loc: tuple[str | int, ...]) -> None:
    if check.kind == "unit_coverage":
        raise RefError(
            "unit_coverage needs a schedule table with a unit (a calendar schedule names "
            "no units to cover): use rows_exist or rows_per_unit",
            (*loc, "kind"),
        )


def _check_refs(
    check: Any, own: set[str], tables: dict[str, str], loc: tuple[str | int, ...]
) -> None:
    names: list[tuple[str, str]] = []
    for attr in ("table", "numerator", "denominator"):
        if getattr(check, attr, None) is not None:
            names.append((attr, getattr(check, attr)))
    for attr in ("tables", "required", "any_of"):
        for value in getattr(check, attr, None) or []:
            names.append((attr, value))
    for attr in ("left", "right"):  # a reconciliation's sides
        if getattr(check, attr, None) is not None:
            names.append((attr, getattr(check, attr).table))
    for attr, value in names:
        if value not in tables:
            raise RefError(f"unknown table {value!r}", (*loc, attr))
    if check.kind in ("rows_exist", "quorum"):
        for value in check.tables or []:
            if value not in own:
                raise RefError(f"table {value!r} is not in this phase", (*loc, "tables"))
        for value in getattr(check, "any_of", None) or []:
            if value not in own:
                raise RefError(f"table {value!r} is not in this phase", (*loc, "any_of"))


def _check_range(check: Any, config: Config, loc: tuple[str | int, ...]) -> None:
    """A range on its table's date column (a date or a timestamp) has dates for bounds."""
    if isinstance(check, Range):
        why = check.date_column_error(config.table(check.table).date_column)
        if why:
            raise RefError(why, (*loc, "min" if check.min is not None else "max"))


def _check_quorum(
    check: Any, config: Config, default_tables: list[str], loc: tuple[str | int, ...]
) -> None:
    """A quorum that can be met: min_present within its tables, required ones among them."""
    if not isinstance(check, Quorum):
        return
    tables = check.tables or default_tables
    if check.min_present > len(tables):
        raise RefError(
            f"min_present {check.min_present} is more than the quorum's {len(tables)} tables "
            f"({', '.join(tables) or 'none'}): it could never be met",
            (*loc, "min_present"),
        )
    for k, key in enumerate(check.required or []):
        if key not in tables:
            raise RefError(
                f"required table {key!r} is not one of the quorum's tables ({', '.join(tables)})",
                (*loc, "required", k),
            )


def _check_cycles(config: Config) -> None:
    deps = {p.name: list(p.depends_on) for p in config.phases}
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            index = [p.name for p in config.phases].index(name)
            raise RefError(f"dependency cycle: {cycle}", ("phases", index, "depends_on"))
        state[name] = 1
        for dep in deps[name]:
            visit(dep, [*path, name])
        state[name] = 2

    for name in deps:
        visit(name, [])
