"""The outcome benchmark's inputs and results: the fault plan, incidents, per-mode counts.

:mod:`nba_props.outcome` runs a season twice (phaseguard off and on) and fills these.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from phaseguard.errors import UsageError

CRASHES: dict[str, int] = {"PSZA": 3, "PDC": 2}
"""Processor -> how many nights it crashes on."""

# --- what goes in, what comes out --------------------------------------------------------


@dataclass(frozen=True)
class FaultPlan:
    """The faults of a season; nights are indices into the measured game dates.

    Attributes:
        transient_rate: share of API requests failing with one of :data:`KINDS`.
        outage_night: the night whose run starts with the API down, if any.
        outage_minutes: how long the API is down.
        crashes: (processor, night) pairs: the processor crashes on that night's run.
    """

    transient_rate: float = 0.08
    outage_night: int | None = None
    outage_minutes: float = 20.0
    crashes: tuple[tuple[str, int], ...] = ()


def seeded_faults(
    nights: int,
    *,
    seed: int = 7,
    transient_rate: float = 0.08,
    outage_minutes: float = 20.0,
    crashes: Mapping[str, int] = CRASHES,
) -> FaultPlan:
    """The outage and the crashes on distinct nights drawn from ``seed``."""
    wanted = 1 + sum(crashes.values())
    if nights < wanted:
        raise UsageError(f"{wanted} faulty nights need at least {wanted} game dates, not {nights}")
    drawn = random.Random(f"outcome-faults-{seed}").sample(range(nights), wanted)
    names = [name for name, n in crashes.items() for _ in range(n)]
    return FaultPlan(
        transient_rate=transient_rate,
        outage_night=drawn[0],
        outage_minutes=outage_minutes,
        crashes=tuple(zip(names, drawn[1:], strict=True)),
    )


@dataclass(frozen=True)
class DownstreamRun:
    """A step that started while its upstream, for that date, was not complete."""

    phase: str
    date: dt.date
    night: dt.date
    upstream: tuple[str, ...]  # e.g. "phase2 failed", "phase3 FAIL"


@dataclass(frozen=True)
class Incident:
    """A step that failed in a run, after its retries; the first failure of a (phase, date)."""

    phase: str
    date: dt.date
    failed_at: float  # virtual seconds: the first failed attempt of that run
    alerted_at: float | None  # virtual seconds: the alert's arrival; None: never
    error: str

    @property
    def seconds_to_alert(self) -> float | None:
        """Virtual seconds from the first failed attempt to the alert, None if never."""
        return None if self.alerted_at is None else self.alerted_at - self.failed_at


@dataclass(frozen=True)
class ModeResult:
    """What one mode left at the end of the season, and what it cost."""

    name: str
    box_score_gaps: tuple[dt.date, ...]
    games_missing: int
    partition_gaps: tuple[tuple[str, dt.date], ...]  # (table key, date), every phase
    downstream_on_incomplete: tuple[DownstreamRun, ...]
    manual_backfill: tuple[dt.date, ...]
    incidents: tuple[Incident, ...]
    alerts_opened: int
    alerts_resolved: int
    catch_up_runs: int
    retries: int
    api_requests: int
    api_faults: dict[str, int]
    health: float | None
    virtual_hours: float
    wall_seconds: float

    @property
    def seconds_to_alert(self) -> list[float]:
        """Fault-to-alert times of the incidents that alerted."""
        return [s for i in self.incidents if (s := i.seconds_to_alert) is not None]

    def alert_summary(self) -> str:
        """``never`` without alerts, else the longest and the median time, in minutes."""
        times = self.seconds_to_alert
        if not times:
            return "never" if self.incidents else "no incident"
        return (
            f"at most {max(times) / 60:.1f} min (median {statistics.median(times) / 60:.1f}; "
            f"{len(times)}/{len(self.incidents)} incidents alerted)"
        )


@dataclass(frozen=True)
class OutcomeResult:
    """Both modes on one season and its faults."""

    seed: int
    faults: FaultPlan
    outage_date: dt.date | None
    crash_dates: dict[str, tuple[dt.date, ...]]
    opening_nights: tuple[dt.date, ...]
    dates: tuple[dt.date, ...]
    games: int
    modes: tuple[ModeResult, ...] = field(default_factory=tuple)
    wall_seconds: float = 0.0

    def mode(self, name: str) -> ModeResult:
        """The result of the mode called ``name`` (see :data:`MODES`)."""
        return next(m for m in self.modes if m.name == name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings, the derived measures added per mode."""
        out: dict[str, Any] = json.loads(json.dumps(asdict(self), default=str))
        for row, mode in zip(out["modes"], self.modes, strict=True):
            row["seconds_to_alert"] = [round(s, 1) for s in mode.seconds_to_alert]
            row["time_to_alert"] = mode.alert_summary()
        return out
