"""Running deploy probes: commands, HTTP endpoints and environment variables, in parallel.

Each probe runs in a thread of one pool and has its own timeout. A command that outlives it
is killed with its whole process group (it runs in a session of its own, so a ``sh -c`` and
its children go together); an HTTP probe is cut by httpx's timeout. A probe that hangs is
reported as "timed out after Ns" and the others still finish.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx

from .deployment import Catalogue, DeployItem, DeployReport, Status, check_warehouse, implicit
from .infra import CommandProbe, EnvProbe, HttpProbe, Probe
from .redact import redact

if TYPE_CHECKING:
    from .config import Config

DEFAULT_TIMEOUT = 10.0
_MAX_WORKERS = 32


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _first_line(data: bytes) -> str:
    # gcloud and bq put the reason first ("ERROR: (gcloud...) NOT_FOUND: ..."), hints after.
    lines = [line.strip() for line in data.decode(errors="replace").splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def run_command(
    argv: Sequence[str], *, timeout: float, env: Mapping[str, str], expect_output: bool = False
) -> tuple[bool, str]:
    """Run ``argv`` without a shell; (present, what is wrong). Killed with its group on timeout."""
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
            start_new_session=True,
        )
    except FileNotFoundError:
        return False, f"{argv[0]}: command not found"
    except OSError as exc:
        return False, f"cannot run {argv[0]}: {exc.strerror}"
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return False, f"timed out after {_seconds(timeout)}"
    if proc.returncode != 0:
        reason = _first_line(stderr) or _first_line(stdout)
        return False, f"exit {proc.returncode}" + (f": {reason}" if reason else "")
    if expect_output and not stdout.strip():
        return False, "exit 0 but no output"
    return True, ""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # Kill the session's whole group: a grandchild holding the pipes would otherwise keep a
    # read blocked. Then reap without reading, for the same reason.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def fetch_status(url: str, *, timeout: float, expect_status: int) -> tuple[bool, str]:
    """GET ``url`` (headers only, redirects followed); (present, what is wrong)."""
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            status = response.status_code
    except httpx.TimeoutException:
        return False, f"timed out after {_seconds(timeout)}"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return False, f"cannot connect: {exc or type(exc).__name__}"
    if status != expect_status:
        return False, f"HTTP {status}, expected {expect_status}"
    return True, ""


def run_probe(probe: Probe, shared: Mapping[str, str], *, timeout: float) -> DeployItem:
    """Run one probe; its own ``timeout_seconds`` wins over ``timeout``."""
    seconds = probe.timeout_seconds or timeout
    variables = probe.variables(shared)
    if isinstance(probe, CommandProbe):
        present, detail = run_command(
            probe.command(variables),
            timeout=seconds,
            env=probe.environment(variables),
            expect_output=probe.expect_output,
        )
    elif isinstance(probe, HttpProbe):
        present, detail = fetch_status(
            probe.target(variables), timeout=seconds, expect_status=probe.expect_status
        )
    else:
        present = isinstance(probe, EnvProbe) and bool(os.environ.get(probe.variable))
        detail = "" if present else f"environment variable {probe.variable} is not set or empty"
    # A probe URL may carry a key (``?api_key=``): every text shown is masked (``redact``).
    return DeployItem(
        group=probe.heading,
        name=redact(probe.name),
        status=Status.PRESENT if present else Status.MISSING,
        detail=redact(detail),
        how_to_check=redact(probe.how(variables)),
    )


def run_probes(
    probes: Sequence[Probe], shared: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT
) -> list[DeployItem]:
    """Run every probe in parallel, each with its timeout; items in the probes' order."""
    if not probes:
        return []
    workers = min(_MAX_WORKERS, len(probes))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="phaseguard-probe") as pool:
        futures = [pool.submit(run_probe, p, shared, timeout=timeout) for p in probes]
        return [future.result() for future in futures]


def skipped(probes: Sequence[Probe], shared: Mapping[str, str]) -> list[DeployItem]:
    """Every probe as SKIPPED (offline): listed, with how to check it by hand, never run."""
    return [
        DeployItem(
            group=p.heading,
            name=p.name,
            status=Status.SKIPPED,
            detail="offline: not run",
            how_to_check=p.how(p.variables(shared)),
        )
        for p in probes
    ]


def offline_from_env() -> bool:
    """Whether ``PHASEGUARD_OFFLINE`` asks to skip the probes (1, true, yes)."""
    return os.environ.get("PHASEGUARD_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def deploy_check(
    config: Config,
    catalogue: Catalogue,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    offline: bool = False,
) -> DeployReport:
    """Check the warehouse objects (two catalogue queries), then run the probes in parallel.

    Without an ``infrastructure:`` section, the tables the config names are expected and
    the schemas they live in are searched for drift. ``offline`` (or ``PHASEGUARD_OFFLINE``)
    lists the probes as SKIPPED instead of running them (no gcloud, no network).
    """
    infra = config.infrastructure or implicit(config)
    items = check_warehouse(config, infra, catalogue)
    if offline or offline_from_env():
        items += skipped(infra.probes, infra.texts)
    else:
        items += run_probes(infra.probes, infra.texts, timeout=timeout)
    return DeployReport(pipeline=config.pipeline, items=tuple(items))
