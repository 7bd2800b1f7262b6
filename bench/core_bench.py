"""Benchmark: smoke and verify against hand-written queries, on the demo warehouse.

Builds the demo season at scale 1 (and scale 100: x100 rows per game and per date,
~63 M rows, unless --quick), then times, in one run:

- ``verify`` and ``smoke`` in-process (warm connection) for 100 dates and the season;
- a hand-written per-date query loop (one COUNT query per table per date, as the team's
  validation script did) computing the same numbers;
- a hand-written single grouped query (one UNION ALL over the tables, GROUP BY date);
- ``phaseguard smoke`` for the season end to end as a new process (scale 1).

Prints medians and ratios. Run:  python bench/core_bench.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

import phaseguard
from nba_props.demo import build_demo

SEASON = (dt.date(2025, 10, 21), dt.date(2026, 4, 12))
HUNDRED = (dt.date(2025, 12, 1), dt.date(2025, 12, 1) + dt.timedelta(days=99))
TABLES = [  # (table, date column, extra metrics as SQL)
    ("nba_raw.nbac_schedule", "game_date", "COUNT(DISTINCT game_id)"),
    ("nba_raw.bdl_player_boxscores", "game_date", "COUNT(DISTINCT game_id)"),
    ("nba_analytics.player_game_summary", "game_date", "NULL"),
    ("nba_analytics.team_defense_game_summary", "game_date", "NULL"),
    ("nba_analytics.upcoming_player_game_context", "game_date", "NULL"),
    ("nba_precompute.player_daily_cache", "cache_date", "NULL"),
    ("nba_precompute.player_shot_zone_analysis", "analysis_date", "NULL"),
    ("nba_precompute.player_composite_factors", "game_date", "NULL"),
    ("nba_precompute.team_defense_zone_analysis", "analysis_date", "NULL"),
    ("nba_predictions.ml_feature_store_v2", "game_date", "NULL"),
    ("nba_predictions.player_prop_predictions", "game_date", "COUNT(DISTINCT system_id)"),
    (
        "nba_predictions.prediction_grades",
        "game_date",
        "AVG(ABS(predicted_points - actual_points))",
    ),
]


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def per_date_loop(conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> int:
    """What a hand-written validation script does: one query per table per date."""
    answers = 0
    day = start
    while day <= end:
        for table, column, extra in TABLES:
            conn.execute(
                f"SELECT COUNT(*), {extra} FROM {table} WHERE {column} = ?", [day]
            ).fetchall()
            answers += 1
        day += dt.timedelta(days=1)
    return answers


def grouped_query(conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> int:
    """The best a person writes by hand: one UNION ALL of grouped selects."""
    parts = [
        f"SELECT {i} AS src, {column} AS d, COUNT(*) AS n, {extra} AS m FROM {table} "
        f"WHERE {column} BETWEEN $start AND $end GROUP BY {column}"
        for i, (table, column, extra) in enumerate(TABLES)
    ]
    rows = conn.execute(" UNION ALL ".join(parts), {"start": start, "end": end}).fetchall()
    return len(rows)


def bench_scale(scale: int, directory: Path, repeat: int) -> dict[str, object]:
    built = build_demo(directory, scale=scale)
    url = f"duckdb://{built.warehouse_path}"
    guard = phaseguard.load(built.config_path, warehouse=url)
    conn = duckdb.connect(str(built.warehouse_path), read_only=False)
    results: dict[str, object] = {"scale": scale, "build_seconds": round(built.seconds, 2)}
    for label, (start, end) in (("100 dates", HUNDRED), ("season", SEASON)):
        loop_repeat = 1 if scale > 1 else max(1, repeat // 2)
        row = {
            "verify": median_time(lambda s=start, e=end: guard.verify(s, e), repeat),
            "smoke": median_time(lambda s=start, e=end: guard.smoke(s, e), repeat),
            "hand_grouped": median_time(lambda s=start, e=end: grouped_query(conn, s, e), repeat),
            "hand_per_date": median_time(
                lambda s=start, e=end: per_date_loop(conn, s, e), loop_repeat
            ),
        }
        row["verify_vs_grouped"] = row["verify"] / row["hand_grouped"]
        row["per_date_vs_verify"] = row["hand_per_date"] / row["verify"]
        results[label] = row
    if scale == 1:
        day = dt.date(2026, 1, 21)  # the phase-4 outage: the breaker blocks
        results["gate_decision"] = median_time(lambda: guard.gate("phase5").decide(day), repeat)
        results["gate_decision_open"] = median_time(
            lambda: guard.gate("phase4").decide(dt.date(2026, 1, 10)), repeat
        )
    guard.close()
    conn.close()
    if scale == 1:
        cmd = [
            sys.executable,
            "-m",
            "phaseguard.cli",
            "smoke",
            SEASON[0].isoformat(),
            SEASON[1].isoformat(),
            "-c",
            str(built.config_path),
            "-w",
            url,
        ]
        results["smoke_process_season"] = median_time(
            lambda: subprocess.run(cmd, capture_output=True, check=False), repeat
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scale 1 only")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scales = [1] if args.quick else [1, 100]
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            report.append(bench_scale(scale, Path(tmp) / f"scale{scale}", args.repeat))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"phaseguard core benchmark (median of {args.repeat}; seconds)")
    for res in report:
        print(f"\nscale {res['scale']} (built in {res['build_seconds']} s)")
        print(
            f"  {'range':<10} {'verify':>8} {'smoke':>8} {'grouped':>8} {'per-date':>9} "
            f"{'verify/grouped':>15} {'per-date/verify':>16}"
        )
        for label in ("100 dates", "season"):
            row = res[label]
            assert isinstance(row, dict)
            print(
                f"  {label:<10} {row['verify']:8.3f} {row['smoke']:8.3f} {row['hand_grouped']:8.3f} "
                f"{row['hand_per_date']:9.3f} {row['verify_vs_grouped']:15.2f}x "
                f"{row['per_date_vs_verify']:15.1f}x"
            )
        if "gate_decision" in res:
            print(
                f"  gate decision, warm, in-process (decide + record + incident): "
                f"blocked {res['gate_decision'] * 1000:.1f} ms, open {res['gate_decision_open'] * 1000:.1f} ms"
            )
        if "smoke_process_season" in res:
            print(
                f"  season smoke as a new process (start included): {res['smoke_process_season']:.3f} s"
            )


if __name__ == "__main__":
    main()
