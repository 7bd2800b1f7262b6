"""Dagster: phaseguard's criteria and gates as asset checks on the assets a user maps to phases.

:func:`phaseguard_asset_checks` reads the config once and returns Dagster asset checks
(``AssetCheckSpec`` / ``multi_asset_check``), one per (phase, criterion):

- **criteria**: each criterion of a mapped phase is a check on that phase's asset, named after
  the criterion (``games_covered``, ``processors``). It runs after the asset materializes and
  judges the partition as ``phaseguard verify`` does. Not blocking.
- **gates**: each criterion of a gate is a *blocking* check named ``<gate>_gate_<criterion>``
  on the asset of the gate's upstream phase (the last mapped one of ``depends_on``, or of the
  gate's ``upstream``). The gate's decision is phaseguard's own (``guard.gate(p).decide``:
  ``block_on``, overrides, ``on_warehouse_error``; recorded and alerted as everywhere else),
  so a blocked date fails its checks with severity ERROR and Dagster does not run the
  assets downstream of the upstream asset in that run. A warning (ACCEPTABLE) is severity
  WARN and blocks nothing; an override turns the blocking verdicts into WARN. Each result
  carries the decision (``decision``, ``message``) and its criterion's verdict.

Every check is partition-aware: the run's partition key is the date (``YYYY-MM-DD``, as a
``DailyPartitionsDefinition`` makes it, or the start of a time-window partition). When an
asset is mapped as an ``AssetsDefinition``, its checks take its partitions definition, so the
Dagster UI shows a check's result per partition. A run without exactly one partition fails
the checks with one line saying so. Each evaluation is one warehouse query: all criteria of
one phase, or all criteria of one gate, are judged together (``guard.assess`` / the gate's
decision) and reported as one result per criterion, each with the observed value, the
threshold, the level and, where the thresholds grade a number, that number in its metadata.

A blocking check stops what follows its asset *in the same run* only. A gated phase's asset
materialized in a run of its own (a schedule, a backfill of that phase alone, a click in the
UI) is guarded by :func:`enforce_gate`, called first in the asset's body::

    @dg.asset(partitions_def=days, deps=[phase4])
    def phase5(context: dg.AssetExecutionContext) -> None:
        enforce_gate(context, "phase5")  # blocked: dagster.Failure, nothing written
        ...

It decides the gate for the partition's date (phaseguard's own decision, recorded and
alerted; overrides apply) and, when blocked, raises ``dagster.Failure`` with the one-line
reason and the verdicts as metadata, so the materialization fails in any run; open, it
logs the decision and returns it. In a run where the blocking check already decided that
gate for that date, the check's decision is read back from Dagster's event log: one
decision, one warehouse query and one event per (gate, date) and run. It judges one date
per run, like the checks: a run over a range of partitions (a single-run backfill) fails.

For declarative automation, the complement is Dagster's own condition, which waits for the
upstream's blocking checks (the ``<gate>_gate_*`` checks) to have passed for a partition::

    automation_condition=(
        dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    )

It counts only checks that *passed*: a gate open with warnings or passed by an override
fails its checks with severity WARN, so automation waits for that partition; materialize it
by hand (``enforce_gate`` lets it run and logs why).

Dagster is imported only in this module (``pip install 'phaseguard[dagster]'``).
"""

# No ``from __future__ import annotations``: Dagster reads the ``context`` annotation of a
# check function as a class, not as a string.
import datetime as dt
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import dagster as dg
except ImportError as _missing:  # one clear line instead of "No module named dagster"
    raise ImportError(
        "phaseguard.integrations.dagster needs Dagster: pip install 'phaseguard[dagster]'"
    ) from _missing

from phaseguard import config as config_module
from phaseguard.checks import check_name
from phaseguard.config import Config
from phaseguard.criteria import explain
from phaseguard.errors import ConfigError, PhaseguardError
from phaseguard.gate import EXIT_CODES, Decision, gate_checks
from phaseguard.guard import Guard
from phaseguard.kinds import Check, RowsExist
from phaseguard.verdicts import Level, Verdict, verdict_to_dict

AssetRef = Any  # an AssetsDefinition, an AssetKey, a "key/path" string or a key's parts
_NAME = re.compile(r"[^A-Za-z0-9_]+")
_YMD = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True)
class _Criterion:
    """One generated check: a config criterion bound to a Dagster check spec."""

    spec: dg.AssetCheckSpec
    check: Check
    label: str  # the criterion's phaseguard name, as verdicts carry it


def _slug(name: str) -> str:
    """A Dagster-valid check name (``[A-Za-z0-9_]+``) for a criterion's display name."""
    return _NAME.sub("_", name).strip("_") or "check"


def _asset_key(ref: AssetRef) -> dg.AssetKey:
    if isinstance(ref, dg.AssetsDefinition):
        return ref.key
    return dg.AssetKey.from_coercible(ref)


def _partitions(ref: AssetRef, given: dg.PartitionsDefinition | None) -> Any:
    if given is not None:
        return given
    return ref.partitions_def if isinstance(ref, dg.AssetsDefinition) else None


def _spec(
    name: str, asset: dg.AssetKey, description: str, *, blocking: bool, partitions: Any
) -> dg.AssetCheckSpec:
    with warnings.catch_warnings():
        # partitions_def on a check spec is a Dagster "preview" API; it is what makes the
        # UI show one result per partition, and it is pinned by the dagster extra.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name,
            asset=asset,
            description=description,
            blocking=blocking,
            partitions_def=partitions,
            metadata={"phaseguard": "gate" if blocking else "criterion"},
        )


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def partition_date(context: Any) -> dt.date:
    """The date a check evaluates: the run's one partition key.

    Raises:
        ValueError: the run has no single partition, or its key is not a date.
    """
    if not context.has_partition_key:
        if context.has_partition_key_range:
            raise ValueError(
                "phaseguard checks judge one partition per run; this run has a range "
                f"({context.partition_key_range.start}..{context.partition_key_range.end})"
            )
        raise ValueError(
            "phaseguard checks need a daily-partitioned asset (the partition key is the "
            "date); this run has no partition key"
        )
    key = str(context.partition_key)
    if _YMD.match(key):
        try:
            return dt.date.fromisoformat(key)
        except ValueError:
            pass
    try:
        return context.partition_time_window.start.date()  # type: ignore[no-any-return]
    except Exception:  # not a time-window partition: say what was expected
        raise ValueError(
            f"partition key {key!r} is not a date (YYYY-MM-DD): phaseguard checks need "
            "daily partitions"
        ) from None


def _verdict_result(
    criterion: _Criterion,
    verdict: Verdict,
    date: dt.date,
    *,
    blocks: bool,
    extra: Mapping[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """One verdict as a check result: ERROR when it blocks (or is a failure), WARN below PASS."""
    level = verdict.level
    passed = level.rank >= Level.PASS.rank  # EXCELLENT, PASS and N/A (nothing scheduled)
    # A passing result keeps Dagster's default severity; a failing one is ERROR only when it
    # blocks (or, for a criterion, is a failure), else WARN.
    severity = dg.AssetCheckSeverity.ERROR if blocks or passed else dg.AssetCheckSeverity.WARN
    metadata: dict[str, Any] = {
        "date": date.isoformat(),
        "level": level.value,
        "observed": verdict.observed,
        "threshold": verdict.expected,
    }
    if verdict.value is not None:
        metadata["value"] = float(verdict.value)
    if verdict.details:
        metadata["details"] = dict(verdict.details)
    metadata.update(extra or {})
    return dg.AssetCheckResult(
        passed=passed,
        asset_key=criterion.spec.asset_key,
        check_name=criterion.spec.name,
        severity=severity,
        metadata=metadata,
        description=f"{criterion.label} {level.value} for {date}: {verdict.observed} "
        f"(expected {verdict.expected})",
    )


def _failed(criteria: Sequence[_Criterion], reason: str) -> Iterator[dg.AssetCheckResult]:
    """Every criterion failed with severity ERROR for one reason (fails closed)."""
    for criterion in criteria:
        yield dg.AssetCheckResult(
            passed=False,
            asset_key=criterion.spec.asset_key,
            check_name=criterion.spec.name,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"error": reason},
            description=f"{criterion.label}: {reason}",
        )


class _Evaluator:
    """Loads a fresh Guard per evaluation (the env's warehouse then), and always closes it.

    A check may run in its own process (Dagster's multiprocess executor) and a DuckDB file
    takes one writer at a time, so no connection outlives the evaluation.
    """

    def __init__(self, config: Config, base_dir: Path, warehouse: str | None) -> None:
        self.config = config
        self.base_dir = base_dir
        self.warehouse = warehouse

    def guard(self) -> Guard:
        return Guard(self.config, self.base_dir, warehouse_url=self.warehouse)

    def criteria(
        self, context: Any, phase: str, criteria: Sequence[_Criterion]
    ) -> Iterator[dg.AssetCheckResult]:
        """A phase's criteria for the run's date: one ``verify`` query, one result each."""
        try:
            date = partition_date(context)
        except ValueError as exc:
            yield from _failed(criteria, str(exc))
            return
        guard = self.guard()
        try:
            result = guard.assess(date, mode="verify", phases=[phase])
        except PhaseguardError as exc:
            yield from _failed(criteria, f"{phase} for {date}: {exc.message}")
            return
        finally:
            guard.close()
        verdicts = result.dates[0].phases[0].verdicts
        for criterion, verdict in zip(criteria, verdicts, strict=True):
            yield _verdict_result(criterion, verdict, date, blocks=verdict.level.is_failure)

    def gate(
        self, context: Any, gate: str, criteria: Sequence[_Criterion]
    ) -> Iterator[dg.AssetCheckResult]:
        """A gate's criteria for the run's date: the gate's one decision, one result each."""
        try:
            date = partition_date(context)
        except ValueError as exc:
            yield from _failed(criteria, f"{gate} gate BLOCKED: {exc}")
            return
        guard = self.guard()
        try:
            decision = guard.gate(gate).decide(date)
        except PhaseguardError as exc:
            yield from _failed(criteria, f"{gate} gate BLOCKED for {date}: {exc.message}")
            return
        finally:
            guard.close()
        context.log.info(decision.message)
        yield from _gate_results(decision, criteria, self.config.gate(gate).block_on)


def _gate_results(
    decision: Decision, criteria: Sequence[_Criterion], block_on: Sequence[str]
) -> Iterator[dg.AssetCheckResult]:
    """The gate's decision as one result per criterion.

    A verdict is severity ERROR (so it blocks) when the decision is ``blocked`` and its level
    is one the gate blocks on; an override, or a level the gate only warns on, is WARN.
    """
    extra: dict[str, Any] = {
        "gate": decision.gate,
        "decision": decision.status,
        "message": decision.message,
    }
    if decision.override is not None:
        extra["override"] = decision.override.id
    labels = [v.check for v in decision.verdicts]
    if labels != [c.label for c in criteria]:
        # Not a verdict per criterion: the warehouse did not answer (one ERROR verdict).
        for criterion in criteria:
            yield dg.AssetCheckResult(
                passed=False,
                asset_key=criterion.spec.asset_key,
                check_name=criterion.spec.name,
                severity=(
                    dg.AssetCheckSeverity.WARN if decision.allowed else dg.AssetCheckSeverity.ERROR
                ),
                metadata={**extra, "date": decision.date.isoformat()},
                description=decision.message,
            )
        return
    blocked = decision.status == "blocked"
    for criterion, verdict in zip(criteria, decision.verdicts, strict=True):
        level = verdict.level
        blocks = blocked and (level.value in block_on or level is Level.ERROR)
        yield _verdict_result(
            criterion,
            verdict,
            decision.date,
            blocks=blocks,
            extra={**extra, "criterion": criterion.label},
        )


def phaseguard_asset_checks(
    config: str | Path,
    *,
    assets: Mapping[str, AssetRef],
    warehouse: str | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    criteria: bool = True,
    gates: bool = True,
) -> list[dg.AssetChecksDefinition]:
    """Dagster asset checks for the phases of ``config`` mapped to assets (see module doc).

    Args:
        config: the pipeline config file.
        assets: phase name -> its Dagster asset (``AssetsDefinition``, ``AssetKey`` or key).
        warehouse: the warehouse URL; default ``PHASEGUARD_WAREHOUSE``, else the config's
            (read when a check runs).
        partitions_def: the checks' partitions when ``assets`` gives keys rather than
            definitions (with definitions, each asset's own).
        criteria: generate the phases' criteria checks.
        gates: generate the gates' blocking checks.

    Returns:
        One ``AssetChecksDefinition`` per mapped phase (its criteria) and per gate whose
        upstream is mapped (its blocking criteria); pass them to ``Definitions(asset_checks=)``
        or ``materialize``.

    Raises:
        ConfigError: the config does not load, or ``assets`` names a phase it does not have.
    """
    cfg, base_dir = config_module.load(config)
    known = [p.name for p in cfg.phases]
    for name in assets:
        if name not in known:
            raise ConfigError(
                f"unknown phase {name!r} in assets= (phases: {', '.join(known)})",
                file=str(config),
                key="assets",
            )
    evaluator = _Evaluator(cfg, base_dir, warehouse)
    taken: dict[dg.AssetKey, set[str]] = {}
    out: list[dg.AssetChecksDefinition] = []
    if criteria:
        for phase in cfg.phases:
            if phase.name in assets:
                out.append(_criteria_checks(evaluator, phase.name, assets, partitions_def, taken))
    if gates:
        for gate in cfg.gates:
            upstream = gate.upstream or cfg.phase(gate.phase).depends_on
            mapped = [p for p in upstream if p in assets]
            if mapped:
                out.append(
                    _gate_checks(evaluator, gate.phase, mapped[-1], assets, partitions_def, taken)
                )
    return out


def _criteria_checks(
    evaluator: _Evaluator,
    phase: str,
    assets: Mapping[str, AssetRef],
    partitions_def: dg.PartitionsDefinition | None,
    taken: dict[dg.AssetKey, set[str]],
) -> dg.AssetChecksDefinition:
    cfg = evaluator.config
    ref = assets[phase]
    key = _asset_key(ref)
    tables = [t.name for t in cfg.phase(phase).tables]
    checks: list[Check] = list(cfg.phase(phase).checks) or [RowsExist(kind="rows_exist")]
    made = [
        _Criterion(
            _spec(
                _unique(_slug(check_name(c)), taken.setdefault(key, set())),
                key,
                f"phaseguard {phase} criterion: {explain(c, cfg, tables)}",
                blocking=False,
                partitions=_partitions(ref, partitions_def),
            ),
            c,
            check_name(c),
        )
        for c in checks
    ]

    def evaluate(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        yield from evaluator.criteria(context, phase, made)

    return dg.multi_asset_check(
        name=f"phaseguard_{phase}_criteria",
        specs=[c.spec for c in made],
        description=f"phaseguard: the criteria of {phase}, one query per partition",
    )(evaluate)


def _gate_checks(
    evaluator: _Evaluator,
    gate: str,
    upstream: str,
    assets: Mapping[str, AssetRef],
    partitions_def: dg.PartitionsDefinition | None,
    taken: dict[dg.AssetKey, set[str]],
) -> dg.AssetChecksDefinition:
    cfg = evaluator.config
    ref = assets[upstream]
    key = _asset_key(ref)
    checks, tables = gate_checks(cfg, cfg.gate(gate))
    made = [
        _Criterion(
            _spec(
                _unique(f"{gate}_gate_{_slug(check_name(c))}", taken.setdefault(key, set())),
                key,
                f"phaseguard gate {gate} (blocks what runs after {upstream}): "
                f"{explain(c, cfg, tables)}",
                blocking=True,
                partitions=_partitions(ref, partitions_def),
            ),
            c,
            check_name(c),
        )
        for c in checks
    ]

    def evaluate(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        yield from evaluator.gate(context, gate, made)

    return dg.multi_asset_check(
        name=f"phaseguard_{gate}_gate",
        specs=[c.spec for c in made],
        description=f"phaseguard: the gate of {gate}, one decision per partition",
    )(evaluate)


# --- the gate inside the gated phase's own asset -------------------------------------------


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
        cfg, base_dir = config_module.load(path)
    except PhaseguardError as exc:
        raise _failure(f"{phase} gate BLOCKED for {date}: {exc.message}", {"gate": phase}) from None
    return Guard(cfg, base_dir, warehouse_url=warehouse)


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


__all__ = ["enforce_gate", "partition_date", "phaseguard_asset_checks"]
