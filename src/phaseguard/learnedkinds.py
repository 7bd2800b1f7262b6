"""The learned kinds: ``volume_anomaly`` and ``freshness_anomaly``, a date's number
against a band learned from its own recent history (judged in :mod:`phaseguard.learned`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .infra import LocatedError
from .kindbase import WHERE_DESCRIPTION, CheckBase, _condition
from .model import _ident

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
