"""Why a measurement statement failed, when the cause is a check's own config.

After a statement fails, the tables' columns are read from the catalogue and each check's
``where:`` and ``range`` are compared with them: a column the table lacks (a double-quoted
"BOS" is a column name in SQL, not a string), bounds not of the column's kind. The answer is
one line naming the check, the table and the column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from phaseguard.plan import Metric, Probe

from .expressions import parse_condition
from .lazy import exp


def misread(
    probes: Sequence[Probe],
    existing: Mapping[str, Mapping[str, str]],
    names: Mapping[str, str],
) -> str:
    """Why a statement that failed could not read what a check asks, when it is the
    check's config: a ``where:`` naming a column its table lacks (a double-quoted "BOS" is
    a column name in SQL, not a string), or a ``range`` whose bounds are not of its
    column's kind. One line naming the check (``names``: see ``Plan.names``), the table and
    the column; '' when nothing is found. ``existing``: {table: {column: type}}, lower-cased
    names, as ``Warehouse.columns`` returns them.
    """
    for probe in probes:
        for key, where, tables in _conditions(probe):
            for table in tables:
                columns = existing.get(table.lower())
                why = _unread_column(where, table, columns) if columns is not None else ""
                if why:
                    return f"{names.get(key) or probe.key}: where: {why}"
        columns = existing.get(probe.table.lower(), {})
        for metric in probe.metrics if not probe.listing and not probe.keyed else ():
            if metric.kind == "outside" and metric.column.lower() in columns:
                label = names.get(f"{probe.key}|{metric.key}") or f"range({probe.key})"
                why = _bounds_unlike(metric, columns[metric.column.lower()])
                if why:
                    return f"{label}: column {metric.column} of {probe.table} is {why}"
    return ""


def _conditions(probe: Probe) -> list[tuple[str, str, list[str]]]:
    """Each ``where:`` a probe reads: (the key ``Plan.names`` knows its check by, the
    condition, the tables it filters)."""
    if probe.keyed:
        return [(probe.key, probe.keyed.where, [probe.table])] if probe.keyed.where else []
    if probe.against or probe.listing:
        where = probe.metrics[1].where
        tables = [probe.table, *(source.table for source in probe.also)]
        return [(probe.key, where, tables)] if where else []
    return [(f"{probe.key}|{m.key}", m.where, [probe.table]) for m in probe.metrics if m.where]


def _unread_column(where: str, table: str, columns: Mapping[str, str]) -> str:
    """The first column ``where`` names that ``table`` lacks, said so ('' if none)."""
    for column in parse_condition(where).find_all(exp.Column):
        name = column.name
        if name.lower() in columns:
            continue
        if column.this.args.get("quoted"):
            return (
                f"\"{name}\" is a column name in SQL; write '{name}' for a string "
                f"({table} has no column {name})"
            )
        return f"column {name} does not exist in table {table}"
    return ""


_NUMERIC_TYPES = ("INT", "DOUBLE", "FLOAT", "REAL", "NUMERIC", "DECIMAL", "NUMBER")


def _bounds_unlike(metric: Metric, column_type: str) -> str:
    """Why an "outside" metric's bounds cannot be compared with a column of this type
    ('' when they can): numbers against a DATE or TIMESTAMP, dates against a number."""
    temporal = column_type.startswith(("DATE", "TIMESTAMP"))
    if metric.params.get("dates"):
        if temporal:
            return ""
        if any(word in column_type for word in _NUMERIC_TYPES):
            return f"{column_type}, but min/max are dates: give them as numbers"
        return f"{column_type}, but min/max are dates: a range of dates reads a DATE or TIMESTAMP column"
    if temporal:
        return f"{column_type}, but min/max are numbers: give them as dates (e.g. min: 2020-01-01)"
    return ""
