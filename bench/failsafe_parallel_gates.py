"""Benchmark: parallel gates and smoke runs on one DuckDB file -> false blocks (must be 0).

Builds the demo season warehouse, then, on a date whose gate is open:

- 8 processes at once, each deciding the gate 50 times, each decision as a cron-started
  ``phaseguard gate`` makes it (load the config, open the warehouse, decide, close);
  a decision other than open is a false block;
- 4 ``phaseguard smoke`` processes at once on that date (each must exit 0), 5 rounds;
- the same 8 gate processes while a writer holds the file for 2 s (the pipeline loading
  a partition): the gates wait for the lock and decide, none blocked.

Prints a table; ``--json`` prints the numbers. Run it on the code to measure with
``PYTHONPATH=src python bench/failsafe_parallel_gates.py [--processes 8] [--decisions 50]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

GATE, DATE = "phase5", dt.date(2026, 1, 13)


def _decide(config: str, count: int, start: Any) -> Counter[str]:
    """One worker: ``count`` gate decisions, each with a fresh load, as a new process would."""
    import phaseguard

    phaseguard.load(config).close()  # imports and config parsing done before the clock starts
    start.wait()
    seen: Counter[str] = Counter()
    for _ in range(count):
        try:
            with phaseguard.load(config) as guard:
                decision = guard.gate(GATE).decide(DATE)
            status = decision.status
            if status == "blocked":
                reason = decision.verdicts[0].observed if decision.verdicts else ""
                status = f"blocked ({reason.split(':', 1)[0]})"
        except Exception as exc:  # a crash is a false block too, by its own name
            status = f"error ({type(exc).__name__})"
        seen[status] += 1
    return seen


def parallel_gates(config: Path, processes: int, decisions: int) -> tuple[Counter[str], float]:
    """Every worker's decisions, summed, and the wall time."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Event()
        with ctx.Pool(processes) as pool:
            pending = [
                pool.apply_async(_decide, (str(config), decisions, start)) for _ in range(processes)
            ]
            time.sleep(0.5)
            started = time.perf_counter()
            start.set()
            total: Counter[str] = Counter()
            for result in pending:
                total.update(result.get(timeout=600))
    return total, time.perf_counter() - started


def parallel_smoke(config: Path, processes: int, rounds: int) -> Counter[int]:
    """Exit codes of ``processes`` smoke runs started at once, ``rounds`` times."""
    codes: Counter[int] = Counter()
    cmd = [sys.executable, "-m", "phaseguard.cli", "smoke", DATE.isoformat(), "-c", str(config)]
    for _ in range(rounds):
        procs = [
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(processes)
        ]
        codes.update(proc.wait(timeout=600) for proc in procs)
    return codes


WRITER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute("CREATE TABLE IF NOT EXISTS bench_lock (x INTEGER)")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def gates_behind_a_writer(
    config: Path, warehouse: Path, processes: int, hold: float
) -> tuple[Counter[str], float]:
    """One decision per process, started while a writer holds the file for ``hold`` s."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(warehouse), str(hold)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        writer.stdout.readline()
        return parallel_gates(config, processes, 1)
    finally:
        writer.wait()
        if writer.stdout is not None:
            writer.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--decisions", type=int, default=50)
    parser.add_argument("--smoke-processes", type=int, default=4)
    parser.add_argument("--smoke-rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import phaseguard
    from nba_props.demo import build_demo

    with tempfile.TemporaryDirectory(prefix="pg-failsafe-") as tmp:
        built = build_demo(Path(tmp) / "demo")
        config = built.config_path
        os.environ.pop("SLACK_WEBHOOK_URL", None)
        with phaseguard.load(config) as guard:
            expected = guard.gate(GATE).decide(DATE).status
        if expected != "open":
            raise SystemExit(f"{GATE} on {DATE} is {expected} on the demo: pick an open date")
        gates, gate_seconds = parallel_gates(config, args.processes, args.decisions)
        smoke = parallel_smoke(config, args.smoke_processes, args.smoke_rounds)
        behind, behind_seconds = gates_behind_a_writer(
            config, built.warehouse_path, args.processes, hold=2.0
        )

    total = args.processes * args.decisions
    false_blocks = total - gates["open"]
    rows = [
        (
            f"{args.processes} processes x {args.decisions} gate decisions ({GATE} {DATE}, open)",
            f"{false_blocks} of {total} falsely blocked",
            f"{gate_seconds:.1f} s",
            ", ".join(f"{k}: {v}" for k, v in sorted(gates.items())),
        ),
        (
            f"{args.smoke_processes} parallel smoke runs x {args.smoke_rounds} rounds",
            f"{sum(v for k, v in smoke.items() if k != 0)} of "
            f"{args.smoke_processes * args.smoke_rounds} not exit 0",
            "",
            ", ".join(f"exit {k}: {v}" for k, v in sorted(smoke.items())),
        ),
        (
            f"{args.processes} gates while a writer holds the file 2 s",
            f"{args.processes - behind['open']} of {args.processes} falsely blocked",
            f"{behind_seconds:.1f} s",
            ", ".join(f"{k}: {v}" for k, v in sorted(behind.items())),
        ),
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "gate_decisions": total,
                    "gate_false_blocks": false_blocks,
                    "gate_outcomes": dict(gates),
                    "gate_seconds": round(gate_seconds, 2),
                    "smoke_runs": args.smoke_processes * args.smoke_rounds,
                    "smoke_exit_codes": {str(k): v for k, v in smoke.items()},
                    "behind_writer_outcomes": dict(behind),
                    "behind_writer_seconds": round(behind_seconds, 2),
                },
                indent=2,
            )
        )
        return
    width = max(len(r[0]) for r in rows)
    print(f"{'scenario':<{width}}  {'result':<28}  {'wall':>7}  outcomes")
    for scenario, result, wall, outcomes in rows:
        print(f"{scenario:<{width}}  {result:<28}  {wall:>7}  {outcomes}")


if __name__ == "__main__":
    main()
