"""Gates: before a phase runs for a date, its upstream must hold.

A gate is named after the phase it guards. A decision takes one warehouse query (the same
plan -> measure -> checks path as ``verify``), then:

- a level in ``block_on`` (default FAIL) blocks the phase: CRITICAL alert, ``gate_blocked``;
- a warning (ACCEPTABLE) lets it run: WARNING alert, ``gate_warned``;
- otherwise it is open: ``gate_open``, and an open incident resolves.

The quorum breaker (the seeds' phase 4 -> 5 rule) is a gate whose check is a ``quorum``.
Only an active override for exactly (gate, date) opens a blocked gate, and says so loudly.
Alerts go through the notifier's incidents: one alert when a (gate, date) opens, changes
severity or resolves, never on every re-check.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .alerts import AlertCheck
from .assess import Selected, as_date, judge, phase_checks
from .config import Config
from .config import Gate as GateConfig
from .errors import (
    ConfigError,
    GateBlocked,
    InternalError,
    PhaseguardError,
    StoreError,
    WarehouseError,
)
from .events import Event
from .kinds import Check, Quorum, RowsExist
from .plan import build_plan
from .redact import clean
from .verdicts import Level, PhaseVerdict, Verdict

if TYPE_CHECKING:
    from .guard import Guard
    from .overrides import Override

Status = Literal["open", "warn", "blocked", "overridden"]
EXIT_CODES: dict[Status, int] = {"open": 0, "warn": 1, "overridden": 1, "blocked": 2}
SEVERITY: dict[Status, str | None] = {
    "open": None,
    "warn": "warning",
    "blocked": "critical",
    "overridden": "critical",
}


@dataclass(frozen=True)
class Decision:
    """What a gate decided for one date, and why."""

    gate: str
    date: dt.date
    status: Status
    verdicts: tuple[Verdict, ...]
    message: str
    override: Override | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        """Whether the guarded phase may run."""
        return self.status != "blocked"

    @property
    def exit_code(self) -> int:
        """0 open, 1 open with warnings (or by override), 2 blocked."""
        return EXIT_CODES[self.status]

    @property
    def failing(self) -> tuple[Verdict, ...]:
        """The verdicts below PASS."""
        return tuple(v for v in self.verdicts if v.level.rank < Level.PASS.rank)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: the shape of ``phaseguard gate --format json`` (and of the
        runtimes' answers)."""
        from .verdicts import verdict_to_dict

        return {
            "gate": self.gate,
            "date": self.date.isoformat(),
            "status": self.status,
            "allowed": self.allowed,
            "message": self.message,
            "override": self.override.id if self.override else None,
            "checks": [verdict_to_dict(v) for v in self.verdicts],
            **self.details,
        }


def gate_checks(config: Config, gate: GateConfig) -> tuple[list[Check], list[str]]:
    """The checks a gate runs and the table keys they default to (its upstream's)."""
    upstream = gate.upstream or config.phase(gate.phase).depends_on
    if not upstream:  # refused at load; a config built in code must not open on nothing
        raise ConfigError(f"gate {gate.phase}: no upstream phase to check", key="gates")
    tables = [t.name for name in upstream for t in config.phase(name).tables]
    if gate.checks is not None:
        return list(gate.checks), tables
    # What verify runs for each upstream phase (its existence checks included, so a phase
    # graded only by ratios or aggregates cannot look N/A to a gate while verify says FAIL),
    # each check held to its own phase's tables.
    checks: list[Check] = []
    for group in phase_checks(config, "verify", upstream):
        for check in group.checks:
            if isinstance(check, RowsExist | Quorum) and check.tables is None:
                check = check.model_copy(update={"tables": group.tables})
            checks.append(check)
    return checks, tables


class Gate:
    """One gate of a loaded pipeline: decides, records, alerts and enforces."""

    def __init__(self, guard: Guard, config: GateConfig) -> None:
        self.guard = guard
        self.config = config
        self.name = config.phase

    def decide(self, date: dt.date) -> Decision:
        """Measure the upstream for ``date`` in one query and decide; alerts, then records.

        Alerts kept from earlier runs are re-sent in the background meanwhile; the alert
        goes out before the decision is recorded, so a store that is down cannot stop it.
        A gate fails closed: any exception while evaluating (a config the checks cannot
        use, a store or a bug) is a blocked decision, alerted and recorded like any block.

        Raises:
            UsageError: ``date`` is not a date phaseguard can handle (no decision is made).
        """
        date = as_date(date)
        with contextlib.suppress(Exception):  # a sink's trouble never changes a decision
            self.guard.notifier.resend_pending()
        try:
            decision = self._evaluate(date)
        except Exception as exc:
            decision = self._errored(date, exc)
        if decision.status == "blocked":
            override = self._active_override(date)
            if override is not None:
                self.guard.overrides.use(override)
                decision = Decision(
                    self.name,
                    date,
                    "overridden",
                    decision.verdicts,
                    f"{self.name} passed by override {override.id} for {date} "
                    f"({clean(override.by)}: {clean(override.reason)}); was blocked: "
                    + decision.message.removeprefix(f"{self.name} BLOCKED for {date}: "),
                    override,
                    decision.details,
                )
        self._alert(decision)
        self._record(decision)
        return decision

    def _active_override(self, date: dt.date) -> Override | None:
        """The override for (this gate, date), after recording any that expired.

        An unreadable store (or any error looking) means no override: the gate stays closed.
        """
        try:
            self.guard.overrides.expire_due()
            return self.guard.overrides.active(self.name, date)
        except Exception:  # a store that cannot say opens nothing
            return None

    def enforce(self, date: dt.date) -> Decision:
        """Decide, and raise :class:`GateBlocked` (carrying the decision) when blocked."""
        decision = self.decide(date)
        if not decision.allowed:
            raise GateBlocked(decision.message, decision=decision)
        return decision

    # --- steps ----------------------------------------------------------------------------
    def _evaluate(self, date: dt.date) -> Decision:
        config = self.guard.config
        checks, tables = gate_checks(config, self.config)
        plan = build_plan(config, [(c, tables) for c in checks], date, date)
        try:
            measurements = self.guard.warehouse.measure(plan)
        except WarehouseError as exc:
            return self._unreachable(date, exc)
        result = judge(
            config, measurements, [Selected(self.name, tables, checks)], now=self.guard.clock()
        )
        phase: PhaseVerdict = result.dates[0].phases[0]
        verdicts = phase.verdicts
        blocking = [
            v for v in verdicts if v.level.value in self.config.block_on or v.level is Level.ERROR
        ]
        warnings = [v for v in verdicts if v.level.is_warning and v not in blocking]
        details = _quorum_details(verdicts)
        if result.dates[0].scheduled == 0 and not blocking:  # an unproven off-day blocks
            return Decision(self.name, date, "open", verdicts, "nothing scheduled", details=details)
        if blocking:
            what = "; ".join(f"{v.check}: {v.observed} (expected {v.expected})" for v in blocking)
            return Decision(
                self.name,
                date,
                "blocked",
                verdicts,
                f"{self.name} BLOCKED for {date}: {what}",
                details=details,
            )
        if warnings:
            what = "; ".join(f"{v.check}: {v.observed} (expected {v.expected})" for v in warnings)
            return Decision(
                self.name,
                date,
                "warn",
                verdicts,
                f"{self.name} open with warnings for {date}: {what}",
                details=details,
            )
        return Decision(
            self.name, date, "open", verdicts, f"{self.name} open for {date}", details=details
        )

    def _errored(self, date: dt.date, exc: Exception) -> Decision:
        """The blocked decision for an exception raised while evaluating: fail closed."""
        error = exc if isinstance(exc, PhaseguardError) else InternalError(exc)
        verdict = Verdict("error", Level.ERROR, error.message, "a gate that can be evaluated")
        return Decision(
            self.name,
            date,
            "blocked",
            (verdict,),
            f"{self.name} BLOCKED for {date}: the gate could not be evaluated, so it fails "
            f"closed: {error.message}",
            details={"error": type(exc).__name__},
        )

    def _unreachable(self, date: dt.date, exc: WarehouseError) -> Decision:
        verdict = Verdict(
            "warehouse", Level.ERROR, f"{exc.label}: {exc.message}", "a warehouse that answers"
        )
        if self.config.on_warehouse_error == "open":
            return Decision(
                self.name,
                date,
                "warn",
                (verdict,),
                f"{self.name} open for {date} although {exc.problem} "
                f"(on_warehouse_error: open): {exc.message}",
            )
        return Decision(
            self.name,
            date,
            "blocked",
            (verdict,),
            f"{self.name} BLOCKED for {date}: {exc.problem}, so upstream "
            f"cannot be checked (fails closed; set on_warehouse_error: open to change): {exc.message}",
        )

    def _record(self, decision: Decision) -> None:
        severity = SEVERITY[decision.status] or "info"
        self.guard.recorder.record(
            Event(
                kind=f"gate_{'warned' if decision.status == 'warn' else decision.status}",
                severity=severity,
                message=decision.message,
                pipeline=self.guard.config.pipeline,
                phase=self.name,
                date=decision.date,
                details={
                    "gate": self.name,
                    "status": decision.status,
                    "verdicts": [
                        {
                            "check": v.check,
                            "status": v.level.value,
                            "observed": v.observed,
                            "expected": v.expected,
                        }
                        for v in decision.verdicts
                    ],
                    **({"override": decision.override.id} if decision.override else {}),
                    **decision.details,
                },
            )
        )

    def _alert(self, decision: Decision) -> None:
        """Alert through the incident tracker; a broken store or sink never changes a decision."""
        try:
            self._track(decision)
        except StoreError as exc:
            self.guard.recorder.record(
                Event(
                    kind="alert_failed",
                    severity="error",
                    message=f"could not track the incident of gate {self.name}: {exc.message}",
                    pipeline=self.guard.config.pipeline,
                    phase=self.name,
                    date=decision.date,
                )
            )

    def _track(self, decision: Decision) -> None:
        label = {"blocked": "BLOCKED", "overridden": "BLOCKED (overridden)", "warn": "WARNING"}
        self.guard.track_incident(
            self.name,
            decision.date,
            SEVERITY[decision.status],
            phase=self.name,
            title=f"{self.name} {label.get(decision.status, 'open')} for {decision.date}",
            resolved_title=f"{self.name} gate resolved for {decision.date}",
            text=decision.message,
            checks=[
                AlertCheck(v.check, v.level.value, v.observed, v.expected) for v in decision.failing
            ],
        )


def _quorum_details(verdicts: tuple[Verdict, ...]) -> dict[str, Any]:
    for verdict in verdicts:
        if "present" in verdict.details:
            return {k: verdict.details[k] for k in ("present", "missing", "missing_required")}
    return {}


def gated(guard: Guard, phase: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: enforce the gate of ``phase`` before the function runs for a date.

    The date is the first positional argument, or the ``date``/``game_date`` keyword.
    """
    import functools

    gate = guard.gate(phase)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            raw = kwargs.get("date", kwargs.get("game_date", args[0] if args else None))
            if raw is None:
                raise TypeError(f"{fn.__name__}: the gated function needs a date argument")
            gate.enforce(as_date(raw))
            return fn(*args, **kwargs)

        return wrapper

    return decorate


__all__ = ["Decision", "Gate", "gate_checks", "gated"]
