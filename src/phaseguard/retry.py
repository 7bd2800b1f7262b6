"""The retry decorator: retries a function on transient errors, records each attempt, alerts once.

``@retry(max_attempts=5, base_delay=60, max_delay=1800)`` retries a sync or async function
on transient errors only (:mod:`phaseguard.transient`), waits a jittered backoff with the
server's ``Retry-After`` as a floor (:mod:`phaseguard.backoff`), takes each retry from a
shared budget if given one (:mod:`phaseguard.budget`), records every attempt as an event,
calls ``alert`` once when every attempt failed, and raises
:class:`~phaseguard.errors.RetryExhausted`. A final failure also records the **gap** it
leaves in the data (``gap=``), which ``smoke``, ``verify`` and the backfill receipt show.
Built on tenacity. tenacity (and the asyncio it imports) is loaded only when a function is
decorated, so ``import phaseguard`` does not pay for it: a smoke test never retries anything.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from .backoff import Jitter, RetryAfterFloor, RetryPolicy, Wait
from .budget import RetryBudget
from .errors import PhaseguardError, RetryBudgetExceeded, RetryExhausted
from .events import Event, Recorder
from .transient import is_transient

if TYPE_CHECKING:
    from tenacity import RetryCallState

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class _Settings:
    name: str
    policy: RetryPolicy
    wait: Wait
    transient: tuple[type[BaseException], ...]
    budget: RetryBudget | None
    clock: Callable[[], float]
    recorder: Recorder | None
    alert: Callable[[Event], None] | None
    pipeline: str
    gap: Callable[[tuple[Any, ...], dict[str, Any]], Mapping[str, Any]] | None
    phase: str | None = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:500]}"


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


_FINAL_KINDS = frozenset({"retry_exhausted", "retry_gave_up", "retry_budget_exceeded"})


class _Call:
    """One invocation of a retried function: its tenacity hooks and the events it records."""

    def __init__(self, settings: _Settings, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.s = settings
        self.args = args
        self.kwargs = kwargs
        self.started = settings.clock()
        self.retries = 0
        self.last_error: BaseException | None = None
        self.raised: PhaseguardError | None = None

    def should_retry(self, exc: BaseException) -> bool:
        return isinstance(exc, self.s.transient) or is_transient(exc)

    def _record(
        self, kind: str, severity: str, message: str, exc: BaseException, **details: Any
    ) -> Event:
        details = {
            "function": self.s.name,
            "attempt": self.retries + 1,
            "max_attempts": self.s.policy.max_attempts,
            "error_class": type(exc).__name__,
            "error": str(exc)[:500],
            "elapsed": round(self.s.clock() - self.started, 3),
            **details,
        }
        date = None
        if self.s.gap is not None:
            # Every attempt names its date (events --since, errors' dates hit); a final
            # failure also says which hole it leaves in the data, for smoke/verify.
            try:
                gap = dict(self.s.gap(self.args, self.kwargs))
            except Exception as gap_exc:
                gap = {"gap_error": _describe(gap_exc)}
            date = _as_date(gap["date"]) if gap.get("date") is not None else None
            if kind in _FINAL_KINDS:
                details = {**gap, **details}
        event = Event(
            kind, severity, message, self.s.pipeline, phase=self.s.phase, date=date, details=details
        )
        if self.s.recorder is not None:
            self.s.recorder.record(event)
        return event

    def before_sleep(self, state: RetryCallState) -> None:
        """Tenacity hook, run once a retry is decided: take budget, record the attempt."""
        exc = cast(BaseException, state.outcome.exception() if state.outcome else None)
        name, budget = self.s.name, self.s.budget
        if budget is not None and not budget.try_retry():
            use = budget.usage()
            message = (
                f"{name}: retry budget exceeded ({use.retries} retries for {use.calls} calls "
                f"in the last {budget.window:g}s, {use.allowed:g} allowed); "
                f"not retrying {_describe(exc)}"
            )
            details = {"calls": use.calls, "retries": use.retries}
            self._record("retry_budget_exceeded", "error", message, exc, **details)
            self.raised = RetryBudgetExceeded(message, last_error=exc)
            raise self.raised from exc
        wait = state.upcoming_sleep
        attempt = f"attempt {self.retries + 1}/{self.s.policy.max_attempts}"
        message = f"{name}: {attempt} failed ({_describe(exc)}); retrying in {wait:.1f}s"
        self._record("retry_attempt", "warning", message, exc, wait=wait)
        self.retries += 1
        self.last_error = exc

    def exhausted(self, state: RetryCallState) -> None:
        """Tenacity hook, run when the last attempt failed: record, alert once, raise."""
        exc = cast(BaseException, state.outcome.exception() if state.outcome else None)
        n = self.s.policy.max_attempts
        message = f"{self.s.name}: all {n} attempts failed; last error {_describe(exc)}"
        event = self._record("retry_exhausted", "error", message, exc, attempts=n)
        if self.s.alert is not None:
            try:
                self.s.alert(event)
            except Exception as alert_exc:
                # The alert is a side channel; its failure must not hide the real one.
                note = f"{self.s.name}: alert failed: {_describe(alert_exc)}"
                self._record("alert_failed", "error", note, alert_exc, event_id=event.id)
        self.raised = RetryExhausted(message, attempts=n, last_error=exc)
        raise self.raised from exc

    def failed(self, exc: Exception) -> None:
        """A failure escaped tenacity: if it is the caller's own terminal error, record it."""
        if exc is not self.raised:
            message = f"{self.s.name}: terminal error, not retried: {_describe(exc)}"
            self._record("retry_gave_up", "error", message, exc)

    def succeeded(self) -> None:
        """Record a success that needed retries, naming the last error it got past."""
        if self.last_error is not None:
            n = self.retries + 1
            message = f"{self.s.name}: succeeded on attempt {n} after {self.retries} failure(s)"
            self._record("retry_succeeded", "info", message, self.last_error, attempts=n)

    def tenacity_kwargs(self) -> dict[str, Any]:
        from tenacity import retry_if_exception, stop_after_attempt

        return {
            "stop": stop_after_attempt(self.s.policy.max_attempts),
            "wait": self.s.wait,
            "retry": retry_if_exception(self.should_retry),
            "before_sleep": self.before_sleep,
            "retry_error_callback": self.exhausted,
        }


def _async_sleep(sleep: Callable[[float], object]) -> Callable[[float], Awaitable[None]]:
    # Accept a plain recording function in tests as well as a coroutine function.
    async def nap(seconds: float) -> None:
        result = sleep(seconds)
        if inspect.isawaitable(result):
            await result

    return nap


def retry(
    max_attempts: int = 5,
    base_delay: float = 60.0,
    max_delay: float = 1800.0,
    jitter: Jitter = "full",
    *,
    transient: tuple[type[BaseException], ...] = (),
    budget: RetryBudget | None = None,
    sleep: Callable[[float], object] | None = None,
    clock: Callable[[], float] | None = None,
    rng: random.Random | None = None,
    recorder: Recorder | None = None,
    alert: Callable[[Event], None] | None = None,
    name: str | None = None,
    pipeline: str = "",
    gap: Callable[[tuple[Any, ...], dict[str, Any]], Mapping[str, Any]] | None = None,
    phase: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Retry a sync or async function on transient errors, with capped, jittered backoff.

    After attempt n fails with a transient error (see :func:`is_transient`, plus the
    classes in ``transient``) the call waits a jittered share of
    ``min(max_delay, base_delay * 2**(n-1))`` (AWS "Exponential Backoff and Jitter"), but
    at least the server's ``Retry-After`` on a 429/503, even past ``max_delay``. A terminal
    error is re-raised unchanged after its one attempt. When every attempt failed, raises
    :class:`RetryExhausted` from the last error; ``alert`` is called once, then, and never
    for the attempts before.

    Args:
        max_attempts: attempts in all, the first included.
        base_delay: seconds; the ceiling of the first wait.
        max_delay: seconds; the largest ceiling.
        jitter: ``full`` (default), ``equal``, ``decorrelated`` or ``none``.
        transient: extra exception classes to treat as transient.
        budget: a shared :class:`RetryBudget`; when it is spent, raises
            :class:`RetryBudgetExceeded` instead of retrying.
        sleep: waits a number of seconds; default ``time.sleep`` / ``asyncio.sleep``.
        clock: monotonic seconds, for the ``elapsed`` of events; default ``time.monotonic``.
        rng: the random source of the jitter; seed it for reproducible waits.
        recorder: keeps the events ``retry_attempt``, ``retry_succeeded``,
            ``retry_exhausted``, ``retry_gave_up``, ``retry_budget_exceeded``, ``alert_failed``.
        alert: called with the ``retry_exhausted`` event; its errors are recorded, not raised.
        name: the name in events and messages; default the function's qualified name.
        pipeline: the pipeline named in events.
        gap: ``gap(args, kwargs)`` names the data a final failure leaves missing, e.g.
            ``{"source": "bdl", "date": "2026-01-15", "key": "game 123"}``; merged into the
            final event's details, and its ``date`` becomes every event's date.
        phase: the phase named in every event (a step's retries name theirs).
    """
    from tenacity import AsyncRetrying, Retrying

    policy = RetryPolicy(max_attempts, base_delay, max_delay, jitter)
    wait = RetryAfterFloor(policy.wait_strategy(rng))

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        label = name or str(getattr(fn, "__qualname__", fn))
        now = clock if clock is not None else time.monotonic
        settings = _Settings(
            label,
            policy,
            wait,
            tuple(transient),
            budget,
            now,
            recorder,
            alert,
            pipeline,
            gap,
            phase,
        )

        if inspect.iscoroutinefunction(fn):
            import asyncio

            nap = _async_sleep(sleep) if sleep is not None else asyncio.sleep

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                call = _Call(settings, args, kwargs)
                if budget is not None:
                    budget.record_call()
                retrying = AsyncRetrying(sleep=nap, **call.tenacity_kwargs())
                try:
                    result: Any = await retrying(fn, *args, **kwargs)
                except Exception as exc:
                    call.failed(exc)
                    raise
                call.succeeded()
                return result

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            call = _Call(settings, args, kwargs)
            if budget is not None:
                budget.record_call()
            retrying = Retrying(
                sleep=cast(Any, sleep if sleep is not None else time.sleep),
                **call.tenacity_kwargs(),
            )
            try:
                result = retrying(fn, *args, **kwargs)
            except Exception as exc:
                call.failed(exc)
                raise
            call.succeeded()
            return result

        return wrapper

    return decorate
