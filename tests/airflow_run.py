"""Runs the example Airflow DAGs with ``dag.test()`` in an Airflow venv; prints JSON.

tests/test_airflow.py runs this file with the Python of ``.venv-airflow`` (Airflow 3, built by
``scripts/airflow-venv.sh``) and of ``.venv-airflow2`` (Airflow 2.x, built by
``scripts/airflow-venv.sh 2``); where the two Airflows differ (where the DagBag lives, XCom's
model, how a reschedule names its task instance, ``dag.test``'s date argument) it asks for the
Airflow 3 name first. It runs in an environment naming a fresh ``AIRFLOW_HOME`` (SQLite
metadata DB), the DAG folder, ``PHASEGUARD_CONFIG`` and ``PHASEGUARD_WAREHOUSE``. Its one
argument is a JSON list of runs::

    [{"dag": "nba_props", "date": "2026-01-21", "conf": {"on_block": "fail"},
      "poke_interval": 1, "timeout": 30, "override_after_blocks": 1}]

``poke_interval`` / ``timeout`` shorten the sensor's waits (attributes of the parsed DAG's
task, set before the run). ``env``: environment
variables set during the run (the tasks run in this process). ``override_after_blocks``: a thread waits until the gate has been
recorded as blocked that many times for the run's date, then creates an override of it, as
an operator would by ``phaseguard override``, so the sensor sees upstream hold mid-wait.

The last line on stdout is ``RESULT <json>``: per run, the run's state, every task's state,
the XComs the tasks pushed and the gate decisions recorded for the date during the run; and
the DAG files that did not parse, with Airflow's error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

try:  # Airflow 3
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel as XCom

    _DATE_ARGUMENT = "logical_date"
except ImportError:  # Airflow 2.x
    from airflow.models.dagbag import DagBag
    from airflow.models.xcom import BaseXCom as XCom

    _DATE_ARGUMENT = "execution_date"


def _override_when_blocked(
    phase: str, day: dt.date, blocks: int, since: dt.datetime, stop: threading.Event
) -> None:
    from phaseguard import load

    with load(os.environ["PHASEGUARD_CONFIG"]) as guard:
        while not stop.wait(0.2):
            seen = guard.store.query(since=since, kind="gate_blocked", phase=phase, date=day)
            if len(seen) >= blocks:
                guard.overrides.create(
                    phase, day, "phase 4 re-run by hand", "airflow-test", dt.timedelta(hours=1)
                )
                return


def _run(dag: Any, spec: dict[str, Any]) -> dict[str, Any]:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    from phaseguard import load

    day = dt.date.fromisoformat(spec["date"])
    for task in dag.tasks:
        if hasattr(task, "poke"):
            task.poke_interval = float(spec.get("poke_interval", task.poke_interval))
            task.timeout = float(spec.get("timeout", task.timeout))
    stop = threading.Event()
    helper = None
    began = dt.datetime.now(dt.timezone.utc)
    if spec.get("override_after_blocks"):
        phase = next(t.phase for t in dag.tasks if hasattr(t, "phase"))
        helper = threading.Thread(
            target=_override_when_blocked,
            args=(phase, day, int(spec["override_after_blocks"]), began, stop),
            daemon=True,
        )
        helper.start()
    clock = time.monotonic()
    logical = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
    saved = dict(os.environ)
    os.environ.update(spec.get("env", {}))  # tasks run in this process: they see it
    try:
        run = dag.test(**{_DATE_ARGUMENT: logical}, run_conf=spec.get("conf"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    seconds = time.monotonic() - clock
    stop.set()
    if helper is not None:
        helper.join(timeout=10)
    with create_session() as session:
        instances = run.get_task_instances(session=session)
        tasks = {ti.task_id: None if ti.state is None else str(ti.state) for ti in instances}
        tries = {ti.task_id: ti.try_number for ti in instances}
        rows = session.execute(  # the stored value (the ORM object's is the UI's in 2.x)
            select(XCom.task_id, XCom.key, XCom.value).where(
                XCom.run_id == run.run_id, XCom.dag_id == dag.dag_id
            )
        ).all()
        xcoms = {f"{r.task_id}.{r.key}": XCom.deserialize_value(r) for r in rows}
        if hasattr(TaskReschedule, "ti_id"):  # Airflow 3: by task instance id
            mine = TaskReschedule.ti_id.in_([ti.id for ti in instances])
        else:  # Airflow 2.x: by DAG and run
            mine = (TaskReschedule.dag_id == dag.dag_id) & (TaskReschedule.run_id == run.run_id)
        reschedules = session.scalars(
            select(func.count()).select_from(TaskReschedule).where(mine)
        ).one()
    with load(os.environ["PHASEGUARD_CONFIG"]) as guard:
        events = guard.store.query(since=began, date=day)
    return {
        "dag": dag.dag_id,
        "date": spec["date"],
        "state": str(run.state),
        "tasks": tasks,
        "xcoms": xcoms,
        "decisions": [e.kind for e in events if e.kind.startswith(("gate_", "override_"))],
        "tries": tries,
        "reschedules": reschedules,
        "seconds": round(seconds, 2),
    }


def main() -> None:
    specs = json.loads(sys.argv[1])
    clock = time.monotonic()
    from airflow.utils import db

    db.initdb()
    migrated = time.monotonic() - clock
    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    runs = [_run(bag.dags[spec["dag"]], spec) for spec in specs]
    import airflow

    from phaseguard.integrations.airflow import BaseOperator

    result = {
        "airflow": airflow.__version__,
        "base_operator": BaseOperator.__module__,
        "runs": runs,
        "import_errors": {Path(k).name: v for k, v in bag.import_errors.items()},
        "db_seconds": round(migrated, 2),
        "seconds": round(time.monotonic() - clock, 2),
    }
    print("RESULT " + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
