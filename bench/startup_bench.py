"""Benchmark: a season ``phaseguard smoke`` as a new process against a bare Python script.

Both run as new processes, side by side, on the demo warehouse (scale 1):

- ``phaseguard smoke 2025-10-21 2026-04-12`` (the console entry point: start-up, config,
  the one query, judging, the table);
- a bare script that imports duckdb, opens the same file read-only and runs the SAME one
  statement with the same parameters (the floor any tool pays: Python, duckdb, the query);
- ``python -c "import phaseguard"`` and ``python -c "pass"`` for reference.

Prints medians of ``--repeat`` runs (after one warm-up) and the ratio smoke / bare.
Run:  python bench/startup_bench.py [--repeat 11]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import phaseguard
from nba_props.demo import build_demo
from phaseguard.assess import phase_checks
from phaseguard.plan import build_plan

SEASON = (dt.date(2025, 10, 21), dt.date(2026, 4, 12))

BARE = """
import sys, json, datetime as dt
import duckdb
path, sql, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
params = {k: dt.date.fromisoformat(v) for k, v in params.items()}
con = duckdb.connect(path, read_only=True)
rows = con.execute(sql, params).fetchall()
print(len(rows))
"""


def median_run(argv: list[str], repeat: int, cwd: Path) -> float:
    """Median wall time of running ``argv`` as a new process, after one warm-up run."""
    env = {**os.environ, "COLUMNS": "120"}
    subprocess.run(argv, cwd=cwd, env=env, check=False, capture_output=True)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, check=False, capture_output=True)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1, 2):
            raise SystemExit(f"{argv[:3]} failed ({done.returncode}): {done.stderr.decode()}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        built = build_demo(Path(tmp) / "demo")
        url = f"duckdb://{built.warehouse_path}"
        with phaseguard.load(built.config_path, warehouse=url) as guard:
            selection = phase_checks(guard.config, "smoke")
            checks = [(c, g.tables) for g in selection for c in g.checks]
            plan = build_plan(guard.config, checks, *SEASON)
            sql, params = guard.warehouse.measurement_sql(plan)
        bound = json.dumps({k: v.isoformat() for k, v in params.items()})
        exe = Path(sys.executable)
        cli = str(exe.with_name("phaseguard"))
        start, end = (d.isoformat() for d in SEASON)
        runs = {
            "phaseguard smoke (season)": [cli, "smoke", start, end],
            "bare: duckdb + the same query": [
                str(exe),
                "-c",
                BARE,
                str(built.warehouse_path),
                sql,
                bound,
            ],
            "python -c 'import phaseguard'": [str(exe), "-c", "import phaseguard"],
            "python -c 'pass'": [str(exe), "-c", "pass"],
        }
        times = {
            name: median_run(argv, args.repeat, built.directory) for name, argv in runs.items()
        }
    width = max(len(n) for n in times)
    print(f"{'new process':<{width}}  median s")
    for name, seconds in times.items():
        print(f"{name:<{width}}  {seconds:8.3f}")
    ratio = times["phaseguard smoke (season)"] / times["bare: duckdb + the same query"]
    print(f"\nsmoke / bare = {ratio:.2f}x  (target: <= 1.5x)")


if __name__ == "__main__":
    main()
