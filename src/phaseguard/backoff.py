"""Backoff: the wait between attempts, capped exponential with jitter, and the retry policy.

After attempt n fails the wait is drawn under the ceiling ``min(max_delay, base_delay *
2**(n-1))``; the jitter strategies follow Marc Brooker, "Exponential Backoff and Jitter",
AWS Architecture Blog, 2015
(https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/). Each strategy
is a callable tenacity takes as ``wait``; :class:`RetryAfterFloor` wraps one so a server's
``Retry-After`` is never undercut. :class:`RetryPolicy` is the validated set of knobs
(attempts, delays, jitter) the decorator and the simulations share. tenacity is imported
only for type checking and inside :meth:`RetryPolicy.waits`, so this module stays cheap to
import.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .errors import UsageError
from .transient import retry_after_of

if TYPE_CHECKING:
    from tenacity import RetryCallState

Jitter = Literal["full", "equal", "decorrelated", "none"]
JITTERS: tuple[Jitter, ...] = ("full", "equal", "decorrelated", "none")
Wait = Callable[["RetryCallState"], float]
"""A wait strategy: the seconds to sleep before the next attempt (tenacity's ``wait``)."""


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
