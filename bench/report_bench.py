"""How long a whole-season health report takes: ``phaseguard report`` on the demo season.

Usage::

    python bench/report_bench.py [--runs 5] [--scale 1]

Builds the demo warehouse (174 dates, five phases, seeded faults) in a temporary directory,
then runs ``phaseguard report FIRST LAST -o season.html`` in-process ``--runs`` times and
prints the median wall time of the whole command, and of its two parts: verify (the one
warehouse query and the checks) and render (view model and HTML). Target: under 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import statistics
import tempfile
import time
from pathlib import Path

from nba_props.demo import build_demo
from phaseguard import report
from phaseguard.cli import main
from phaseguard.guard import load


def _timed_cli(argv: list[str]) -> float:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(argv)
    return time.perf_counter() - started


def run(runs: int, scale: int) -> None:
    """Build the season, time the report ``runs`` times, print medians."""
    with tempfile.TemporaryDirectory(prefix="phaseguard-report-bench-") as tmp:
        built = build_demo(Path(tmp), scale=scale)
        first, last = str(built.plan.first_date), str(built.plan.last_date)
        out = Path(tmp) / "season.html"
        warehouse = f"duckdb://{built.warehouse_path}"
        argv = ["report", first, last, "-o", str(out), "-c", str(built.config_path)]
        whole = [_timed_cli([*argv, "-w", warehouse]) for _ in range(runs)]
        verify_s, render_s = [], []
        with load(built.config_path, warehouse=warehouse) as guard:
            for _ in range(runs):
                started = time.perf_counter()
                result = guard.verify(built.plan.first_date, built.plan.last_date)
                verified = time.perf_counter()
                now = dt.datetime.now(dt.timezone.utc)
                events = guard.store.query(since=report.events_since(result.start, now))
                source = report.provenance(str(built.config_path), guard.warehouse.url, now)
                view = report.build(result, events, config=guard.config, provenance=source)
                html = report.render(view)
                verify_s.append(verified - started)
                render_s.append(time.perf_counter() - verified)
        cells = sum(len(d.phases) for d in result.dates)
        print(
            f"season report: {len(result.dates)} dates x {len(result.dates[0].phases)} phases "
            f"({cells} cells), {len(html) / 1024:.0f} KiB of HTML, scale {scale}, "
            f"median of {runs} runs"
        )
        print(f"  phaseguard report (whole command, in-process): {statistics.median(whole):.3f} s")
        print(
            f"  verify (one warehouse query + checks):         {statistics.median(verify_s):.3f} s"
        )
        print(
            f"  render (view model + HTML):                    {statistics.median(render_s):.3f} s"
        )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    run(max(1, args.runs), max(1, args.scale))


if __name__ == "__main__":
    cli()
