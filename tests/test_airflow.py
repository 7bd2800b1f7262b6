"""Airflow: the example DAGs run for real with ``dag.test()``, under Airflow 3 and Airflow 2.x.

Each Airflow lives in a virtualenv of its own, so that its pins never hold back the main venv:
Airflow 3 in ``.venv-airflow`` (``scripts/airflow-venv.sh``), the last Airflow 2.x in
``.venv-airflow2`` (``scripts/airflow-venv.sh 2``: the operator's Airflow 2.x imports). Every
test runs under both. Per Airflow, one subprocess (``tests/airflow_run.py``) migrates a fresh
SQLite metadata DB in a temporary ``AIRFLOW_HOME``, parses ``examples/nba_props/airflow/`` and
runs every scenario below with ``dag.test()`` against the demo season's DuckDB warehouse:
2026-01-21 has 2 of 5 phase-4 processors (the 4 -> 5 breaker blocks), 2026-01-13 is healthy.
The example imports Airflow 3's Task SDK; under Airflow 2.x the same DAG file is parsed with
that one import line given its Airflow 2.x names. No part of Airflow is mocked; the sensors'
poke interval and timeout are shortened on the parsed DAG. A missing venv fails loudly, naming
the script that builds it, never a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from nba_props.demo import build_demo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Per Airflow: its venv, the script that builds it, and the DAG files' Airflow import.
VENVS: dict[str, tuple[Path, str, str]] = {
    "airflow3": (
        Path(os.environ.get("AIRFLOW_VENV", ROOT / ".venv-airflow")),
        "scripts/airflow-venv.sh",
        "from airflow.sdk import DAG, Param, task",
    ),
    "airflow2": (
        Path(os.environ.get("AIRFLOW2_VENV", ROOT / ".venv-airflow2")),
        "scripts/airflow-venv.sh 2",
        "from airflow import DAG\n"
        "from airflow.decorators import task\n"
        "from airflow.models.param import Param",
    ),
}
RUNNER = ROOT / "tests" / "airflow_run.py"
DAGS = ROOT / "examples" / "nba_props" / "airflow"
BLOCKED, OPEN = "2026-01-21", "2026-01-13"
FAST = {"poke_interval": 1}

SCENARIOS: dict[str, dict[str, Any]] = {
    "skip": {"dag": "nba_props", "date": BLOCKED},
    "open": {"dag": "nba_props", "date": OPEN},
    "fail": {"dag": "nba_props", "date": BLOCKED, "conf": {"on_block": "fail"}},
    "sensor_open": {"dag": "nba_props_wait", "date": OPEN, **FAST},
    "sensor_times_out": {"dag": "nba_props_wait", "date": BLOCKED, **FAST, "timeout": 3},
    "sensor_waits": {
        "dag": "nba_props_wait",
        "date": BLOCKED,
        **FAST,
        "timeout": 120,
        "override_after_blocks": 2,
    },
    "broken_config": {"dag": "nba_props", "date": OPEN, "env": {"PHASEGUARD_CONFIG": "{broken}"}},
    # A DAG whose gate's date template renders a timestamp ({{ ts }}), not YYYY-MM-DD.
    "bad_date": {"dag": "nba_props_ts", "date": OPEN},
}


def _python(name: str) -> Path:
    venv, script, _ = VENVS[name]
    python = venv / "bin" / "python"
    if not python.exists():
        raise AssertionError(
            f"Airflow is not installed: {python} is missing. Build it with {script} (test.sh does)."
        )
    return python


@pytest.fixture(scope="module", params=list(VENVS))
def airflow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Every scenario's run (by name), from one subprocess in the Airflow's venv."""
    name: str = request.param
    python = _python(name)
    imports = VENVS[name][2]
    work = tmp_path_factory.mktemp(name)
    demo = build_demo(work / "demo")
    broken = work / "broken.yml"
    broken.write_text("pipeline: x\nphases: [\n")
    specs = json.loads(json.dumps(list(SCENARIOS.values())).replace("{broken}", str(broken)))
    dags = work / "dags"  # the example DAG file, and two that get an argument wrong
    dags.mkdir()
    # The example as a user copies it: the same file on both Airflows.
    shutil.copy(DAGS / "nba_props_dag.py", dags / "nba_props_dag.py")
    (dags / "nba_props_ts.py").write_text(_gate_dag("nba_props_ts", 'date="{{ ts }}"', imports))
    typo = _gate_dag("nba_props_typo", "on_block='skpi'", imports)
    (dags / "nba_props_typo.py").write_text(typo)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(work / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PHASEGUARD_CONFIG": str(demo.config_path),
        "PHASEGUARD_WAREHOUSE": f"duckdb://{demo.warehouse_path}",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    started = time.monotonic()
    done = subprocess.run(
        [str(python), str(RUNNER), json.dumps(specs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-40:])
        raise AssertionError(f"the Airflow runner failed (exit {done.returncode}):\n{tail}")
    result = json.loads(lines[-1][len("RESULT ") :])
    runs = dict(zip(SCENARIOS, result["runs"], strict=True))
    print(f"{name} runner: {time.monotonic() - started:.1f} s for {len(runs)} runs")
    return {
        "name": name,
        "version": result["airflow"],
        "base_operator": result["base_operator"],
        "runs": runs,
        "log": done.stdout + done.stderr,
        "import_errors": result["import_errors"],
    }


def _gate_dag(dag_id: str, arguments: str, imports: str) -> str:
    """A DAG file holding one PhaseguardGateOperator called with ``arguments``."""
    return f"""
import pendulum
{imports}
from phaseguard.integrations.airflow import PhaseguardGateOperator

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2025, 10, 21, tz="UTC")):
    PhaseguardGateOperator(task_id="phase5_gate", phase="phase5", {arguments})
"""


def test_the_operator_is_built_on_this_airflows_base_classes(airflow: dict[str, Any]) -> None:
    # Airflow 3: the Task SDK's classes; Airflow 2.x: the fallback imports, run for real.
    major, module = {
        "airflow3": ("3.", "airflow.sdk.bases.operator"),
        "airflow2": ("2.", "airflow.models.baseoperator"),
    }[airflow["name"]]
    assert airflow["version"].startswith(major)
    assert airflow["base_operator"] == module


def test_blocked_date_skips_the_downstream(airflow: dict[str, Any]) -> None:
    run = airflow["runs"]["skip"]
    assert run["tasks"] == {
        "phase4": "success",
        "phase5_gate": "skipped",
        "phase5": "skipped",
        "phase6": "skipped",
    }
    assert run["state"] == "success"  # a skipped date is not a red run
    assert run["decisions"] == ["gate_blocked"]
    decision = run["xcoms"]["phase5_gate.decision"]  # why, for an all_done task
    assert decision["status"] == "blocked"
    assert decision["date"] == BLOCKED
    assert decision["missing_required"] == ["PDC"]
    assert "phase5_gate.return_value" not in run["xcoms"]


def test_open_date_runs_the_downstream_with_the_decision(airflow: dict[str, Any]) -> None:
    run = airflow["runs"]["open"]
    assert set(run["tasks"].values()) == {"success"}
    assert run["state"] == "success"
    assert run["decisions"] == ["gate_open"]
    decision = run["xcoms"]["phase5_gate.return_value"]
    assert decision["allowed"] is True
    assert decision["checks"][0]["observed"] == "5/5 present"
    assert run["xcoms"]["phase5.return_value"] == {
        "phase": "phase5",
        "game_date": OPEN,
        "gate": "open",
    }


def test_on_block_fail_fails_the_gate_without_retries(airflow: dict[str, Any]) -> None:
    run = airflow["runs"]["fail"]
    # The example retries its tasks twice; a blocked gate is failed at once.
    assert run["tasks"]["phase5_gate"] == "failed"
    assert run["tries"]["phase5_gate"] == 1
    assert run["tasks"]["phase5"] == run["tasks"]["phase6"] == "upstream_failed"
    assert run["state"] == "failed"
    assert run["decisions"] == ["gate_blocked"]


def test_sensor_on_an_open_date_succeeds_at_the_first_poke(airflow: dict[str, Any]) -> None:
    run = airflow["runs"]["sensor_open"]
    assert run["tasks"] == {"phase5_ready": "success", "phase5": "success", "phase6": "success"}
    assert run["reschedules"] == 0
    assert run["xcoms"]["phase5_ready.return_value"]["status"] == "open"
    assert run["xcoms"]["phase5.return_value"]["gate"] == "open"


def test_sensor_waits_in_reschedule_mode_until_upstream_holds(airflow: dict[str, Any]) -> None:
    run = airflow["runs"]["sensor_waits"]
    # Two blocked pokes, each rescheduled (no worker slot held), then the gate lets phase 5
    # run (here by an override made mid-wait, as by `phaseguard override`).
    assert run["decisions"][:2] == ["gate_blocked", "gate_blocked"]
    assert run["decisions"][-1] == "gate_overridden"
    assert run["reschedules"] == 2
    assert run["tasks"] == {"phase5_ready": "success", "phase5": "success", "phase6": "success"}
    assert run["xcoms"]["phase5_ready.return_value"]["status"] == "overridden"


def test_sensor_times_out_on_a_date_that_stays_blocked(airflow: dict[str, Any]) -> None:
    run = airflow["runs"]["sensor_times_out"]
    assert run["tasks"]["phase5_ready"] == "failed"
    assert run["tasks"]["phase5"] == run["tasks"]["phase6"] == "upstream_failed"
    assert run["reschedules"] >= 1
    assert len(run["decisions"]) >= 2
    assert set(run["decisions"]) == {"gate_blocked"}


def test_a_config_that_does_not_load_fails_the_gate_in_one_line(airflow: dict[str, Any]) -> None:
    run = airflow["runs"]["broken_config"]
    assert run["tasks"]["phase5_gate"] == "failed"
    assert run["tries"]["phase5_gate"] == 1  # no retries: a retry cannot mend a config
    assert run["tasks"]["phase5"] == "upstream_failed"
    assert run["decisions"] == []
    assert "phase5_gate: gate phase5: " in airflow["log"]
    assert "broken.yml:" in airflow["log"]


def test_a_date_that_is_not_yyyy_mm_dd_fails_the_gate(airflow: dict[str, Any]) -> None:
    run = airflow["runs"]["bad_date"]
    assert run["tasks"] == {"phase5_gate": "failed"}
    assert run["decisions"] == []
    assert (
        "phase5_gate: gate phase5: bad date '2026-01-13T00:00:00+00:00': expected YYYY-MM-DD"
        in airflow["log"]
    )


def test_the_example_parses_and_a_bad_on_block_fails_the_parse(airflow: dict[str, Any]) -> None:
    assert set(airflow["import_errors"]) == {"nba_props_typo.py"}
    error = airflow["import_errors"]["nba_props_typo.py"]
    assert "phase5_gate: on_block is 'skpi'; expected 'skip' or 'fail'" in error
