"""Delivery: sending one alert to one sink, with retries, in a thread of its own, in time.

One delivery is one alert to one sink. It is tried a few times (connect errors, timeouts,
429 and 5xx again, with a doubling pause) in a daemon thread of its own, and gives up at an
instant it is handed. A command waits for its deliveries within one deadline
(``PHASEGUARD_ALERT_DEADLINE``, default 5 s) for all its sinks and alerts together: the
``Deadline`` is that budget, spent as the command waits. What a delivery says and how each
sink shows it is ``messages``; which deliveries to start, record and keep is ``alerts``.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from .errors import UsageError
from .messages import Alert, alert_to_json, slack_payload, stderr_line
from .records import PendingAlert
from .sinks import AnySink, AppriseSink, SlackSink, StderrSink

DEFAULT_DEADLINE = 5.0
"""Seconds a command spends waiting on alert delivery, all sinks and all alerts together."""


def default_deadline() -> float:
    """The delivery deadline: ``$PHASEGUARD_ALERT_DEADLINE`` seconds, else ``DEFAULT_DEADLINE``.

    Raises:
        UsageError: the variable is not a finite number of seconds >= 0.
    """
    raw = os.environ.get("PHASEGUARD_ALERT_DEADLINE", "").strip()
    if not raw:
        return DEFAULT_DEADLINE
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:
        raise UsageError(f"PHASEGUARD_ALERT_DEADLINE: {raw!r} is not a number of seconds >= 0")
    return value


@dataclass(frozen=True)
class Delivery:
    """How sending one alert to one sink went.

    Attributes:
        sink: the sink's label (``kind`` or ``kind:name``).
        ok: whether the sink accepted it.
        attempts: how many tries it took.
        status_code: the last HTTP status, if an answer came.
        error: the class of the last error, if it failed.
    """

    sink: str
    ok: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a delivery's thread found: its tries, the last HTTP status and the last error."""

    attempts: int
    status_code: int | None
    error: str | None


TIMED_OUT = Outcome(1, None, "DeadlineExceeded")
"""The outcome of a delivery still running when the command stops waiting for it."""


class DeliveryError(Exception):
    """A sink answered with an error status (or Apprise said no); ``retry`` if worth a retry."""

    def __init__(self, status_code: int | None, retry: bool) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.retry = retry


class Job:
    """One delivery (one alert to one sink) running in a daemon thread of its own.

    A daemon thread, not an executor's: a sink that hangs must not hold the process at exit.
    The thread only sends; the notifier reads ``outcome`` and records it.
    """

    def __init__(self, sink: AnySink, key: str, alert: Alert, run: Callable[[], Outcome]) -> None:
        self.sink, self.key, self.alert = sink, key, alert
        self.row: PendingAlert | None = None  # set when re-sending a kept alert
        self.outcome: Outcome | None = None
        self.done = threading.Event()
        self._run = run
        self.thread = threading.Thread(target=self._main, daemon=True, name=f"alert-{key}")

    def _main(self) -> None:
        try:
            self.outcome = self._run()
        finally:
            self.done.set()

    def settled(self) -> Outcome | None:
        """The outcome if the delivery is over, else None (still trying)."""
        return self.outcome if self.done.is_set() else None


class Deadline:
    """The seconds one command may still wait on its deliveries, all sinks and alerts together.

    Args:
        seconds: the whole budget of one command.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.left = seconds
        self.waited = False  # whether the command waited for alerts of its own

    def wait(self, jobs: Sequence[Job]) -> None:
        """Wait for ``jobs`` within what is left of the deadline; what it takes is spent."""
        pending = [job for job in jobs if not job.done.is_set()]
        if not pending:
            return
        self.waited = True
        started = time.monotonic()
        until = started + self.left
        for job in pending:
            job.done.wait(max(0.0, until - time.monotonic()))
        self.left = max(0.0, self.left - (time.monotonic() - started))

    def wait_late(self, jobs: Sequence[Job]) -> None:
        """Wait for background ``jobs`` at the end of a command, within what is left of it.

        Only a command that waited for alerts of its own waits for these: one with nothing
        to send does not wait on a hanging sink.
        """
        extra = self.left if self.waited else 0.0
        started = time.monotonic()
        for job in jobs:
            job.done.wait(max(0.0, started + extra - time.monotonic()))
        self.left = max(0.0, self.left - (time.monotonic() - started))

    def reset(self) -> None:
        """Start the next command (a long-lived process's next request) with a whole deadline."""
        self.left, self.waited = self.seconds, False


class Courier:
    """Starts deliveries: each (alert, sink) in a daemon thread of its own, one HTTP client.

    Args:
        http_timeout: seconds per HTTP request (cut shorter by the deadline).
        attempts: tries per delivery; connect errors, timeouts, 429 and 5xx are retried.
        backoff: seconds before the second try, doubled before each next one.
    """

    def __init__(self, *, http_timeout: float, attempts: int, backoff: float) -> None:
        self._timeout = http_timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def start(
        self,
        sink: AnySink,
        key: str,
        alert: Alert,
        *,
        seconds: float,
        sleep: Callable[[float], None],
    ) -> Job:
        """Start sending ``alert`` to ``sink`` (kept as ``key``), trying for ``seconds`` at most.

        The stderr sink is written at once, whatever is left of the deadline: there is
        nothing to wait for.
        """
        if isinstance(sink, StderrSink):
            job = Job(sink, key, alert, lambda: self._attempt_all(sink, alert, None, sleep))
            job._main()
            return job
        # The thread only waits on its socket: the HTTP client (its SSL context) and Apprise
        # are made here, so that no thread is inside OpenSSL or an import when a command
        # exits while a sink hangs (that crashed the process at exit).
        if isinstance(sink, AppriseSink):
            importlib.import_module("apprise")
        else:
            self._http()
        # A delivery may go on trying for one whole deadline in its thread; the command
        # waits only for what is left of its own (``Deadline.wait``), then keeps what is not
        # through.
        until = time.monotonic() + seconds
        job = Job(sink, key, alert, lambda: self._attempt_all(sink, alert, until, sleep))
        job.thread.start()
        return job

    def _attempt_all(
        self, sink: AnySink, alert: Alert, until: float | None, sleep: Callable[[float], None]
    ) -> Outcome:
        return attempt_all(
            lambda timeout: send_once(sink, alert, timeout, self._http),
            attempts=self._attempts,
            backoff=self._backoff,
            timeout=self._timeout,
            until=until,
            sleep=sleep,
        )

    def _http(self) -> httpx.Client:
        """The one HTTP client of this courier (thread-safe; its pool is shared by sinks)."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout)
            return self._client


def attempt_all(
    send: Callable[[float], int | None],
    *,
    attempts: int,
    backoff: float,
    timeout: float,
    until: float | None,
    sleep: Callable[[float], None],
) -> Outcome:
    """Send with retries, giving up at ``until`` (a ``time.monotonic`` instant).

    Args:
        send: sends once within the seconds it is given; returns the HTTP status, raises
            on failure.
        attempts: tries at most.
        backoff: seconds before the second try, doubled before each next one.
        timeout: seconds per try (cut shorter by ``until``).
        until: when to give up, or None to try them all.
        sleep: how to wait between tries.
    """
    tries, status_code, error = 0, None, None
    for attempt in range(1, attempts + 1):
        left = None if until is None else until - time.monotonic()
        if left is not None and left <= 0:
            error = error or "DeadlineExceeded"
            break
        tries = attempt
        try:
            status_code = send(timeout if left is None else min(timeout, left))
            error = None
            break
        except DeliveryError as exc:
            status_code, error = exc.status_code, "HTTPStatusError"
            if not exc.retry:
                break
        except httpx.TransportError as exc:
            status_code, error = None, type(exc).__name__
        except Exception as exc:  # a sink must never break the run that alerts
            status_code, error = None, type(exc).__name__
            break
        if attempt < attempts:
            # Exponential backoff, as in AWS's "Exponential Backoff and Jitter" (no jitter:
            # one process sends few alerts, so there is no herd to spread).
            pause = backoff * 2 ** (attempt - 1)
            if until is not None and time.monotonic() + pause >= until:
                break
            sleep(pause)
    return Outcome(max(1, tries), status_code, error)


def send_once(
    sink: AnySink, alert: Alert, timeout: float, http: Callable[[], httpx.Client]
) -> int | None:
    """Send ``alert`` to ``sink`` once; returns the HTTP status, raises on failure.

    Args:
        sink: where to.
        alert: what.
        timeout: seconds for the HTTP request.
        http: the shared HTTP client.
    """
    if isinstance(sink, StderrSink):
        print(stderr_line(alert), file=sys.stderr, flush=True)
        return None
    if isinstance(sink, AppriseSink):
        _send_apprise(sink, alert)
        return None
    if isinstance(sink, SlackSink):
        payload, headers = slack_payload(alert), {}
    else:
        payload, headers = alert_to_json(alert), dict(sink.headers)
    response = http().post(sink.url, json=payload, headers=headers, timeout=timeout)
    code = response.status_code
    if code >= 400:
        raise DeliveryError(code, retry=code >= 500 or code == 429)
    return code


def _send_apprise(sink: AppriseSink, alert: Alert) -> None:
    import apprise

    notifier = apprise.Apprise()
    notifier.add(sink.url)
    if not notifier.notify(title=alert.title, body=alert.text or alert.title):
        raise DeliveryError(None, retry=True)
