"""phaseguard's criteria and gates as Dagster asset checks (see the package docstring)."""

# No ``from __future__ import annotations``: Dagster reads the ``context`` annotation of a
# check function as a class, not as a string.
import datetime as dt
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from phaseguard import config as config_module
from phaseguard.checks import check_name
from phaseguard.config import Config
from phaseguard.criteria import explain
from phaseguard.errors import ConfigError, PhaseguardError
from phaseguard.gate import Decision, gate_checks
from phaseguard.guard import Guard
from phaseguard.kinds import Check, RowsExist
from phaseguard.verdicts import Level, Verdict

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
    tables = [t.name for t in cfg.phase(phase).tables]
    checks: list[Check] = list(cfg.phase(phase).checks) or [RowsExist(kind="rows_exist")]
    made = _criteria(
        checks,
        ref,
        partitions_def,
        taken,
        prefix="",
        about=f"phaseguard {phase} criterion",
        tables=tables,
        cfg=cfg,
        blocking=False,
    )

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
    checks, tables = gate_checks(cfg, cfg.gate(gate))
    made = _criteria(
        checks,
        ref,
        partitions_def,
        taken,
        prefix=f"{gate}_gate_",
        about=f"phaseguard gate {gate} (blocks what runs after {upstream})",
        tables=tables,
        cfg=cfg,
        blocking=True,
    )

    def evaluate(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        yield from evaluator.gate(context, gate, made)

    return dg.multi_asset_check(
        name=f"phaseguard_{gate}_gate",
        specs=[c.spec for c in made],
        description=f"phaseguard: the gate of {gate}, one decision per partition",
    )(evaluate)


def _criteria(
    checks: Sequence[Check],
    ref: AssetRef,
    partitions_def: dg.PartitionsDefinition | None,
    taken: dict[dg.AssetKey, set[str]],
    *,
    prefix: str,
    about: str,
    tables: Sequence[str],
    cfg: Config,
    blocking: bool,
) -> list[_Criterion]:
    """One check spec per criterion on ``ref``'s asset, named ``prefix`` + the criterion's
    slug (unique on that asset), described as ``about``: what the criterion checks."""
    key = _asset_key(ref)
    return [
        _Criterion(
            _spec(
                _unique(prefix + _slug(check_name(c)), taken.setdefault(key, set())),
                key,
                f"{about}: {explain(c, cfg, list(tables))}",
                blocking=blocking,
                partitions=_partitions(ref, partitions_def),
            ),
            c,
            check_name(c),
        )
        for c in checks
    ]
