"""Dagster: a gated phase's asset materialized in a run of its own enforces its gate.

A blocking check stops what follows its asset only in the same run; ``enforce_gate``, called
first in the example's phase4 and phase5 assets, guards them in any run (a schedule, a
backfill of that phase alone, a click in the UI). Real Dagster runs the example in
``.venv-dagster`` on the demo season's DuckDB warehouse (helpers of ``test_dagster.py``).
On 2026-01-21 the 4 -> 5 breaker blocks (phase 4's outage) and the demo holds no
predictions; on 2026-01-16 the 3 -> 4 gate blocks (a phase-3 table is empty); 2026-01-13 is
open.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from nba_props.demo import BuiltDemo, build_demo
from test_dagster import (
    BLOCKED,
    CRASH,
    EXAMPLE,
    OPEN,
    RUNNER,
    gate_events,
    override_blocked_date,
    run_in_dagster,
)

pytestmark = pytest.mark.slow

NO_PHASE3_TABLE = "2026-01-16"  # team_defense_game_summary empty: the 3 -> 4 gate blocks


@pytest.fixture
def demo(tmp_path: Path) -> BuiltDemo:
    return build_demo(tmp_path / "demo")


def predictions(demo: BuiltDemo, date: str) -> int:
    with duckdb.connect(str(demo.warehouse_path), read_only=True) as con:
        row = con.execute(
            "SELECT count(*) FROM nba_predictions.player_prop_predictions WHERE game_date = ?",
            [dt.date.fromisoformat(date)],
        ).fetchone()
    assert row is not None
    return int(row[0])


def messages(run: dict, level: str) -> list[str]:
    return [line["message"] for line in run["logs"] if line["level"] == level]


def test_phase5_alone_fails_on_the_blocked_date_and_runs_on_an_open_one(demo) -> None:
    assert predictions(demo, BLOCKED) == 0
    out = run_in_dagster(
        demo, [str(RUNNER), str(EXAMPLE), "phase5", BLOCKED, OPEN], PHASEGUARD_NBA_CRASH=CRASH
    )
    blocked, opened = out[BLOCKED], out[OPEN]

    # Blocked: the materialization fails with the breaker's reason, before anything is written.
    assert not blocked["success"]
    assert blocked["materialized"] == []
    (failure,) = blocked["failures"]
    assert failure["step"] == "phase5"
    assert failure["description"] == (
        "phase5 BLOCKED for 2026-01-21: processors: 2/5 present; missing PDC, PSZA, PCF "
        "(required: PDC) (expected >= 3/5 incl. PDC, MLFS)"
    )
    assert "\n" not in failure["description"]
    meta = failure["metadata"]
    assert (meta["gate"], meta["date"], meta["decision"]) == ("phase5", BLOCKED, "blocked")
    (verdict,) = meta["verdicts"]
    assert (verdict["check"], verdict["status"]) == ("processors", "FAIL")
    assert verdict["expected"] == ">= 3/5 incl. PDC, MLFS"
    assert verdict["value"] == 2.0
    assert meta["details"]["missing_required"] == ["PDC"]
    assert failure["description"] in messages(blocked, "ERROR")
    assert blocked["checks"] == []  # phase 5's own criteria never ran: nothing to judge
    assert predictions(demo, BLOCKED) == 0  # nothing downstream written
    assert blocked["queries"] == 1  # the gate's one query; the step never ran

    # Open: the gate says so in the log and phase 5 materializes (and writes).
    assert opened["success"]
    assert opened["materialized"] == ["phase5"]
    assert opened["failures"] == []
    assert "phase5 open for 2026-01-13" in messages(opened, "INFO")
    assert predictions(demo, OPEN) > 0

    # Both decisions are phaseguard's own: recorded in the event store, once each.
    events = Counter(gate_events(demo))
    assert events[("gate_blocked", BLOCKED, "phase5")] == 1
    assert events[("gate_open", OPEN, "phase5")] == 1


def test_phase4_alone_fails_on_a_date_its_gate_blocks(demo) -> None:
    out = run_in_dagster(demo, [str(RUNNER), str(EXAMPLE), "phase4", NO_PHASE3_TABLE, OPEN])
    blocked, opened = out[NO_PHASE3_TABLE], out[OPEN]

    assert not blocked["success"]
    assert blocked["materialized"] == []
    (failure,) = blocked["failures"]
    assert failure["step"] == "phase4"
    assert failure["description"].startswith("phase4 BLOCKED for 2026-01-16: phase 3 tables: ")
    assert "team_defense" in failure["description"]
    assert failure["metadata"]["decision"] == "blocked"
    statuses = {v["check"]: v["status"] for v in failure["metadata"]["verdicts"]}
    assert statuses["phase 3 tables"] == "FAIL"

    assert opened["success"]
    assert opened["materialized"] == ["phase4"]
    events = Counter(gate_events(demo))
    assert events[("gate_blocked", NO_PHASE3_TABLE, "phase4")] == 1
    assert events[("gate_open", OPEN, "phase4")] == 1


def test_a_run_with_the_blocking_check_decides_each_gate_once(demo) -> None:
    override = override_blocked_date(demo)
    out = run_in_dagster(
        demo,
        [str(RUNNER), str(EXAMPLE), "phase3,phase4,phase5", OPEN, BLOCKED],
        PHASEGUARD_NBA_CRASH=CRASH,
    )
    opened, overridden = out[OPEN], out[BLOCKED]

    # The assets read the decisions of this run's blocking checks back from Dagster's event
    # log: no second warehouse query, no second event.
    assert opened["materialized"] == ["phase3", "phase4", "phase5"]
    assert opened["queries"] == 5  # 3 criteria checks + 2 gate checks, as without the assets' gates
    info = messages(opened, "INFO")
    assert "phase4 open for 2026-01-13 (decided by this run's check phaseguard_phase4_gate)" in info
    assert "phase5 open for 2026-01-13 (decided by this run's check phaseguard_phase5_gate)" in info
    # An override too: phase 5 runs on it, says so, and the override is used once.
    assert overridden["materialized"] == ["phase3", "phase4", "phase5"]
    (warning,) = [m for m in messages(overridden, "WARNING") if m.startswith("phase5 passed")]
    assert warning.startswith(f"phase5 passed by override {override.id} for 2026-01-21 ")
    assert warning.endswith("(decided by this run's check phaseguard_phase5_gate)")

    events = Counter(gate_events(demo))
    for gate in ("phase4", "phase5"):
        assert events[("gate_open", OPEN, gate)] == 1
    assert events[("gate_overridden", BLOCKED, "phase5")] == 1
    assert sum(events.values()) == 4


EDGES = textwrap.dedent(
    """
    import json, os
    import dagster as dg
    from phaseguard.integrations.dagster import enforce_gate

    config = os.environ["PHASEGUARD_CONFIG"]
    days = dg.DailyPartitionsDefinition(start_date="2026-01-01")
    out = {}

    def failure(asset, **kw):
        result = dg.materialize([asset], raise_on_error=False, **kw)
        (event,) = result.get_step_failure_events()
        user = event.step_failure_data.user_failure_data
        return [user.description, {k: v.value for k, v in user.metadata.items()}]

    @dg.asset
    def unpartitioned(context) -> None:
        enforce_gate(context, "phase5", config=config)

    out["unpartitioned"] = failure(unpartitioned)

    @dg.asset(partitions_def=days)
    def unknown(context) -> None:
        enforce_gate(context, "phase9", config=config)

    out["unknown"] = failure(unknown, partition_key="2026-01-13")

    @dg.asset(partitions_def=days)
    def no_config(context) -> None:
        enforce_gate(context, "phase5", config="missing.yml")

    out["no_config"] = failure(no_config, partition_key="2026-01-13")

    @dg.asset(partitions_def=days)
    def no_warehouse(context) -> None:
        enforce_gate(context, "phase5", config=config, warehouse="duckdb://missing.duckdb")

    out["no_warehouse"] = failure(no_warehouse, partition_key="2026-01-13")
    print(json.dumps(out))
    """
)


def test_no_date_no_gate_or_no_warehouse_fail_the_asset_in_one_line(demo, tmp_path: Path) -> None:
    script = tmp_path / "edges.py"
    script.write_text(EDGES)
    out = run_in_dagster(demo, [str(script)])
    for description, _ in out.values():
        assert "\n" not in description
    description, meta = out["unpartitioned"]
    assert description.startswith("phase5 gate BLOCKED: phaseguard checks need a daily-partitioned")
    assert meta == {"gate": "phase5"}
    description, _ = out["unknown"]
    assert description == (
        "phase9 gate BLOCKED for 2026-01-13: unknown gate 'phase9' (gates: phase3, phase4, phase5)"
    )
    description, _ = out["no_config"]
    assert description.startswith("phase5 gate BLOCKED for 2026-01-13: ")
    assert "missing.yml" in description
    # A warehouse that does not answer: the gate's own decision, failing closed.
    description, meta = out["no_warehouse"]
    assert description.startswith("phase5 BLOCKED for 2026-01-13: ")
    assert "missing.duckdb does not exist" in description
    assert meta["decision"] == "blocked"
    assert ("gate_blocked", "2026-01-13", "phase5") in gate_events(demo)


AUTOMATION = textwrap.dedent(
    """
    import datetime as dt, importlib.util, json, sys
    import dagster as dg

    spec = importlib.util.spec_from_file_location("definitions", sys.argv[1])
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    phase5 = dg.AssetSelection.assets("phase5")
    out = {}
    for date in sys.argv[2:]:
        # A tick the morning after the game date (its partition is the latest time window),
        # then phase 3 and 4 materialize with their checks, then the next tick.
        tick = dt.datetime.fromisoformat(date + "T01:00:00+00:00") + dt.timedelta(days=1)
        instance = dg.DagsterInstance.ephemeral()
        first = dg.evaluate_automation_conditions(
            defs=example.defs, instance=instance, asset_selection=phase5, evaluation_time=tick
        )
        run = dg.materialize(
            [*example.assets, *example.checks],
            partition_key=date,
            selection=dg.AssetSelection.assets("phase3", "phase4"),
            instance=instance,
            raise_on_error=False,
        )
        second = dg.evaluate_automation_conditions(
            defs=example.defs,
            instance=instance,
            asset_selection=phase5,
            evaluation_time=tick + dt.timedelta(minutes=1),
            cursor=first.cursor,
        )
        out[date] = {
            "phase4": sorted(
                e.asset_key.to_user_string() for e in run.get_asset_materialization_events()
            ),
            "requested": [
                sorted(first.get_requested_partitions(dg.AssetKey("phase5"))),
                sorted(second.get_requested_partitions(dg.AssetKey("phase5"))),
            ],
        }
    print(json.dumps(out))
    """
)


def test_declarative_automation_waits_for_the_blocking_checks(demo, tmp_path: Path) -> None:
    script = tmp_path / "automation.py"
    script.write_text(AUTOMATION)
    out = run_in_dagster(
        demo, [str(script), str(EXAMPLE), BLOCKED, OPEN], PHASEGUARD_NBA_CRASH=CRASH
    )
    # phase 4 updated on both dates; phase 5 is requested only where the breaker's blocking
    # check on phase 4 passed.
    assert out[BLOCKED]["phase4"] == out[OPEN]["phase4"] == ["phase3", "phase4"]
    assert out[BLOCKED]["requested"] == [[], []]
    assert out[OPEN]["requested"] == [[], [OPEN]]
