"""Alerts: what phaseguard tells people through its sinks, once per incident, never late.

A sink is one place alerts go (Slack, a generic webhook, Apprise, stderr; ``sinks``). An
alert is one message about one incident: a gate and a date whose state went bad, changed or
recovered. ``Notifier`` is the one door: ``track`` turns each check of an incident into at
most one alert per transition (``incidents``), ``notify`` sends an alert to every sink at
once within the command's deadline (``delivery``), and what is not through by then is kept
(``pending``) and re-sent in the background of the next run. An alert goes out before
anything is recorded, so a store that is down cannot silence it. What an alert says, and
how each sink shows it, is ``messages``.

Sink URLs are secrets (they come from the environment, e.g. ``${SLACK_WEBHOOK_URL}``): they
never appear in a repr, a message or an event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .delivery import (
    TIMED_OUT,
    Courier,
    Deadline,
    Delivery,
    Job,
    default_deadline,
)
from .errors import ConfigError, StoreError
from .events import Event as _Event
from .events import Recorder
from .incidents import RANK, date_key, incident_transition, next_row, transition
from .messages import (
    Alert,
    AlertCheck,
    Severity,
    Status,
    alert_from_json,
    alert_to_json,
    sanitized,
    slack_payload,
    stderr_line,
)
from .pending import claim, kept_again, kept_row, sink_keys
from .records import PendingAlert, iso_utc
from .sinks import AnySink, AppriseSink, Sink, SlackSink, StderrSink, WebhookSink, mask
from .store import EventStore

# What users, the other modules and the tests import from here; each lives in its own module.
__all__ = [
    "Alert",
    "AlertCheck",
    "AppriseSink",
    "Notifier",
    "Severity",
    "Sink",
    "SlackSink",
    "Status",
    "StderrSink",
    "WebhookSink",
    "alert_from_json",
    "alert_to_json",
    "incident_transition",
    "mask",
    "slack_payload",
    "stderr_line",
]


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
        self._keys = sink_keys(self.sinks)
        self._recorder = recorder
        self._store = store if store is not None else _as_store(recorder)
        self._courier = Courier(http_timeout=http_timeout, attempts=attempts, backoff=backoff)
        self._deadline = Deadline(default_deadline() if deadline is None else max(0.0, deadline))
        self._sleep = sleep
        self._clock = clock
        self._pipeline = pipeline
        self._background: list[Job] = []
        self._late: list[tuple[Job, PendingAlert]] = []
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
        key = date_key(date)
        try:
            before = store.swap_incident(
                gate, key, lambda row: next_row(row, gate, key, severity, now)
            )
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
        said = transition(before, severity)
        if said is None:
            return None
        status, level = said
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
            if RANK[alert.severity] >= RANK[sink.min_severity]
        ]
        self._deadline.wait(jobs)
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

    def _start(self, sink: AnySink, alert: Alert) -> Job:
        key = self._keys[self.sinks.index(sink)]
        return self._courier.start(
            sink, key, alert, seconds=self._deadline.seconds, sleep=self._sleep
        )

    def _finish_job(self, job: Job) -> Delivery:
        sink, alert = job.sink, job.alert
        outcome = job.settled() or TIMED_OUT
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

    # -- pending alerts ------------------------------------------------------------------

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
        self._deadline.wait(jobs)
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
            self._deadline.reset()
            return []
        self._deadline.wait_late([*jobs, *(job for job, _ in late)])
        for job, row in late:
            self._unkeep_if_delivered(job, row)
        settled = [self._settle(job) for job in jobs]
        self._deadline.reset()
        return settled

    def _unkeep_if_delivered(self, job: Job, row: PendingAlert) -> None:
        """A delivery that passed the deadline but then got through is not kept to re-send."""
        outcome = job.settled()
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

    def _claim(self, max_age: dt.timedelta) -> list[Job]:
        store = self._require_store()
        by_key = dict(zip(self._keys, self.sinks, strict=True))
        jobs = []
        for claimed in claim(store, by_key, self._clock, max_age):
            if claimed.sink is None or claimed.dropped is not None:
                self._event(
                    "alert_dropped",
                    "warning",
                    f"alert {claimed.alert.title!r} dropped: {claimed.dropped}",
                    claimed.alert,
                    sink=claimed.row.sink.split(":", 2)[0],
                    attempts=claimed.row.attempts,
                )
                continue
            job = self._start(claimed.sink, claimed.alert)
            job.row = claimed.row
            jobs.append(job)
        return jobs

    def _settle(self, job: Job) -> Delivery:
        delivery = self._finish_job(job)
        if not delivery.ok and job.row is not None and self._store is not None:
            self._store.keep_pending(kept_again(job.row, delivery.attempts, delivery.error))
        return delivery

    def _keep(self, job: Job, delivery: Delivery) -> PendingAlert | None:
        """Keep a failed delivery for ``retry_pending``; a store that is down gets it spooled."""
        if self._store is None:
            return None
        row = kept_row(job.key, job.alert, delivery.attempts, delivery.error, self._clock())
        self._store.keep_pending(row)
        return row

    # -- events ----------------------------------------------------------------------------

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


def _as_store(recorder: Recorder) -> EventStore | None:
    return recorder if isinstance(recorder, EventStore) else None
