"""The check kinds a config declares, and the traffic-light thresholds they share.

Each kind is a frozen pydantic model tagged by ``kind``; :data:`Check` is their union. What a
kind measures is in :mod:`phaseguard.plan`, how its verdict is judged in
:mod:`phaseguard.checks`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from .kindbase import WHERE_DESCRIPTION, CheckBase, Thresholds, _aggregate, _condition
from .learnedkinds import FreshnessAnomaly, VolumeAnomaly
from .model import _ident
from .rowkinds import (
    AcceptedValues,
    NotNull,
    Range,
    Reconciliation,
    Relationships,
    RowCount,
    Unique,
)


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
