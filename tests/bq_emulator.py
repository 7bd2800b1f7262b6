"""The local BigQuery emulator the BigQuery tests run against (PyPI ``bqemulator`` 1.4.0).

This file has two lives:

* run as a script by the emulator's own virtualenv (``.venv-bq``, built by
  ``scripts/bqemulator-venv.sh``; it has its own because bqemulator pins ``sqlglot<30.12``),
  it starts the emulator on 127.0.0.1 with random ports and prints ``READY <url>``.
  Before starting, it turns off the loading of DuckDB's spatial extension, which the
  emulator downloads at start and which fails on a machine without internet; nothing
  phaseguard does needs GEOGRAPHY. It exits when its stdin closes, so a test session that
  dies never leaves an emulator behind;
* imported by the tests, :func:`start` launches that script and waits for the URL.

A missing ``.venv-bq`` is a loud failure with the command that builds it, never a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("BQEMULATOR_VENV", ROOT / ".venv-bq"))
START_TIMEOUT = 60.0
_DRAINERS: dict[int, threading.Thread] = {}


class EmulatorMissing(RuntimeError):
    """The emulator's virtualenv is not built or the emulator would not start."""


def start() -> tuple[subprocess.Popen[str], str]:
    """Start the emulator in a subprocess; return it and its REST endpoint URL."""
    python = VENV / "bin" / "python"
    if not python.exists():
        raise EmulatorMissing(
            f"the BigQuery emulator is not installed: {python} is missing. "
            "Build it with scripts/bqemulator-venv.sh (test.sh does)."
        )
    proc = subprocess.Popen(
        [str(python), str(Path(__file__).resolve())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BQEMU_LOG_LEVEL": "warning"},
    )
    url = _wait_ready(proc)
    if url is None:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        tail = "\n".join(err.strip().splitlines()[-15:])
        raise EmulatorMissing(f"the BigQuery emulator did not start:\n{tail}")
    # The emulator logs to stderr; drain it so a full pipe can never block the server.
    drainer = threading.Thread(target=_drain, args=(proc,), daemon=True)
    drainer.start()
    _DRAINERS[proc.pid] = drainer
    return proc, url


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop the emulator started by :func:`start`: close its stdin, then wait for it."""
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    drainer = _DRAINERS.pop(proc.pid, None)
    if drainer is not None:
        drainer.join(timeout=5)


def _wait_ready(proc: subprocess.Popen[str]) -> str | None:
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("READY "):
                found.append(line.split(" ", 1)[1].strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and not found and proc.poll() is None:
        reader.join(timeout=0.1)
    return found[0] if found else None


def _drain(proc: subprocess.Popen[str]) -> None:
    for stream in (proc.stderr, proc.stdout):
        if stream is not None:
            with stream:
                for _ in stream:
                    pass


def _serve() -> None:  # pragma: no cover - runs inside .venv-bq
    import asyncio

    from bqemulator.config import PersistenceMode, Settings
    from bqemulator.server import EmulatorServer
    from bqemulator.storage.engine import DuckDBEngine

    # Offline machines cannot download the spatial (and avro) extensions; skip them.
    DuckDBEngine._load_spatial = lambda self: None  # type: ignore[method-assign]
    DuckDBEngine._load_format_extensions = lambda self: None  # type: ignore[method-assign]

    async def serve() -> None:
        settings = Settings(
            persistence_mode=PersistenceMode.EPHEMERAL,
            rest_host="127.0.0.1",
            rest_port=0,
            grpc_host="127.0.0.1",
            grpc_port=0,
        )
        server = EmulatorServer(settings)
        await server.start()
        print(f"READY {server.rest_url}", flush=True)
        # stdin closes when the parent stops us or dies.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await server.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    _serve()
