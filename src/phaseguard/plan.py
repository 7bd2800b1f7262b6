"""Plans and measurements: what a command needs read from the warehouse, and what came back.

A plan lists, per table, the metrics the chosen checks need (row count, distinct units,
distinct values of a column, an aggregate, the newest timestamp). The warehouse answers a
whole plan over a date range in one query, as :class:`Measurements`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from .config import Check, Config

SCHEDULE = "__schedule__"
MetricKind = Literal["rows", "units", "distinct", "aggregate", "max_epoch"]


@dataclass(frozen=True, order=True)
class Metric:
    """One number per (table, date): e.g. rows, or distinct values of ``column``."""

    kind: MetricKind
    column: str = ""
    expr: str = ""

    @cached_property
    def key(self) -> str:
        """Stable name of the metric, used to look its value up."""
        return ":".join(part for part in (self.kind, self.column, self.expr) if part)


ROWS = Metric("rows")


@dataclass(frozen=True)
class Probe:
    """The metrics to read from one table, grouped by its date column; row count first."""

    key: str
    table: str
    date_column: str
    metrics: tuple[Metric, ...]

    def __post_init__(self) -> None:
        if not self.metrics or self.metrics[0] != ROWS:
            raise ValueError(f"probe {self.key}: the first metric must be the row count")


@dataclass(frozen=True)
class Plan:
    """Everything one command reads from the warehouse, for dates ``start``..``end``."""

    start: dt.date
    end: dt.date
    probes: tuple[Probe, ...]

    @cached_property
    def dates(self) -> list[dt.date]:
        """Every date of the range, inclusive."""
        days = (self.end - self.start).days
        return [self.start + dt.timedelta(days=i) for i in range(days + 1)]


Row = Sequence[float | None]
_NO_ROWS: dict[str, Row] = {}


@dataclass(frozen=True)
class Measurements:
    """The warehouse's answer to a plan: metric values per date and table key.

    ``partitions[date][key]`` is the row of values read for one partition, in the order
    ``positions[key]`` gives ({metric key: index}; the row count is always at 0); a
    partition with no rows is absent.
    Kept as the rows the warehouse returned: judging a season never copies them.
    """

    plan: Plan
    partitions: dict[dt.date, dict[str, Row]]
    positions: dict[str, dict[str, int]]

    @classmethod
    def from_values(
        cls, plan: Plan, values: Mapping[tuple[str, dt.date], Mapping[str, float | None]]
    ) -> Measurements:
        """Measurements built by hand: {(table key, date): {metric key: value}}."""
        positions: dict[str, dict[str, int]] = {}
        for (key, _), cell in values.items():
            names = positions.setdefault(key, {ROWS.key: 0})
            for name in cell:
                names.setdefault(name, len(names))
        partitions: dict[dt.date, dict[str, Row]] = {}
        for (key, date), cell in values.items():
            row: list[float | None] = [None] * len(positions[key])
            for name, value in cell.items():
                row[positions[key][name]] = value
            partitions.setdefault(date, {})[key] = row
        return cls(plan, partitions, positions)

    def on(self, date: dt.date) -> dict[str, Row]:
        """The partitions measured on ``date``, by table key."""
        return self.partitions.get(date, _NO_ROWS)

    def get(self, table: str, date: dt.date, metric: Metric) -> float | None:
        """The value, 0 for a count over no rows, None for an aggregate over no rows."""
        row = self.on(date).get(table)
        index = self.positions.get(table, {}).get(metric.key)
        value = None if row is None or index is None else row[index]
        if value is None:
            return 0.0 if metric.kind in ("rows", "units", "distinct") else None
        return value

    def rows(self, table: str, date: dt.date) -> int:
        """Row count of a partition (0 when absent)."""
        return int(self.get(table, date, ROWS) or 0)

    def scheduled(self, date: dt.date, unit: str) -> int:
        """Units scheduled on ``date`` (e.g. games)."""
        return int(self.get(SCHEDULE, date, Metric("units", unit)) or 0)


def metrics_for(
    check: Check, config: Config, phase_tables: Sequence[str]
) -> Iterable[tuple[str, Metric]]:
    """The (table key, metric) pairs one check needs."""
    kind = check.kind
    if kind in ("rows_exist", "quorum"):
        for key in check.tables or phase_tables:  # type: ignore[union-attr]
            yield key, ROWS
    elif kind == "rows_per_unit":
        yield check.table, ROWS  # type: ignore[union-attr]
    elif kind == "unit_coverage":
        table = config.table(check.table)  # type: ignore[union-attr]
        yield table.name, Metric("units", table.unit or config.schedule.unit)
    elif kind == "distinct_count":
        yield check.table, Metric("distinct", check.column)  # type: ignore[union-attr]
    elif kind == "aggregate":
        yield check.table, Metric("aggregate", expr=check.expr)  # type: ignore[union-attr]
    elif kind == "ratio":
        yield check.numerator, ROWS  # type: ignore[union-attr]
        yield check.denominator, ROWS  # type: ignore[union-attr]
    elif kind == "freshness":
        yield check.table, Metric("max_epoch", check.column)  # type: ignore[union-attr]


def build_plan(
    config: Config,
    checks: Iterable[tuple[Check, Sequence[str]]],
    start: dt.date,
    end: dt.date,
) -> Plan:
    """A plan reading what ``checks`` (each with its phase's table keys) need, plus the schedule."""
    wanted: dict[str, set[Metric]] = {}
    for check, phase_tables in checks:
        for key, metric in metrics_for(check, config, phase_tables):
            wanted.setdefault(key, set()).add(metric)
    schedule = config.schedule
    probes = [
        Probe(
            SCHEDULE, schedule.table, schedule.date_column, (ROWS, Metric("units", schedule.unit))
        )
    ]
    for phase in config.phases:
        for table in phase.tables:
            if table.name in wanted:
                metrics = (ROWS, *sorted(wanted[table.name] - {ROWS}))
                probes.append(Probe(table.name, table.table, table.date_column, metrics))
    return Plan(start=start, end=end, probes=tuple(probes))
