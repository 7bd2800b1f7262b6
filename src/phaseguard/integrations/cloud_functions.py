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
publishes it to ``publish_to`` (a Pub/Sub topic, through ``google-cloud-pubsub``). Blocked,
or any doubt (a config that does not load, a warehouse that does not answer, a message
without a date): the function logs why and returns normally, so Pub/Sub acknowledges the
message instead of redelivering it forever; the block is already recorded and alerted, and
a blocked date is re-run by ``phaseguard backfill`` once upstream holds.

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
from phaseguard.logging import CloudLoggingFormatter, context

if TYPE_CHECKING:
    from phaseguard.gate import Decision
    from phaseguard.guard import Guard

Signature = Literal["cloudevent", "http"]
NextStep = Callable[["Decision", dict[str, Any]], None]
DATE_KEYS = ("game_date", "date")

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
    ) -> None:
        if next_step is not None and publish_to is not None:
            raise ConfigError("give next_step or publish_to, not both", key="gate_function")
        self.phase = phase
        self.signature = signature
        self.config = config
        self.warehouse = warehouse
        self.next_step = next_step
        self.publish_to = publish_to
        self._publisher: Any = None
        if publish_to is not None:
            self._publisher = _publisher_client()
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
            self._hand_on(decision, payload, attributes)
            return 200, body

    def _hand_on(
        self, decision: Decision, payload: dict[str, Any], attributes: dict[str, str]
    ) -> None:
        message = {**payload, "game_date": decision.date.isoformat(), "gate": decision.gate}
        if self.next_step is not None:
            self.next_step(decision, message)
        elif self._publisher is not None:
            data = json.dumps(message).encode()
            self._publisher.publish(self.publish_to, data, **attributes).result(timeout=60)

    # --- the two signatures the Functions Framework calls -------------------------------
    def on_cloud_event(self, event: Any) -> None:
        """Target for ``--signature-type cloudevent``: returns normally, so the message is
        acknowledged whatever was decided (the decision is recorded and alerted)."""
        payload, attributes = message_payload(event.get_data())
        self.handle(payload, attributes)

    def on_http(self, request: Any) -> tuple[str, int, dict[str, str]]:
        """Target for ``--signature-type http``: the decision as JSON, 200 open / 409 blocked."""
        body = request.get_json(silent=True)
        payload, attributes = message_payload(body) if isinstance(body, dict) else ({}, {})
        status, answer = self.handle(payload, {**dict(request.args), **attributes})
        return json.dumps(answer), status, {"Content-Type": "application/json"}


def _body(phase: str, date: dt.date, status: str, message: str) -> dict[str, Any]:
    return {"gate": phase, "date": date.isoformat(), "status": status, "message": message}


def _publisher_client() -> Any:
    try:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]
    except ImportError as exc:
        raise ConfigError(
            f"publish_to needs google-cloud-pubsub: pip install google-cloud-pubsub ({exc})",
            key="publish_to",
        ) from None
    return pubsub_v1.PublisherClient()


def gate_function(
    phase: str,
    *,
    name: str | None = None,
    signature: Signature = "cloudevent",
    config: str | None = None,
    warehouse: str | None = None,
    next_step: NextStep | None = None,
    publish_to: str | None = None,
) -> Callable[..., Any]:
    """A Functions Framework target that gates ``phase`` (see the module doc).

    Args:
        phase: the gate, named after the phase it guards.
        name: the target's name (``--target``); default ``<phase>_gate``.
        signature: ``cloudevent`` (Pub/Sub) or ``http``.
        config: the config file; default ``PHASEGUARD_CONFIG``, else ``phaseguard.yml``.
        warehouse: the warehouse URL; default ``PHASEGUARD_WAREHOUSE``, else the config's.
        next_step: called with (decision, message) when the gate is open.
        publish_to: a Pub/Sub topic path the message is published to when the gate is open.

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


__all__ = ["GateFunction", "date_from", "gate_function", "message_payload"]
