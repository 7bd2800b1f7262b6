"""Airflow: a gate of the config as an Airflow operator, or as a sensor that waits for it.

Put phaseguard in front of a phase of a DAG (https://airflow.apache.org), templated on the
run's logical date::

    from phaseguard.integrations.airflow import PhaseguardGateOperator, PhaseguardGateSensor

    gate = PhaseguardGateOperator(task_id="phase5_gate", phase="phase5")      # date="{{ ds }}"
    gate >> run_phase5

    wait = PhaseguardGateSensor(task_id="wait_phase4", phase="phase5", poke_interval=600)
    wait >> run_phase5

- :class:`PhaseguardGateOperator` decides the gate once (one warehouse query, recorded and
  alerted as everywhere else). Open, open with warnings or passed on an override: it
  succeeds and returns the decision as a dict (its XCom). Blocked: ``on_block="skip"`` (the
  default) skips it, so the downstream tasks (default trigger rule ``all_success``) are
  skipped too and the run stays green; ``on_block="fail"`` fails it without retries, so the
  run is red and Airflow's own failure alerts fire. Either way the decision is also pushed
  as the XCom ``decision``, for a task with ``trigger_rule="all_done"`` that wants to know why.
- :class:`PhaseguardGateSensor` waits for the upstream to hold: each poke decides the gate,
  and the sensor succeeds (the decision as its XCom) as soon as the gate lets the phase run.
  It runs in ``reschedule`` mode by default (no worker slot held between pokes) and is not
  deferrable. Each poke is recorded as a decision; alerts go out once per change, as for any
  gate. A sensor that times out fails (or, with ``soft_fail=True``, skips).

``date`` is templated (default ``"{{ ds }}"``), as are ``phase``, ``config``, ``warehouse`` and
``on_block``. The config and the warehouse default to ``PHASEGUARD_CONFIG`` (else
``phaseguard.yml``) and ``PHASEGUARD_WAREHOUSE`` (else the config's), read when the task runs.
A config that does not load, an unknown gate or a date that is not YYYY-MM-DD fails the task
at once, without retries, with one line naming the task and what is wrong. A warehouse that
does not answer is the gate's own business: it blocks (fails closed) unless the config says
``on_warehouse_error: open``.

Airflow is imported only here: Airflow 3 (``airflow.sdk``), else Airflow 2.x (its classes'
2.x homes; the tests run the same DAGs under Airflow 3 and under 2.11). Install with
``pip install 'phaseguard[airflow]'`` into the environment the DAGs run in.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from phaseguard.errors import PhaseguardError, UsageError

try:  # Airflow 3: operators are written against the Task SDK.
    from airflow.sdk import BaseOperator, BaseSensorOperator, PokeReturnValue
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
except ImportError:  # Airflow 2.x (tests/test_airflow.py runs it in .venv-airflow2)
    try:
        from airflow.exceptions import AirflowFailException, AirflowSkipException
        from airflow.models.baseoperator import BaseOperator
        from airflow.sensors.base import BaseSensorOperator, PokeReturnValue
    except ImportError as exc:
        raise ImportError(
            "phaseguard.integrations.airflow needs Apache Airflow: "
            f"pip install 'phaseguard[airflow]' ({exc})"
        ) from None

if TYPE_CHECKING:
    from phaseguard.gate import Decision

OnBlock = Literal["skip", "fail"]
ON_BLOCK: tuple[OnBlock, ...] = ("skip", "fail")
XCOM_DECISION = "decision"


def decision_dict(decision: Decision) -> dict[str, Any]:
    """A decision as JSON-ready data: the shape of ``phaseguard gate --format json``."""
    return decision.to_dict()


def decide(
    phase: str, date: str | dt.date, *, config: str | None = None, warehouse: str | None = None
) -> Decision:
    """Load the config, decide the gate of ``phase`` for ``date`` and close the warehouse.

    Raises:
        PhaseguardError: the config does not load, the gate is unknown, the date is bad.
    """
    from phaseguard.assess import parse_date
    from phaseguard.guard import load

    day = date if isinstance(date, dt.date) else parse_date(str(date))
    path = config or os.environ.get("PHASEGUARD_CONFIG") or "phaseguard.yml"
    with load(path, warehouse=warehouse or None) as guard:
        return guard.gate(phase).decide(day)


def _check_on_block(value: str, task_id: str) -> OnBlock:
    for allowed in ON_BLOCK:
        if value == allowed:
            return allowed
    raise UsageError(f"{task_id}: on_block is {value!r}; expected 'skip' or 'fail'")


def _log_allowed(log: Any, decision: Decision) -> None:
    """An open gate at INFO; open with warnings or on an override at WARNING."""
    (log.info if decision.status == "open" else log.warning)("%s", decision.message)


class _GateTask:
    """What the operator and the sensor share: the templated fields and the decision."""

    task_id: str
    phase: str
    date: str | dt.date
    config: str | None
    warehouse: str | None
    log: Any

    def _decide(self) -> Decision:
        """The gate's decision; a PhaseguardError fails the task at once, without retries."""
        try:
            return decide(self.phase, self.date, config=self.config, warehouse=self.warehouse)
        except PhaseguardError as exc:
            raise AirflowFailException(
                f"{self.task_id}: gate {self.phase}: {exc.message}"
            ) from None

    def _push(self, context: Any, data: dict[str, Any]) -> None:
        ti = context.get("ti") or context.get("task_instance")
        if ti is not None:
            ti.xcom_push(key=XCOM_DECISION, value=data)


class PhaseguardGateOperator(_GateTask, BaseOperator):  # type: ignore[misc]
    """A gate of the config as a task: open -> success; blocked -> skip or fail (module doc).

    Args:
        phase: the gate, named after the phase it guards (templated).
        date: the partition date, YYYY-MM-DD (templated; default ``"{{ ds }}"``).
        config: the config file (templated); default ``PHASEGUARD_CONFIG``, else
            ``phaseguard.yml``.
        warehouse: the warehouse URL (templated); default ``PHASEGUARD_WAREHOUSE``, else
            the config's.
        on_block: ``"skip"`` (the downstream is skipped) or ``"fail"`` (the task fails
            without retries) when the gate blocks (templated).
        **kwargs: passed to ``BaseOperator`` (``task_id``, ...).
    """

    template_fields: Sequence[str] = ("phase", "date", "config", "warehouse", "on_block")
    ui_color = "#d9ead3"

    def __init__(
        self,
        *,
        phase: str,
        date: str | dt.date = "{{ ds }}",
        config: str | None = None,
        warehouse: str | None = None,
        on_block: str = "skip",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if "{{" not in on_block:
            _check_on_block(on_block, self.task_id)  # a typo fails when the DAG is parsed
        self.phase = phase
        self.date = date
        self.config = config
        self.warehouse = warehouse
        self.on_block = on_block

    def execute(self, context: Any) -> dict[str, Any]:
        """Decide; return the decision (XCom) when open, else skip or fail by ``on_block``."""
        try:
            on_block = _check_on_block(self.on_block, self.task_id)
        except UsageError as exc:
            raise AirflowFailException(exc.message) from None
        decision = self._decide()
        data = decision_dict(decision)
        self._push(context, data)
        if decision.allowed:
            _log_allowed(self.log, decision)
            return data
        self.log.error("%s", decision.message)
        if on_block == "fail":
            raise AirflowFailException(decision.message)
        raise AirflowSkipException(decision.message)


class PhaseguardGateSensor(_GateTask, BaseSensorOperator):  # type: ignore[misc]
    """A sensor that waits until the gate of ``phase`` lets it run for ``date`` (module doc).

    Args:
        phase: the gate, named after the phase it guards (templated).
        date: the partition date, YYYY-MM-DD (templated; default ``"{{ ds }}"``).
        config: the config file (templated); default ``PHASEGUARD_CONFIG``.
        warehouse: the warehouse URL (templated); default ``PHASEGUARD_WAREHOUSE``.
        mode: ``"reschedule"`` (default: no worker slot held between pokes) or ``"poke"``.
        poke_interval: seconds between pokes (default 600: one warehouse query each).
        timeout: seconds before the sensor gives up (default 6 hours).
        **kwargs: passed to ``BaseSensorOperator`` (``task_id``, ``soft_fail``, ...).
    """

    template_fields: Sequence[str] = ("phase", "date", "config", "warehouse")
    ui_color = "#fff2cc"

    def __init__(
        self,
        *,
        phase: str,
        date: str | dt.date = "{{ ds }}",
        config: str | None = None,
        warehouse: str | None = None,
        mode: str = "reschedule",
        poke_interval: float = 600,
        timeout: float = 6 * 3600,
        **kwargs: Any,
    ) -> None:
        super().__init__(mode=mode, poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.phase = phase
        self.date = date
        self.config = config
        self.warehouse = warehouse

    def poke(self, context: Any) -> Any:
        """One decision: done (with the decision as XCom) when the gate lets the phase run."""
        decision = self._decide()
        if decision.allowed:
            _log_allowed(self.log, decision)
            return PokeReturnValue(is_done=True, xcom_value=decision_dict(decision))
        self.log.info("%s; poking again in %s s", decision.message, self.poke_interval)
        return PokeReturnValue(is_done=False)


__all__ = [
    "PhaseguardGateOperator",
    "PhaseguardGateSensor",
    "decide",
    "decision_dict",
]
