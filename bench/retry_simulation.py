"""A season of box-score scraping at 10 % transient faults plus an outage, with and without retries.

Usage::

    python bench/retry_simulation.py [--seed 7] [--transient-rate 0.10] [--outage-minutes 20]
                                     [--dates N] [--json]

Runs :func:`nba_props.simulation.simulate` (read its docstring for the time model and
the definitions) and prints one line per scenario, or the whole result as JSON.
Targets from the issue: coverage >= 99.9 % with retries, <= 1.15 requests per box score,
alerts only for dates whose every attempt failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from nba_props.simulation import SimulationResult, simulate


def table(result: SimulationResult) -> str:
    """The scenarios as a small fixed-width table, with the conditions on top."""
    outage = (
        f"a {result.outage_minutes:g}-minute outage from the start of the nightly run for "
        f"{result.outage_date}"
        if result.outage_date
        else "no outage"
    )
    lines = [
        f"Retry simulation: {result.dates} game dates, {result.games} games (seed {result.seed}); "
        f"{result.transient_rate:.0%} transient faults and {outage}; virtual clock.",
        "",
        f"{'scenario':<20} {'coverage':>8} {'loaded':>11} {'req/box score':>13} "
        f"{'overhead':>8} {'alerts':>6} {'slept (virtual)':>15} {'wall':>7}",
    ]
    for s in result.scenarios:
        lines.append(
            f"{s.name:<20} {s.coverage:>8.2%} {f'{s.games_loaded}/{s.games_scheduled}':>11} "
            f"{s.requests_per_box_score:>13.3f} {s.overhead:>8.3f} {s.alerts:>6} "
            f"{s.virtual_seconds_slept / 60:>13.0f} m {s.wall_seconds:>6.1f}s"
        )
    lines += [
        "",
        "req/box score = HTTP requests / box scores loaded (a date costs 2 requests, games and "
        "box scores, when nothing fails: about 0.27);",
        "overhead = HTTP requests / requests a run without faults needs for the dates loaded "
        "(1.000 = no extra load; the issue's 1.15 target).",
        "alerts = dates whose every attempt failed; "
        + "; ".join(
            f"{s.name}: {'match' if s.alerts_match_failures else 'MISMATCH'}"
            for s in result.scenarios
        ),
        "targets with retries: coverage >= 99.9 %, overhead <= 1.15, alerts only for dates "
        "whose every attempt failed.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--transient-rate", type=float, default=0.10)
    parser.add_argument("--outage-minutes", type=float, default=20.0)
    parser.add_argument("--dates", type=int, default=None, help="only the first N game dates")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = simulate(
        seed=args.seed,
        transient_rate=args.transient_rate,
        outage_minutes=args.outage_minutes,
        dates=args.dates,
    )
    print(json.dumps(result.as_dict(), indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
