"""`python -m flights_example [--db F] [--start D] [--end D | --days N] [--faults]`."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence

import duckdb

from .faults import inject
from .load import DATA_END, DATA_START, build


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m flights_example`: build the warehouse, optionally with the faults."""
    parser = argparse.ArgumentParser(
        prog="python -m flights_example",
        description="Build the nycflights13 warehouse: raw -> staging -> marts.",
    )
    parser.add_argument("--db", default="flights.duckdb", help="the DuckDB file to write")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=DATA_START)
    end = parser.add_mutually_exclusive_group()
    end.add_argument("--end", type=dt.date.fromisoformat, help="last date (default 2013-12-31)")
    end.add_argument("--days", type=int, help="load this many days from --start")
    parser.add_argument("--faults", action="store_true", help="inject the fault list")
    args = parser.parse_args(argv)
    last = args.end or (args.start + dt.timedelta(days=args.days - 1) if args.days else DATA_END)
    loaded = build(args.db, args.start, last)
    print(
        f"{loaded.path}: {loaded.flights:,} flights and {loaded.weather:,} weather hours, "
        f"{loaded.start}..{loaded.end}, in {loaded.seconds:.1f} s"
    )
    if args.faults:
        con = duckdb.connect(str(args.db))
        try:
            for fault in inject(con, loaded.start, loaded.end):
                print(f"injected {fault.date} {fault.kind}: {fault.table}: {fault.did}")
        finally:
            con.close()


if __name__ == "__main__":
    main()
