"""The NBA props pipeline in Dagster: the five phases as daily-partitioned assets, guarded by
phaseguard's asset checks.

Each asset runs its phase's step for the partition's date (the partition key is the game
date). ``phaseguard_asset_checks`` adds, from ``phaseguard.yml``:

- on every phase's asset, one check per criterion (``games_covered``, ``processors``, ``MAE``);
- on phase3's asset, the ``phase4_gate_*`` checks, and on phase4's, ``phase5_gate_processors``
  (the 4 -> 5 breaker): blocking, so a blocked date stops phase 4 (or 5) and what follows in
  that run, and the decision is recorded and alerted like every gate decision.

A gate's blocking check stops phase 4 (or 5) only in a run that also materializes the
upstream. Run alone (a schedule, a backfill of phase 5 alone, a click in the UI), the gated
assets enforce their gate first (``enforce_gate``): a blocked date fails the
materialization with the gate's reason, before anything is written. For declarative
automation they wait for the upstream's blocking checks to pass
(``AutomationCondition.all_deps_blocking_checks_passed()``).

A phase whose processors partly crash still materializes what the others wrote (as in the
seeds' pipeline): the breaker, not the crash, decides whether the next phase runs.

    pip install 'phaseguard[dagster]'
    PHASEGUARD_WAREHOUSE=duckdb:///path/nba_props.duckdb dagster dev -f definitions.py

The runs go through the in-process executor because a DuckDB file takes one writer at a
time; on BigQuery or PostgreSQL, drop ``executor=`` to run steps in parallel.
"""

import datetime as dt
import os
from pathlib import Path

import dagster as dg

import phaseguard
from nba_props import steps
from nba_props.processors import ProcessorsFailed
from phaseguard.integrations.dagster import (
    enforce_gate,
    partition_date,
    phaseguard_asset_checks,
)
from phaseguard.runner import StepContext

CONFIG = os.environ.get("PHASEGUARD_CONFIG") or str(Path(__file__).parents[1] / "phaseguard.yml")
season = dg.DailyPartitionsDefinition(start_date="2025-10-21", end_date="2026-04-13")
# Declarative automation of a gated phase: when its upstream updates, once the upstream's
# blocking checks (the gate) passed for that partition.
gated = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()


def run_step(context: dg.AssetExecutionContext, phase: str) -> dg.MaterializeResult:
    """Run ``phase``'s step for the partition's date; a partial crash is reported, not raised."""
    date: dt.date = partition_date(context)
    with phaseguard.load(CONFIG) as guard, guard.writing():  # a write connection for the step
        step = getattr(steps, phase)
        try:
            rows = step(date, StepContext(guard, phase, date))
        except ProcessorsFailed as exc:
            context.log.warning(str(exc))
            return dg.MaterializeResult(
                metadata={"rows": sum(exc.rows.values()), "crashed": sorted(exc.failures)}
            )
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(partitions_def=season, group_name="nba_props", description="box scores (balldontlie)")
def phase2(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return run_step(context, "phase2")


@dg.asset(partitions_def=season, group_name="nba_props", deps=[phase2])
def phase3(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return run_step(context, "phase3")


@dg.asset(partitions_def=season, group_name="nba_props", deps=[phase3], automation_condition=gated)
def phase4(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    enforce_gate(context, "phase4", config=CONFIG)  # blocked: fails here, in any run
    return run_step(context, "phase4")


@dg.asset(partitions_def=season, group_name="nba_props", deps=[phase4], automation_condition=gated)
def phase5(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    enforce_gate(context, "phase5", config=CONFIG)  # the 4 -> 5 breaker
    return run_step(context, "phase5")


@dg.asset(partitions_def=season, group_name="nba_props", deps=[phase5])
def phase6(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return run_step(context, "phase6")


assets = [phase2, phase3, phase4, phase5, phase6]
checks = phaseguard_asset_checks(
    CONFIG,
    assets={
        "phase2": phase2,
        "phase3": phase3,
        "phase4": phase4,
        "phase5": phase5,
        "phase6": phase6,
    },
)

defs = dg.Definitions(assets=assets, asset_checks=checks, executor=dg.in_process_executor)
