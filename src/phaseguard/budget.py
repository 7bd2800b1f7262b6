"""Retry budget: a cap on retries as a share of calls, so retrying never amplifies an outage.

Follows the per-client retry budget of Google's SRE book, chapter "Handling Overload"
(https://sre.google/sre-book/handling-overload/): retries are allowed while they stay
under a ratio of the calls in a sliding window. One budget is shared by every retried
function that calls the same dependency; the decorator takes one retry from it before
each sleep and raises :class:`~phaseguard.errors.RetryBudgetExceeded` when it is spent.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


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
