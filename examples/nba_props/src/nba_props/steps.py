"""The example pipeline's steps, as its config names them (``nba_props.steps:phase2``).

Phase 2 scrapes balldontlie (the official SDK, retried with the action plan's parameters),
then falls back on NBA.com's gamebook for the games balldontlie left out; phases 3 to 6 are
the processors over the warehouse. ``configure`` lets the demo and the benchmarks hand in a
virtual clock and a seeded random source, so a season of 60-second back-offs runs in seconds
and the same seed gives the same run.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import Any

from nba_props.analytics import GAMEBOOK
from nba_props.processors import ensure_schema, phase3, phase4, phase5, phase6
from nba_props.scraper import TABLE, bdl_client, scrape_box_scores
from phaseguard.events import Event

__all__ = ["configure", "phase2", "phase3", "phase4", "phase5", "phase6"]

_settings: dict[str, Any] = {
    "sleep": None,
    "clock": None,
    "client": None,
    "timeout": 30.0,
    "rng": None,
}


def configure(
    *,
    sleep: Callable[[float], object] | None = None,
    clock: Callable[[], float] | None = None,
    client: Any = None,
    timeout: float = 30.0,
    rng: random.Random | None = None,
) -> None:
    """Set how phase 2 waits between attempts and which client it uses (None: defaults)."""
    _settings.update(sleep=sleep, clock=clock, client=client, timeout=timeout, rng=rng)


def phase2(date: dt.date, ctx: Any) -> int:
    """Step: scrape ``date``'s box scores into ``nba_raw.bdl_player_boxscores``, then fall back.

    The API is ``BALLDONTLIE_BASE_URL`` with ``BALLDONTLIE_API_KEY`` (see
    :func:`~nba_props.scraper.bdl_client`). Every attempt is an event; when a call's
    last attempt fails the step fails, and the runner alerts once for that (phase, date).

    When balldontlie answers but leaves scheduled games out (HTTP 200, half the games),
    the games NBA.com's gamebook (``nba_raw.nbac_gamebook_player_stats``) holds are read
    from it by phase 3 (``boxscores_fallback``); the games missing from both sources are a
    ``data_gap`` in the gap ledger, so the next night's run knows what to fetch again.
    Returns the rows loaded from balldontlie.
    """
    guard = ctx.guard
    pipeline = guard.config.pipeline
    result = scrape_box_scores(
        date,
        client=_settings["client"] or bdl_client(),
        warehouse=ctx.warehouse,
        recorder=guard.recorder,
        sleep=_settings["sleep"] or time.sleep,
        clock=_settings["clock"],
        rng=_settings["rng"],
        timeout=_settings["timeout"],
        pipeline=pipeline,
        phase=ctx.phase,
    )
    if not result.missing:
        return result.rows
    filled = gamebook_games(ctx.warehouse, date, result.missing)
    left = [g for g in result.missing if g not in filled]
    if filled:
        message = (
            f"{len(filled)} of {len(result.missing)} games missing from bdl read from the gamebook"
        )
        details = {"source": "nbac", "table": GAMEBOOK, "games": sorted(filled)}
        guard.recorder.record(
            Event("boxscores_fallback", "info", message, pipeline, ctx.phase, date, details)
        )
    if left:
        message = (
            f"box scores for {date}: {len(left)} of {result.games_expected} games in neither "
            "bdl nor the nbac gamebook"
        )
        details = {
            "source": "bdl+nbac",
            "table": TABLE,
            "date": date.isoformat(),
            "key": f"{len(left)} games: {', '.join(left[:5])}{' …' if len(left) > 5 else ''}",
            "missing": left,
        }
        guard.recorder.record(
            Event("data_gap", "warning", message, pipeline, ctx.phase, date, details)
        )
    return result.rows


def gamebook_games(warehouse: Any, date: dt.date, games: tuple[str, ...]) -> set[str]:
    """Which of ``games`` NBA.com's gamebook holds player lines for on ``date``."""
    ensure_schema(warehouse)
    rows = warehouse.select_for_date(
        f"SELECT DISTINCT game_id FROM {GAMEBOOK} WHERE game_date = :d", date
    )
    return {str(r[0]) for r in rows} & set(games)
