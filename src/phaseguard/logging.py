"""Logging: the pipeline's own errors in the central event log, and log lines Cloud Logging reads.

Two pieces for code that runs a phase (a Cloud Function, an Airflow task, a script):

- :class:`EventLogHandler` is a :class:`logging.Handler` that keeps the pipeline's ERROR and
  CRITICAL log records as events in phaseguard's store, with the phase and the date they
  concern, so that ``phaseguard errors`` groups the team's own failures (by signature: the
  message with numbers, ids and dates normalised) beside phaseguard's gate blocks and retry
  exhaustions. The phase and date come from the record's ``extra=`` or from
  :func:`context`, a context manager that sets them for everything logged inside it.
- :class:`CloudLoggingFormatter` writes each record as one JSON line with ``severity``,
  ``message``, labels and the source location, the structured form Cloud Logging parses
  from a Cloud Function's stdout (https://cloud.google.com/logging/docs/structured-logging).

Usage::

    import logging, phaseguard
    from phaseguard.logging import EventLogHandler, context

    guard = phaseguard.load("phaseguard.yml")
    logging.getLogger("pipeline").addHandler(EventLogHandler(guard.recorder, guard.config.pipeline))
    with context(phase="phase3", date=game_date):
        run_phase3(game_date)   # logger.exception(...) inside lands in `phaseguard errors`
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .events import Event, Recorder


@dataclass(frozen=True)
class _Scope:
    phase: str | None = None
    date: dt.date | None = None


_SCOPE: contextvars.ContextVar[_Scope] = contextvars.ContextVar(
    "phaseguard_log_scope",
    default=_Scope(),  # noqa: B039 - frozen, so sharing the default is safe
)


@contextlib.contextmanager
def context(*, phase: str | None = None, date: dt.date | str | None = None) -> Iterator[None]:
    """Tag every record logged inside the block with ``phase`` and ``date``.

    Nested blocks inherit what they do not set. ``date`` may be a ``YYYY-MM-DD`` string.
    """
    outer = _SCOPE.get()
    scope = _Scope(
        phase if phase is not None else outer.phase,
        _as_date(date) if date is not None else outer.date,
    )
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            return None
    return None


def scope_of(record: logging.LogRecord) -> tuple[str | None, dt.date | None]:
    """The (phase, date) a record concerns: its ``extra=`` first, else the enclosing context."""
    scope = _SCOPE.get()
    phase = getattr(record, "phase", None)
    date = _as_date(getattr(record, "date", None))
    return (str(phase) if phase else scope.phase), (date or scope.date)


def _message(record: logging.LogRecord) -> str:
    """The record's message, with the exception's type and first line when there is one."""
    message = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text = str(exc).strip().splitlines()
        message = f"{message}: {type(exc).__name__}" + (f": {text[0]}" if text else "")
    return message


class EventLogHandler(logging.Handler):
    """Keeps ERROR and CRITICAL log records as ``pipeline_error`` events in the event store.

    Args:
        recorder: where events go (``guard.recorder``: the store, which spools to a file when
            it cannot be written, so logging never raises or loses the record).
        pipeline: the pipeline's name, as in the config.
        level: the lowest level kept (default ERROR).
    """

    KIND = "pipeline_error"

    def __init__(self, recorder: Recorder, pipeline: str = "", level: int = logging.ERROR) -> None:
        super().__init__(level)
        self.recorder = recorder
        self.pipeline = pipeline

    def emit(self, record: logging.LogRecord) -> None:
        try:
            phase, date = scope_of(record)
            details: dict[str, Any] = {
                "logger": record.name,
                "level": record.levelname,
                "location": f"{record.pathname}:{record.lineno}",
            }
            if record.exc_info and record.exc_info[0] is not None:
                details["exception"] = record.exc_info[0].__name__
            self.recorder.record(
                Event(
                    kind=self.KIND,
                    severity="critical" if record.levelno >= logging.CRITICAL else "error",
                    message=_message(record),
                    pipeline=self.pipeline,
                    phase=phase,
                    date=date,
                    details=details,
                )
            )
        except Exception:  # a handler must never raise into the code that logged
            self.handleError(record)


# Python's level names to Cloud Logging's LogSeverity.
_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object per record, in the structured-logging shape Cloud Logging parses.

    ``severity`` and ``message`` become the entry's severity and text; the pipeline, phase
    and date go in ``logging.googleapis.com/labels``; the source file and line in
    ``logging.googleapis.com/sourceLocation``. A traceback is appended to the message, where
    Error Reporting finds it.
    """

    def __init__(self, pipeline: str = "") -> None:
        super().__init__()
        self.pipeline = pipeline

    def format(self, record: logging.LogRecord) -> str:
        phase, date = scope_of(record)
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        labels = {"logger": record.name}
        if self.pipeline:
            labels["pipeline"] = self.pipeline
        if phase:
            labels["phase"] = phase
        if date:
            labels["date"] = date.isoformat()
        entry = {
            "severity": _SEVERITY.get(record.levelno, record.levelname),
            "message": message,
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(),
            "logging.googleapis.com/labels": labels,
            "logging.googleapis.com/sourceLocation": {
                "file": record.pathname,
                "line": str(record.lineno),
                "function": record.funcName,
            },
        }
        return json.dumps(entry, default=str)


__all__ = ["CloudLoggingFormatter", "EventLogHandler", "context", "scope_of"]
