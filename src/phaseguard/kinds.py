"""The check kinds a config declares, and the traffic-light thresholds they share.

Each kind is a frozen pydantic model tagged by ``kind``; :data:`Check` is their union. What a
kind measures is in :mod:`phaseguard.plan`, how its verdict is judged in
:mod:`phaseguard.checks`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .errors import ConfigError
from .infra import LocatedError
from .model import Model, _ident


def _tags(value: Any) -> Any:
    """Tags are a list of plain identifiers (``[nightly, pii]``), each named by its index."""
    if not isinstance(value, list | tuple):
        raise LocatedError(f"tags is a list of names, e.g. [nightly], not {value!r}", ())
    for i, tag in enumerate(value):
        if not isinstance(tag, str):
            raise LocatedError(f"a tag is a name, not {tag!r}", (i,))
        try:
            _ident(tag)
        except ValueError as exc:
            raise LocatedError(f"tag {exc}", (i,)) from None
        if tag in value[:i]:
            raise LocatedError(f"tag {tag!r} is given twice", (i,))
    return value


class CheckBase(Model):
    """What every check kind accepts, whatever it measures.

    ``severity: warn``: a check that would FAIL gives a warning (ACCEPTABLE) instead,
    naming the limit it crossed, and never fails.
    """

    name: str | None = None
    tags: tuple[str, ...] = Field((), description="labels for --tag; a check also has its phase's")
    severity: Literal["fail", "warn"] = Field(
        "fail", description="warn: beyond the last tier is a warning, never FAIL"
    )
    _v_tags = field_validator("tags", mode="before")(_tags)


def _condition(value: str | None) -> str | None:
    """A ``where:`` filter: one boolean SQL expression over the table's columns, checked
    against the scalar allow-list (said as a ValueError, so the error names file and line)."""
    if value is None:
        return None
    from .warehouse.statement import validate_condition

    try:
        validate_condition(value)
    except ConfigError as exc:
        raise ValueError(exc.reason) from None
    return value


def _aggregate(value: str) -> str:
    """An aggregate expression checked against the allow-list (said as a ValueError)."""
    from .warehouse.statement import validate_aggregate

    try:
        validate_aggregate(value)
    except ConfigError as exc:
        raise ValueError(exc.reason) from None
    return value


WHERE_DESCRIPTION = "only rows where this boolean SQL holds, e.g. minutes > 0"


class Between(Model):
    """A two-sided tier: the value lies in [lo, hi], whatever the direction (``{between: [10, 30]}``)."""

    between: tuple[float, float]


Tier = float | Between


def _bounds(tier: Tier, lower: bool) -> tuple[float, float]:
    """The values a tier accepts, as (lo, hi); one-sided tiers are open towards better."""
    if isinstance(tier, Between):
        return tier.between
    return (-math.inf, tier) if lower else (tier, math.inf)


class Thresholds(CheckBase):
    """Traffic-light thresholds: higher is better (value >= t) unless direction is lower (<).

    A tier is a number, or ``{between: [lo, hi]}`` for a band (e.g. rows per game within the
    expected 10-30). Each tier must sit inside the next worse one (excellent inside pass
    inside acceptable). Below the last tier is FAIL, unless ``severity: warn``: then it is
    a warning (ACCEPTABLE) that names the limit it crossed, and the check never fails.
    """

    excellent: Tier | None = None
    pass_: Tier | None = Field(None, alias="pass")
    acceptable: Tier | None = None
    direction: Literal["higher", "lower"] = "higher"
    # Lower-is-better tiers are strict (value < t) unless a kind counts bad rows: there
    # ``pass: 0`` means at most 0 (value <= t).
    at_most: ClassVar[bool] = False

    @field_validator("excellent", "pass_", "acceptable", mode="before")
    @classmethod
    def _tier_shape(cls, value: Any) -> Any:
        """A number or {between: [lo, hi]}, said plainly (not pydantic's union errors)."""
        if value is None or isinstance(value, Between):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if isinstance(value, dict) and set(value) == {"between"}:
            band = value["between"]
            if (
                isinstance(band, list | tuple)
                and len(band) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in band)
            ):
                return value
            raise LocatedError("a band is {between: [lo, hi]}: two numbers", ())
        raise LocatedError(
            f"a threshold is a number or a band {{between: [lo, hi]}}, not {value!r}", ()
        )

    @model_validator(mode="after")
    def _valid_tiers(self) -> Thresholds:
        set_ = [
            (key, tier)
            for key, tier in (
                ("excellent", self.excellent),
                ("pass", self.pass_),
                ("acceptable", self.acceptable),
            )
            if tier is not None
        ]
        if not set_:
            raise LocatedError("give at least one of excellent, pass, acceptable", ())
        lower = self.direction == "lower"
        for key, tier in set_:
            ends = tier.between if isinstance(tier, Between) else (tier,)
            if not all(math.isfinite(v) for v in ends):
                raise LocatedError(f"a threshold must be a finite number, not {tier!r}", (key,))
            if isinstance(tier, Between) and tier.between[0] > tier.between[1]:
                raise LocatedError(
                    f"between [{_g(tier.between[0])}, {_g(tier.between[1])}] is reversed "
                    "(give [lo, hi])",
                    (key, "between"),
                )
        for (better, b_tier), (worse, w_tier) in itertools.pairwise(set_):
            (b_lo, b_hi), (w_lo, w_hi) = _bounds(b_tier, lower), _bounds(w_tier, lower)
            if b_lo >= w_lo and b_hi <= w_hi:
                continue
            if isinstance(b_tier, Between) or isinstance(w_tier, Between):
                why = f"{better}'s band must lie inside {worse}'s"
            elif lower:
                why = "lower is better, so excellent <= pass <= acceptable"
            else:
                why = "higher is better, so excellent >= pass >= acceptable"
            raise LocatedError(
                f"thresholds out of order: {better} {_tier_text(b_tier)}, "
                f"{worse} {_tier_text(w_tier)} ({why})",
                (better,),
            )
        return self

    def limits(self) -> list[tuple[float, str]]:
        """Every threshold value with its tier's name, for charts: a band gives both ends."""
        out: list[tuple[float, str]] = []
        for label, tier in (
            ("excellent", self.excellent),
            ("pass", self.pass_),
            ("acceptable", self.acceptable),
        ):
            if isinstance(tier, Between):
                out += [(tier.between[0], label), (tier.between[1], label)]
            elif tier is not None:
                out.append((tier, label))
        return out


def _g(value: float) -> str:
    """A threshold as written: repr keeps every digit (0.001, 1.001), no rounding."""
    return repr(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _tier_text(tier: Tier) -> str:
    if isinstance(tier, Between):
        return f"between [{_g(tier.between[0])}, {_g(tier.between[1])}]"
    return _g(tier)


class RowsExist(CheckBase):
    """Every named table (default: all of the phase's) has rows for the date; with
    ``any_of``, at least one of those alternative sources does."""

    kind: Literal["rows_exist"]
    tables: list[str] | None = None
    any_of: list[str] | None = Field(None, min_length=1, description="alternative sources")

    @model_validator(mode="after")
    def _tables_or_any_of(self) -> RowsExist:
        if self.tables is not None and self.any_of is not None:
            raise ValueError("give tables (all must have rows) or any_of (one must), not both")
        return self


class RowsPerUnit(Thresholds):
    """Rows in a table per scheduled unit (e.g. rows per game)."""

    kind: Literal["rows_per_unit"]
    table: str
    where: str | None = Field(None, description=WHERE_DESCRIPTION)
    _v_where = field_validator("where")(_condition)


_WINDOW_RE = re.compile(r"^([1-9][0-9]{0,2})d$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class UnitCoverage(Thresholds):
    """Share of the schedule's units for the date that have rows in the table (games
    covered / scheduled); with ``any_of``, rows in any of those sources; with ``window``
    (``7d``), over the scheduled units of that many days ending on the date."""

    kind: Literal["unit_coverage"]
    table: str | None = None
    any_of: list[str] | None = Field(None, min_length=1, description="alternative sources")
    window: str | None = Field(None, description="rolling window, e.g. 7d (1d..366d)")
    where: str | None = Field(None, description="only the rows where this holds cover a unit")
    _v_where = field_validator("where")(_condition)

    @field_validator("window", mode="before")
    @classmethod
    def _v_window(cls, value: Any) -> Any:
        if value is not None:
            match = _WINDOW_RE.match(value) if isinstance(value, str) else None
            if match is None or int(match.group(1)) > 366:
                raise ValueError(f"window {value!r}: expected a number of days, e.g. 7d (1d..366d)")
        return value

    @model_validator(mode="after")
    def _table_or_any_of(self) -> UnitCoverage:
        if (self.table is None) == (self.any_of is None):
            raise ValueError("give exactly one of table, any_of")
        return self

    @property
    def sources(self) -> list[str]:
        """The table keys whose units count: ``table``, or every one of ``any_of``."""
        return [self.table] if self.table is not None else list(self.any_of or [])

    @property
    def window_days(self) -> int:
        """Days in the rolling window (1: the date alone)."""
        return int(self.window[:-1]) if self.window else 1


class Quorum(CheckBase):
    """At least ``min_present`` of the tables have rows, and all the required ones do.

    Levels: every table present EXCELLENT; the quorum met with more than ``min_present``
    PASS; met at exactly ``min_present`` ACCEPTABLE (a warning: the seeds' early-season
    bootstrap); fewer, or a required table missing, FAIL.
    """

    kind: Literal["quorum"]
    tables: list[str] | None = None
    min_present: int = Field(ge=1)
    required: list[str] | None = Field(None, description="default: the tables marked critical")


class DistinctCount(Thresholds):
    """Distinct values of a column for the date (e.g. prediction systems)."""

    kind: Literal["distinct_count"]
    table: str
    column: str
    where: str | None = Field(None, description=WHERE_DESCRIPTION)
    _v_column = field_validator("column")(_ident)
    _v_where = field_validator("where")(_condition)


class Aggregate(Thresholds):
    """An aggregate SQL expression over the partition (e.g. mean absolute error)."""

    kind: Literal["aggregate"]
    table: str
    expr: str = Field(description="one aggregate expression, e.g. AVG(ABS(a - b))")
    on_empty: Literal["fail", "na"] = Field(
        "fail", description="a scheduled date with no rows to aggregate: FAIL, or na (N/A)"
    )
    where: str | None = Field(None, description=WHERE_DESCRIPTION)
    _v_where = field_validator("where")(_condition)

    _v_expr = field_validator("expr")(_aggregate)


class Ratio(Thresholds):
    """Rows of one table over rows of another for the date (e.g. graded / predicted)."""

    kind: Literal["ratio"]
    numerator: str
    denominator: str
    where: str | None = Field(None, description="counts only the numerator's rows where this holds")
    _v_where = field_validator("where")(_condition)


class Freshness(CheckBase):
    """The newest value of a timestamp column in the partition is at most N hours old."""

    kind: Literal["freshness"]
    table: str
    column: str
    max_age_hours: float = Field(gt=0)
    where: str | None = Field(None, description=WHERE_DESCRIPTION)
    _v_column = field_validator("column")(_ident)
    _v_where = field_validator("where")(_condition)


# --- row-level and per-table kinds (#16): bad rows per date, row counts, reconciliation ---


class RowLevel(Thresholds):
    """A kind that counts BAD rows of a table per date, graded lower-is-better.

    ``measure: count`` grades the number of bad rows, ``share`` bad rows over the rows
    of the partition (those ``where`` keeps). A tier is "at most" (``acceptable: 5``: up
    to 5 bad rows). With no tier, ``excellent: 0``: a clean partition is at its best (as
    rows_exist is when it holds) and any bad row FAILs. A date with no rows is N/A.
    """

    at_most: ClassVar[bool] = True
    table: str
    where: str | None = Field(None, description=WHERE_DESCRIPTION)
    direction: Literal["higher", "lower"] = "lower"
    measure: Literal["count", "share"] = Field("count", description="bad rows, or their share")
    _v_where = field_validator("where")(_condition)

    @model_validator(mode="before")
    @classmethod
    def _no_bad_rows_by_default(cls, data: Any) -> Any:
        tiers = ("excellent", "pass", "pass_", "acceptable")
        if isinstance(data, dict) and not any(data.get(key) is not None for key in tiers):
            return {**data, "excellent": 0}
        return data


class NotNull(RowLevel):
    """Bad rows: a NULL in any of ``columns``; evidence: the NULL count per column."""

    kind: Literal["not_null"]
    columns: list[str] = Field(min_length=1)

    @field_validator("columns")
    @classmethod
    def _v_columns(cls, value: list[str]) -> list[str]:
        for column in value:
            _ident(column)
        if len(set(value)) < len(value):
            raise ValueError("a column is named twice")
        return value


Value = str | int | float


class ValuesFrom(Model):
    """A reference list: the values of ``column`` in a dimension or a phase table."""

    table: str
    column: str
    _v_column = field_validator("column")(_ident)


class AcceptedValues(RowLevel):
    """Bad rows: a non-NULL ``column`` value not in ``values``, or (``values_from``) not
    among the values of a reference column: a dimension's, or a phase table's on the same
    date; evidence: the first offending distinct values."""

    kind: Literal["accepted_values"]
    column: str
    values: list[Value] | None = Field(None, min_length=1)
    values_from: ValuesFrom | None = Field(None, description="a reference list: {table, column}")
    _v_column = field_validator("column")(_ident)

    @model_validator(mode="after")
    def _one_list(self) -> AcceptedValues:
        if (self.values is None) == (self.values_from is None):
            raise ValueError("give exactly one of values, values_from")
        return self

    @field_validator("values", mode="before")
    @classmethod
    def _v_values(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError("values is a list of strings or numbers, e.g. [BOS, LAL]")
        for item in value:
            plain = isinstance(item, str | int | float) and not isinstance(item, bool)
            if not plain or (isinstance(item, float) and not math.isfinite(item)):
                raise ValueError(
                    f"values: {item!r} is not a string or a finite number (quote it: '{item}')"
                )
        return value


Bound = float | dt.date


def bound_text(value: Bound) -> str:
    """A range bound as written: a number (repr keeps every digit) or a date (ISO)."""
    return value.isoformat() if isinstance(value, dt.date) else _g(value)


class Range(RowLevel):
    """Bad rows: a non-NULL ``column`` value below ``min`` or above ``max`` (either bound
    optional; ``inclusive: false`` makes the bounds themselves bad); evidence: the
    observed min and max.

    Bounds are numbers, or dates (``min: 2020-01-01``) for a DATE or TIMESTAMP column: the
    column is then compared as dates (a timestamp on the max's day is within it).
    """

    kind: Literal["range"]
    column: str
    min: Bound | None = None
    max: Bound | None = None
    inclusive: bool = True
    _v_column = field_validator("column")(_ident)

    @field_validator("min", "max", mode="before")
    @classmethod
    def _v_bound(cls, value: Any, info: ValidationInfo) -> Any:
        """A number or a date, said plainly (not pydantic's union errors); a YAML date
        (2020-01-01) or a quoted one ('2020-01-01'), never a time of day."""
        which = info.field_name
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return value
        if isinstance(value, dt.datetime):
            raise ValueError(
                f"range compares dates: give {which} as a date ({value.date().isoformat()}), "
                "not a time of day"
            )
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str) and _ISO_DATE.match(value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ValueError(f"{which} {value!r} is not a number or a date (YYYY-MM-DD)")

    @model_validator(mode="after")
    def _bounds_given(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        for bound in (self.min, self.max):
            if isinstance(bound, float) and not math.isfinite(bound):
                raise ValueError(f"a bound must be a finite number, not {bound!r}")
        low, high = self.min, self.max
        if low is None or high is None:
            return self
        if isinstance(low, dt.date) != isinstance(high, dt.date):
            first, second = ("date", "number") if isinstance(low, dt.date) else ("number", "date")
            raise ValueError(
                f"min is a {first} and max a {second}: give both as dates or both as numbers"
            )
        if low > high:  # type: ignore[operator]  # both dates or both numbers
            after = "after" if isinstance(low, dt.date) else "above"
            raise ValueError(f"min {bound_text(low)} is {after} max {bound_text(high)}")
        return self

    @property
    def dates(self) -> bool:
        """Whether the bounds are dates (the column is compared as dates)."""
        return isinstance(self.min, dt.date) or isinstance(self.max, dt.date)

    def bounds(self) -> dict[str, object]:
        """The bounds as JSON values (a date as ISO text, with ``dates: true``), for the
        metric that counts the rows outside them."""
        out: dict[str, object] = {
            "min": self.min.isoformat() if isinstance(self.min, dt.date) else self.min,
            "max": self.max.isoformat() if isinstance(self.max, dt.date) else self.max,
            "inclusive": self.inclusive,
        }
        if self.dates:
            out["dates"] = True
        return out

    def date_column_error(self, date_column: str) -> str | None:
        """Why numeric bounds cannot hold on the table's date column (known a date or a
        timestamp when the config loads), else None."""
        if self.dates or self.column.lower() != date_column.lower():
            return None
        return (
            f"{self.column} is the date column of {self.table}: give min and max as dates "
            "(e.g. 2020-01-01), not numbers"
        )


class RowCount(Thresholds):
    """Rows of the table for the date (``where``: rows where it holds), e.g.
    ``pass: {between: [200, 400]}``."""

    kind: Literal["row_count"]
    table: str
    where: str | None = Field(None, description=WHERE_DESCRIPTION)
    group_by: list[str] | None = Field(
        None, min_length=1, description="graded per group of these columns: the worst decides"
    )
    _v_where = field_validator("where")(_condition)

    @field_validator("group_by")
    @classmethod
    def _v_group_by(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _idents(value)


class Side(Model):
    """One side of a reconciliation: an aggregate of one table for the date."""

    table: str
    expr: str = Field(description="one aggregate expression, e.g. SUM(n_flights)")
    where: str | None = Field(None, description=WHERE_DESCRIPTION)
    _v_expr = field_validator("expr")(_aggregate)
    _v_where = field_validator("where")(_condition)


class Reconciliation(CheckBase):
    """An aggregate of one table equals an aggregate of another for the date, within
    ``tolerance`` (absolute, default 0) or ``tolerance_pct`` (percent of the right side)."""

    kind: Literal["reconciliation"]
    left: Side
    right: Side
    tolerance: float | None = Field(None, ge=0)
    tolerance_pct: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_tolerance(self) -> Reconciliation:
        if self.tolerance is not None and self.tolerance_pct is not None:
            raise ValueError("give tolerance (absolute) or tolerance_pct, not both")
        for value in (self.tolerance, self.tolerance_pct):
            if value is not None and not math.isfinite(value):
                raise ValueError(f"a tolerance must be a finite number, not {value!r}")
        return self


# --- end of the row-level and per-table kinds ---


# --- Keyed kinds (#16): each reads a probe of its own (a join or a second grouping step) -----


def _idents(value: list[str]) -> list[str]:
    for column in value:
        _ident(column)
    if len(set(value)) < len(value):
        raise ValueError(f"a column is named twice in {value!r}")
    return value


class Unique(RowLevel):
    """No two rows of the partition share a key (one column or several): the bad rows are
    those beyond the first per key; rows with a NULL in the key are skipped."""

    kind: Literal["unique"]
    columns: list[str] = Field(min_length=1, description="the key: one column or several")
    _v_columns = field_validator("columns")(_idents)


class Parent(Model):
    """The parent of a ``relationships`` check: a phase table key or a dimension name."""

    table: str
    columns: list[str] = Field(min_length=1)
    _v_columns = field_validator("columns")(_idents)


class Relationships(RowLevel):
    """Every key of the partition is present in the parent (``to``): on the same date when
    the parent has a date column, in any row when it is a dimension. The bad rows are the
    orphans; rows with a NULL in the key are skipped."""

    kind: Literal["relationships"]
    columns: list[str] = Field(min_length=1)
    to: Parent
    _v_columns = field_validator("columns")(_idents)

    @model_validator(mode="after")
    def _same_width(self) -> Relationships:
        if len(self.columns) != len(self.to.columns):
            raise LocatedError(
                f"columns names {len(self.columns)} key columns, to.columns "
                f"{len(self.to.columns)}: they pair up one to one",
                ("to", "columns"),
            )
        return self


# --- end of the keyed kinds ------------------------------------------------------------------
# Learned expectations (#16): no thresholds, a band learned from the history read in the
# same query (the plan reads ``reach`` calendar days before the first date judged).


class _Learned(CheckBase):
    """A learned expectation: a date's number against the median ± ``sensitivity`` robust
    standard deviations (1.4826 × MAD) of the last ``history`` comparable dates (scheduled,
    with rows, before the date), read ``history_days`` calendar days back in the same query.
    Fewer than ``min_history`` such dates: N/A (learning). Inside the band EXCELLENT, beyond
    it FAIL (``severity: warn``: a warning, ACCEPTABLE). With ``where``, only the rows where
    it holds count, on the judged date and in the history alike."""

    table: str
    history: int = Field(28, ge=3, le=366, description="comparable dates the band is learned from")
    min_history: int = Field(7, ge=3, le=366, description="fewer comparable dates: N/A (learning)")
    sensitivity: float = Field(
        4.0, gt=0, le=100, description="band half-width in robust SDs (1.4826 x MAD)"
    )
    history_days: int | None = Field(
        None,
        ge=1,
        le=3660,
        description="calendar days read back for the history (default: from history and the schedule)",
    )
    where: str | None = Field(None, description=WHERE_DESCRIPTION)
    _v_where = field_validator("where")(_condition)

    @model_validator(mode="after")
    def _enough(self) -> _Learned:
        if self.min_history > self.history:
            raise LocatedError(
                f"min_history {self.min_history} is more than history {self.history}: "
                "the band could never be learned",
                ("min_history",),
            )
        return self

    def reach(self, weekdays: frozenset[int] | None) -> int:
        """Calendar days before a judged date that the history needs read.

        ``history_days`` if given. A calendar schedule is known: enough weeks for
        ``history`` of its dates, plus a week of slack. A schedule table is only known from
        the same query, so twice ``history`` days: room for as many off-days as game days
        (the NBA's All-Star break and its scattered off-days take ~10 of every 56).
        """
        if self.history_days is not None:
            return self.history_days
        if weekdays:
            return -(-self.history * 7 // len(weekdays)) + 7
        return 2 * self.history


class VolumeAnomaly(_Learned):
    """Rows per scheduled unit (``per: loaded_unit``: per unit the table holds, so a unit
    missing altogether is left to coverage; ``per: date``: rows per date) against the band
    learned from the recent history; too few (a silent partial load) and too many (a double
    run) are both anomalies. The band is never narrower than ± ``tolerance_pct`` % of the
    median, so very regular data (a MAD of 0) does not alarm on a small wobble."""

    kind: Literal["volume_anomaly"]
    per: Literal["unit", "loaded_unit", "date"] = "unit"
    tolerance_pct: float = Field(
        10.0, ge=0, le=100, description="the band is at least +/- this % of the median"
    )


class FreshnessAnomaly(_Learned):
    """How late a partition landed: its newest ``column`` timestamp minus the date's start
    (00:00 UTC), against the band learned from the recent history; only later than usual is
    bad. The band reaches at least ``tolerance_hours`` past the median."""

    kind: Literal["freshness_anomaly"]
    column: str
    tolerance_hours: float = Field(
        1.0, ge=0, le=720, description="the band reaches at least this far past the median"
    )
    _v_column = field_validator("column")(_ident)


Check = Annotated[
    RowsExist
    | RowsPerUnit
    | UnitCoverage
    | Quorum
    | DistinctCount
    | Aggregate
    | Ratio
    | Freshness
    # row-level and per-table kinds (#16)
    | NotNull
    | AcceptedValues
    | Range
    | RowCount
    | Reconciliation
    # keyed kinds (#16)
    | Unique
    | Relationships
    # learned expectations (#16)
    | VolumeAnomaly
    | FreshnessAnomaly,
    Field(discriminator="kind"),
]
SMOKE_KINDS = ("rows_exist", "quorum")
