"""The example pipeline's steps, as its config names them (``phaseguard.nba.steps:phase2``).

Phase 2 scrapes balldontlie (the official SDK, retried with the action plan's parameters);
phases 3 to 6 are the processors over the warehouse. ``configure`` lets the demo and the
benchmarks hand in a virtual clock, so a season of 60-second back-offs runs in seconds.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from phaseguard.nba.processors import phase3, phase4, phase5, phase6
from phaseguard.nba.scraper import bdl_client, scrape_box_scores

__all__ = ["configure", "phase2", "phase3", "phase4", "phase5", "phase6"]

_settings: dict[str, Any] = {"sleep": None, "clock": None, "client": None, "timeout": 30.0}


def configure(
    *,
    sleep: Callable[[float], object] | None = None,
    clock: Callable[[], float] | None = None,
    client: Any = None,
    timeout: float = 30.0,
) -> None:
    """Set how phase 2 waits between attempts and which client it uses (None: defaults)."""
    _settings.update(sleep=sleep, clock=clock, client=client, timeout=timeout)


def phase2(date: dt.date, ctx: Any) -> int:
    """Step: scrape ``date``'s box scores into ``nba_raw.bdl_player_boxscores``.

    The API is ``BALLDONTLIE_BASE_URL`` with ``BALLDONTLIE_API_KEY`` (see
    :func:`~phaseguard.nba.scraper.bdl_client`). Every attempt is an event; when a call's
    last attempt fails the step fails, and the runner alerts once for that (phase, date).
    """
    guard = ctx.guard
    result = scrape_box_scores(
        date,
        client=_settings["client"] or bdl_client(),
        warehouse=ctx.warehouse,
        recorder=guard.recorder,
        sleep=_settings["sleep"] or time.sleep,
        clock=_settings["clock"],
        timeout=_settings["timeout"],
        pipeline=guard.config.pipeline,
    )
    return result.rows
