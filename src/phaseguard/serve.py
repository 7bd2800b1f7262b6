"""The dashboard: the report live from the warehouse, and its JSON, over stdlib HTTP.

``serve`` returns a ``ThreadingHTTPServer`` (not yet serving) with four routes:

* ``/``: the report page, verified afresh on each load, refreshing itself every minute;
* ``/api/health?start=&end=``: exactly ``verdicts.to_dict`` of the range, as JSON;
* ``/api/explain?start=DATE``: why the date is what it is, ``phaseguard explain --format
  json`` (default: today);
* ``/healthz``: ``{"status": "ok"}``, touching nothing.

The range defaults to the 30 days ending today (UTC); a request may ask for at most
MAX_DAYS (366) dates, so no request can hold the server for long (``phaseguard report``
covers longer ranges). Bad input (a date that is not exactly YYYY-MM-DD, or out of range)
is a 400 with a JSON ``error``, a warehouse that cannot answer a 503; nothing a client
sends yields a traceback or a 500.

Requests are served concurrently: each verifies through a Guard of its own (its own
warehouse connection, because a DuckDB connection must not be used by two threads at once).
At most MAX_LONG (2) requests longer than LONG_DAYS (31) dates verify at a time, the others
wait for a slot, while shorter requests never wait: a one-day request is answered at once
however many year-long ones are queued, and memory stays bounded.
The warehouse is closed after each request so that the pipeline's own writers are never
locked out of a DuckDB file by an idle dashboard.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import socket
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import report
from .assess import check_range, date_range
from .errors import PhaseguardError, UsageError, WarehouseError
from .guard import Guard
from .verdicts import RangeVerdict, exit_code, to_dict
from .warehouse import mask_url

DEFAULT_DAYS = 30
MAX_DAYS = 366
LONG_DAYS = 31
MAX_LONG = 2
REFRESH_SECONDS = 60
MAX_QUERY = 512
PARAMS = ("start", "end")
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


class Dashboard(ThreadingHTTPServer):
    """The dashboard server: a Guard, its default range and a bound on concurrent requests.

    Args:
        address: (host, port) to listen on; port 0 picks a free one.
        guard: the loaded pipeline; its clock decides what "today" is.
        start: the default range's first date, or None for 30 days before ``end``.
        end: the default range's last date, or None for today (UTC) at each request.
        config_path: how the page names the config it came from.
        log: where access and error lines go (default: nowhere).
    """

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        guard: Guard,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        config_path: str = "",
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.guard = guard
        self.start = start
        self.end = end
        self.config_path = config_path
        self.log = log
        self.long_slots = threading.BoundedSemaphore(MAX_LONG)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        """The base URL the server listens on."""
        host, port = self.server_address[:2]
        host = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{host}:{port}/"

    def default_range(self) -> tuple[dt.date, dt.date]:
        """The range given at start-up, else the last 30 days ending today (UTC)."""
        end = self.end or self.guard.clock().astimezone(dt.timezone.utc).date()
        start = self.start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        return check_range(start, end, MAX_DAYS)

    def verify(self, start: dt.date, end: dt.date) -> RangeVerdict:
        """Verify the range on a connection of its own, releasing the warehouse afterwards."""
        guard = copy.copy(self.guard)  # shares config and store; opens its own warehouse
        guard._warehouse = None
        long = (end - start).days + 1 > LONG_DAYS
        with self.long_slots if long else contextlib.nullcontext():
            try:
                return guard.verify(start, end)
            finally:
                guard.close()

    def explain(self, day: dt.date) -> dict[str, object]:
        """``phaseguard explain DATE --format json``, on a connection of its own."""
        from .explain import explain, gather
        from .explanation import to_dict as explained

        guard = copy.copy(self.guard)  # as verify: shares config and store, not the warehouse
        guard._warehouse = None
        try:
            result, events, error = gather(guard, day)
        finally:
            guard.close()
        why = explain(guard.config, result.dates[0], events, events_error=error)
        return explained(why, exit_code(result))

    def page(self, start: dt.date, end: dt.date) -> str:
        """The report page for the range; an unreadable event log only empties its sections."""
        result = self.verify(start, end)
        now = self.guard.clock()
        events, events_error = [], None
        try:
            events = self.guard.store.query(since=report.events_since(start, now))
        except PhaseguardError as exc:
            events_error = exc.message
        source = report.provenance(
            self.config_path, mask_url(self.guard.warehouse_url), now, self.guard.store.location
        )
        view = report.build(
            result, events, config=self.guard.config, provenance=source, events_error=events_error
        )
        return report.render(view, refresh=REFRESH_SECONDS)


def parse_range(query: str, default: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    """The range a query string asks for: ``start`` [``end``], else ``default``.

    Raises:
        UsageError: an unknown or repeated parameter, ``end`` without ``start``, a bad date,
            a reversed range or one longer than MAX_DAYS.
    """
    if len(query) > MAX_QUERY:
        raise UsageError(f"query string longer than {MAX_QUERY} characters")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=len(PARAMS) + 1)
    except ValueError:
        raise UsageError(f"too many query parameters (known: {', '.join(PARAMS)})") from None
    given: dict[str, str] = {}
    for key, value in pairs:
        if key not in PARAMS:
            raise UsageError(f"unknown query parameter {key[:40]!r} (known: {', '.join(PARAMS)})")
        if key in given:
            raise UsageError(f"query parameter {key!r} given twice")
        given[key] = value
    if not given:
        return default
    if "start" not in given:
        raise UsageError("end given without start")
    return date_range(given["start"], given.get("end") or None, MAX_DAYS)


class _Handler(BaseHTTPRequestHandler):
    server: Dashboard
    server_version = "phaseguard"
    sys_version = ""
    timeout = 30  # a client that stops sending must not hold a thread forever

    def do_GET(self) -> None:
        self._dispatch(body=True)

    def do_HEAD(self) -> None:
        self._dispatch(body=False)

    def _not_allowed(self) -> None:
        self._send(
            405,
            _json({"error": "method not allowed"}),
            "application/json",
            True,
            {"Allow": "GET, HEAD"},
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _dispatch(self, *, body: bool) -> None:
        parts = urlsplit(self.path)
        api = parts.path != "/"
        try:
            if parts.path == "/healthz":
                payload, ctype = _json({"status": "ok"}), "application/json"
            elif parts.path == "/api/health":
                start, end = parse_range(parts.query, self.server.default_range())
                payload, ctype = _json(to_dict(self.server.verify(start, end))), "application/json"
            elif parts.path == "/api/explain":
                today = self.server.default_range()[1]
                start, end = parse_range(parts.query, (today, today))
                if start != end:
                    raise UsageError("explain takes one date: give start only")
                payload, ctype = _json(self.server.explain(start)), "application/json"
            elif parts.path == "/":
                start, end = parse_range(parts.query, self.server.default_range())
                payload, ctype = self.server.page(start, end).encode(), "text/html; charset=utf-8"
            else:
                raise _NotFound
        except _NotFound:
            self._error(
                404,
                "not found (routes: /, /api/health, /api/explain, /healthz)",
                body=body,
                api=True,
            )
        except UsageError as exc:
            self._error(400, exc.message, body=body, api=api)
        except WarehouseError as exc:
            self._error(503, f"warehouse unavailable: {exc.message}", body=body, api=api)
        except PhaseguardError as exc:
            self._error(503, exc.message, body=body, api=api)
        except Exception as exc:  # the client gets no traceback, the log gets the type
            self.log_error("internal error on %s: %s: %s", parts.path, type(exc).__name__, exc)
            self._error(500, "internal error", body=body, api=api)
        else:
            self._send(200, payload, ctype, body)

    def _error(self, code: int, message: str, *, body: bool, api: bool) -> None:
        if api:
            self._send(code, _json({"error": message}), "application/json", body)
            return
        page = _ERROR_PAGE.format(code=code, message=_escape(message), refresh=REFRESH_SECONDS)
        self._send(code, page.encode(), "text/html; charset=utf-8", body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's own errors (bad request line, 414, 431, 501) as JSON."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # an unparsable request line: answer in 1.0
            self.request_version = "HTTP/1.0"
        text = message or HTTPStatus(code).phrase
        self._send(code, _json({"error": text}), "application/json", self.command != "HEAD")

    def _send(
        self,
        code: int,
        payload: bytes,
        ctype: str,
        body: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            if ctype.startswith("text/html"):
                self.send_header("Content-Security-Policy", _CSP)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if body:
                self.wfile.write(payload)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client left; nothing to tell it

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")


class _NotFound(Exception):
    pass


def _json(data: object) -> bytes:
    return json.dumps(data, default=str).encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ERROR_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{refresh}"><title>phaseguard: {code}</title></head>
<body style="font-family:system-ui,sans-serif;margin:2rem"><h1>phaseguard: {code}</h1>
<p>{message}</p><p><a href="/">back to the default range</a></p></body></html>"""


def serve(
    guard: Guard,
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config_path: str = "",
    log: Callable[[str], None] | None = None,
) -> Dashboard:
    """The dashboard server for ``guard``, bound but not yet serving (call ``serve_forever``).

    Raises:
        UsageError: the address cannot be bound, or ``start`` is after ``end``.
    """
    try:
        server = Dashboard(
            (host, port), guard, start=start, end=end, config_path=config_path, log=log
        )
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        server.default_range()
    except UsageError:
        server.server_close()
        raise
    return server


def stderr_log(line: str) -> None:
    """Write one access or error line to standard error."""
    print(line, file=sys.stderr, flush=True)
