"""A local balldontlie API over HTTP, with seeded faults, for tests and benches.

It serves :class:`~nba_props.bdl_data.SeasonApi` (the demo season in the shapes the
official SDK parses) on 127.0.0.1 with ``http.server``. The key travels bare in
``Authorization``, as the SDK sends it; a missing or wrong key gets 401.

Faults come from :class:`FaultModel`, drawn per request from a seeded generator: transient
500/502/503, dropped connections (closed without a response), answers held longer than the
client's timeout, 429 with ``Retry-After``, and outage windows in which every request gets
503. Outage windows are read on an injectable clock, so a simulation can share one
:class:`VirtualClock` between the server and the retry decorator's ``sleep`` and ``clock``.
Standard library only.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nba_props.bdl_data import Game, SeasonApi
from phaseguard.errors import UsageError

__all__ = ["BdlServer", "FaultModel", "ServerStats", "VirtualClock", "serve"]

FAULT_KINDS = ("500", "502", "503", "drop", "slow")


# --- faults, clock, stats ---------------------------------------------------------------------


@dataclass(frozen=True)
class FaultModel:
    """Which faults the server injects; the default injects none.

    Attributes:
        transient_rate: share of requests that get one of ``kinds``, drawn uniformly.
        kinds: among ``"500"``, ``"502"``, ``"503"`` (that status), ``"drop"`` (the socket is
            closed without a response) and ``"slow"`` (the answer is held ``slow_seconds``,
            longer than the client's timeout).
        rate_limit_rate: share of requests answered 429 with ``Retry-After: retry_after``.
        retry_after: seconds, sent with every 429.
        outages: ``(start, end)`` windows on the server's clock in which every request is 503.
        slow_seconds: how long a ``slow`` answer is held, in real seconds.
        script: faults for the first requests, in order, before any draw (``""`` for none;
            ``"429"`` and the ``kinds`` names): ``("drop", "")`` drops the first request and
            answers the second. Outage windows still come first.
        incomplete_dates: dates whose box scores are answered 200 with half the games (every
            second one left out), as the real API did: no error, just games missing.
    """

    transient_rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    rate_limit_rate: float = 0.0
    retry_after: float = 30.0
    outages: tuple[tuple[float, float], ...] = ()
    slow_seconds: float = 1.0
    script: tuple[str, ...] = ()
    incomplete_dates: tuple[dt.date, ...] = ()

    def __post_init__(self) -> None:
        rates = (self.transient_rate, self.rate_limit_rate)
        if not all(0 <= r <= 1 for r in rates) or sum(rates) > 1:
            raise UsageError(f"fault rates must be in [0, 1] and sum to at most 1, got {rates}")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not self.kinds:
            raise UsageError(
                f"fault kinds must be among {', '.join(FAULT_KINDS)}, got {self.kinds}"
            )
        if set(self.script) - {"", "429", *FAULT_KINDS}:
            raise UsageError(f"unknown fault in script {self.script}")
        object.__setattr__(self, "outages", tuple((float(a), float(b)) for a, b in self.outages))

    def in_outage(self, now: float) -> bool:
        """Whether ``now`` falls in an outage window."""
        return any(start <= now < end for start, end in self.outages)


class VirtualClock:
    """Seconds that pass only when someone sleeps: a season of backoffs in no real time.

    Call it for the time (the retry decorator's ``clock``); pass ``clock.sleep`` as its
    ``sleep``. Thread-safe.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._slept = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds``, at once."""
        if seconds < 0:
            raise UsageError(f"cannot sleep a negative time ({seconds})")
        with self._lock:
            self._now += seconds
            self._slept += seconds

    def advance_to(self, moment: float) -> None:
        """Move the clock forward to ``moment`` (never back), e.g. to the next nightly run."""
        with self._lock:
            self._now = max(self._now, moment)

    @property
    def slept(self) -> float:
        """Total seconds slept through :meth:`sleep`."""
        with self._lock:
            return self._slept


@dataclass
class ServerStats:
    """Requests served, by path and status (``"dropped"`` for a closed socket), and faults."""

    by_path_status: Counter[tuple[str, str]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, path: str, status: str, fault: str | None) -> None:
        """Count one request."""
        with self._lock:
            self.by_path_status[(path, status)] += 1
            if fault:
                self.faults[fault] += 1

    @property
    def requests(self) -> int:
        """All requests received."""
        with self._lock:
            return sum(self.by_path_status.values())

    @property
    def by_path(self) -> Counter[str]:
        """Requests by path."""
        return self._sum(0)

    @property
    def by_status(self) -> Counter[str]:
        """Requests by status: ``"200"``, ``"503"``, ... or ``"dropped"``."""
        return self._sum(1)

    def _sum(self, part: int) -> Counter[str]:
        out: Counter[str] = Counter()
        with self._lock:
            for key, n in self.by_path_status.items():
                out[key[part]] += n
        return out


# --- the server -------------------------------------------------------------------------------


class _Httpd(ThreadingHTTPServer):
    # Joined on close, so a test ends with no handler thread left behind.
    daemon_threads = False
    season: SeasonApi
    faults: FaultModel
    rng: random.Random
    rng_lock: threading.Lock
    scripted: int = 0
    clock: Callable[[], float]
    api_key: str
    stats: ServerStats
    stopping: threading.Event

    def draw_fault(self) -> str | None:
        """The fault for the request arriving now, if any (one draw per request)."""
        if self.faults.in_outage(self.clock()):
            return "outage"
        with self.rng_lock:
            if self.scripted < len(self.faults.script):
                self.scripted += 1
                return self.faults.script[self.scripted - 1] or None
            u, pick = self.rng.random(), self.rng.choice(self.faults.kinds)
        if u < self.faults.rate_limit_rate:
            return "429"
        return pick if u < self.faults.rate_limit_rate + self.faults.transient_rate else None


class _Handler(BaseHTTPRequestHandler):
    timeout = 10  # a client that connects and says nothing cannot hold a thread forever
    server: _Httpd

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stats count requests."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path, srv = url.path.rstrip("/") or "/", self.server
        fault = srv.draw_fault()
        if fault == "drop":
            srv.stats.count(path, "dropped", fault)
            self.close_connection = True
            return
        status, body, headers = self._answer(path, parse_qs(url.query), fault)
        srv.stats.count(path, str(status), fault)
        data = json.dumps(body).encode()
        if fault == "slow":
            srv.stopping.wait(srv.faults.slow_seconds)
        try:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a slow answer; nothing left to tell it

    def _answer(
        self, path: str, query: dict[str, list[str]], fault: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        srv = self.server
        if fault == "outage":
            return 503, {"error": "Service Unavailable (outage)"}, {}
        if fault == "429":
            return (
                429,
                {"error": "Too many requests"},
                {"Retry-After": f"{srv.faults.retry_after:g}"},
            )
        if fault in ("500", "502", "503"):
            return int(fault), {"error": f"injected {fault}"}, {}
        key = self.headers.get("Authorization", "")
        if not hmac.compare_digest(key.encode(), srv.api_key.encode()):
            return 401, {"error": "Unauthorized"}, {}
        try:
            body = srv.season.answer(path, query)
            if path == "/nba/v1/box_scores" and query.get("date", [""])[0] in {
                d.isoformat() for d in srv.faults.incomplete_dates
            }:
                body = {**body, "data": body["data"][::2]}
            return 200, body, {}
        except LookupError:
            return 404, {"error": "Not Found"}, {}
        except ValueError as exc:
            return 400, {"error": str(exc)}, {}


class BdlServer:
    """A running local balldontlie API; stop it, or use it as a context manager."""

    def __init__(self, httpd: _Httpd, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        host, port = httpd.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self.api_key = httpd.api_key
        self.stats = httpd.stats
        self.faults = httpd.faults
        self.season_seed = httpd.season.seed

    def games(self, day: dt.date) -> tuple[Game, ...]:
        """The games the server knows on ``day``."""
        return self._httpd.season.by_date.get(day, ())

    def stop(self) -> None:
        """Stop serving, release held answers, and wait for every handler thread."""
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> BdlServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    *,
    port: int = 0,
    api_key: str = "test-key",
    faults: FaultModel | None = None,
    clock: Callable[[], float] | None = None,
    seed: int = 7,
    fault_seed: int | None = None,
) -> BdlServer:
    """Start the local balldontlie API on 127.0.0.1 in a daemon thread.

    Args:
        port: TCP port; 0 picks a free one (read it from ``.url``).
        api_key: the key a request must send in ``Authorization``.
        faults: what to inject; default none.
        clock: seconds for the outage windows; default ``time.monotonic``.
        seed: the season's seed, as given to ``season_plan``.
        fault_seed: seeds the fault draws; default ``seed``.

    Returns:
        The running server.
    """
    httpd = _Httpd(("127.0.0.1", port), _Handler)
    httpd.season = SeasonApi(seed)
    httpd.faults = faults or FaultModel()
    httpd.rng = random.Random(f"faults-{seed if fault_seed is None else fault_seed}")
    httpd.rng_lock = threading.Lock()
    httpd.clock = clock or time.monotonic
    httpd.api_key = api_key
    httpd.stats = ServerStats()
    httpd.stopping = threading.Event()
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="bdl-server", daemon=True
    )
    thread.start()
    return BdlServer(httpd, thread)
