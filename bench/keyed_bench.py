"""Benchmark: the keyed kinds (unique, relationships, accepted_values from a dimension,
row_count by group) in ``verify``'s one statement, against hand-written DuckDB queries.

Builds a DuckDB warehouse of ``--days`` dates with ``--rows`` box-score rows per date (ten
games a date, a double run on one date, a team NYK the teams dimension lacks, so every
date names offending values), hourly weather for 30 airports, then times, warm:

- ``verify`` over every date with the four keyed checks (plan, the ONE statement naming
  the offending keys, judging), and counts the statements it sends (it must be 1);
- the same numbers computed by four hand-written queries (no evidence text), as an
  engineer would write them.

Run:  python bench/keyed_bench.py [--days 100] [--rows 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

import phaseguard

START = dt.date(2026, 1, 1)
CONFIG = """\
pipeline: keyed_bench
warehouse: duckdb://{db}
schedule: {{table: raw.schedule, date_column: game_date, unit: game_id}}
dimensions:
  - {{name: teams, table: raw.teams}}
phases:
  - name: ingest
    tables:
      - {{name: box, table: raw.box, date_column: game_date}}
      - {{name: games, table: raw.schedule, date_column: game_date}}
      - {{name: weather, table: raw.weather, date_column: obs_date}}
    checks:
      - {{kind: unique, table: box, columns: [game_id, player_id]}}
      - {{kind: relationships, table: box, columns: [game_id], to: {{table: games, columns: [game_id]}}}}
      - {{kind: accepted_values, table: box, column: team, values_from: {{table: teams, column: abbr}}}}
      - {{kind: row_count, table: weather, group_by: [origin], pass: {{between: [24, 24]}}}}
"""
HAND = (
    "SELECT game_date, COUNT(*) - COUNT(DISTINCT (game_id, player_id)) FROM raw.box "
    "WHERE game_date >= $start AND game_date < $stop GROUP BY 1",
    "SELECT b.game_date, COUNT(*) FILTER (WHERE s.game_id IS NULL) FROM raw.box b "
    "LEFT JOIN (SELECT DISTINCT game_date, game_id FROM raw.schedule) s USING (game_date, game_id) "
    "WHERE b.game_date >= $start AND b.game_date < $stop GROUP BY 1",
    "SELECT b.game_date, COUNT(*) FILTER (WHERE t.abbr IS NULL AND b.team IS NOT NULL) "
    "FROM raw.box b LEFT JOIN (SELECT DISTINCT abbr FROM raw.teams) t ON t.abbr = b.team "
    "WHERE b.game_date >= $start AND b.game_date < $stop GROUP BY 1",
    "SELECT obs_date, MIN(n), MAX(n) FROM (SELECT obs_date, origin, COUNT(*) n FROM raw.weather "
    "WHERE obs_date >= $start AND obs_date < $stop GROUP BY 1, 2) GROUP BY 1",
)


def build(db: Path, days: int, rows: int) -> None:
    """The warehouse: ``days`` dates of box scores, schedule, weather; a double run on one."""
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA raw")
    day = f"DATE '{START}' + d::INTEGER"
    con.execute(
        f"CREATE TABLE raw.schedule AS SELECT 'g' || d || '_' || i AS game_id, {day} AS game_date "
        f"FROM range({days}) t(d), range(10) u(i)"
    )
    con.execute(
        f"CREATE TABLE raw.box AS SELECT 'g' || d || '_' || (i % 10) AS game_id, {day} AS "
        "game_date, i AS player_id, (['BOS', 'LAL', 'NYK'])[1 + i % 3] AS team "
        f"FROM range({days}) t(d), range({rows}) u(i)"
    )
    double_run = START + dt.timedelta(days=days // 2)
    con.execute(f"INSERT INTO raw.box SELECT * FROM raw.box WHERE game_date = DATE '{double_run}'")
    con.execute(
        f"CREATE TABLE raw.weather AS SELECT {day} AS obs_date, 'A' || (i % 30) AS origin, "
        f"i // 30 AS hour FROM range({days}) t(d), range(720) u(i)"
    )
    con.execute("CREATE TABLE raw.teams AS SELECT * FROM (VALUES ('BOS'), ('LAL')) v(abbr)")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--rows", type=int, default=20000, help="box-score rows per date")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, config = Path(tmp) / "keyed.duckdb", Path(tmp) / "phaseguard.yml"
        build(db, args.days, args.rows)
        config.write_text(CONFIG.format(db=db))
        end = START + dt.timedelta(days=args.days - 1)
        with phaseguard.load(config) as guard:
            guard.verify(START, end)  # warm: the SQL rendered once, the connection open
            before = guard.warehouse.queries_sent
            verify = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                result = guard.verify(START, end)
                verify.append(time.perf_counter() - began)
            statements = (guard.warehouse.queries_sent - before) / args.repeat
        failing = sum(1 for day in result.dates for v in day.phase("ingest").failing)
        con = duckdb.connect(str(db), read_only=True)
        params = {"start": START, "stop": end + dt.timedelta(days=1)}
        hand = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            for sql in HAND:
                con.execute(sql, params).fetchall()
            hand.append(time.perf_counter() - began)
        con.close()
    rows = args.days * args.rows
    v, h = statistics.median(verify), statistics.median(hand)
    print(f"{rows:,} box rows over {args.days} dates, 4 keyed checks, {failing} failing verdicts")
    print(f"verify (one statement, evidence included): {v:.3f}s median, {statements:g} statement")
    print(f"hand-written (4 queries, numbers only):    {h:.3f}s median")
    print(f"ratio: {v / h:.2f}x")


if __name__ == "__main__":
    main()
