"""Alerts: what phaseguard tells people, the sinks it tells them through, and incidents.

A sink is one place alerts go (Slack, a generic webhook, Apprise, stderr), configured as a
pydantic model chosen by its ``kind``. An alert is one message about one incident: a gate
and a date whose state went bad, changed or recovered. ``Notifier.track`` turns each check
of that state into at most one alert per transition, so a blocked date that stays blocked
is announced once, not on every run.

Delivery never holds a command for long: every sink gets its own thread and a command
waits at most one deadline (``PHASEGUARD_ALERT_DEADLINE``, default 5 s) for all its sinks;
what is not through by then is kept (by the sink's name, so a rotated URL keeps it) and
re-sent in the background of the next run. An alert goes out before anything is recorded,
so a store that is down cannot silence it. What an alert says, and how each sink shows it,
is ``messages``.

Sink URLs are secrets (they come from the environment, e.g. ``${SLACK_WEBHOOK_URL}``): they
never appear in a repr, a message or an event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import importlib.util
import json
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import ConfigError, StoreError, UsageError
from .events import Event as _Event
from .events import Recorder
from .messages import Alert as Alert
from .messages import AlertCheck as AlertCheck
from .messages import Severity as Severity
from .messages import Status as Status
from .messages import alert_from_json as alert_from_json
from .messages import alert_to_json as alert_to_json
from .messages import sanitized as sanitized
from .messages import slack_payload as slack_payload
from .messages import stderr_line as stderr_line
from .records import IncidentRow, PendingAlert, iso_utc
from .sinks import (
    AnySink as AnySink,
)
from .sinks import (
    AppriseSink as AppriseSink,
)
from .sinks import (
    Sink as Sink,
)
from .sinks import (
    SlackSink as SlackSink,
)
from .sinks import (
    StderrSink as StderrSink,
)
from .sinks import (
    WebhookSink as WebhookSink,
)
from .sinks import (
    mask as mask,
)
from .store import EventStore

_RANK = {"info": 0, "warning": 1, "critical": 2}


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


class _DeliveryError(Exception):
    def __init__(self, status_code: int | None, retry: bool) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.retry = retry


def incident_transition(before: str | None, now: str | None) -> Status | None:
    """Which alert a new check of an incident deserves, if any.

    Args:
        before: the severity of the open incident, or None if there is none.
        now: the severity the check found, or None if healthy.

    Returns:
        ``opened``, ``changed``, ``resolved`` or None (nothing new to say).
    """
    if before is None:
        return None if now is None else "opened"
    if now is None:
        return "resolved"
    return "changed" if now != before else None


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


class _Job:
    """One delivery (one alert to one sink) running in a daemon thread of its own.

    A daemon thread, not an executor's: a sink that hangs must not hold the process at exit.
    The thread only sends; the notifier reads ``outcome`` and records it.
    """

    def __init__(self, sink: AnySink, key: str, alert: Alert, run: Callable[[], _Outcome]) -> None:
        self.sink, self.key, self.alert = sink, key, alert
        self.row: PendingAlert | None = None  # set when re-sending a kept alert
        self.outcome: _Outcome | None = None
        self.done = threading.Event()
        self._run = run
        self.thread = threading.Thread(target=self._main, daemon=True, name=f"alert-{key}")

    def _main(self) -> None:
        try:
            self.outcome = self._run()
        finally:
            self.done.set()


@dataclass(frozen=True)
class _Outcome:
    attempts: int
    status_code: int | None
    error: str | None


class Notifier:
    """Sends alerts to the configured sinks, records each delivery and keeps failed ones.

    Delivery is bounded: every sink gets its own thread, and a command waits at most
    ``deadline`` seconds in all for its sinks, however many alerts it sends. A sink still
    busy at the deadline counts as failed (``DeadlineExceeded``) and the alert is kept to be
    sent again. Kept alerts are re-sent in the background (``resend_pending``) while the next
    command works; ``finish`` collects them and keeps again the ones not delivered, without
    waiting longer than the command already waits for its own alerts.

    Args:
        sinks: the configured sinks.
        recorder: where ``alert_sent``/``alert_failed`` events go.
        store: where incidents and failed deliveries are kept; default ``recorder`` if it is
            an ``EventStore``. Without one, ``track`` and ``retry_pending`` cannot work and
            failed deliveries are only recorded.
        http_timeout: seconds per HTTP request (cut shorter by the deadline).
        attempts: tries per delivery; connect errors, timeouts, 429 and 5xx are retried.
        backoff: seconds before the second try, doubled before each next one.
        deadline: seconds this notifier waits on sinks in all; default
            ``$PHASEGUARD_ALERT_DEADLINE``, else 5.
        sleep: how to wait between tries (injected in tests).
        clock: the current time (injected in tests).
        pipeline: the pipeline named in events.

    Raises:
        ConfigError: an Apprise sink is configured but the ``apprise`` extra is not installed.
    """

    def __init__(
        self,
        sinks: Sequence[AnySink],
        recorder: Recorder,
        *,
        store: EventStore | None = None,
        http_timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.5,
        deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
        pipeline: str = "",
    ) -> None:
        if any(s.kind == "apprise" for s in sinks) and importlib.util.find_spec("apprise") is None:
            raise ConfigError(
                "an apprise sink needs the apprise extra: pip install 'phaseguard[apprise]'",
                key="sinks",
            )
        # A sink whose URL came out empty (``${SLACK_WEBHOOK_URL:-}`` unset) is switched off.
        self.sinks = tuple(s for s in sinks if getattr(s, "url", None) != "")
        self._keys = _sink_keys(self.sinks)
        self._recorder = recorder
        self._store = store if store is not None else _as_store(recorder)
        self._timeout = http_timeout
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._deadline = default_deadline() if deadline is None else max(0.0, deadline)
        self._budget = self._deadline
        self._sleep = sleep
        self._clock = clock
        self._pipeline = pipeline
        self._background: list[_Job] = []
        self._late: list[tuple[_Job, PendingAlert]] = []
        self._client: httpx.Client | None = None
        self._any_wait = False
        self._lock = threading.Lock()
        self._secrets = [getattr(s, "url", "") for s in sinks] + [
            v for s in sinks for v in getattr(s, "headers", {}).values()
        ]

    # -- incidents -----------------------------------------------------------------------

    def track(
        self,
        gate: str,
        date: dt.date | None,
        severity: Severity | None,
        make_alert: Callable[[Status, Severity], Alert],
    ) -> Alert | None:
        """Record the latest state of an incident (a gate and a date) and alert on a change.

        Alerts when the incident opens (``severity`` given, none open), when its severity
        changes, and when it resolves (``severity`` None, one open); a re-check that finds
        the same state sends nothing. The read and write of the incident are one
        transaction, so two processes seeing the same failure alert once.

        A store that cannot be read does not silence an alert: with ``severity`` given, the
        alert is sent anyway (as ``opened``: whether it was already said is unknown, and
        twice is better than never) and an ``incident_untracked`` event is kept (spooled).

        Args:
            gate: the gate's name.
            date: the partition date, or None for a gate-wide incident.
            severity: what the check found; None means healthy.
            make_alert: builds the alert from the transition and its severity; for
                ``resolved`` the severity is the highest the incident reached, so the
                all-clear goes to every sink that heard about it.

        Returns:
            The alert sent (its ``status`` is the transition), or None if nothing changed.

        Raises:
            StoreError: the store cannot be read or written and there is nothing to send.
        """
        store = self._require_store()
        now = iso_utc(self._clock())
        seen: list[IncidentRow | None] = []

        def update(row: IncidentRow | None) -> IncidentRow | None:
            seen.append(row)
            is_open = row is not None and row.status == "open"
            if severity is None:
                if row is None or not is_open:
                    return None
                return row._replace(updated_at=now, status="resolved")
            if row is None or not is_open:
                return IncidentRow(gate, _date_key(date), severity, severity, now, now, "open")
            peak = max(severity, row.peak_severity or severity, key=_RANK.__getitem__)
            return row._replace(severity=severity, peak_severity=peak, updated_at=now)

        try:
            before = store.swap_incident(gate, _date_key(date), update)
        except StoreError as exc:
            if severity is None:
                raise
            alert = dataclasses.replace(
                make_alert("opened", severity), status="opened", severity=severity
            )
            self.notify(alert)
            self._event(
                "incident_untracked",
                "error",
                f"alert sent without incident tracking (the store is down): {exc.message}",
                alert,
            )
            return alert
        open_before = before if before is not None and before.status == "open" else None
        status = incident_transition(open_before.severity if open_before else None, severity)
        if status is None:
            return None
        if status == "resolved":
            assert open_before is not None
            level: Severity = _severity(open_before.peak_severity or open_before.severity)
        else:
            assert severity is not None
            level = severity
        alert = dataclasses.replace(make_alert(status, level), status=status, severity=level)
        self.notify(alert)
        return alert

    # -- delivery ------------------------------------------------------------------------

    def notify(self, alert: Alert) -> list[Delivery]:
        """Send ``alert`` to every sink whose ``min_severity`` it reaches; never raises.

        The sinks are sent to in parallel, within what is left of the deadline. Each
        delivery is recorded as ``alert_sent`` or ``alert_failed``; a failed one is kept
        (in the store, or its spool while the store is down) for ``retry_pending``.
        """
        alert = sanitized(alert)
        jobs = [
            self._start(sink, alert)
            for sink in self.sinks
            if _RANK[alert.severity] >= _RANK[sink.min_severity]
        ]
        self._wait(jobs)
        deliveries = []
        for job in jobs:
            late = not job.done.is_set()
            delivery = self._finish_job(job)
            deliveries.append(delivery)
            if not delivery.ok:
                row = self._keep(job, delivery)
                if late and row is not None:
                    # Still trying: if it gets through before the command ends, unkeep it.
                    with self._lock:
                        self._late.append((job, row))
        return deliveries

    def retry_pending(self, *, max_age: dt.timedelta = dt.timedelta(days=1)) -> list[Delivery]:
        """Try again, and wait for, the deliveries that failed before (within the deadline).

        A pending alert is claimed (removed) before it is sent, so two runs do not both send
        it; if it fails again it is kept again. One older than ``max_age`` or whose sink is
        no longer configured is dropped with an ``alert_dropped`` event. A pending alert
        finds its sink by the sink's name (``kind:name``), so rotating a sink's URL keeps it.

        Raises:
            StoreError: the store cannot be read or written.
        """
        jobs = self._claim(max_age)
        self._wait(jobs)
        return [self._settle(job) for job in jobs]

    def resend_pending(self, *, max_age: dt.timedelta = dt.timedelta(days=1)) -> None:
        """Start re-sending the kept alerts in the background; never waits, never raises.

        ``finish`` (the end of the command) collects them. A store that is down has nothing
        to re-send now: its spooled alerts reach the store with its next good write.
        """
        try:
            jobs = self._claim(max_age)
        except (StoreError, ConfigError):
            return
        with self._lock:
            self._background.extend(jobs)

    def finish(self) -> list[Delivery]:
        """End one command: collect the background re-sends, record each, keep again the
        undelivered; the next command (a long-lived process's next request) gets a new
        deadline.

        Waits for them no longer than the deadline allows, and only if the command waited
        for alerts of its own: one with nothing to send does not wait on a hanging sink.
        """
        with self._lock:
            jobs, self._background = self._background, []
            late, self._late = self._late, []
        if not jobs and not late:
            self._budget, self._any_wait = self._deadline, False
            return []
        # Only a command that waits for alerts of its own waits for these, within the deadline.
        extra = self._budget if self._any_wait else 0.0
        started = time.monotonic()
        for job in [*jobs, *(job for job, _ in late)]:
            job.done.wait(max(0.0, started + extra - time.monotonic()))
        self._budget = max(0.0, self._budget - (time.monotonic() - started))
        for job, row in late:
            self._unkeep_if_delivered(job, row)
        settled = [self._settle(job) for job in jobs]
        self._budget, self._any_wait = self._deadline, False
        return settled

    def _unkeep_if_delivered(self, job: _Job, row: PendingAlert) -> None:
        """A delivery that passed the deadline but then got through is not kept to re-send."""
        outcome = job.outcome if job.done.is_set() else None
        if outcome is None or outcome.error is not None or self._store is None:
            return
        try:
            removed = self._store.remove_pending(row.id)
        except StoreError:
            return  # kept: sent again later, twice rather than never
        if removed:
            self._event(
                "alert_sent",
                "info",
                f"alert sent to {job.sink.label} after the deadline",
                job.alert,
                sink_kind=job.sink.kind,
                sink_name=job.sink.name,
                attempts=outcome.attempts,
                status_code=outcome.status_code,
                alert_status=job.alert.status,
            )

    def _claim(self, max_age: dt.timedelta) -> list[_Job]:
        store = self._require_store()
        by_key = {key: sink for sink, key in zip(self.sinks, self._keys, strict=True)}
        jobs = []
        for row in store.pending():
            if not store.remove_pending(row.id):
                continue
            alert = alert_from_json(json.loads(row.alert))
            sink = by_key.get(row.sink) or by_key.get(_legacy_key(row.sink))
            age = self._clock() - dt.datetime.fromisoformat(row.created_at)
            if sink is None or age > max_age:
                why = "its sink is no longer configured" if sink is None else "it is too old"
                self._event(
                    "alert_dropped",
                    "warning",
                    f"alert {alert.title!r} dropped: {why}",
                    alert,
                    sink=row.sink.split(":", 2)[0],
                    attempts=row.attempts,
                )
                continue
            job = self._start(sink, alert)
            job.row = row
            jobs.append(job)
        return jobs

    def _settle(self, job: _Job) -> Delivery:
        delivery = self._finish_job(job)
        if not delivery.ok and job.row is not None and self._store is not None:
            self._store.keep_pending(
                job.row._replace(
                    attempts=job.row.attempts + delivery.attempts,
                    last_error=delivery.error or "",
                )
            )
        return delivery

    def _keep(self, job: _Job, delivery: Delivery) -> PendingAlert | None:
        """Keep a failed delivery for ``retry_pending``; a store that is down gets it spooled."""
        if self._store is None:
            return None
        row = PendingAlert(
            id=uuid.uuid4().hex,
            sink=job.key,
            alert=json.dumps(alert_to_json(job.alert)),
            attempts=delivery.attempts,
            created_at=iso_utc(self._clock()),
            last_error=delivery.error or "",
        )
        self._store.keep_pending(row)
        return row

    def _start(self, sink: AnySink, alert: Alert) -> _Job:
        key = self._keys[self.sinks.index(sink)]
        if isinstance(sink, StderrSink):
            # Nothing to wait for: written at once, whatever is left of the deadline.
            job = _Job(sink, key, alert, lambda: self._attempt_all(sink, alert, None))
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
        # waits only for what is left of its own (``_wait``), then keeps what is not through.
        until = time.monotonic() + self._deadline
        job = _Job(sink, key, alert, lambda: self._attempt_all(sink, alert, until))
        job.thread.start()
        return job

    def _wait(self, jobs: Sequence[_Job]) -> None:
        """Wait for ``jobs`` within what is left of the deadline; what it takes is spent."""
        pending = [job for job in jobs if not job.done.is_set()]
        if not pending:
            return
        self._any_wait = True
        started = time.monotonic()
        until = started + self._budget
        for job in pending:
            job.done.wait(max(0.0, until - time.monotonic()))
        self._budget = max(0.0, self._budget - (time.monotonic() - started))

    def _finish_job(self, job: _Job) -> Delivery:
        sink, alert = job.sink, job.alert
        outcome = job.outcome if job.done.is_set() else None
        if outcome is None:
            outcome = _Outcome(1, None, "DeadlineExceeded")
        delivery = Delivery(
            sink.label, outcome.error is None, outcome.attempts, outcome.status_code, outcome.error
        )
        details = {
            "sink_kind": sink.kind,
            "sink_name": sink.name,
            "attempts": outcome.attempts,
            "status_code": outcome.status_code,
            "alert_status": alert.status,
        }
        if delivery.ok:
            self._event("alert_sent", "info", f"alert sent to {sink.label}", alert, **details)
        else:
            details["error"] = outcome.error
            message = (
                f"alert to {sink.label} failed after {outcome.attempts} tries: {outcome.error}"
            )
            self._event("alert_failed", "warning", message, alert, **details)
        return delivery

    def _attempt_all(self, sink: AnySink, alert: Alert, until: float | None) -> _Outcome:
        """Send with retries, giving up at ``until`` (a ``time.monotonic`` instant)."""
        attempts, status_code, error = 0, None, None
        for attempt in range(1, self._attempts + 1):
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                error = error or "DeadlineExceeded"
                break
            attempts = attempt
            try:
                timeout = self._timeout if left is None else min(self._timeout, left)
                status_code = self._send(sink, alert, timeout)
                error = None
                break
            except _DeliveryError as exc:
                status_code, error = exc.status_code, "HTTPStatusError"
                if not exc.retry:
                    break
            except httpx.TransportError as exc:
                status_code, error = None, type(exc).__name__
            except Exception as exc:  # a sink must never break the run that alerts
                status_code, error = None, type(exc).__name__
                break
            if attempt < self._attempts:
                # Exponential backoff, as in AWS's "Exponential Backoff and Jitter" (no jitter:
                # one process sends few alerts, so there is no herd to spread).
                pause = self._backoff * 2 ** (attempt - 1)
                if until is not None and time.monotonic() + pause >= until:
                    break
                self._sleep(pause)
        return _Outcome(max(1, attempts), status_code, error)

    def _http(self) -> httpx.Client:
        """The one HTTP client of this notifier (thread-safe; its pool is shared by sinks)."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout)
            return self._client

    def _send(self, sink: AnySink, alert: Alert, timeout: float) -> int | None:
        """Send once; returns the HTTP status, raises on failure."""
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
        response = self._http().post(sink.url, json=payload, headers=headers, timeout=timeout)
        code = response.status_code
        if code >= 400:
            raise _DeliveryError(code, retry=code >= 500 or code == 429)
        return code

    def _event(self, kind: str, severity: str, message: str, alert: Alert, **details: Any) -> None:
        details["title"] = mask(alert.title, self._secrets)
        self._recorder.record(
            _Event(
                kind,
                severity,
                mask(message, self._secrets),
                self._pipeline or alert.pipeline,
                alert.phase,
                alert.date,
                details,
            )
        )

    def _require_store(self) -> EventStore:
        if self._store is None:
            raise ConfigError("incidents and pending alerts need an event store", key="events")
        return self._store


def _sink_keys(sinks: Sequence[AnySink]) -> list[str]:
    """How kept alerts name their sink: ``kind:name`` (or ``kind``), never the URL.

    A second unnamed sink of the same kind is ``kind#2``, and so on, in config order.
    """
    keys, seen = [], dict[str, int]()
    for sink in sinks:
        label = sink.label
        seen[label] = seen.get(label, 0) + 1
        keys.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return keys


def _legacy_key(key: str) -> str:
    """The name-only key of a row kept by an older phaseguard (``kind:<url digest>``)."""
    head, _, tail = key.rpartition(":")
    return head if head and len(tail) == 12 and all(c in "0123456789abcdef" for c in tail) else key


def _send_apprise(sink: AppriseSink, alert: Alert) -> None:
    import apprise

    notifier = apprise.Apprise()
    notifier.add(sink.url)
    if not notifier.notify(title=alert.title, body=alert.text or alert.title):
        raise _DeliveryError(None, retry=True)


def _as_store(recorder: Recorder) -> EventStore | None:
    return recorder if isinstance(recorder, EventStore) else None


def _date_key(date: dt.date | None) -> str:
    return date.isoformat() if date else ""


def _severity(name: str | None) -> Severity:
    if name == "info":
        return "info"
    if name == "warning":
        return "warning"
    return "critical"
