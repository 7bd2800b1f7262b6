"""Benchmark: a season ``phaseguard smoke`` as a new process against a bare Python script.

Both run as new processes, side by side, on the demo warehouse (scale 1):

- ``phaseguard smoke 2025-10-21 2026-04-12`` (the console entry point: start-up, config,
  the one query, judging, the table), as every run after a config's first one: its
  validated config and its rendered SQL come from the on-disk caches
  (``phaseguard.configcache``, ``phaseguard.warehouse.sqlcache``), filled by the warm-up;
- the same with both caches off (``PHASEGUARD_NO_CONFIG_CACHE``, ``PHASEGUARD_NO_SQL_CACHE``):
  a config's first run, or an edited one;
- a bare script that imports duckdb, opens the same file read-only and runs the SAME one
  statement with the same parameters (the floor any tool pays: Python, duckdb, the query);
- the floor of the stack phaseguard is built on: the same bare script as a typer command with
  smoke's arguments that draws a rich table (typer 0.27+ builds a pydantic TypeAdapter for
  every parameter, so any typer CLI imports pydantic before its command runs);
- ``python -c "import typer"``, ``python -c "import phaseguard"`` and ``python -c "pass"``
  for reference.

The commands take turns (one run of each, then again) so that a load that comes and goes
on a shared machine weighs on all of them alike. Bytecode is written and used, as in an
installed package (``PYTHONDONTWRITEBYTECODE`` is dropped). Prints the median wall time and
the median CPU time (user + system) of ``--repeat`` runs after one warm-up, and the ratio
smoke / bare of each.
Run:  python bench/startup_bench.py [--repeat 11]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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

# The floor of any CLI built on the stack phaseguard declares: the bare script as a typer
# command taking smoke's arguments, drawing a rich table of the rows' first 12 dates.
STACK = """
import sys, json, datetime as dt
from typing import Annotated
import typer

app = typer.Typer(add_completion=False)

@app.command()
def smoke(
    path: str, sql: str, bound: str,
    config: Annotated[str, typer.Option("--config")] = "phaseguard.yml",
    warehouse: Annotated[str | None, typer.Option("--warehouse")] = None,
    fmt: Annotated[str, typer.Option("--format")] = "table",
    all_dates: Annotated[bool, typer.Option("--all-dates")] = False,
    phase: Annotated[list[str] | None, typer.Option("--phase")] = None,
) -> None:
    import duckdb
    from rich.console import Console
    from rich.table import Table
    params = {k: dt.date.fromisoformat(v) for k, v in json.loads(bound).items()}
    con = duckdb.connect(path, read_only=True)
    rows = con.execute(sql, params).fetchall()
    table = Table(title="smoke")
    for column in ("date", "p2", "p3", "p4", "p5", "p6", "overall"):
        table.add_column(column)
    for row in rows[:12]:
        table.add_row(*(str(v)[:10] for v in row[:7]))
    Console().print(table)

app()
"""


def timed_runs(runs: dict[str, list[str]], repeat: int, cwd: Path, cache: Path) -> dict[str, Any]:
    """Median (wall, CPU) seconds of each command run as a new process, taking turns."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(COLUMNS="120", PHASEGUARD_CACHE_DIR=str(cache))
    for name in ("PHASEGUARD_NO_CONFIG_CACHE", "PHASEGUARD_NO_SQL_CACHE", "PHASEGUARD_WAREHOUSE"):
        env.pop(name, None)
    cold = {**env, "PHASEGUARD_NO_CONFIG_CACHE": "1", "PHASEGUARD_NO_SQL_CACHE": "1"}
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for turn in range(repeat + 1):  # turn 0 warms up: caches filled, bytecode written
        for name, argv in runs.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(
                argv, cwd=cwd, env=cold if "caches off" in name else env, capture_output=True
            )
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode not in (0, 1, 2):
                raise SystemExit(f"{name} failed ({done.returncode}): {done.stderr.decode()}")
            if turn:
                walls[name].append(wall)
                cpus[name].append(
                    after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                )
    return {n: (statistics.median(walls[n]), statistics.median(cpus[n])) for n in runs}


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
        smoke = [cli, "smoke", start, end]
        runs = {
            "phaseguard smoke (season)": smoke,
            "phaseguard smoke, caches off": smoke,
            "bare: duckdb + the same query": [
                str(exe),
                "-c",
                BARE,
                str(built.warehouse_path),
                sql,
                bound,
            ],
            "floor: the same as a typer command + rich": [
                str(exe),
                "-c",
                STACK,
                str(built.warehouse_path),
                sql,
                bound,
            ],
            "python -c 'import typer'": [str(exe), "-c", "import typer"],
            "python -c 'import phaseguard'": [str(exe), "-c", "import phaseguard"],
            "python -c 'pass'": [str(exe), "-c", "pass"],
        }
        times = timed_runs(runs, args.repeat, built.directory, Path(tmp) / "cache")
    width = max(len(n) for n in times)
    print(f"{'new process':<{width}}  wall s   cpu s  (medians of {args.repeat})")
    for name, (wall, cpu) in times.items():
        print(f"{name:<{width}}  {wall:6.3f}  {cpu:6.3f}")
    bare_wall, bare_cpu = times["bare: duckdb + the same query"]
    print()
    for name in (
        "phaseguard smoke (season)",
        "phaseguard smoke, caches off",
        "floor: the same as a typer command + rich",
    ):
        wall, cpu = times[name]
        print(f"{name} / bare = {wall / bare_wall:.2f}x wall, {cpu / bare_cpu:.2f}x cpu")
    print("(target: <= 1.5x wall)")


if __name__ == "__main__":
    main()
