"""The column and row kinds: bad rows per date (``not_null``, ``accepted_values``,
``range``), row counts (``row_count``), ``reconciliation``, and the keyed kinds that read a
probe of their own (``unique``, ``relationships``, ``accepted_values`` with
``values_from``, ``row_count`` with ``group_by``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .infra import LocatedError
from .kindbase import WHERE_DESCRIPTION, CheckBase, Thresholds, _aggregate, _condition, _g
from .model import Model, _ident

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


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
