"""``enforce_gate``: a gate decided inside the gated phase's own asset, so a phase run in a
run of its own (a schedule, a backfill of that phase alone, a click in the UI) is gated too
(see the package docstring)."""

# No ``from __future__ import annotations``: Dagster reads the ``context`` annotation of a
# check function as a class, not as a string.
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from phaseguard.errors import PhaseguardError
from phaseguard.gate import EXIT_CODES, Decision
from phaseguard.guard import Guard, load
from phaseguard.verdicts import Level, Verdict, verdict_to_dict

from .checks import partition_date


class _Recorded:
    """A verdict's observation as the run's check evaluation recorded it."""

    def observed(self, seen: Mapping[str, Any]) -> str:
        return str(seen["observed"])

    def details(self, seen: Mapping[str, Any]) -> dict[str, object]:
        return dict(seen.get("details") or {})

    def value(self, seen: Mapping[str, Any]) -> float | None:
        value = seen.get("value")
        return None if value is None else float(value)


_RECORDED = ("criterion", "level", "observed", "threshold", "decision", "message")


def enforce_gate(
    context: Any,
    phase: str,
    *,
    config: str | Path | None = None,
    warehouse: str | None = None,
) -> Decision:
    """Enforce the gate of ``phase`` for the run's partition, first thing in the phase's asset.

    The decision is ``guard.gate(phase).decide(partition_date(context))``, unless this run's
    blocking check ``phaseguard_<phase>_gate`` already made it for that date: then it is read
    back from the check's evaluations in Dagster's event log (one query on the Dagster
    instance, none on the warehouse, nothing recorded twice).

    Args:
        context: the asset's execution context.
        phase: the gate, named after the phase it guards (the asset's own phase).
        config: the config file; default ``PHASEGUARD_CONFIG``, else ``phaseguard.yml``.
        warehouse: the warehouse URL; default ``PHASEGUARD_WAREHOUSE``, else the config's.

    Returns:
        The decision when the phase may run (open, open with warnings, or passed by an
        override), logged through ``context.log`` (INFO when open, else WARNING).

    Raises:
        dagster.Failure: the gate blocks (the decision's one-line message, with the gate,
            date, decision and verdicts as metadata), or the run has no date to decide
            for, or the config does not load or has no such gate. Retry policies do not
            retry it: the materialization fails in any run.
    """
    try:
        date = partition_date(context)
    except ValueError as exc:
        raise _failure(f"{phase} gate BLOCKED: {exc}", {"gate": phase}) from None
    decision = _decided_in_run(context, phase, date, config)
    said = "" if decision is None else f" (decided by this run's check phaseguard_{phase}_gate)"
    if decision is None:
        decision = _decide(phase, date, config, warehouse)
    if decision.allowed:
        (context.log.info if decision.status == "open" else context.log.warning)(
            decision.message + said
        )
        return decision
    context.log.error(decision.message + said)
    raise _failure(decision.message, _decision_metadata(decision))


def _failure(message: str, metadata: Mapping[str, Any]) -> Exception:
    return dg.Failure(description=message, metadata=dict(metadata), allow_retries=False)  # type: ignore[no-any-return]


def _decision_metadata(decision: Decision) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "gate": decision.gate,
        "date": decision.date.isoformat(),
        "decision": decision.status,
        "verdicts": dg.MetadataValue.json([verdict_to_dict(v) for v in decision.verdicts]),
    }
    if decision.override is not None:
        metadata["override"] = decision.override.id
    if decision.details:
        metadata["details"] = dg.MetadataValue.json(dict(decision.details))
    return metadata


def _guard(phase: str, date: dt.date, config: str | Path | None, warehouse: str | None) -> Guard:
    path = config or os.environ.get("PHASEGUARD_CONFIG") or "phaseguard.yml"
    try:
        return load(path, warehouse=warehouse)
    except PhaseguardError as exc:
        raise _failure(f"{phase} gate BLOCKED for {date}: {exc.message}", {"gate": phase}) from None


def _decide(
    phase: str, date: dt.date, config: str | Path | None, warehouse: str | None
) -> Decision:
    """The gate's decision, on a Guard that is closed again before the asset's step writes."""
    guard = _guard(phase, date, config, warehouse)
    try:
        return guard.gate(phase).decide(date)
    except PhaseguardError as exc:  # an unknown gate: no decision was made
        raise _failure(f"{phase} gate BLOCKED for {date}: {exc.message}", {"gate": phase}) from None
    finally:
        guard.close()


def _decided_in_run(
    context: Any, gate: str, date: dt.date, config: str | Path | None
) -> Decision | None:
    """The decision this run's blocking check made for (gate, date), or None.

    Read back from the check's evaluations (each carries the decision, its message and its
    criterion's verdict); None when the check did not run in this run, ran for another date,
    or could not give a verdict per criterion.
    """
    try:
        entries = context.instance.all_logs(
            context.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
    except Exception:  # a context without an instance or a run (direct invocation): decide
        return None
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        evaluation = entry.asset_check_evaluation
        if evaluation is None or not evaluation.check_name.startswith(f"{gate}_gate_"):
            continue
        seen = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
        if seen.get("gate") == gate and seen.get("date") == date.isoformat():
            found[evaluation.check_name] = seen
    records = list(found.values())
    if not records or any(not set(_RECORDED) <= r.keys() for r in records):
        return None
    status = records[0]["decision"]
    if status not in EXIT_CODES or any(r["decision"] != status for r in records):
        return None
    try:
        verdicts = tuple(
            Verdict(r["criterion"], Level(r["level"]), r, r["threshold"], source=_Recorded())
            for r in records
        )
    except ValueError:  # a level this version does not know: decide afresh
        return None
    override = None
    if records[0].get("override"):
        guard = _guard(gate, date, config, None)
        try:
            override = guard.overrides.get(str(records[0]["override"]))
        except PhaseguardError:
            return None
        finally:
            guard.close()
    # The quorum's facts, as the gate's own decision carries them.
    details = next(
        (
            {k: v.details[k] for k in ("present", "missing", "missing_required")}
            for v in verdicts
            if "present" in v.details
        ),
        {},
    )
    return Decision(
        gate, date, status, verdicts, str(records[0]["message"]), override, details=details
    )
