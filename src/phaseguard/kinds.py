"""The check kinds a config declares, and the traffic-light thresholds they share.

Each kind is a frozen pydantic model tagged by ``kind``; :data:`Check` is their union. What a
kind measures is in :mod:`phaseguard.plan`, how its verdict is judged in
:mod:`phaseguard.checks`.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Annotated, Any, Literal

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
    """What every check kind accepts, whatever it measures."""

    name: str | None = None
    tags: tuple[str, ...] = Field((), description="labels for --tag; a check also has its phase's")
    _v_tags = field_validator("tags", mode="before")(_tags)


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
    severity: Literal["fail", "warn"] = Field(
        "fail", description="warn: beyond the last tier is a warning, never FAIL"
    )

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
    _v_column = field_validator("column")(_ident)


class Aggregate(Thresholds):
    """An aggregate SQL expression over the partition (e.g. mean absolute error)."""

    kind: Literal["aggregate"]
    table: str
    expr: str = Field(description="one aggregate expression, e.g. AVG(ABS(a - b))")
    on_empty: Literal["fail", "na"] = Field(
        "fail", description="a scheduled date with no rows to aggregate: FAIL, or na (N/A)"
    )

    @field_validator("expr")
    @classmethod
    def _v_expr(cls, value: str) -> str:
        from .warehouse.statement import validate_aggregate

        try:
            validate_aggregate(value)
        except ConfigError as exc:  # as a ValueError, so the error names file, line and key
            raise ValueError(exc.reason) from None
        return value


class Ratio(Thresholds):
    """Rows of one table over rows of another for the date (e.g. graded / predicted)."""

    kind: Literal["ratio"]
    numerator: str
    denominator: str


class Freshness(CheckBase):
    """The newest value of a timestamp column in the partition is at most N hours old."""

    kind: Literal["freshness"]
    table: str
    column: str
    max_age_hours: float = Field(gt=0)
    _v_column = field_validator("column")(_ident)


Check = Annotated[
    RowsExist | RowsPerUnit | UnitCoverage | Quorum | DistinctCount | Aggregate | Ratio | Freshness,
    Field(discriminator="kind"),
]
SMOKE_KINDS = ("rows_exist", "quorum")
