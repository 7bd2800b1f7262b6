"""Running the pipeline: per date, per phase in dependency order, gate -> step -> check.

``run_date`` is what ``phaseguard run --date D`` does; ``backfill`` runs it over a range
and ends with a receipt (health before -> after, the traffic lights, and why whatever
still fails fails). A blocked gate or a failed step stops that date's downstream phases:
they never run on incomplete upstream data. Other dates go on.

After each step, a health check judges the phase's own checks for the date (one query).
A phase left FAIL is ``unhealthy``: a downstream phase with a gate still asks it (the gate
decides, and its alert tells the incident), one without a gate is skipped; when no
downstream gate blocked on it, the phase's own incident (``health:PHASE``, date) alerts,
once, and resolves when a later run leaves the phase healthy.

Steps come from the config: a Python callable (``module:function``, called with the date
and a :class:`StepContext`) or a shell command with ``{date}``. Transient step failures
are retried with :func:`phaseguard.retry.retry`. Gates read through a read-only
connection; a callable step gets a write connection (``ctx.warehouse``) only while it
runs, and a command step runs with no connection of phaseguard's open, so it can write
the warehouse (a DuckDB file) itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import inspect
import random
import shlex
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import (
    ConfigError,
    GateBlocked,
    PhaseguardError,
    RetryBudgetExceeded,
    RetryExhausted,
    UsageError,
)
from .events import Event
from .retry import retry
from .verdicts import DateVerdict, Overall, RangeVerdict

if TYPE_CHECKING:
    from .config import Phase, Step
    from .gate import Decision
    from .guard import Guard
    from .warehouse import Warehouse

PhaseStatus = Literal["ran", "unhealthy", "blocked", "failed", "skipped", "no_step"]


class StepFailed(PhaseguardError):
    """A phase's step failed for a date (after its retries, if the failure was transient)."""

    exit_code = 2

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class StepContext:
    """What a step callable gets besides the date: the open warehouse and the guard.

    Attributes:
        guard: the loaded pipeline (``guard.config``, ``guard.recorder`` for events,
            ``guard.gate(name)``, ``guard.verify(date)``).
        phase: the name of the phase being run.
        date: the partition date being run (also the step's first argument).
    """

    guard: Guard
    phase: str
    date: dt.date

    @property
    def warehouse(self) -> Warehouse:
        """The pipeline's warehouse, open for writing while the step runs."""
        return self.guard.warehouse


@dataclass(frozen=True)
class PhaseRun:
    """What happened to one phase for one date."""

    phase: str
    status: PhaseStatus
    message: str = ""
    gate: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class DateRun:
    """One date's run: what each phase did."""

    date: dt.date
    phases: tuple[PhaseRun, ...]
    skipped_complete: bool = False

    @property
    def ok(self) -> bool:
        """Every phase ran healthy (or had nothing to run)."""
        return all(p.status in ("ran", "no_step") for p in self.phases)


@dataclass(frozen=True)
class Receipt:
    """The end of a backfill: per date, before -> after, and why anything still fails."""

    start: dt.date
    end: dt.date
    runs: tuple[DateRun, ...]
    before: RangeVerdict
    after: RangeVerdict
    gaps: dict[dt.date, list[dict[str, Any]]] = field(default_factory=dict)
    seconds: float = 0.0

    def before_of(self, date: dt.date) -> DateVerdict:
        """The verdict of ``date`` before the backfill."""
        return next(d for d in self.before.dates if d.date == date)

    def after_of(self, date: dt.date) -> DateVerdict:
        """The verdict of ``date`` after the backfill."""
        return next(d for d in self.after.dates if d.date == date)


def load_callable(spec: str) -> Callable[..., Any]:
    """Import ``module:function``; a ConfigError naming the spec if it cannot."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"step call {spec!r} must look like module:function", key="step.call")
    try:
        module = importlib.import_module(module_name)
        fn = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import step {spec!r}: {exc}", key="step.call") from None
    if not callable(fn):
        raise ConfigError(f"step {spec!r} is not callable", key="step.call")
    return fn  # type: ignore[no-any-return]


def _run_step(step: Step, date: dt.date, ctx: StepContext) -> None:
    if step.call is not None:
        fn = load_callable(step.call)
        params = inspect.signature(fn).parameters
        # A write connection only while the step runs: gates elsewhere wait for it, so
        # it is released as soon as the step ends.
        with ctx.guard.writing():
            fn(date, ctx) if len(params) >= 2 else fn(date)
        return
    assert step.command is not None
    # A command step may write the warehouse itself: phaseguard holds no lock meanwhile.
    ctx.guard.release()
    argv = [part.replace("{date}", date.isoformat()) for part in shlex.split(step.command)]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=step.timeout_seconds, check=False
        )
    except FileNotFoundError:
        raise StepFailed(f"step command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise StepFailed(
            f"step timed out after {step.timeout_seconds:g}s", transient=True
        ) from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        # EX_TEMPFAIL (75) is the shell's way to say "try again later".
        raise StepFailed(
            f"step exited {done.returncode}: {tail[0][:300]}", transient=done.returncode == 75
        )


class Runner:
    """Runs phases for dates through their gates, with retries on transient step failures.

    ``gates=False`` skips every gate and ``stop_downstream=False`` runs a phase even when an
    upstream phase of the date failed: together, the pipeline as it ran without phaseguard.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        sleep: Callable[[float], None] | None = None,
        on_phase: Callable[[dt.date, PhaseRun], None] | None = None,
        step_attempts: int = 3,
        step_base_delay: float = 2.0,
        step_max_delay: float = 60.0,
        gates: bool = True,
        stop_downstream: bool = True,
        health_checks: bool | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.guard = guard
        self.sleep = sleep
        self.on_phase = on_phase
        self.step_attempts = step_attempts
        self.step_base_delay = step_base_delay
        self.step_max_delay = step_max_delay
        # Both off is a pipeline without phaseguard (each phase on its timer, whatever
        # happened upstream): the outcome benchmark's control, never a production setting.
        self.gates = gates
        self.stop_downstream = stop_downstream
        # Judging each phase after its step is part of phaseguard: on unless told, off when
        # the runner plays the pipeline without phaseguard.
        self.health_checks = gates if health_checks is None else health_checks
        self.rng = rng  # the step retries' jitter; seed it for a reproducible run

    def run_date(self, date: dt.date, *, from_phase: str | None = None) -> DateRun:
        """Every phase for ``date`` in dependency order (from ``from_phase`` on)."""
        config = self.guard.config
        names = [p.name for p in config.phases]
        if from_phase is not None and from_phase not in names:
            raise UsageError(f"unknown phase {from_phase!r} (phases: {', '.join(names)})")
        start = names.index(from_phase) if from_phase else 0
        stopped: dict[str, str] = {}
        unhealthy: dict[str, PhaseRun] = {}
        covered: set[str] = set()  # unhealthy phases a downstream gate blocked on
        runs: list[PhaseRun] = []
        for phase in config.phases[start:]:
            upstream = config.upstream(phase.name) if self.stop_downstream else []
            blocked_by = [d for d in upstream if d in stopped]
            failing = [d for d in upstream if d in unhealthy]
            if blocked_by:
                run = PhaseRun(phase.name, "skipped", f"upstream {blocked_by[0]} did not complete")
            elif failing and not self._gated(phase.name):
                run = PhaseRun(phase.name, "skipped", f"upstream {failing[0]} failed its checks")
            else:
                run = self._run_phase(phase, date)
                if failing and run.status == "blocked":
                    covered.update(failing)
            if run.status == "unhealthy":
                unhealthy[phase.name] = run
            elif run.status in ("blocked", "failed", "skipped"):
                stopped[phase.name] = run.status
            runs.append(run)
            if self.on_phase is not None:
                self.on_phase(date, run)
        for name, run in unhealthy.items():
            if name not in covered:
                self._health_incident(name, date, run.message)
        return DateRun(date, tuple(runs))

    def _gated(self, phase: str) -> bool:
        return self.gates and any(g.phase == phase for g in self.guard.config.gates)

    def _health(self, phase: Phase, date: dt.date) -> str | None:
        """The phase's own checks for ``date`` after its step: None, or why it is FAIL."""
        from .verdicts import Level

        try:
            day = self.guard.assess(date, mode="verify", phases=[phase.name]).dates[0]
        except (PhaseguardError, IndexError):
            return None  # the step ran; an unreadable warehouse is the next gate's to judge
        verdict = day.phase(phase.name)
        if verdict.level is not Level.FAIL:
            return None
        failing = [v for v in verdict.verdicts if v.level is Level.FAIL] or list(verdict.failing)
        return "checks FAIL after the step ran: " + "; ".join(
            f"{v.check}: {v.observed} (expected {v.expected})" for v in failing
        )

    def _health_incident(self, phase: str, date: dt.date, message: str | None) -> None:
        """One alert per unhealthy (phase, date): when its checks FAIL, and when they pass."""
        with contextlib.suppress(PhaseguardError):
            self.guard.track_incident(
                f"health:{phase}",
                date,
                "critical" if message else None,
                phase=phase,
                title=f"{phase} checks FAIL for {date}",
                resolved_title=f"{phase} checks pass again for {date}",
                text=f"{phase} for {date}: {message}" if message else f"{phase} healthy for {date}",
            )

    def _run_phase(self, phase: Phase, date: dt.date) -> PhaseRun:
        started = time.perf_counter()
        gate_name = phase.name if self._gated(phase.name) else None
        if gate_name is not None:
            decision: Decision = self.guard.gate(gate_name).decide(date)
            if not decision.allowed:
                return PhaseRun(phase.name, "blocked", decision.message, gate_name)
        if phase.step is None:
            return PhaseRun(phase.name, "no_step", "no step configured", gate_name)
        try:
            self._retrying(phase, date)(phase.step, date, StepContext(self.guard, phase.name, date))
        except (RetryExhausted, RetryBudgetExceeded) as exc:
            return self._failed(phase, date, gate_name, started, exc.message)
        except GateBlocked as exc:  # a step may enforce a gate of its own
            return PhaseRun(phase.name, "blocked", exc.message, gate_name)
        except Exception as exc:
            return self._failed(phase, date, gate_name, started, f"{type(exc).__name__}: {exc}")
        seconds = time.perf_counter() - started
        self._incident(phase.name, date, None)
        self._event(
            "phase_ran",
            "info",
            f"{phase.name} ran for {date}",
            phase.name,
            date,
            seconds=round(seconds, 3),
        )
        problem = self._health(phase, date) if self.health_checks else None
        if problem is not None:
            self._event(
                "phase_unhealthy", "error", f"{phase.name} for {date}: {problem}", phase.name, date
            )
            return PhaseRun(phase.name, "unhealthy", problem, gate_name, seconds)
        if self.health_checks:
            self._health_incident(phase.name, date, None)
        return PhaseRun(phase.name, "ran", "", gate_name, seconds)

    def _retrying(self, phase: Phase, date: dt.date) -> Callable[..., None]:
        return retry(
            max_attempts=self.step_attempts,
            base_delay=self.step_base_delay,
            max_delay=self.step_max_delay,
            sleep=self.sleep,
            rng=self.rng,
            recorder=self.guard.recorder,
            name=f"step:{phase.name}",
            pipeline=self.guard.config.pipeline,
            phase=phase.name,
            gap=lambda _args, _kwargs: {
                "source": f"step:{phase.name}",
                "date": date.isoformat(),
                "key": phase.name,
            },
        )(_run_step)

    def _failed(
        self, phase: Phase, date: dt.date, gate: str | None, started: float, message: str
    ) -> PhaseRun:
        event = self._event(
            "phase_failed", "error", f"{phase.name} failed for {date}: {message}", phase.name, date
        )
        self._incident(phase.name, date, event)
        return PhaseRun(phase.name, "failed", message, gate, time.perf_counter() - started)

    def _incident(self, phase: str, date: dt.date, failure: Event | None) -> None:
        """One alert per failing (step, date): when it fails, and when it runs clean again.

        Retries never alert; only the last attempt's failure does, once, however many runs
        find the step still failing. A broken store never changes what the runner does.
        """
        with contextlib.suppress(PhaseguardError):
            self.guard.track_incident(
                f"step:{phase}",
                date,
                "critical" if failure else None,
                phase=phase,
                title=f"{phase} failed for {date}",
                resolved_title=f"{phase} recovered for {date}",
                text=failure.message if failure else f"{phase} ran for {date}",
            )

    def _event(
        self, kind: str, severity: str, message: str, phase: str, date: dt.date, **details: Any
    ) -> Event:
        event = Event(
            kind=kind,
            severity=severity,
            message=message,
            pipeline=self.guard.config.pipeline,
            phase=phase,
            date=date,
            details=details,
        )
        self.guard.recorder.record(event)
        return event


def backfill(
    guard: Guard,
    start: dt.date,
    end: dt.date,
    *,
    jobs: int = 1,
    from_phase: str | None = None,
    force: bool = False,
    runner: Runner | None = None,
    guard_factory: Callable[[], Guard] | None = None,
) -> Receipt:
    """Run every scheduled, not yet COMPLETE date of ``start``..``end``; return the receipt.

    Resumable: a date already COMPLETE is skipped unless ``force``. Each phase's write is
    an atomic partition replace, so a backfill killed midway and run again loses nothing
    and duplicates nothing. With ``jobs`` > 1, dates run in parallel, each worker with its
    own guard (``guard_factory``); use it only when dates do not depend on each other.
    """
    started = time.perf_counter()
    runner = runner or Runner(guard)
    before = guard.verify(start, end)
    todo = [
        d.date
        for d in before.dates
        if d.overall is not Overall.NA and (force or d.overall is not Overall.COMPLETE)
    ]
    guard.recorder.record(
        Event(
            kind="backfill_started",
            severity="info",
            message=f"backfill {start}..{end}: {len(todo)} dates to run",
            pipeline=guard.config.pipeline,
            details={
                "start": start.isoformat(),
                "end": end.isoformat(),
                "dates": len(todo),
                "jobs": jobs,
            },
        )
    )
    runs: dict[dt.date, DateRun] = {}
    guard.release()  # the steps' writers must not wait for this read connection
    if jobs <= 1 or guard_factory is None:
        for day in todo:
            runs[day] = runner.run_date(day, from_phase=from_phase)
    else:

        def work(day: dt.date) -> DateRun:
            with guard_factory() as worker:
                return Runner(
                    worker,
                    sleep=runner.sleep,
                    on_phase=runner.on_phase,
                    health_checks=runner.health_checks,
                ).run_date(day, from_phase=from_phase)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for run in pool.map(work, todo):
                runs[run.date] = run
    all_runs = tuple(
        runs.get(d.date) or DateRun(d.date, (), skipped_complete=d.overall is Overall.COMPLETE)
        for d in before.dates
        if d.overall is not Overall.NA
    )
    after = guard.verify(start, end)
    gaps = guard.gaps(start, end)
    receipt = Receipt(start, end, all_runs, before, after, gaps, time.perf_counter() - started)
    guard.recorder.record(
        Event(
            kind="backfill_finished",
            severity="info" if after.overall is Overall.COMPLETE else "warning",
            message=f"backfill {start}..{end}: health {before.health} -> {after.health}, {after.overall.value}",
            pipeline=guard.config.pipeline,
            details={"seconds": round(receipt.seconds, 2), "overall": after.overall.value},
        )
    )
    return receipt


def receipt_to_dict(receipt: Receipt) -> dict[str, Any]:
    """The receipt as JSON-ready data."""
    from .verdicts import verdict_to_dict

    dates = []
    for run in receipt.runs:
        before, after = receipt.before_of(run.date), receipt.after_of(run.date)
        dates.append(
            {
                "date": run.date.isoformat(),
                "skipped_complete": run.skipped_complete,
                "health_before": before.health,
                "health_after": after.health,
                "overall_before": before.overall.value,
                "overall": after.overall.value,
                "phases": {
                    p.phase: {
                        "status": p.level.value,
                        "failing": [verdict_to_dict(v) for v in p.failing],
                    }
                    for p in after.phases
                },
                "runs": [
                    {"phase": r.phase, "status": r.status, "message": r.message} for r in run.phases
                ],
                "gaps": receipt.gaps.get(run.date, []),
            }
        )
    return {
        "start": receipt.start.isoformat(),
        "end": receipt.end.isoformat(),
        "seconds": round(receipt.seconds, 2),
        "health_before": receipt.before.health,
        "health_after": receipt.after.health,
        "overall": receipt.after.overall.value,
        "dates": dates,
    }
