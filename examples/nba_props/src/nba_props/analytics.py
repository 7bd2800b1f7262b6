"""Phase 3 of the example pipeline: per-game summaries from the raw box scores and schedule.

Each processor replaces one date's partition of one table with the rows of one SELECT
(:meth:`~phaseguard.warehouse.Warehouse.replace_partition_from_query`), so re-running a date
replaces it and never duplicates it. The SQL is written in DuckDB's dialect and rendered by
the warehouse for DuckDB or PostgreSQL, so it keeps to what both engines share: no ``%``
operator (psycopg reads it as a placeholder), no ``::`` casts (``:d`` is the date
parameter), ``ROUND`` only on decimals (PostgreSQL has no ``round(double, int)``), and
divisions over ``NULLIF`` denominators (PostgreSQL raises on a zero divisor).

This module also holds the SQL fragments the later phases share (:data:`DAY`,
:func:`rounded`, :data:`NOW`).
"""

from __future__ import annotations

import datetime as dt

from phaseguard.warehouse import Warehouse

__all__ = [
    "BOX",
    "CONTEXT",
    "DAY",
    "GAMEBOOK",
    "NOW",
    "SCHEDULE",
    "SUMMARY",
    "TEAM_DEFENSE",
    "box_scores",
    "player_game_summary",
    "rounded",
    "team_defense_game_summary",
    "upcoming_player_game_context",
]

SCHEDULE = "nba_raw.nbac_schedule"
BOX = "nba_raw.bdl_player_boxscores"
GAMEBOOK = "nba_raw.nbac_gamebook_player_stats"
SUMMARY = "nba_analytics.player_game_summary"
TEAM_DEFENSE = "nba_analytics.team_defense_game_summary"
CONTEXT = "nba_analytics.upcoming_player_game_context"

DAY = "CAST(:d AS DATE)"
"""The processed date, typed: the bound parameter ``:d`` as a DATE on both engines."""

NOW = "CAST(CURRENT_TIMESTAMP AS TIMESTAMP)"
"""When the row was written (a backfill stamps the time it ran, as the real pipeline does)."""

ROSTER_DAYS = 30
"""How far back a player's box scores put him on a team's roster for a coming game."""

DEFAULT_DAYS_REST = 3
"""Days of rest of a player without a game in the roster window (the season's own default)."""


def box_scores(alias: str = "box") -> str:
    """The box scores phase 3 reads, as a FROM item: balldontlie's, else NBA.com's gamebook.

    Phase 2's fallback: a game balldontlie left out is read from the gamebook, so one
    source's gap does not become a gap downstream. The two tables have the same columns.
    """
    return (
        f"(SELECT * FROM {BOX} UNION ALL SELECT * FROM {GAMEBOOK} n "
        f"WHERE NOT EXISTS (SELECT 1 FROM {BOX} b WHERE b.game_id = n.game_id)) {alias}"
    )


def rounded(expr: str, digits: int = 1) -> str:
    """SQL rounding ``expr`` to ``digits`` decimals, as a DOUBLE, the same on both engines.

    Rounding a DECIMAL rounds half away from zero in DuckDB and PostgreSQL alike, and it
    sidesteps PostgreSQL's missing ``round(double precision, integer)``.
    """
    return f"CAST(ROUND(CAST({expr} AS DECIMAL(18, 6)), {digits}) AS DOUBLE)"


_PLAYER_GAME_SUMMARY = f"""
SELECT x.game_id, x.game_date, x.player_id, x.team, x.opponent,
  x.team = s.home_team AS is_home,
  x.minutes, x.points, x.rebounds, x.assists,
  {rounded("CAST(x.fg_made AS DOUBLE) / NULLIF(x.fg_attempted, 0)", 3)} AS fg_pct,
  {NOW} AS processed_at
FROM {box_scores("x")} JOIN {SCHEDULE} s ON s.game_id = x.game_id
WHERE x.game_date = :d
"""

# Points allowed by a team = the points its opponent's players scored in that game.
_TEAM_DEFENSE_GAME_SUMMARY = f"""
SELECT game_id, game_date, opponent AS team, team AS opponent,
  CAST(SUM(points) AS INTEGER) AS points_allowed,
  {NOW} AS processed_at
FROM {box_scores()}
WHERE game_date = :d
GROUP BY game_id, game_date, opponent, team
"""

# The roster of a team for a coming game: every player in the box scores of the last
# ROSTER_DAYS days (or of the date itself, which seeds the season's first night), on the team
# he played for most recently. days_rest counts the days between his previous game and this
# one, as the season's generator does (a back-to-back is 0).
_UPCOMING_PLAYER_GAME_CONTEXT = f"""
WITH games AS (
  SELECT game_id, home_team AS team, away_team AS opponent, TRUE AS is_home
  FROM {SCHEDULE} WHERE game_date = :d
  UNION ALL
  SELECT game_id, away_team AS team, home_team AS opponent, FALSE AS is_home
  FROM {SCHEDULE} WHERE game_date = :d),
seen AS (
  SELECT player_id, team,
    ROW_NUMBER() OVER (PARTITION BY player_id ORDER BY game_date DESC, game_id DESC) AS latest
  FROM {box_scores()}
  WHERE game_date <= :d AND game_date >= {DAY} - INTERVAL {ROSTER_DAYS} DAY),
previous AS (
  SELECT player_id, MAX(game_date) AS last_date
  FROM {box_scores()}
  WHERE game_date < :d AND game_date >= {DAY} - INTERVAL {ROSTER_DAYS} DAY
  GROUP BY player_id)
SELECT g.game_id, {DAY} AS game_date, s.player_id, g.team, g.opponent, g.is_home,
  CAST(COALESCE({DAY} - p.last_date - 1, {DEFAULT_DAYS_REST}) AS INTEGER) AS days_rest,
  {NOW} AS processed_at
FROM games g
JOIN seen s ON s.team = g.team AND s.latest = 1
LEFT JOIN previous p ON p.player_id = s.player_id
"""


def player_game_summary(date: dt.date, warehouse: Warehouse) -> int:
    """Write ``nba_analytics.player_game_summary`` for ``date``: one row per box-score row.

    ``is_home`` comes from the schedule; ``fg_pct`` is field goals made over attempted,
    NULL for a player without an attempt.

    Returns:
        The rows written.
    """
    return warehouse.replace_partition_from_query(SUMMARY, "game_date", date, _PLAYER_GAME_SUMMARY)


def team_defense_game_summary(date: dt.date, warehouse: Warehouse) -> int:
    """Write ``nba_analytics.team_defense_game_summary`` for ``date``: two rows per game.

    A team's ``points_allowed`` is its opponent's team total in the box scores, so a game
    without box scores has no rows.

    Returns:
        The rows written.
    """
    return warehouse.replace_partition_from_query(
        TEAM_DEFENSE, "game_date", date, _TEAM_DEFENSE_GAME_SUMMARY
    )


def upcoming_player_game_context(date: dt.date, warehouse: Warehouse) -> int:
    """Write ``nba_analytics.upcoming_player_game_context`` for ``date``.

    One row per player per scheduled game: the roster is every player seen in the box
    scores of the last 30 days up to ``date``, on his latest team; ``days_rest`` is the
    days since his previous game in the box scores, 3 when there is none in that window.
    Built before tip-off it holds the players seen before ``date``; rebuilt after the box
    scores land it also holds the night's newcomers.

    Returns:
        The rows written.
    """
    return warehouse.replace_partition_from_query(
        CONTEXT, "game_date", date, _UPCOMING_PLAYER_GAME_CONTEXT
    )
