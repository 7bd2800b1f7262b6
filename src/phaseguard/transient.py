"""Transient errors: which failures are worth retrying, and when the server asked to be retried.

:func:`is_transient` is the one place that decides transient vs terminal for any error,
phaseguard's own or a client library's (httpx, requests, the balldontlie SDK); the rest
of phaseguard never inspects an error to decide whether to retry it. :func:`retry_after_of`
reads the wait a 429/503 asked for (its ``Retry-After``), which the backoff uses as a floor.
No client library is imported here: their exception classes are looked up only if the
caller already imported them.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Mapping

from .errors import PhaseguardError

RETRY_AFTER_STATUSES = frozenset({429, 503})


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


def parse_retry_after(value: str, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110).

    Returns ``None`` for a value that is neither; a date in the past gives ``0.0``.
    """
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            import email.utils  # only an HTTP date needs it: importing it costs ~10 ms

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
