"""Alerts that do not depend on the store, and gates that a hanging sink cannot hold.

Usage::

    python bench/failsafe_alerts.py [--dates 10] [--gates 5] [--deadline SECONDS]

Builds a small pipeline in a temporary DuckDB file (a schedule of ``--dates`` dates, no box
scores for any of them, so the ``process`` gate blocks on each), starts a local HTTP server,
then runs ``phaseguard gate`` as separate processes, as a scheduler would:

1. **Store down**: the event store's directory is a file, so nothing can be written there.
   Each blocked date must still deliver its CRITICAL alert to the webhook and the stderr
   sink. Prints alerts delivered vs expected.
2. **Hanging sink**: the webhook accepts the connection and never answers. ``--gates``
   successive blocked gates must each decide within the delivery deadline (default 5 s, or
   ``--deadline``), not grow with the queue of alerts kept for the hanging sink (issue #13
   measured 17.8, 35.8, 52.4, 69.1 s); then an open gate with those alerts queued must not
   wait at all. Prints each command's wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from phaseguard.warehouse import connect

CONFIG = """\
pipeline: bench
warehouse: duckdb://bench.duckdb
{events}schedule: {{table: raw.schedule, date_column: game_date, unit: game_id}}
phases:
  - name: ingest
    tables:
      - {{name: box, table: raw.box, date_column: game_date, unit: game_id}}
    checks:
      - {{kind: rows_exist}}
  - name: process
    depends_on: [ingest]
    tables:
      - {{name: A, table: proc.a, date_column: d}}
gates:
  - phase: process
sinks:
  - {{kind: webhook, name: ops, url: "{url}"}}
  - {{kind: stderr}}
"""
OPEN_DAY = dt.date(2026, 1, 1)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append(self.path)
        if self.path == "/hang":
            self.server.release.wait(600)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[str] = []
        self.release = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up waiting: expected."""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


def build(root: Path, days: list[dt.date], *, url: str, events: str | None) -> Path:
    """The pipeline: one open date (OPEN_DAY), and ``days`` scheduled with no box scores."""
    root.mkdir(parents=True, exist_ok=True)
    line = f"events: {events}\n" if events else ""
    (root / "phaseguard.yml").write_text(CONFIG.format(events=line, url=url))
    with connect(f"duckdb://{root / 'bench.duckdb'}", base_dir=root) as wh:
        wh.create_table("raw.schedule", {"game_id": "VARCHAR", "game_date": "DATE"})
        wh.create_table("raw.box", {"game_id": "VARCHAR", "game_date": "DATE"})
        wh.create_table("proc.a", {"d": "DATE"})
        games = [(f"g{d:%m%d}", d) for d in [OPEN_DAY, *days]]
        wh.insert_rows("raw.schedule", ["game_id", "game_date"], games)
        wh.insert_rows("raw.box", ["game_id", "game_date"], [(f"g{OPEN_DAY:%m%d}", OPEN_DAY)])
    return root / "phaseguard.yml"


def gate(config: Path, day: dt.date, env: dict[str, str]) -> tuple[int, float, str]:
    """``phaseguard gate process --date DAY`` in its own process: (exit, seconds, stderr)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "phaseguard.cli", "gate", "process", "--date", str(day)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, time.perf_counter() - started, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", type=int, default=10, help="blocked dates, store down")
    parser.add_argument("--gates", type=int, default=5, help="successive gates, hanging sink")
    parser.add_argument("--deadline", type=float, default=None, help="delivery deadline, s")
    args = parser.parse_args()

    server = _Server()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    env = {**os.environ, "COLUMNS": "200"}
    if args.deadline is not None:
        env["PHASEGUARD_ALERT_DEADLINE"] = str(args.deadline)
    deadline = args.deadline if args.deadline is not None else 5.0
    first = dt.date(2026, 1, 10)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="phaseguard-failsafe-bench-") as tmp:
        env["PHASEGUARD_SPOOL_DIR"] = str(Path(tmp) / "user-spool")

        # 1. Store down: the store's directory is a file.
        days = [first + dt.timedelta(days=i) for i in range(args.dates)]
        blocker = Path(tmp) / "down" / "store-dir"
        blocker.parent.mkdir()
        blocker.write_text("not a directory")
        config = build(
            Path(tmp) / "down",
            days,
            url=server.url("/hook"),
            events=f"sqlite:///{blocker / 'events.sqlite'}",
        )
        stderr_alerts, blocked = 0, 0
        for day in days:
            code, _, err = gate(config, day, env)
            blocked += code == 2
            stderr_alerts += f"CRITICAL opened: process BLOCKED for {day}" in err
        hook = server.posts.count("/hook")
        rows += [
            ("store down: gates blocked", f"{blocked} / {len(days)}"),
            ("store down: CRITICAL alerts on the webhook", f"{hook} / {len(days)}"),
            ("store down: CRITICAL alerts on the stderr sink", f"{stderr_alerts} / {len(days)}"),
        ]

        # 2. A hanging sink: five successive blocked gates, then an open gate.
        days = [first + dt.timedelta(days=i) for i in range(args.gates)]
        healthy = build(Path(tmp) / "healthy", days, url=server.url("/hook"), events=None)
        code, seconds, _ = gate(healthy, OPEN_DAY, env)
        rows.append(
            (f"start-up: open gate, healthy sink, nothing queued (exit {code})", f"{seconds:.1f} s")
        )
        config = build(Path(tmp) / "hang", days, url=server.url("/hang"), events=None)
        times = []
        for day in days:
            code, seconds, _ = gate(config, day, env)
            times.append(seconds)
            rows.append((f"hanging sink: blocked gate {day} (exit {code})", f"{seconds:.1f} s"))
        code, seconds, _ = gate(config, OPEN_DAY, env)
        rows.append(
            (
                f"hanging sink: open gate, {len(days)} alerts queued (exit {code})",
                f"{seconds:.1f} s",
            )
        )
        rows.append(("hanging sink: slowest blocked gate", f"{max(times):.1f} s"))
        rows.append(("delivery deadline", f"{deadline:g} s"))
        server.release.set()

    width = max(len(label) for label, _ in rows)
    print(f"| {'measure':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|------:|")
    for label, value in rows:
        print(f"| {label:<{width}} | {value} |")


if __name__ == "__main__":
    main()
