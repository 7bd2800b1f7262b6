"""Plans and measurements: what a command needs read from the warehouse, and what came back.

A plan lists, per table, the metrics the chosen checks need (row count, distinct units,
distinct values of a column, an aggregate, the newest timestamp). The warehouse answers a
whole plan over a date range in one query, as :class:`Measurements`.

A schedule table adds three kinds of probe: the schedule's units per date (``SCHEDULE``);
its newest date at or after the range's start (``HORIZON``, one row: proof that a date
with nothing scheduled is an off-day, not a schedule not loaded yet); and, per
``unit_coverage`` check, its units semi-joined with the units of the check's sources
(``coverage:KEYS``: how many of the scheduled units have rows, and the first missing ones).
A rolling-window check widens the range read back by its window, a learned expectation
(``volume_anomaly``, ``freshness_anomaly``) by the calendar days its history needs
(:attr:`Plan.first` is then the first date judged).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

from .config import Config
from .kindbase import Between, Thresholds
from .kinds import (
    Aggregate,
    Check,
    DistinctCount,
    Freshness,
    Quorum,
    Ratio,
    RowsExist,
    RowsPerUnit,
    UnitCoverage,
)
from .learnedkinds import FreshnessAnomaly, VolumeAnomaly
from .rowkinds import (
    AcceptedValues,
    NotNull,
    Range,
    Reconciliation,
    Relationships,
    RowCount,
    Unique,
)

SCHEDULE = "__schedule__"
HORIZON = "__schedule_horizon__"
MetricKind = Literal[
    "rows", "units", "distinct", "aggregate", "max_epoch", "covered", "horizon",
    # row-level kinds (#16): bad-row counts and the observed extremes
    "nulls", "outside", "rejected", "min", "max",
    # keyed kinds (#16): bad rows and offending keys, group sizes
    "bad", "offenders", "groups", "min_group", "max_group",
]  # fmt: skip
COUNTS = ("rows", "units", "distinct", "nulls", "outside", "rejected")  # 0 over no rows
# How many missing units (offending values, keys) a verdict names per date (the rest are
# counted), and up to how many the coverage probe returns (beyond that, only the first);
# the listing and keyed probes return the first that many in key order.
MISSING_SHOWN = 5
MISSING_LISTED = 100
# How a keyed probe's text joins the columns of a key (``a|b``) and its ``key=n:len`` items
# (``a|b=3:3, c|d=2:3``: printable on every backend; ``len`` is the key's length, so a key
# holding ", ", "=" or digits still reads back whole).
KEY_SEPARATOR = "|"
ITEM_SEPARATOR = ", "


@dataclass(frozen=True, order=True)
class Metric:
    """One number per (table, date): e.g. rows, or distinct values of ``column``.

    ``where`` (a ``where:`` filter of the check) makes it read only the rows where the
    condition holds, inside the table's one probe: two checks with different filters on
    one table are two metrics of the same scan. The row-level kinds keep their parameters
    (the columns of "nulls", the bounds of "outside", the values of "rejected") as JSON
    in ``expr``.
    """

    kind: MetricKind
    column: str = ""
    expr: str = ""
    where: str = ""

    @cached_property
    def key(self) -> str:
        """Stable name of the metric, used to look its value up."""
        where = f"where {self.where}" if self.where else ""
        return ":".join(part for part in (self.kind, self.column, self.expr, where) if part)

    @cached_property
    def params(self) -> Any:
        """The row-level parameters kept in ``expr`` (None when there are none)."""
        return json.loads(self.expr) if self.expr and self.kind in ROW_PARAMS else None


ROWS = Metric("rows")
ROW_PARAMS = ("nulls", "outside", "rejected")


def rows_metric(where: str | None) -> Metric:
    """The row count, of the rows where ``where`` holds when it is given."""
    return Metric("rows", where=where) if where else ROWS


def nulls_metric(columns: Sequence[str], where: str | None) -> Metric:
    """Rows with a NULL in ``columns`` (one column: in it; several: in any of them)."""
    if len(columns) == 1:
        return Metric("nulls", columns[0], where=where or "")
    return Metric("nulls", expr=json.dumps(list(columns)), where=where or "")


def outside_metric(check: Range) -> Metric:
    """Rows whose non-NULL ``column`` lies outside the range's bounds."""
    bounds = json.dumps(check.bounds(), sort_keys=True)
    return Metric("outside", check.column, bounds, check.where or "")


def extreme_metric(kind: Literal["min", "max"], check: Range) -> Metric:
    """The smallest or largest non-NULL value of a range's column (``expr`` "date": as
    days since 1970-01-01, the column compared as dates)."""
    return Metric(kind, check.column, "date" if check.dates else "", check.where or "")


def rejected_metric(check: AcceptedValues) -> Metric:
    """Rows whose non-NULL ``column`` is none of the accepted values (a listing probe's)."""
    return Metric("rejected", check.column, json.dumps(check.values), check.where or "")


def listing_key(table: str, metric: Metric) -> str:
    """The key of the listing probe naming the values ``metric`` calls bad in ``table``."""
    return f"{metric.kind}:{table}:{metric.key}"


COVERED: MetricKind = "covered"


@dataclass(frozen=True)
class Source:
    """A table whose units on each date a coverage probe looks for (e.g. box scores' games)."""

    table: str
    date_column: str
    unit: str


@dataclass(frozen=True)
class Reference:
    """Where a keyed probe looks its keys up: a table's ``columns``, on the same date when
    it has a ``date_column``, else in any row (a dimension)."""

    table: str
    date_column: str | None
    columns: tuple[str, ...]


@dataclass(frozen=True)
class KeySpec:
    """What a keyed probe computes per date, by grouping its rows on ``columns`` first.

    ``unique``: keys held by more than one row; ``lookup`` (relationships, accepted_values):
    keys not found in ``reference``; ``groups`` (row_count with group_by): groups whose row
    count is outside ``band`` (comparisons such as ``(">=", 24.0)``, all of which hold
    inside it). Its metrics are rows, bad rows and offending keys (groups: the number of
    groups, the smallest and the largest), and its text the offending keys as
    ``key=rows`` items (a key of several columns as ``a|b``).
    """

    kind: Literal["unique", "lookup", "groups"]
    columns: tuple[str, ...]
    reference: Reference | None = None
    band: tuple[tuple[str, float], ...] = ()
    where: str = ""  # the check's where: filter on its own table's rows


@dataclass(frozen=True)
class Probe:
    """The metrics to read from one table, grouped by its date column; row count first.

    ``reach="after"`` reads one row instead: the table's newest date at or after the
    range's start (its row count there first). A probe with a schedule (``against``) is a
    coverage probe: its "rows" are the schedule's distinct units per date, its second
    metric how many of them have rows in its table (unit column ``metrics[1].column``) or
    in any of ``also``, and it also returns the first missing units as text. A listing
    probe (``listing``) reads the rows its second metric calls bad (accepted_values'
    rejected values): their count as its "rows", how many distinct bad values, and the
    first of them as text, by the coverage probe's rule.
    """

    key: str
    table: str
    date_column: str
    metrics: tuple[Metric, ...]
    reach: Literal["range", "after"] = "range"
    against: Source | None = None
    also: tuple[Source, ...] = ()
    listing: bool = False
    keyed: KeySpec | None = None
    back: int | None = None  # days read before the first judged date; None: the plan's start

    @property
    def since(self) -> str:
        """The bound parameter its range starts at: ``start`` (the plan's start, before any
        window), or ``start_N``, N days before the first judged date (see :meth:`Plan.bounds`).
        """
        return "start" if self.back is None else f"start_{self.back}"

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of its table the probe reads (to name one the table lacks)."""
        own = self.keyed.columns if self.keyed else ()
        return (self.date_column, *(m.column for m in self.metrics if m.column), *own)

    def __post_init__(self) -> None:
        if not self.metrics or self.metrics[0] != ROWS:
            raise ValueError(f"probe {self.key}: the first metric must be the row count")


@dataclass(frozen=True)
class Plan:
    """Everything one command reads from the warehouse, for dates ``start``..``end``."""

    start: dt.date
    end: dt.date
    probes: tuple[Probe, ...]
    first: dt.date | None = None  # the first date judged, when a window reads from before it
    # {probe key, or "probe key|metric key": the first check reading it}: a statement that
    # fails can name the check whose config the warehouse cannot read (not part of the SQL)
    names: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def dates(self) -> list[dt.date]:
        """Every date judged, inclusive (from :attr:`first`, else :attr:`start`)."""
        first = self.first or self.start
        days = (self.end - first).days
        return [first + dt.timedelta(days=i) for i in range(days + 1)]

    def bounds(self) -> dict[str, dt.date]:
        """The statement's date parameters: ``start`` and ``stop`` (the day after the end),
        and the later start of each probe that reads less history than the plan."""
        first = self.first or self.start
        out = {"start": self.start, "stop": self.end + dt.timedelta(days=1)}
        for probe in self.probes:
            if probe.back is not None:
                out[probe.since] = first - dt.timedelta(days=probe.back)
        return out

    @cached_property
    def width(self) -> int:
        """How many metric columns each row of the statement has (``m0..m{width-1}``)."""
        return max((len(p.metrics) for p in self.probes), default=1)

    @cached_property
    def keyed(self) -> bool:
        """Whether the statement returns a text column (a coverage probe's missing units, a
        listing probe's rejected values, a keyed probe's offending keys)."""
        return any(p.against or p.listing or p.keyed for p in self.probes)


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
            return 0.0 if metric.kind in COUNTS else None
        return value

    def rows(self, table: str, date: dt.date) -> int:
        """Row count of a partition (0 when absent)."""
        return int(self.get(table, date, ROWS) or 0)

    def scheduled(self, date: dt.date, unit: str) -> int:
        """Units scheduled on ``date`` (e.g. games)."""
        return int(self.get(SCHEDULE, date, Metric("units", unit)) or 0)

    def text(self, table: str, date: dt.date) -> str | None:
        """The text a coverage probe returned for ``date`` (its first missing units), if any."""
        row = self.on(date).get(table)
        width = self.plan.width
        if row is None or not self.plan.keyed or len(row) < width + 3:
            return None
        value = row[width]
        return None if value is None else str(value)

    @cached_property
    def horizon(self) -> dt.date | None:
        """The schedule's newest date at or after the plan's start (None: no row there)."""
        for day, on in self.partitions.items():
            if HORIZON in on:
                return day
        return None


def coverage_key(sources: Sequence[str], where: str | None = None) -> str:
    """The key of the coverage probe over ``sources`` (table keys), of the rows ``where`` keeps."""
    return "coverage:" + "+".join(sources) + (f":where {where}" if where else "")


def covered_metric(config: Config, sources: Sequence[str], where: str | None = None) -> Metric:
    """The coverage probe's count of covered units; its column is the first source's unit."""
    unit = config.table(sources[0]).unit or config.schedule.unit or ""
    return Metric(COVERED, unit, where=where or "")


def metrics_for(
    check: Check, config: Config, phase_tables: Sequence[str]
) -> Iterable[tuple[str, Metric]]:
    """The (table key, metric) pairs one check needs (a coverage reads a probe of its own)."""
    if isinstance(check, RowsExist | Quorum):
        any_of = check.any_of if isinstance(check, RowsExist) else None
        for key in any_of or check.tables or phase_tables:
            yield key, ROWS
    elif isinstance(check, RowsPerUnit):
        yield check.table, rows_metric(check.where)
    elif isinstance(check, DistinctCount):
        yield check.table, Metric("distinct", check.column, where=check.where or "")
    elif isinstance(check, Aggregate):
        yield check.table, Metric("aggregate", expr=check.expr, where=check.where or "")
    elif isinstance(check, Ratio):
        yield check.numerator, rows_metric(check.where)
        yield check.denominator, ROWS
    elif isinstance(check, Freshness):
        yield check.table, Metric("max_epoch", check.column, where=check.where or "")
    elif isinstance(check, VolumeAnomaly | FreshnessAnomaly):
        yield from learned_metrics_for(check, config)
    else:
        yield from row_metrics_for(check)


def row_metrics_for(check: Check) -> Iterable[tuple[str, Metric]]:
    """The metrics of the row-level and per-table kinds (#16), in their table's probe
    (accepted_values' rejected values are read by a listing probe of their own)."""
    if keyed_variant(check):
        return
    if isinstance(check, NotNull | AcceptedValues | Range | RowCount):
        yield check.table, rows_metric(check.where)
    if isinstance(check, NotNull):
        for column in check.columns:
            yield check.table, nulls_metric([column], check.where)
        if len(check.columns) > 1:
            yield check.table, nulls_metric(check.columns, check.where)
    elif isinstance(check, Range):
        yield check.table, outside_metric(check)
        yield check.table, extreme_metric("min", check)
        yield check.table, extreme_metric("max", check)
    elif isinstance(check, Reconciliation):
        for side in (check.left, check.right):
            yield side.table, Metric("aggregate", expr=side.expr, where=side.where or "")


# --- keyed probes (#16): unique, relationships, accepted_values, row_count by group ---------
BAD = Metric("bad")
OFFENDERS = Metric("offenders")
GROUP_METRICS = (ROWS, Metric("groups"), Metric("min_group"), Metric("max_group"), OFFENDERS)


def keyed_probe(check: Check, config: Config) -> Probe | None:
    """The probe of its own a keyed check reads (None for any other check), keyed by what
    it computes, e.g. ``unique:box:game_id+player_id``: two checks asking the same share it."""
    if not keyed_variant(check):
        return None
    assert isinstance(check, Unique | Relationships | AcceptedValues | RowCount)
    spec = config.table(check.table)
    metrics: tuple[Metric, ...] = (ROWS, BAD, OFFENDERS)
    if isinstance(check, Unique):
        keyed = KeySpec("unique", tuple(check.columns))
    elif isinstance(check, Relationships):
        to = _reference(config, check.to.table, tuple(check.to.columns))
        keyed = KeySpec("lookup", tuple(check.columns), to)
    elif isinstance(check, AcceptedValues):
        assert check.values_from is not None
        ref = check.values_from
        to = _reference(config, ref.table, (ref.column,))
        keyed = KeySpec("lookup", (check.column,), to)
    else:
        keyed = KeySpec("groups", tuple(check.group_by or ()), band=pass_band(check))
        metrics = GROUP_METRICS
    if check.where:
        keyed = dataclasses.replace(keyed, where=check.where)
    key = f"{check.kind}:{check.table}:{'+'.join(keyed.columns)}"
    if keyed.reference is not None:
        key += f">{keyed.reference.table}:{'+'.join(keyed.reference.columns)}"
    if keyed.band:
        key += ":" + ",".join(f"{op}{value:g}" for op, value in keyed.band)
    if keyed.where:
        key += f":where {keyed.where}"
    return Probe(key, spec.table, spec.date_column, metrics, keyed=keyed)


def keyed_variant(check: Check) -> bool:
    """Whether ``check`` reads a keyed probe: unique, relationships, accepted_values with
    ``values_from``, row_count with ``group_by``."""
    if isinstance(check, AcceptedValues):
        return check.values_from is not None
    if isinstance(check, RowCount):
        return check.group_by is not None
    return isinstance(check, Unique | Relationships)


def _reference(config: Config, name: str, columns: tuple[str, ...]) -> Reference:
    """A phase table (looked up on the same date) or a dimension (any row)."""
    try:
        table = config.table(name)
    except KeyError:
        return Reference(config.dimension(name).table, None, columns)
    return Reference(table.table, table.date_column, columns)


def pass_band(t: Thresholds) -> tuple[tuple[str, float], ...]:
    """The counts a group may have and be PASS or better, as comparisons: the pass tier
    (else the excellent one, else the acceptable one). A group outside it is evidence."""
    tier = next(x for x in (t.pass_, t.excellent, t.acceptable) if x is not None)
    if isinstance(tier, Between):
        return ((">=", float(tier.between[0])), ("<=", float(tier.between[1])))
    return (("<", float(tier)),) if t.direction == "lower" else ((">=", float(tier)),)


def learned_metrics_for(
    check: VolumeAnomaly | FreshnessAnomaly, config: Config
) -> Iterable[tuple[str, Metric]]:
    """The metrics of the learned expectations (#16): rows (and, per loaded unit, the units
    the table holds), or the newest timestamp, read for the history too (the plan reaches
    back, see :meth:`VolumeAnomaly.reach`)."""
    if isinstance(check, VolumeAnomaly):
        yield check.table, rows_metric(check.where)
        if check.per == "loaded_unit":
            yield check.table, loaded_units_metric(check, config)
    else:
        yield check.table, Metric("max_epoch", check.column, where=check.where or "")


def loaded_units_metric(check: VolumeAnomaly, config: Config) -> Metric:
    """The distinct units (the table's unit column, else the schedule's) a table holds."""
    unit = config.table(check.table).unit or config.schedule.unit or ""
    return Metric("distinct", unit, where=check.where or "")


def build_plan(
    config: Config,
    checks: Iterable[tuple[Check, Sequence[str]]],
    start: dt.date,
    end: dt.date,
) -> Plan:
    """A plan reading what ``checks`` (each with its phase's table keys) need, plus the schedule.

    A schedule table is read three ways (see the module docstring); a calendar schedule
    reads nothing. A rolling-window check moves the start back by its window, a learned
    expectation by its history's reach.
    """
    wanted: dict[str, set[Metric]] = {}
    coverages: dict[str, tuple[list[str], str | None]] = {}
    listings: dict[str, tuple[str, Metric]] = {}
    keyed: dict[str, Probe] = {}
    reach: dict[str, int] = {}  # probe key: the days of history a check reads from it
    names: dict[str, str] = {}  # see Plan.names
    from .checks import check_name  # checks builds on this module

    for check, phase_tables in checks:
        name = check_name(check)
        if isinstance(check, AcceptedValues) and check.values is not None:
            rejected = rejected_metric(check)
            listings[listing_key(check.table, rejected)] = (check.table, rejected)
            names.setdefault(listing_key(check.table, rejected), name)
        if isinstance(check, UnitCoverage):
            key = coverage_key(check.sources, check.where)
            coverages[key] = (check.sources, check.where)
            names.setdefault(key, name)
            reach[key] = max(reach.get(key, 0), check.window_days - 1)
        probe = keyed_probe(check, config)
        if probe is not None:
            keyed.setdefault(probe.key, probe)
            names.setdefault(probe.key, name)
        history = 0
        if isinstance(check, VolumeAnomaly | FreshnessAnomaly):  # its history, same query
            history = check.reach(config.schedule.weekdays)
        for key, metric in metrics_for(check, config, phase_tables):
            wanted.setdefault(key, set()).add(metric)
            names.setdefault(f"{key}|{metric.key}", name)
            reach[key] = max(reach.get(key, 0), history)
    lookback = max(reach.values(), default=0)
    schedule = config.schedule
    probes: list[Probe] = []
    if schedule.table is not None:
        table, date_column, unit = schedule.columns()
        probes.append(Probe(SCHEDULE, table, date_column, (ROWS, Metric("units", unit))))
        horizon = (ROWS, Metric("horizon"))
        probes.append(Probe(HORIZON, table, date_column, horizon, reach="after"))
        for key, (sources, where) in coverages.items():
            first, *more = [config.table(name) for name in sources]
            also = tuple(Source(t.table, t.date_column, t.unit or unit) for t in more)
            covered = (ROWS, covered_metric(config, sources, where))
            against = Source(table, date_column, unit)
            probes.append(
                Probe(key, first.table, first.date_column, covered, against=against, also=also)
            )
    for phase in config.phases:
        for spec in phase.tables:
            if spec.name in wanted:
                metrics = (ROWS, *sorted(wanted[spec.name] - {ROWS}))
                probes.append(Probe(spec.name, spec.table, spec.date_column, metrics))
    for key, (name, metric) in sorted(listings.items()):
        spec = config.table(name)
        probes.append(Probe(key, spec.table, spec.date_column, (ROWS, metric), listing=True))
    probes.extend(keyed.values())
    if not probes:  # a calendar schedule and checks that read nothing: still one statement
        first = config.phases[0].tables[0]
        probes.append(Probe(first.name, first.table, first.date_column, (ROWS,)))
    if lookback:
        # Only the probes a window or a learned history needs read back that far (on
        # BigQuery, bytes scanned): the others start at the first judged date.
        probes = [_reading_back(p, reach.get(p.key, 0), lookback) for p in probes]
    begin = start - dt.timedelta(days=lookback)
    first_judged = start if lookback else None
    return Plan(start=begin, end=end, probes=tuple(probes), first=first_judged, names=names)


def _reading_back(probe: Probe, back: int, lookback: int) -> Probe:
    """``probe`` reading ``back`` days of history (the whole ``lookback``: from the plan's
    start). The schedule reads all of it: learned histories count its scheduled dates."""
    if probe.key == SCHEDULE or probe.reach == "after" or back >= lookback:
        return probe
    return replace(probe, back=back)
