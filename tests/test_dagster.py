"""Dagster: phaseguard's checks on the example's daily-partitioned assets, run by real Dagster.

Dagster lives in its own virtualenv (``.venv-dagster``, built by ``scripts/dagster-venv.sh``)
so its pins never hold back the main venv; each test runs ``tests/dagster_run.py`` (or a small
script) there as a subprocess, on the demo season's real DuckDB warehouse, and reads its JSON.
On 2026-01-21 the 4 -> 5 breaker blocks (phase 4's PDC, PSZA and PCF crash: the demo's
outage, injected again because the phase-4 asset re-runs its processors); 2026-01-13 is open.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from nba_props.demo import BuiltDemo, build_demo
from phaseguard import load

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("DAGSTER_VENV", ROOT / ".venv-dagster"))
RUNNER = ROOT / "tests" / "dagster_run.py"
EXAMPLE = ROOT / "examples" / "nba_props" / "dagster" / "definitions.py"
BLOCKED, OPEN = "2026-01-21", "2026-01-13"
CRASH = ",".join(f"{name}:{BLOCKED}" for name in ("PDC", "PSZA", "PCF"))


class DagsterMissing(AssertionError):
    """``.venv-dagster`` is not built: a loud failure naming the script, never a skip."""


def dagster_python(venv: Path = VENV) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        raise DagsterMissing(
            f"Dagster is not installed: {python} is missing. "
            "Build it with scripts/dagster-venv.sh (test.sh does)."
        )
    return python


def run_in_dagster(demo: BuiltDemo, args: list[str], **env: str) -> Any:
    """Run ``args`` with .venv-dagster's Python against the demo; its stdout as JSON."""
    done = subprocess.run(
        [str(dagster_python()), *args],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "src"), str(ROOT / "examples/nba_props/src")]
            ),
            "PHASEGUARD_CONFIG": str(demo.config_path),
            "PHASEGUARD_WAREHOUSE": f"duckdb://{demo.warehouse_path}",
            **env,
        },
        cwd=demo.directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture
def demo(tmp_path: Path) -> BuiltDemo:
    return build_demo(tmp_path / "demo")


def gate_events(demo: BuiltDemo) -> list[tuple[str, str, str | None]]:
    with load(demo.config_path, warehouse=f"duckdb://{demo.warehouse_path}") as guard:
        events = guard.store.query()
    return [
        (e.kind, e.date.isoformat() if e.date else "", e.phase)
        for e in events
        if e.kind.startswith("gate_")
    ]


def by_name(run: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["asset"], c["name"]): c for c in run["checks"]}


def test_blocking_check_stops_the_downstream_asset_on_a_blocked_date(demo) -> None:
    out = run_in_dagster(
        demo,
        [str(RUNNER), str(EXAMPLE), "phase3,phase4,phase5", BLOCKED, OPEN],
        PHASEGUARD_NBA_CRASH=CRASH,
    )
    blocked, opened = out[BLOCKED], out[OPEN]

    # Blocked: phase 4 ran (its partial crash is reported, not raised), the breaker's
    # blocking check failed with ERROR, and Dagster did not run phase 5.
    assert blocked["materialized"] == ["phase3", "phase4"]
    assert not blocked["success"]
    breaker = by_name(blocked)[("phase4", "phase5_gate_processors")]
    assert breaker["passed"] is False
    assert breaker["severity"] == "ERROR"
    assert breaker["blocking"] is True
    assert breaker["partition"] == BLOCKED
    meta = breaker["metadata"]
    assert meta["threshold"] == ">= 3/5 incl. PDC, MLFS"
    assert meta["observed"].startswith("1/5 present")
    assert meta["value"] == 1.0
    assert (meta["level"], meta["gate"], meta["decision"]) == ("FAIL", "phase5", "blocked")
    assert "PDC" in meta["details"]["missing_required"]
    # phase 4's own criterion says the same, but does not block.
    own = by_name(blocked)[("phase4", "processors")]
    assert (own["passed"], own["blocking"]) == (False, False)
    # The 3 -> 4 gate held: its checks on phase3 passed, so phase 4 ran.
    assert by_name(blocked)[("phase3", "phase4_gate_phase_3_tables")]["passed"] is True

    # Open: every check passed and phase 5 materialized.
    assert opened["success"]
    assert opened["materialized"] == ["phase3", "phase4", "phase5"]
    assert all(c["passed"] for c in opened["checks"]), opened["checks"]
    assert {c["partition"] for c in opened["checks"]} == {OPEN}
    names = {(c["asset"], c["name"]) for c in opened["checks"]}
    assert names == {
        ("phase3", "rows_exist"),
        ("phase3", "player_rows_per_game"),
        ("phase3", "phase4_gate_phase_3_tables"),
        ("phase3", "phase4_gate_player_rows_per_game"),
        ("phase3", "summary_ids"),
        ("phase3", "one_summary_per_player_and_game"),
        ("phase4", "processors"),
        ("phase4", "phase5_gate_processors"),
        ("phase5", "rows_exist"),
        ("phase5", "prediction_systems"),
        ("phase5", "predictions_have_features"),
    }
    # One warehouse query per check evaluation: a phase's criteria, or a gate's decision.
    assert blocked["queries"] == 4
    assert opened["queries"] == 5
    # The gate decisions are phaseguard's own: recorded in the event log.
    events = gate_events(demo)
    assert ("gate_blocked", BLOCKED, "phase5") in events
    assert ("gate_open", OPEN, "phase5") in events
    assert ("gate_open", BLOCKED, "phase4") in events


def override_blocked_date(demo: BuiltDemo) -> Any:
    """An on-call override of the phase-5 breaker for the blocked date, for two hours."""
    with load(demo.config_path, warehouse=f"duckdb://{demo.warehouse_path}") as guard:
        return guard.overrides.create(
            "phase5",
            dt.date.fromisoformat(BLOCKED),
            "predictions needed for the slate",
            "oncall",
            dt.timedelta(hours=2),
        )


def test_an_override_lets_the_downstream_asset_run_with_a_warning(demo) -> None:
    override = override_blocked_date(demo)
    out = run_in_dagster(
        demo,
        [str(RUNNER), str(EXAMPLE), "phase4,phase5", BLOCKED],
        PHASEGUARD_NBA_CRASH=CRASH,
    )[BLOCKED]
    assert out["materialized"] == ["phase4", "phase5"]
    breaker = by_name(out)[("phase4", "phase5_gate_processors")]
    assert (breaker["passed"], breaker["severity"]) == (False, "WARN")
    assert breaker["metadata"]["decision"] == "overridden"
    assert breaker["metadata"]["override"] == override.id
    assert ("gate_overridden", BLOCKED, "phase5") in gate_events(demo)


UNPARTITIONED = textwrap.dedent(
    """
    import json, os
    import dagster as dg
    from phaseguard.errors import ConfigError
    from phaseguard.integrations.dagster import phaseguard_asset_checks

    config = os.environ["PHASEGUARD_CONFIG"]
    out = {}
    try:
        phaseguard_asset_checks(config, assets={"phase9": "x"})
    except ConfigError as exc:
        out["unknown"] = str(exc)

    @dg.asset
    def up() -> None: ...

    @dg.asset(deps=[up])
    def down() -> None: ...

    checks = phaseguard_asset_checks(config, assets={"phase4": "up"}, criteria=False)
    result = dg.materialize([up, down, *checks], raise_on_error=False)
    out["materialized"] = sorted(
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
    )
    out["checks"] = [
        {"name": e.check_name, "passed": e.passed, "severity": e.severity.value,
         "description": e.description}
        for e in result.get_asset_check_evaluations()
    ]
    regions = dg.StaticPartitionsDefinition(["east"])

    @dg.asset(partitions_def=regions)
    def by_region() -> None: ...

    checks = phaseguard_asset_checks(config, assets={"phase4": by_region}, criteria=False)
    result = dg.materialize([by_region, *checks], partition_key="east", raise_on_error=False)
    out["static"] = [e.description for e in result.get_asset_check_evaluations()]

    days = dg.DailyPartitionsDefinition(start_date="2026-01-01")

    @dg.asset(partitions_def=days)
    def upstream() -> None: ...

    @dg.asset(partitions_def=days, deps=[upstream])
    def downstream() -> None: ...

    checks = phaseguard_asset_checks(
        config, assets={"phase4": upstream}, warehouse="duckdb://missing.duckdb"
    )
    result = dg.materialize(
        [upstream, downstream, *checks], partition_key="2026-01-13", raise_on_error=False
    )
    out["down"] = {
        "materialized": sorted(
            e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
        ),
        "checks": {
            e.check_name: [e.passed, e.severity.value, e.description]
            for e in result.get_asset_check_evaluations()
        },
    }
    print(json.dumps(out))
    """
)


def test_bad_mapping_partitions_or_warehouse_fail_closed_in_one_line(demo, tmp_path: Path) -> None:
    script = tmp_path / "unpartitioned.py"
    script.write_text(UNPARTITIONED)
    out = run_in_dagster(demo, [str(script)])
    assert out["unknown"].endswith(
        "assets: unknown phase 'phase9' in assets= (phases: phase2, phase3, phase4, phase5, phase6)"
    )
    assert str(demo.config_path) in out["unknown"]
    # Without a partition there is no date to judge: the gate fails closed, down never runs.
    assert out["materialized"] == ["up"]
    assert [c["name"] for c in out["checks"]] == ["phase5_gate_processors"]
    (check,) = out["checks"]
    assert (check["passed"], check["severity"]) == (False, "ERROR")
    assert "need a daily-partitioned asset" in check["description"]
    assert "\n" not in check["description"]
    assert out["static"] == [
        "processors: phase5 gate BLOCKED: partition key 'east' is not a date (YYYY-MM-DD): "
        "phaseguard checks need daily partitions"
    ]
    # A warehouse that does not answer: the gate fails closed (its on_warehouse_error), and
    # phase 4's criterion fails too; neither is a traceback.
    down = out["down"]
    assert down["materialized"] == ["upstream"]
    gate = down["checks"]["phase5_gate_processors"]
    assert gate[:2] == [False, "ERROR"]
    assert gate[2].startswith("phase5 BLOCKED for 2026-01-13: ")
    assert "missing.duckdb does not exist" in gate[2]
    criterion = down["checks"]["processors"]
    assert criterion[:2] == [False, "ERROR"]
    assert "missing.duckdb" in criterion[2]


def test_a_missing_dagster_venv_fails_loudly_naming_the_script(tmp_path: Path) -> None:
    with pytest.raises(DagsterMissing, match=r"scripts/dagster-venv\.sh"):
        dagster_python(tmp_path / "no-venv")
    script = ROOT / "scripts" / "dagster-venv.sh"
    assert os.access(script, os.X_OK)
    assert '-e ".[dagster]"' in script.read_text()  # phaseguard itself, editable, with Dagster
