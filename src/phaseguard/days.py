"""Days: the scheduled dates being judged, and what the schedule says about the others.

:meth:`Days.of_schedule` reads the schedule from the measurements (a schedule table's units,
or a calendar's weekdays) and keeps the dates that have something scheduled; every check
then reads its metrics as columns over those dates. A date with nothing scheduled gets
:func:`nothing_scheduled` from every check, unless :func:`unproven_off_days` finds that the
schedule cannot be trusted on it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence

from .config import Schedule
from .plan import HORIZON, ROWS, SCHEDULE, Measurements, Metric
from .verdicts import ERROR, NA, Verdict


class Days:
    """The scheduled dates being judged, with their measurements read column by column.

    A check judges every date at once: it asks for one table's row counts (or another
    metric) as a list aligned with :attr:`dates` and gives back one verdict per date.
    """

    def __init__(
        self,
        measurements: Measurements,
        dates: Sequence[dt.date],
        scheduled: Sequence[int],
        now: dt.datetime,
    ) -> None:
        self.dates = list(dates)
        self.scheduled = list(scheduled)  # units scheduled on each date
        self.now = now
        self.measurements = measurements
        self._on = [measurements.on(day) for day in self.dates]
        self._positions = measurements.positions
        self._rows: dict[str, list[float]] = {}

    @classmethod
    def of_schedule(
        cls, measurements: Measurements, schedule: Schedule, now: dt.datetime
    ) -> tuple[Days, list[int]]:
        """The plan's dates that have something scheduled, and the units on every plan date.

        A schedule table's units come from its probe; a calendar expects one unit on each
        date it names.
        """
        dates = measurements.plan.dates
        every = cls(measurements, dates, [0] * len(dates), now)
        weekdays = schedule.weekdays
        if weekdays is not None:
            scheduled = [int(day.weekday() in weekdays) for day in dates]
        else:
            unit = Metric("units", schedule.unit or "").key
            scheduled = [int(n or 0) for n in every.values(SCHEDULE, unit)]
        busy = [(day, n) for day, n in zip(dates, scheduled, strict=True) if n]
        return cls(measurements, [d for d, _ in busy], [n for _, n in busy], now), scheduled

    def rows(self, key: str) -> list[float]:
        """Rows of table ``key`` on each date (a probe reads the row count first)."""
        column = self._rows.get(key)
        if column is None:
            column = [(row[0] or 0) if (row := on.get(key)) else 0 for on in self._on]
            self._rows[key] = column
        return column

    def count(self, key: str, metric: Metric) -> list[int]:
        """A count ``metric`` of table ``key`` (rows, rows ``where`` keeps, bad rows) on each
        date, 0 where the table has no rows."""
        if metric == ROWS:
            return [int(n) for n in self.rows(key)]
        return [int(n or 0) for n in self.values(key, metric.key)]

    def values(self, key: str, metric: str) -> list[float | None]:
        """Metric ``metric`` (a :attr:`Metric.key`) of table ``key`` on each date; None: no rows."""
        index = self._positions.get(key, {}).get(metric)
        if index is None:
            return [None] * len(self._on)
        return [row[index] if (row := on.get(key)) else None for on in self._on]

    def texts(self, key: str) -> list[str | None]:
        """The text a probe returned on each date (a coverage probe's first missing units)."""
        text = self.measurements.text
        return [text(key, day) for day in self.dates]


@functools.cache
def nothing_scheduled(name: str) -> Verdict:
    """The verdict of any check on a date with nothing scheduled: N/A, never FAIL."""
    return Verdict(name, NA, "nothing scheduled", "")


def unproven_off_days(
    measurements: Measurements, schedule: Schedule, dates: Iterable[dt.date]
) -> dict[dt.date, Verdict]:
    """An ERROR verdict for each of ``dates`` (dates the schedule calls empty) that is not
    proven an off-day, naming the schedule.

    "Nothing scheduled" is a claim about the schedule, and an empty or stale schedule must
    not open every gate. A date is proven empty only when the schedule table holds rows
    on or after it (it is loaded that far), and none of the measured tables has rows on it
    (a loaded date the schedule calls empty means the schedule lost it). A calendar
    schedule is a rule, not data: its off-days need no proof.
    """
    if schedule.table is None:
        return {}
    horizon = measurements.horizon
    tables = [
        p.key
        for p in measurements.plan.probes
        if p.key not in (SCHEDULE, HORIZON)
        and p.against is None
        and not p.listing
        and p.reach == "range"
    ]
    table = schedule.table
    out: dict[dt.date, Verdict] = {}
    for day in dates:
        if horizon is None or horizon < day:
            loaded = f"loaded only through {horizon}" if horizon else f"empty from {day} on"
            text = f"{table} is {loaded}: an off-day or a schedule not loaded yet?"
            out[day] = Verdict("schedule", ERROR, text, f"{table} loaded through {day}")
            continue
        loaded_here = [(key, n) for key in tables if (n := measurements.rows(key, day))]
        if loaded_here:
            rows = ", ".join(f"{key}={n}" for key, n in loaded_here[:3])
            text = f"{table} has nothing on {day}, but {rows} rows: a date missing from it?"
            out[day] = Verdict("schedule", ERROR, text, "no rows on a date it calls empty")
    return out
