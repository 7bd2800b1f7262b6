"""Phase 4 of the example pipeline: the five precompute processors for one date.

A processor for date D reads history strictly before D (the summaries and box scores of
earlier dates), so it can run before D's games are played; only MLFS reads the same date's
PDC and TDZA rows, and runs after them. A warehouse holds one season, so "season" means
every earlier date in it. The SQL rules of :mod:`nba_props.analytics` hold here too.

The processors, keyed by the names the config gives their tables:

* PDC ``nba_precompute.player_daily_cache``: scoring and minutes averages per player.
* PSZA ``nba_precompute.player_shot_zone_analysis``: each player's shot mix.
* PCF ``nba_precompute.player_composite_factors``: fatigue, matchup and home/away per game.
* TDZA ``nba_precompute.team_defense_zone_analysis``: each team's defence.
* MLFS ``nba_predictions.ml_feature_store_v2``: the features the predictions read.
"""

from __future__ import annotations

import datetime as dt

from phaseguard.warehouse import Warehouse

from .analytics import CONTEXT, DAY, NOW, SCHEDULE, SUMMARY, TEAM_DEFENSE, box_scores, rounded

__all__ = [
    "FEATURES",
    "PCF",
    "PDC",
    "PSZA",
    "TDZA",
    "ml_feature_store",
    "player_composite_factors",
    "player_daily_cache",
    "player_shot_zone_analysis",
    "team_defense_zone_analysis",
]

PDC = "nba_precompute.player_daily_cache"
PSZA = "nba_precompute.player_shot_zone_analysis"
PCF = "nba_precompute.player_composite_factors"
TDZA = "nba_precompute.team_defense_zone_analysis"
FEATURES = "nba_predictions.ml_feature_store_v2"

_PLAYER_DAILY_CACHE = f"""
WITH history AS (
  SELECT player_id, team, points, minutes,
    ROW_NUMBER() OVER (PARTITION BY player_id ORDER BY game_date DESC, game_id DESC) AS recent
  FROM {SUMMARY}
  WHERE game_date < :d)
SELECT {DAY} AS cache_date, player_id,
  MAX(CASE WHEN recent = 1 THEN team END) AS team,
  CAST(COUNT(*) AS INTEGER) AS games_played,
  {rounded("AVG(points)")} AS points_avg_season,
  {rounded("AVG(CASE WHEN recent <= 5 THEN points END)")} AS points_avg_last5,
  {rounded("AVG(minutes)")} AS minutes_avg,
  {NOW} AS processed_at
FROM history
GROUP BY player_id
"""

# The box scores split shots into threes and twos only. The twos are split between the paint
# and mid-range by free throws drawn per two-point attempt: fouls come at the rim, so a
# player who draws more of them takes more of his twos in the paint (a heuristic, capped).
_PAINT_SHARE = "LEAST(0.85, 0.35 + 0.6 * CAST(fta AS DOUBLE) / NULLIF(fga - fg3a, 0))"
_PLAYER_SHOT_ZONE_ANALYSIS = f"""
WITH shots AS (
  SELECT player_id, SUM(fg_attempted) AS fga, SUM(fg3_attempted) AS fg3a,
    SUM(ft_attempted) AS fta
  FROM {box_scores()}
  WHERE game_date < :d
  GROUP BY player_id
  HAVING SUM(fg_attempted) > 0),
mix AS (
  SELECT player_id, CAST(fg3a AS DOUBLE) / fga AS three,
    COALESCE({_PAINT_SHARE}, 0.5) AS paint_share
  FROM shots)
SELECT {DAY} AS analysis_date, player_id,
  {rounded("(1 - three) * paint_share", 3)} AS paint_rate,
  {rounded("(1 - three) * (1 - paint_share)", 3)} AS mid_rate,
  {rounded("three", 3)} AS three_rate,
  {NOW} AS processed_at
FROM mix
"""

# Fatigue: 70 on a back-to-back, 15 less per day of rest up to three, 5 more per game in the
# last week. Matchup: 50 against a league-average defence, 1.5 more per point the opponent
# allows above the league, within 0..100. Home/away: the player's scoring at home (or away) over his season.
_PLAYER_COMPOSITE_FACTORS = f"""
WITH context AS (
  SELECT game_id, player_id, opponent, is_home, days_rest
  FROM {CONTEXT} WHERE game_date = :d),
allowed AS (
  SELECT team, AVG(points_allowed) AS allowed
  FROM {TEAM_DEFENSE} WHERE game_date < :d GROUP BY team),
league AS (
  SELECT AVG(points_allowed) AS allowed FROM {TEAM_DEFENSE} WHERE game_date < :d),
player AS (
  SELECT player_id, AVG(points) AS season,
    AVG(CASE WHEN is_home THEN points END) AS home,
    AVG(CASE WHEN NOT is_home THEN points END) AS away,
    COUNT(CASE WHEN game_date >= {DAY} - INTERVAL 7 DAY THEN 1 END) AS last_week
  FROM {SUMMARY} WHERE game_date < :d GROUP BY player_id)
SELECT {DAY} AS game_date, c.game_id, c.player_id,
  CAST(LEAST(100, GREATEST(0,
    70 - 15 * LEAST(c.days_rest, 3) + 5 * COALESCE(p.last_week, 0))) AS DOUBLE)
    AS fatigue_score,
  {rounded("LEAST(100, GREATEST(0, 50 + 1.5 * COALESCE(a.allowed - l.allowed, 0)))")}
    AS matchup_score,
  {rounded("COALESCE(CASE WHEN c.is_home THEN p.home ELSE p.away END - p.season, 0)", 2)}
    AS home_away_adj,
  {NOW} AS processed_at
FROM context c
CROSS JOIN league l
LEFT JOIN allowed a ON a.team = c.opponent
LEFT JOIN player p ON p.player_id = c.player_id
"""

# Every team of the season's schedule; a team with no game yet gets the league's numbers,
# and before the first game of the season there is nothing to analyse (no rows).
# def_rating is points allowed per game; the allowed rates are the shot mix of the players
# who faced the team (paint share as in PSZA).
_TEAM_DEFENSE_ZONE_ANALYSIS = f"""
WITH teams AS (
  SELECT home_team AS team FROM {SCHEDULE}
  UNION
  SELECT away_team AS team FROM {SCHEDULE}),
allowed AS (
  SELECT team, AVG(points_allowed) AS def_rating
  FROM {TEAM_DEFENSE} WHERE game_date < :d GROUP BY team),
faced AS (
  SELECT opponent AS team, SUM(fg_attempted) AS fga, SUM(fg3_attempted) AS fg3a,
    SUM(ft_attempted) AS fta
  FROM {box_scores()} WHERE game_date < :d GROUP BY opponent),
rates AS (
  SELECT team, CAST(fg3a AS DOUBLE) / NULLIF(fga, 0) AS three,
    {_PAINT_SHARE} AS paint_share
  FROM faced),
league AS (
  SELECT
    (SELECT AVG(points_allowed) FROM {TEAM_DEFENSE} WHERE game_date < :d) AS def_rating,
    AVG(three) AS three, AVG(paint_share) AS paint_share
  FROM rates)
SELECT {DAY} AS analysis_date, t.team,
  {rounded("(1 - COALESCE(r.three, l.three)) * COALESCE(r.paint_share, l.paint_share)", 3)}
    AS paint_allowed_rate,
  {rounded("COALESCE(r.three, l.three)", 3)} AS three_allowed_rate,
  {rounded("COALESCE(a.def_rating, l.def_rating)")} AS def_rating,
  {NOW} AS processed_at
FROM teams t
CROSS JOIN league l
LEFT JOIN allowed a ON a.team = t.team
LEFT JOIN rates r ON r.team = t.team
WHERE l.def_rating IS NOT NULL
"""

# A player without a PDC row for the date has no history to predict from: no features.
_ML_FEATURE_STORE = f"""
SELECT {DAY} AS game_date, c.game_id, c.player_id,
  p.points_avg_last5, p.points_avg_season,
  t.def_rating AS opp_def_rating, c.is_home, c.days_rest,
  {NOW} AS processed_at
FROM {CONTEXT} c
JOIN {PDC} p ON p.player_id = c.player_id AND p.cache_date = :d
LEFT JOIN {TDZA} t ON t.team = c.opponent AND t.analysis_date = :d
WHERE c.game_date = :d
"""


def player_daily_cache(date: dt.date, warehouse: Warehouse) -> int:
    """PDC: write ``player_daily_cache`` for ``cache_date = date``.

    One row per player with a game before ``date``: games played, season and last-5
    scoring averages (the last five by a window over his games), average minutes, and the
    team of his latest game.

    Returns:
        The rows written.
    """
    return warehouse.replace_partition_from_query(PDC, "cache_date", date, _PLAYER_DAILY_CACHE)


def player_shot_zone_analysis(date: dt.date, warehouse: Warehouse) -> int:
    """PSZA: write ``player_shot_zone_analysis`` for ``analysis_date = date``.

    One row per player with a field-goal attempt before ``date``; paint, mid-range and
    three-point rates of his attempts sum to 1.

    Returns:
        The rows written.
    """
    return warehouse.replace_partition_from_query(
        PSZA, "analysis_date", date, _PLAYER_SHOT_ZONE_ANALYSIS
    )


def player_composite_factors(date: dt.date, warehouse: Warehouse) -> int:
    """PCF: write ``player_composite_factors`` for ``date``: one row per upcoming player game.

    Reads the date's ``upcoming_player_game_context`` and the history before it.

    Returns:
        The rows written.
    """
    return warehouse.replace_partition_from_query(PCF, "game_date", date, _PLAYER_COMPOSITE_FACTORS)


def team_defense_zone_analysis(date: dt.date, warehouse: Warehouse) -> int:
    """TDZA: write ``team_defense_zone_analysis`` for ``analysis_date = date``.

    One row per team of the schedule (30), none before the season's first game.

    Returns:
        The rows written.
    """
    return warehouse.replace_partition_from_query(
        TDZA, "analysis_date", date, _TEAM_DEFENSE_ZONE_ANALYSIS
    )


def ml_feature_store(date: dt.date, warehouse: Warehouse) -> int:
    """MLFS: write ``ml_feature_store_v2`` for ``date``: one row per upcoming player game.

    Joins the date's context with the date's PDC (required: no cache, no features) and
    TDZA (optional: ``opp_def_rating`` is NULL without it), so it runs after both.

    Returns:
        The rows written.
    """
    return warehouse.replace_partition_from_query(FEATURES, "game_date", date, _ML_FEATURE_STORE)
