"""The check kinds a config declares, and the traffic-light thresholds they share.

Each kind is a frozen pydantic model tagged by ``kind``; :data:`Check` is their union. What a
kind measures is in :mod:`phaseguard.plan`, how its verdict is judged in
:mod:`phaseguard.checks`.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

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


class UnitCoverage(Thresholds):
    """Share of the schedule's units for the date that have rows in the table (games
    covered / scheduled); with ``any_of``, rows in any of those sources; with ``window``
    (``7d``), over the scheduled units of that many days ending on the date."""

    kind: Literal["unit_coverage"]
    table: str | None = None
    any_of: list[str] | None = Field(None, min_length=1, description="alternative sources")
    window: str | None = Field(None, description="rolling window, e.g. 7d (1d..366d)")

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


class AcceptedValues(RowLevel):
    """Bad rows: a non-NULL ``column`` value not in ``values``; evidence: the first
    offending distinct values."""

    kind: Literal["accepted_values"]
    column: str
    values: list[Value] = Field(min_length=1)
    _v_column = field_validator("column")(_ident)

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


class Range(RowLevel):
    """Bad rows: a non-NULL ``column`` value below ``min`` or above ``max`` (either bound
    optional; ``inclusive: false`` makes the bounds themselves bad); evidence: the
    observed min and max."""

    kind: Literal["range"]
    column: str
    min: float | None = None
    max: float | None = None
    inclusive: bool = True
    _v_column = field_validator("column")(_ident)

    @model_validator(mode="after")
    def _bounds_given(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        for bound in (self.min, self.max):
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"a bound must be a finite number, not {bound!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {_g(self.min)} is above max {_g(self.max)}")
        return self


class RowCount(Thresholds):
    """Rows of the table for the date (``where``: rows where it holds), e.g.
    ``pass: {between: [200, 400]}``."""

    kind: Literal["row_count"]
    table: str
    where: str | None = Field(None, description=WHERE_DESCRIPTION)
    _v_where = field_validator("where")(_condition)


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
    | Reconciliation,
    Field(discriminator="kind"),
]
SMOKE_KINDS = ("rows_exist", "quorum")
