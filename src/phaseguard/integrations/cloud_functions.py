"""Cloud Functions: a gate as a function target for Google's Functions Framework.

The seeds' pipeline moves from phase to phase through Cloud Functions triggered by Pub/Sub
messages (``phase3_to_phase4``, ``phase4_to_phase5``). :func:`gate_function` turns a gate
of the config into such a target, for either signature of the Functions Framework
(https://github.com/GoogleCloudPlatform/functions-framework-python):

- ``cloudevent``: a CloudEvent carrying a Pub/Sub message. The date is read from the
  message's JSON data (``game_date``, else ``date``), else from its attributes.
- ``http``: ``POST {"date": "YYYY-MM-DD"}`` (or ``game_date``), answered with the decision
  as JSON: 200 open, 409 blocked, 400 a request without a usable date.

The decision is the gate's own (one warehouse query, recorded and alerted as everywhere
else). Open: the function says so and hands the message on to ``next_step`` (a callable) or
publishes it to ``publish_to`` (a Pub/Sub topic path, through ``google-cloud-pubsub``). Blocked,
or any doubt (a config that does not load, a warehouse that does not answer, a message
without a date): the function logs why and returns normally, so Pub/Sub acknowledges the
message instead of redelivering it forever; the block is already recorded and alerted, and
a blocked date is re-run by ``phaseguard backfill`` once upstream holds.

Open but not handed on (``next_step`` raised, or the topic does not exist, or Pub/Sub did
not answer within ``publish_timeout`` seconds, its transient errors retried meanwhile): the
open decision stays recorded, a ``handoff_failed`` error event and an ERROR line say why,
and the message is *not* acknowledged (the CloudEvent target raises, so the framework
answers 500; the HTTP target answers 502), so Pub/Sub redelivers it under the
subscription's retry policy (and dead-letter topic, if one is set): the redelivery decides
again and hands on once the next step works, and the next phase is never silently skipped.
The publish is one synchronous call that has ended, one way or the other, when the
function answers (at most about twice ``publish_timeout``, to fit the function's own
timeout), so a failed attempt never lands later behind a redelivery's back. The message's
attributes are passed on as they came.

The config and warehouse come from ``PHASEGUARD_CONFIG`` and ``PHASEGUARD_WAREHOUSE``, as
for the CLI. A warm instance keeps its loaded config and warehouse connection.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from phaseguard.assess import parse_date
from phaseguard.errors import ConfigError, PhaseguardError, UsageError
from phaseguard.events import Event
from phaseguard.logging import CloudLoggingFormatter, context

if TYPE_CHECKING:
    from phaseguard.gate import Decision
    from phaseguard.guard import Guard

Signature = Literal["cloudevent", "http"]
NextStep = Callable[["Decision", dict[str, Any]], None]
DATE_KEYS = ("game_date", "date")
PUBLISH_TIMEOUT = 20.0  # seconds; a Cloud Function's default timeout is 60

log = logging.getLogger("phaseguard.cloud_functions")


def _structured_stdout() -> None:
    """One JSON line per decision on stdout, which Cloud Logging parses (once per process)."""
    if any(getattr(h, "_phaseguard", False) for h in log.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    handler._phaseguard = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def message_payload(data: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON payload and the attributes of a Pub/Sub message in a CloudEvent's data.

    ``data`` is the CloudEvent's data: ``{"message": {"data": base64, "attributes": {...}}}``
    for the Pub/Sub binding; a plain JSON object is taken as the payload itself.
    """
    if not isinstance(data, Mapping):
        return {}, {}
    message = data.get("message")
    if not isinstance(message, Mapping):
        return dict(data), {}
    attributes = {str(k): str(v) for k, v in (message.get("attributes") or {}).items()}
    raw = message.get("data")
    payload: dict[str, Any] = {}
    if isinstance(raw, str) and raw:
        try:
            decoded = json.loads(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            decoded = None
        if isinstance(decoded, dict):
            payload = decoded
    return payload, attributes


def date_from(*sources: Mapping[str, Any]) -> dt.date:
    """The partition date named ``game_date`` or ``date`` in the first source that has one.

    Raises:
        ValueError: no source names a date, or it is not YYYY-MM-DD.
    """
    for source in sources:
        for key in DATE_KEYS:
            value = source.get(key)
            if value in (None, ""):
                continue
            try:
                return parse_date(str(value), key)
            except UsageError as exc:
                raise ValueError(exc.message) from None
    raise ValueError(f"the message names no date ({' or '.join(DATE_KEYS)})")


class GateFunction:
    """A gate of the config, callable as a Functions Framework target (see module doc)."""

    def __init__(
        self,
        phase: str,
        *,
        signature: Signature = "cloudevent",
        config: str | None = None,
        warehouse: str | None = None,
        next_step: NextStep | None = None,
        publish_to: str | None = None,
        publish_timeout: float = PUBLISH_TIMEOUT,
    ) -> None:
        if next_step is not None and publish_to is not None:
            raise ConfigError("give next_step or publish_to, not both", key="gate_function")
        self.phase = phase
        self.signature = signature
        self.config = config
        self.warehouse = warehouse
        self.next_step = next_step
        self.publish_to = publish_to
        self.publish_timeout = publish_timeout
        # The library is checked now; its client (a gRPC channel) is made on first use, in
        # the process that serves (the framework's server forks after loading the source).
        self._pubsub: Any = _pubsub() if publish_to is not None else None
        self._publisher: Any = None
        self._guard: Guard | None = None
        self._lock = threading.Lock()  # the framework may serve requests on threads

    def guard(self) -> Guard:
        """The loaded config bound to its warehouse, kept while the instance is warm."""
        if self._guard is None:
            from phaseguard.guard import load

            path = self.config or os.environ.get("PHASEGUARD_CONFIG", "phaseguard.yml")
            self._guard = load(path, warehouse=self.warehouse)
        return self._guard

    def decide(self, date: dt.date) -> Decision:
        """The gate's decision for ``date``; the guard is reloaded after a failure."""
        with self._lock:
            try:
                guard = self.guard()
                decision = guard.gate(self.phase).decide(date)
            except BaseException:
                self._drop_guard()
                raise
            # A warm instance must not hold a DuckDB file's lock between messages: the
            # pipeline's writer would wait for it. (Other backends hold no lock.)
            guard.notifier.finish()  # one request, one alert deadline (alerts.Notifier)
            guard.release()
            return decision

    def _drop_guard(self) -> None:
        if self._guard is not None:
            guard, self._guard = self._guard, None
            try:
                guard.close()
            except Exception as exc:  # closing a broken connection must not hide the error
                log.warning("closing the warehouse failed: %s", exc)

    def handle(
        self, payload: dict[str, Any], attributes: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Decide for the message's date and hand it on if open: (HTTP status, JSON body)."""
        try:
            date = date_from(payload, attributes)
        except ValueError as exc:
            log.error("gate %s: %s; nothing decided, message dropped", self.phase, exc)
            return 400, {"gate": self.phase, "status": "error", "message": str(exc)}
        with context(phase=self.phase, date=date):
            try:
                decision = self.decide(date)
            except PhaseguardError as exc:
                log.error("gate %s for %s: BLOCKED: %s", self.phase, date, exc.message)
                return 409, _body(self.phase, date, "blocked", exc.message)
            except Exception as exc:  # any doubt blocks
                log.exception("gate %s for %s: BLOCKED: internal error", self.phase, date)
                return 409, _body(self.phase, date, "blocked", f"internal error: {exc!r}")
            body = _body(self.phase, date, decision.status, decision.message)
            if not decision.allowed:
                log.error("gate %s for %s: BLOCKED: %s", self.phase, date, decision.message)
                return 409, body
            log.info(
                "gate %s for %s: %s: %s",
                self.phase,
                date,
                decision.status.upper(),
                decision.message,
            )
            try:
                published = self._hand_on(decision, payload, attributes)
            except Exception as exc:
                error = self._not_handed_on(decision, exc)
                return 502, {**body, "error": error}
            if published is not None:
                log.info(
                    "gate %s for %s: published to %s (id %s)",
                    self.phase,
                    date,
                    self.publish_to,
                    published,
                )
                body["published"] = published
            return 200, body

    def _hand_on(
        self, decision: Decision, payload: dict[str, Any], attributes: dict[str, str]
    ) -> str | None:
        """Hand the message on; the Pub/Sub message id when it was published."""
        message = {**payload, "game_date": decision.date.isoformat(), "gate": decision.gate}
        if self.next_step is not None:
            self.next_step(decision, message)
        elif self.publish_to is not None:
            return self._publish(json.dumps(message).encode(), attributes)
        return None

    def _publish(self, data: bytes, attributes: dict[str, str]) -> str:
        """Publish one message, synchronously: Pub/Sub's Publish call, retried on the
        errors and with the backoff of the library's default retry, until ``publish_timeout``."""
        from google.api_core import exceptions as gexc
        from google.api_core.retry import Retry, if_exception_type

        if self._publisher is None:
            # GAPIC's client, not the batching one: one message per request needs no batch
            # thread, and its attributes are a map (no clash with publish()'s keywords).
            self._publisher = self._pubsub.PublisherClient()
        transient = if_exception_type(
            gexc.Aborted,
            gexc.Cancelled,
            gexc.DeadlineExceeded,
            gexc.InternalServerError,
            gexc.ResourceExhausted,
            gexc.ServiceUnavailable,
            gexc.Unknown,
        )
        response = self._publisher.publish(
            topic=self.publish_to,
            messages=[{"data": data, "attributes": attributes}],
            retry=Retry(
                predicate=transient,
                initial=0.1,
                maximum=60.0,
                multiplier=4,
                timeout=self.publish_timeout,
            ),
            timeout=self.publish_timeout,
        )
        return str(response.message_ids[0])

    def _not_handed_on(self, decision: Decision, exc: Exception) -> str:
        """Log and record an open decision whose message did not go on (module doc)."""
        where = f"to {self.publish_to}" if self.next_step is None else "to next_step"
        error = f"not handed on {where}: {type(exc).__name__}: {exc}"
        log.error("gate %s for %s: OPEN but %s", self.phase, decision.date, error)
        with self._lock:
            try:
                guard = self.guard()
                guard.recorder.record(
                    Event(
                        kind="handoff_failed",
                        severity="error",
                        message=f"{self.phase} open for {decision.date} but {error}",
                        pipeline=guard.config.pipeline,
                        phase=self.phase,
                        date=decision.date,
                        details={"gate": decision.gate, "exception": type(exc).__name__},
                    )
                )
            except Exception as failed:  # the log line above already says it
                log.warning("recording the failed hand-on failed: %s", failed)
        return error

    # --- the two signatures the Functions Framework calls -------------------------------
    def on_cloud_event(self, event: Any) -> None:
        """Target for ``--signature-type cloudevent``: returns normally, so the message is
        acknowledged, whatever was decided (the decision is recorded and alerted), unless an
        open message was not handed on: then it raises :class:`NotHandedOn`."""
        payload, attributes = message_payload(event.get_data())
        status, body = self.handle(payload, attributes)
        if status == 502:  # open but not handed on: no acknowledgement, Pub/Sub redelivers
            raise NotHandedOn(body["error"])

    def on_http(self, request: Any) -> tuple[str, int, dict[str, str]]:
        """Target for ``--signature-type http``: the decision as JSON, 200 open (with the
        ``published`` message id), 409 blocked, 502 open but not handed on (``error``)."""
        body = request.get_json(silent=True)
        payload, attributes = message_payload(body) if isinstance(body, dict) else ({}, {})
        status, answer = self.handle(payload, {**dict(request.args), **attributes})
        return json.dumps(answer), status, {"Content-Type": "application/json"}


def _body(phase: str, date: dt.date, status: str, message: str) -> dict[str, Any]:
    return {"gate": phase, "date": date.isoformat(), "status": status, "message": message}


class NotHandedOn(RuntimeError):
    """An open gate's message did not reach its next step; raised to the Functions
    Framework so that Pub/Sub redelivers the message."""


def _pubsub() -> Any:
    """``google.pubsub_v1``, or a ConfigError saying what to install."""
    try:
        import google.pubsub_v1 as pubsub_v1
    except ImportError as exc:
        raise ConfigError(
            f"publish_to needs google-cloud-pubsub: pip install google-cloud-pubsub ({exc})",
            key="publish_to",
        ) from None
    return pubsub_v1


def gate_function(
    phase: str,
    *,
    name: str | None = None,
    signature: Signature = "cloudevent",
    config: str | None = None,
    warehouse: str | None = None,
    next_step: NextStep | None = None,
    publish_to: str | None = None,
    publish_timeout: float = PUBLISH_TIMEOUT,
) -> Callable[..., Any]:
    """A Functions Framework target that gates ``phase`` (see the module doc).

    Args:
        phase: the gate, named after the phase it guards.
        name: the target's name (``--target``); default ``<phase>_gate``.
        signature: ``cloudevent`` (Pub/Sub) or ``http``.
        config: the config file; default ``PHASEGUARD_CONFIG``, else ``phaseguard.yml``.
        warehouse: the warehouse URL; default ``PHASEGUARD_WAREHOUSE``, else the config's.
        next_step: called with (decision, message) when the gate is open.
        publish_to: a Pub/Sub topic path (``projects/P/topics/T``) the message is published
            to when the gate is open (``PUBSUB_EMULATOR_HOST`` points it at an emulator).
        publish_timeout: seconds Pub/Sub has to take the message, retries included.

    Returns:
        The target, registered with the Functions Framework under ``name`` for ``signature``.
    """
    import functions_framework

    _structured_stdout()
    gate = GateFunction(
        phase,
        signature=signature,
        config=config,
        warehouse=warehouse,
        next_step=next_step,
        publish_to=publish_to,
        publish_timeout=publish_timeout,
    )
    method = gate.on_cloud_event if signature == "cloudevent" else gate.on_http

    def target(arg: Any) -> Any:
        return method(arg)

    target.__name__ = target.__qualname__ = name or f"{phase}_gate"
    target.gate = gate  # type: ignore[attr-defined]
    register = (
        functions_framework.cloud_event if signature == "cloudevent" else functions_framework.http
    )
    return register(target)


__all__ = ["GateFunction", "NotHandedOn", "date_from", "gate_function", "message_payload"]
