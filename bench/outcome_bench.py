"""A season of the NBA props pipeline with phaseguard off and on: permanent gaps, side by side.

Usage::

    python bench/outcome_bench.py [--seed 7] [--dates N] [--transient-rate 0.08]
                                  [--outage-minutes 20] [--json]

Runs :func:`nba_props.outcome.simulate_outcome` (read its module docstring for the
fault model, the time model and the definitions) and prints a Markdown table ready for the
README, or the whole result as JSON. Targets: with phaseguard on, 0 permanent gaps and 0
downstream runs on incomplete upstream.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from nba_props.outcome import ModeResult, OutcomeResult, simulate_outcome


def _dates(days: tuple[object, ...]) -> str:
    return ", ".join(str(d) for d in days)


def markdown(result: OutcomeResult) -> str:
    """Both modes as a Markdown table, the conditions above it and the definitions below."""
    off, on = result.modes
    plan = result.faults
    crashes = "; ".join(
        f"{name} crashes on {_dates(days)}" for name, days in result.crash_dates.items()
    )
    outage = (
        f"the API down {plan.outage_minutes:g} minutes from the start of the {result.outage_date} run"
        if result.outage_date
        else "no outage"
    )

    def row(label: str, cell: Callable[[ModeResult], object]) -> str:
        return f"| {label} | {cell(off)} | {cell(on)} |"

    lines = [
        "### Permanent gaps: a season with phaseguard off and on",
        "",
        f"{len(result.dates)} game dates ({result.dates[0]} .. {result.dates[-1]}), "
        f"{result.games} games, seed {result.seed}: {plan.transient_rate:.0%} transient API "
        f"errors, {outage}, {crashes}. One nightly run per date on a virtual clock; "
        f"both modes on the same faults.",
        "",
        f"| | {off.name} | {on.name} |",
        "|---|---:|---:|",
        row(
            "**Permanent gaps**: dates with box scores missing at season end",
            lambda m: f"**{len(m.box_score_gaps)}** ({m.games_missing} games)",
        ),
        row("Partitions with a gap at season end, all phases", lambda m: len(m.partition_gaps)),
        row(
            "**Downstream runs on incomplete upstream**",
            lambda m: f"**{len(m.downstream_on_incomplete)}**",
        ),
        row("Dates needing a manual backfill (not COMPLETE)", lambda m: len(m.manual_backfill)),
        row("Time from fault to alert", lambda m: m.alert_summary()),
        row("Incidents (a step failed after its retries)", lambda m: len(m.incidents)),
        row("Alerts opened / resolved", lambda m: f"{m.alerts_opened} / {m.alerts_resolved}"),
        row("Dates re-run by the nightly backfill", lambda m: m.catch_up_runs),
        row("Retries", lambda m: m.retries),
        row(
            "API requests (injected faults)",
            lambda m: f"{m.api_requests} ({sum(m.api_faults.values())})",
        ),
        row("Health at season end", lambda m: m.health),
        row("Wall time", lambda m: f"{m.wall_seconds:.0f} s"),
        "",
        "Permanent gap: a game date whose box-score partition lacks scheduled games at season "
        "end (the API serves every game, so only its errors leave one). Partition with a gap: "
        "empty, or (box scores) short of games. Downstream run on incomplete upstream: a step "
        "that started for a date while an upstream phase of that date had failed, been "
        "skipped or blocked, or verified FAIL. Manual backfill: not COMPLETE per "
        "`phaseguard verify`. Time to alert: virtual time from a failed step's first failed "
        "attempt to its alert reaching the webhook.",
        "",
        f"Opening nights left out (phase 4 needs history): {_dates(result.opening_nights)}. "
        f"Total wall time {result.wall_seconds:.0f} s.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dates", type=int, default=None, help="only the first N game dates")
    parser.add_argument("--transient-rate", type=float, default=0.08)
    parser.add_argument("--outage-minutes", type=float, default=20.0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = simulate_outcome(
        seed=args.seed,
        dates=args.dates,
        transient_rate=args.transient_rate,
        outage_minutes=args.outage_minutes,
    )
    print(json.dumps(result.as_dict(), indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
