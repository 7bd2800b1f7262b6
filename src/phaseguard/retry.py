"""Retries: capped exponential backoff with jitter, a retry budget, and one alert at the end.

``@retry(max_attempts=5, base_delay=60, max_delay=1800)`` retries a sync or async function
on transient errors only, records every attempt as an event, calls ``alert`` once when
every attempt failed, and raises :class:`~phaseguard.errors.RetryExhausted`. The waits
follow Marc Brooker, "Exponential Backoff and Jitter", AWS Architecture Blog, 2015
(https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/); the budget
follows the per-client retry budget of Google's SRE book, chapter "Handling Overload".
Built on tenacity: the wait strategies below are the callables tenacity takes as ``wait``.
tenacity (and the asyncio it imports) is loaded only when a function is decorated, so
``import phaseguard`` does not pay for it: a smoke test never retries anything.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import inspect
import math
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, cast

from .errors import PhaseguardError, RetryBudgetExceeded, RetryExhausted, UsageError
from .events import Event, Recorder

if TYPE_CHECKING:
    from tenacity import RetryCallState

P = ParamSpec("P")
R = TypeVar("R")

Jitter = Literal["full", "equal", "decorrelated", "none"]
JITTERS: tuple[Jitter, ...] = ("full", "equal", "decorrelated", "none")
RETRY_AFTER_STATUSES = frozenset({429, 503})
Wait = Callable[["RetryCallState"], float]
"""A wait strategy: the seconds to sleep before the next attempt (tenacity's ``wait``)."""

# --- which errors are transient -------------------------------------------------------


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status an error carries: on its ``response`` or, as balldontlie does, on itself."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is None:
        status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _retryable_status(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


def _classes(module: str, *names: str) -> tuple[type[BaseException], ...]:
    # An exception from an optional library exists only if that library was imported,
    # so looking in sys.modules costs no import and needs no optional dependency.
    mod = sys.modules.get(module)
    return tuple(getattr(mod, name) for name in names) if mod is not None else ()


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth retrying: the one place that decides.

    Transient: phaseguard errors whose ``transient`` is true; any error with a boolean
    ``transient`` attribute set to true; ``TimeoutError`` and ``ConnectionError``; httpx
    timeouts, network and protocol errors and HTTP 429/5xx; the same for requests; and
    balldontlie's rate-limit, server and network errors. Everything else (HTTP 4xx,
    authentication, not found, validation, ``ValueError``...) is terminal.
    """
    flag = getattr(exc, "transient", None)
    if isinstance(exc, PhaseguardError) or isinstance(flag, bool):
        return bool(flag)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    httpx_net = _classes("httpx", "TimeoutException", "NetworkError", "RemoteProtocolError")
    if httpx_net and isinstance(exc, httpx_net):
        return True
    httpx_status = _classes("httpx", "HTTPStatusError")
    if httpx_status and isinstance(exc, httpx_status):
        return _retryable_status(_status_of(exc))
    requests_net = _classes("requests.exceptions", "Timeout", "ConnectionError")
    if requests_net and isinstance(exc, requests_net):
        return True
    requests_http = _classes("requests.exceptions", "HTTPError")
    if requests_http and isinstance(exc, requests_http):
        return _retryable_status(_status_of(exc))
    bdl = _classes(
        "balldontlie.exceptions", "RateLimitError", "ServerError", "BallDontLieException"
    )
    if bdl and isinstance(exc, bdl[:2]):
        return True
    if bdl and type(exc) is bdl[2]:
        # The SDK wraps network failures in its base class with no status; the real
        # cause is the exception it was raised while handling.
        status = _status_of(exc)
        if status is not None:
            return _retryable_status(status)
        cause = exc.__cause__ or exc.__context__
        return cause is not None and not isinstance(cause, bdl) and is_transient(cause)
    return False


# --- Retry-After ------------------------------------------------------------------------


def parse_retry_after(value: str, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110).

    Returns ``None`` for a value that is neither; a date in the past gives ``0.0``.
    """
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def retry_after_of(exc: BaseException) -> float | None:
    """The wait, in seconds, that the server asked for in the error, if any.

    Read from a ``retry_after`` attribute (seconds), or from the ``Retry-After`` header of
    the error's ``response`` (httpx, requests, or anything with ``status_code`` and
    ``headers``) when the status is 429 or 503.
    """
    attr = getattr(exc, "retry_after", None)
    if isinstance(attr, (int, float)) and not isinstance(attr, bool):
        return max(0.0, float(attr))
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if _status_of(exc) not in RETRY_AFTER_STATUSES or not isinstance(headers, Mapping):
        return None
    value = headers.get("Retry-After", headers.get("retry-after"))
    return parse_retry_after(value) if isinstance(value, str) else None


# --- wait strategies --------------------------------------------------------------------


class _Backoff:
    """Capped exponential backoff: the ceiling after attempt n is ``min(cap, base * 2**(n-1))``."""

    def __init__(self, base_delay: float, max_delay: float, rng: random.Random | None = None):
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.rng = rng if rng is not None else random.Random()

    def ceiling(self, attempt: int) -> float:
        """The un-jittered wait after attempt ``attempt`` (1-based) failed."""
        # Bound the exponent: 2**64 times any sane base is past any cap, and no overflow.
        return min(self.max_delay, self.base_delay * 2.0 ** min(max(attempt - 1, 0), 64))

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.ceiling(retry_state.attempt_number)


class NoJitter(_Backoff):
    """The ceiling itself: 60, 120, 240, ... up to the cap. Deterministic; for tests and docs."""


class FullJitter(_Backoff):
    """AWS "Full Jitter": ``uniform(0, ceiling)``. Least total work under contention."""

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.rng.uniform(0.0, self.ceiling(retry_state.attempt_number))


class EqualJitter(_Backoff):
    """AWS "Equal Jitter": ``ceiling/2 + uniform(0, ceiling/2)``. Never waits less than half."""

    def __call__(self, retry_state: RetryCallState) -> float:
        half = self.ceiling(retry_state.attempt_number) / 2
        return half + self.rng.uniform(0.0, half)


class DecorrelatedJitter(_Backoff):
    """AWS "Decorrelated Jitter": ``min(cap, uniform(base, previous_wait * 3))``.

    The previous wait is tenacity's ``upcoming_sleep``, which still holds the last sleep
    when the next one is computed (0 before the first, read as ``base_delay`` as in the
    blog), so the strategy keeps no state and one instance can serve concurrent calls.
    """

    def __call__(self, retry_state: RetryCallState) -> float:
        previous = retry_state.upcoming_sleep or self.base_delay
        high = max(self.base_delay, previous * 3)
        return min(self.max_delay, self.rng.uniform(self.base_delay, high))


_STRATEGIES: dict[Jitter, type[_Backoff]] = {
    "full": FullJitter,
    "equal": EqualJitter,
    "decorrelated": DecorrelatedJitter,
    "none": NoJitter,
}


class RetryAfterFloor:
    """Waits at least what the server asked for in ``Retry-After``.

    The floor is deliberately not capped by ``max_delay``: the server knows when it will
    take requests again, and calling earlier only earns another 429/503.
    """

    def __init__(self, inner: Wait) -> None:
        self.inner = inner

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self.inner(retry_state)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        floor = retry_after_of(exc) if exc is not None else None
        return wait if floor is None else max(wait, floor)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them."""

    max_attempts: int = 5
    base_delay: float = 60.0
    max_delay: float = 1800.0
    jitter: Jitter = "full"

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if not 0 <= self.base_delay <= self.max_delay:
            raise UsageError(
                f"need 0 <= base_delay <= max_delay, got {self.base_delay} and {self.max_delay}"
            )
        if self.jitter not in JITTERS:
            raise UsageError(f"jitter must be one of {', '.join(JITTERS)}, not {self.jitter!r}")

    def wait_strategy(self, rng: random.Random | None = None) -> Wait:
        """The tenacity wait strategy for this policy (without the Retry-After floor)."""
        return _STRATEGIES[self.jitter](self.base_delay, self.max_delay, rng)

    def waits(self, rng: random.Random | None = None) -> list[float]:
        """The waits one call would sleep if every attempt failed (no Retry-After)."""
        from tenacity import RetryCallState, Retrying

        strategy = self.wait_strategy(rng)
        state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
        out: list[float] = []
        for attempt in range(1, self.max_attempts):
            state.attempt_number = attempt
            state.upcoming_sleep = strategy(state)
            out.append(state.upcoming_sleep)
        return out


# --- retry budget -----------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetUsage:
    """What a retry budget saw in its window, and how many retries it allows."""

    calls: int
    retries: int
    allowed: float


class RetryBudget:
    """A per-client retry budget over a sliding window (Google SRE book, "Handling Overload").

    Retries are allowed while ``retries < max(min_retries, ratio * calls)`` within the last
    ``window`` seconds, so a dependency that is down gets at most ~10 % extra load instead
    of ``max_attempts`` times the load. A call is one invocation of a retried function
    (its first attempt); a retry is every attempt after that. Thread-safe; share one
    budget among every function that calls the same dependency.
    """

    def __init__(
        self,
        ratio: float = 0.1,
        window: float = 60.0,
        min_retries: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.window = window
        self.min_retries = min_retries
        self.clock = clock
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()
        self._lock = threading.Lock()

    def _prune(self) -> None:
        horizon = self.clock() - self.window
        for stamps in (self._calls, self._retries):
            while stamps and stamps[0] <= horizon:
                stamps.popleft()

    def _allows(self) -> bool:
        return len(self._retries) < max(self.min_retries, self.ratio * len(self._calls))

    def record_call(self) -> None:
        """Count one call (a first attempt)."""
        with self._lock:
            self._calls.append(self.clock())

    def record_retry(self) -> None:
        """Count one retry."""
        with self._lock:
            self._retries.append(self.clock())

    def can_retry(self) -> bool:
        """Whether one more retry fits in the budget now."""
        with self._lock:
            self._prune()
            return self._allows()

    def try_retry(self) -> bool:
        """Check and count a retry in one step, so two threads cannot both take the last one."""
        with self._lock:
            self._prune()
            if not self._allows():
                return False
            self._retries.append(self.clock())
            return True

    def usage(self) -> BudgetUsage:
        """Calls and retries in the current window, and the retries allowed."""
        with self._lock:
            self._prune()
            calls, retries = len(self._calls), len(self._retries)
        return BudgetUsage(calls, retries, max(self.min_retries, self.ratio * calls))


# --- the decorator ----------------------------------------------------------------------


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
        if kind in _FINAL_KINDS and self.s.gap is not None:
            # A final failure leaves a hole in the data; say which one, for smoke/verify.
            try:
                gap = dict(self.s.gap(self.args, self.kwargs))
            except Exception as gap_exc:
                gap = {"gap_error": _describe(gap_exc)}
            date = _as_date(gap["date"]) if gap.get("date") is not None else None
            details = {**gap, **details}
        event = Event(kind, severity, message, self.s.pipeline, date=date, details=details)
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
            final event's details, and its ``date`` becomes the event's date.
    """
    from tenacity import AsyncRetrying, Retrying

    policy = RetryPolicy(max_attempts, base_delay, max_delay, jitter)
    wait = RetryAfterFloor(policy.wait_strategy(rng))

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        label = name or str(getattr(fn, "__qualname__", fn))
        now = clock if clock is not None else time.monotonic
        settings = _Settings(
            label, policy, wait, tuple(transient), budget, now, recorder, alert, pipeline, gap
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
