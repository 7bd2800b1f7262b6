"""The fault list: a data engineer's usual failures, one per date, injected into the warehouse.

Each fault names its date, the table it hit, what it did, and the check of
`phaseguard.yml` that must catch it. It is injected where it happens in a real pipeline,
and the layers below it are rebuilt for its date as the nightly run would: a partial raw
load flows into staging and the marts, a mart bug stays in the mart. All dates lie in
January and February 2013, so a two-month load holds every fault, each after at least a
week of clean history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from .load import build_marts, build_staging

_Rebuild = Callable[[duckdb.DuckDBPyConnection, dt.date, dt.date], None]


@dataclass(frozen=True)
class Fault:
    """One injected fault: where and when, what it did, and what must catch it."""

    kind: str
    date: dt.date
    table: str
    did: str
    phase: str  # the phase whose check catches it
    check: str  # that check's name in phaseguard.yml
    statements: tuple[str, ...]  # SQL run with the date as the one parameter $1
    rebuild: tuple[str, ...]  # the layers below, rebuilt for the date afterwards


FAULTS: tuple[Fault, ...] = (
    Fault(
        kind="partial load",
        date=dt.date(2013, 1, 10),
        table="raw.flights",
        did="the load stopped at 60 % of the file: the flights after the first 60 % by "
        "scheduled departure never landed (raw.loads still holds the file's full count)",
        phase="raw",
        check="flights match the load's control total",
        statements=(
            """DELETE FROM raw.flights WHERE flight_date = $1 AND rowid IN (
                 SELECT rowid FROM (
                   SELECT rowid,
                          row_number() OVER (ORDER BY sched_dep_time, carrier, flight) AS i,
                          count(*) OVER () AS n
                   FROM raw.flights WHERE flight_date = $1)
                 WHERE i > 0.6 * n)""",
        ),
        rebuild=("staging", "marts"),
    ),
    Fault(
        kind="renamed key",
        date=dt.date(2013, 1, 15),
        table="staging.flights",
        did="a new carrier mapping wrote United's ICAO code: carrier 'UA' became 'UAL'",
        phase="staging",
        check="carriers are known airlines",
        statements=(
            "UPDATE staging.flights SET carrier = 'UAL' WHERE flight_date = $1 AND carrier = 'UA'",
        ),
        rebuild=("marts",),
    ),
    Fault(
        kind="double run",
        date=dt.date(2013, 1, 22),
        table="staging.flights",
        did="the staging job ran twice and appended instead of replacing: every flight twice",
        phase="staging",
        check="one row per flight",
        statements=(
            "INSERT INTO staging.flights SELECT * FROM staging.flights WHERE flight_date = $1",
        ),
        rebuild=("marts",),
    ),
    Fault(
        kind="column gone NULL",
        date=dt.date(2013, 1, 29),
        table="staging.flights",
        did="a renamed source column left tailnum NULL on every flight",
        phase="staging",
        check="flown flights have a tail number",
        statements=("UPDATE staging.flights SET tailnum = NULL WHERE flight_date = $1",),
        rebuild=("marts",),
    ),
    Fault(
        kind="gap inside one group",
        date=dt.date(2013, 2, 5),
        table="raw.weather",
        did="JFK's weather feed lost 12 hours (06:00-17:00); EWR and LGA are complete",
        phase="raw",
        check="weather hours per airport",
        statements=(
            "DELETE FROM raw.weather "
            "WHERE obs_date = $1 AND origin = 'JFK' AND hour BETWEEN 6 AND 17",
        ),
        rebuild=("staging", "marts"),
    ),
    Fault(
        kind="mart does not reconcile",
        date=dt.date(2013, 2, 8),
        table="marts.daily_carrier",
        did="n_flights counted departed flights only: the blizzard's cancellations left out",
        phase="marts",
        check="carrier mart reconciles with staging",
        statements=(
            "UPDATE marts.daily_carrier SET n_flights = n_flights - n_cancelled "
            "WHERE flight_date = $1",
        ),
        rebuild=(),
    ),
    Fault(
        kind="orphan keys",
        date=dt.date(2013, 2, 19),
        table="staging.flights",
        did="a trim bug cut the tail numbers' leading 'N' (N14228 -> 14228): no plane matches them",
        phase="staging",
        check="tail numbers are known planes",
        statements=(
            "UPDATE staging.flights SET tailnum = substr(tailnum, 2) "
            "WHERE flight_date = $1 AND tailnum LIKE 'N%'",
        ),
        rebuild=("marts",),
    ),
)

_REBUILD: dict[str, _Rebuild] = {"staging": build_staging, "marts": build_marts}


def inject(
    con: duckdb.DuckDBPyConnection,
    start: dt.date,
    end: dt.date,
    faults: tuple[Fault, ...] = FAULTS,
) -> list[Fault]:
    """Inject each fault dated within [start, end]; return those injected."""
    injected = [fault for fault in faults if start <= fault.date <= end]
    for fault in injected:
        for statement in fault.statements:
            con.execute(statement, [fault.date])
        for layer in fault.rebuild:
            _REBUILD[layer](con, fault.date, fault.date)
    return injected
