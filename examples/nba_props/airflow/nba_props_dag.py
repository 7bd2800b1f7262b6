"""The NBA props pipeline as Airflow DAGs, with phaseguard's 4 -> 5 breaker before phase 5.

Two DAGs over the same plain Python callables (put your phase code in their bodies):

- ``nba_props``: phase4 -> phase5_gate -> phase5 -> phase6. ``phase5_gate`` decides the
  gate once for the run's date (``{{ ds }}``). On a blocked date (fewer than 3 of the 5
  phase-4 processors, or PDC / MLFS missing) phase 5 and 6 are skipped; trigger the DAG
  with ``{"on_block": "fail"}`` to fail the run instead.
- ``nba_props_wait``: phase 4 is written by another system; ``phase5_ready`` waits for it
  to hold (a sensor in reschedule mode, a poke every 10 minutes for up to 6 hours), then
  phase5 -> phase6.

Every decision is recorded in phaseguard's event log and alerted as by ``phaseguard gate``.
It runs on Airflow 3 and on Airflow 2.x (the imports below pick the names each has). The
workers need ``pip install 'phaseguard[airflow]'`` and two environment variables:
``PHASEGUARD_CONFIG`` (this pipeline's ``phaseguard.yml``) and ``PHASEGUARD_WAREHOUSE``.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum

try:  # Airflow 3
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.x
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

from phaseguard.integrations.airflow import PhaseguardGateOperator, PhaseguardGateSensor

log = logging.getLogger(__name__)
START = pendulum.datetime(2025, 10, 21, tz="UTC")  # the season's first game day
# Transient failures are retried; a blocked gate is not (on_block="fail" fails at once).
RETRIES = {"retries": 2, "retry_delay": pendulum.duration(minutes=5)}


def run_phase4(game_date: str) -> dict[str, Any]:
    """Precompute processors (PDC, PSZA, PCF, TDZA, MLFS) for the game date."""
    log.info("phase 4 for %s", game_date)
    return {"phase": "phase4", "game_date": game_date}


def run_phase5(game_date: str, gate: dict[str, Any]) -> dict[str, Any]:
    """Predictions from the five systems; ``gate`` is the gate's decision (its XCom)."""
    log.info("phase 5 for %s (gate %s: %s)", game_date, gate["gate"], gate["status"])
    return {"phase": "phase5", "game_date": game_date, "gate": gate["status"]}


def run_phase6(game_date: str) -> dict[str, Any]:
    """Grading against actual points."""
    log.info("phase 6 for %s", game_date)
    return {"phase": "phase6", "game_date": game_date}


DS = "{{ ds }}"  # the run's logical date, YYYY-MM-DD
phase4 = task(task_id="phase4")(run_phase4)
phase5 = task(task_id="phase5")(run_phase5)
phase6 = task(task_id="phase6")(run_phase6)


with DAG(
    "nba_props",
    schedule="@daily",
    start_date=START,
    catchup=False,
    default_args=RETRIES,
    params={"on_block": Param("skip", enum=["skip", "fail"])},
    tags=["nba_props", "phaseguard"],
):
    gate = PhaseguardGateOperator(
        task_id="phase5_gate", phase="phase5", on_block="{{ params.on_block }}"
    )
    phase4(DS) >> gate
    phase5(DS, gate.output) >> phase6(DS)

with DAG(
    "nba_props_wait",
    schedule="@daily",
    start_date=START,
    catchup=False,
    default_args=RETRIES,
    tags=["nba_props", "phaseguard"],
):
    ready = PhaseguardGateSensor(task_id="phase5_ready", phase="phase5", poke_interval=600)
    phase5(DS, ready.output) >> phase6(DS)
