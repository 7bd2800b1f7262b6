"""The outcome benchmark's instruments: the event tape, the alert inbox and the gap count.

Each mode of :mod:`nba_props.outcome` measures its season with them: the :class:`Tape`
records every event with the virtual time it happened (retries counted, failed attempts
timed), the :class:`Inbox` is the on-call's webhook, keeping each alert with the virtual time
it arrived, and :func:`partition_gaps` reads, at the end of the season, which scheduled
partitions were left empty or short.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nba_props.bdl_server import VirtualClock
from phaseguard.events import Event, Recorder
from phaseguard.guard import Guard
from phaseguard.plan import ROWS, SCHEDULE, Metric, Plan, Probe

__all__ = ["Inbox", "Tape", "partition_gaps", "serve_inbox"]


class Tape:
    """The recorder: stamps each event with the virtual time, then keeps it in the store."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.store: Recorder | None = None
        self.kinds: Counter[str] = Counter()
        self.since_phase: list[tuple[float, Event]] = []

    def record(self, event: Event) -> None:
        self.kinds[event.kind] += 1
        self.since_phase.append((self.clock(), event))
        if self.store is not None:
            self.store.record(event)


class Inbox(ThreadingHTTPServer):
    """The on-call's webhook: keeps each alert with the virtual time it arrived."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(("127.0.0.1", 0), _InboxHandler)
        self.clock = clock
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        host, port = self.server_address[:2]
        self.url = f"http://{host!s}:{port}/alerts"


class _InboxHandler(BaseHTTPRequestHandler):
    server: Inbox

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the inbox keeps what arrives."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with self.server.lock:
            self.server.received.append((self.server.clock(), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@contextmanager
def serve_inbox(clock: VirtualClock) -> Iterator[Inbox]:
    server = Inbox(clock)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def partition_gaps(
    guard: Guard, start: dt.date, end: dt.date
) -> list[tuple[str, str, dt.date, int]]:
    """(phase, table key, date, games missing) of every scheduled partition with a gap.

    A partition has a gap when it is empty, or when it is the first phase's first table (the
    scraped box scores) and covers fewer games than the schedule lists; the first phase's
    other tables are fallback sources (the nbac gamebook), whose absence is no gap. Downstream tables
    are judged by emptiness only: their games follow the players with a history (the
    predictions of a team's first game are few even without faults), not the schedule.
    ``games missing`` counts the schedule's games absent from a first-phase partition.
    """
    config = guard.config
    table, date_column, unit_column = config.schedule.columns()  # the example's is a table
    unit = Metric("units", unit_column)
    scraped = config.phases[0]
    probes = [Probe(SCHEDULE, table, date_column, (ROWS, unit))]
    primary = scraped.tables[0]

    def judged(phase: Any, t: Any) -> bool:
        return phase is not scraped or t is primary

    for phase in config.phases:
        for t in phase.tables:
            if not judged(phase, t):
                continue
            counted = phase is scraped and t.unit is not None
            metrics = (ROWS, Metric("units", t.unit or "")) if counted else (ROWS,)
            probes.append(Probe(t.name, t.table, t.date_column, metrics))
    plan = Plan(start, end, tuple(probes))
    measured = guard.warehouse.measure(plan)
    gaps = []
    for day in plan.dates:
        scheduled = measured.scheduled(day, unit_column)
        if not scheduled:
            continue
        for phase in config.phases:
            for t in phase.tables:
                if not judged(phase, t):
                    continue
                missing = 0
                if phase is scraped and t.unit is not None:
                    covered = measured.get(t.name, day, Metric("units", t.unit))
                    missing = scheduled - int(covered or 0)
                if missing > 0 or measured.rows(t.name, day) == 0:
                    gaps.append((phase.name, t.name, day, missing))
    return gaps
