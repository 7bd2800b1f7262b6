"""Phases 5 and 6 of the example pipeline: five prediction systems, and their grades.

The five systems are honest, simple baselines over the feature store (no peeking at the
date's box scores): each predicts a player's points for one game. All of them write one
table, ``nba_predictions.player_prop_predictions``, told apart by ``system_id``, in one
replace of the date's partition. The grades join the predictions with the points actually
scored. The SQL rules of :mod:`nba_props.analytics` hold here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from phaseguard.errors import UsageError
from phaseguard.warehouse import Warehouse

from .analytics import DAY, NOW, SUMMARY, box_scores, rounded
from .precompute import FEATURES, TDZA
from .schema import SYSTEMS

__all__ = ["GRADES", "PREDICTIONS", "SYSTEMS", "grades", "predictions"]

PREDICTIONS = "nba_predictions.player_prop_predictions"
GRADES = "nba_predictions.prediction_grades"

EDGE = 1.0
"""Points between prediction and line needed to recommend OVER or UNDER; closer is PASS."""

# What each system predicts, as an expression over the `base` CTE below.
_PREDICTED = {
    "season_avg": "season_avg",
    "last5_avg": "last5_avg",
    "opponent_adjusted": "opponent_adjusted",
    "home_away_split": "home_away_split",
    "ensemble": "(season_avg + last5_avg + opponent_adjusted + home_away_split) / 4",
}

# opponent_adjusted scales the season average by how many points the opponent allows
# against the league (the date's TDZA mean); home_away_split takes the player's average at
# home (or away) this season; both fall back to the season average when they cannot tell.
# The line stands in for the bookmaker's, who weighs the season and recent form alike: the
# floor of the mean of the season and last-5 averages, plus a half point.
_BASE = f"""
WITH features AS (
  SELECT game_id, player_id, points_avg_season, points_avg_last5, opp_def_rating, is_home
  FROM {FEATURES} WHERE game_date = :d AND points_avg_season IS NOT NULL),
league AS (
  SELECT AVG(def_rating) AS def_rating FROM {TDZA} WHERE analysis_date = :d),
split AS (
  SELECT player_id, AVG(CASE WHEN is_home THEN points END) AS home,
    AVG(CASE WHEN NOT is_home THEN points END) AS away
  FROM {SUMMARY} WHERE game_date < :d GROUP BY player_id),
base AS (
  SELECT f.game_id, f.player_id,
    f.points_avg_season AS season_avg,
    COALESCE(f.points_avg_last5, f.points_avg_season) AS last5_avg,
    f.points_avg_season * COALESCE(f.opp_def_rating / NULLIF(l.def_rating, 0), 1)
      AS opponent_adjusted,
    COALESCE(CASE WHEN f.is_home THEN s.home ELSE s.away END, f.points_avg_season)
      AS home_away_split,
    FLOOR((f.points_avg_season + COALESCE(f.points_avg_last5, f.points_avg_season)) / 2) + 0.5
      AS line
  FROM features f
  CROSS JOIN league l
  LEFT JOIN split s ON s.player_id = f.player_id),
systems AS (
{{branches}})
SELECT {DAY} AS game_date, game_id, player_id, system_id, predicted AS predicted_points, line,
  CASE WHEN predicted - line >= {EDGE} THEN 'OVER'
       WHEN predicted - line <= -{EDGE} THEN 'UNDER'
       ELSE 'PASS' END AS recommendation,
  {NOW} AS created_at
FROM systems
"""

# A player who did not play has no box score: his predictions are not graded.
_GRADES = f"""
SELECT p.game_date, p.game_id, p.player_id, p.system_id, p.predicted_points,
  x.points AS actual_points, p.line,
  {rounded("ABS(p.predicted_points - x.points)")} AS absolute_error,
  CASE p.recommendation WHEN 'OVER' THEN x.points > p.line
                        WHEN 'UNDER' THEN x.points < p.line END AS over_under_correct,
  {NOW} AS graded_at
FROM {PREDICTIONS} p
JOIN {box_scores("x")} ON x.game_id = p.game_id AND x.player_id = p.player_id AND x.game_date = :d
WHERE p.game_date = :d
"""


def predictions_sql(systems: Iterable[str] = SYSTEMS) -> str:
    """The SELECT of :func:`predictions` for ``systems`` (an empty set selects no rows).

    Raises:
        UsageError: A name that is not one of :data:`SYSTEMS`.
    """
    chosen = [s for s in SYSTEMS if s in set(systems)]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        raise UsageError(f"unknown prediction system {unknown[0]!r} (known: {', '.join(SYSTEMS)})")
    branches = [
        f"  SELECT game_id, player_id, '{system}' AS system_id, "
        f"{rounded(_PREDICTED[system])} AS predicted, line FROM base"
        for system in chosen
    ] or [
        "  SELECT game_id, player_id, 'none' AS system_id, season_avg AS predicted, line "
        "FROM base WHERE FALSE"
    ]
    return _BASE.replace("{branches}", "\n  UNION ALL\n".join(branches))


def predictions(date: dt.date, warehouse: Warehouse, systems: Iterable[str] = SYSTEMS) -> int:
    """Write ``player_prop_predictions`` for ``date``: one row per system per featured player.

    Every player game in the date's feature store with a season average gets one row from
    each of ``systems``; the other systems' rows for the date are removed (the whole date is
    replaced), which is how a fault drops a system.

    * ``season_avg``: the season scoring average.
    * ``last5_avg``: the average of the last five games.
    * ``opponent_adjusted``: the season average times the opponent's points allowed per
      game over the league's (TDZA).
    * ``home_away_split``: the player's average at home, or away, this season.
    * ``ensemble``: the mean of the four.

    ``line`` is the floor of the mean of the season and last-5 averages, plus 0.5 (a
    bookmaker's line stand-in); the recommendation is OVER or UNDER
    when the prediction is at least a point above or below it, else PASS.

    Returns:
        The rows written.

    Raises:
        UsageError: A name in ``systems`` that is not a known system.
    """
    return warehouse.replace_partition_from_query(
        PREDICTIONS, "game_date", date, predictions_sql(systems)
    )


def grades(date: dt.date, warehouse: Warehouse) -> int:
    """Write ``prediction_grades`` for ``date``: each prediction of a player who played.

    ``absolute_error`` is the distance to the points scored; ``over_under_correct`` says
    whether an OVER or UNDER recommendation came true (NULL for PASS).

    Returns:
        The rows written.
    """
    return warehouse.replace_partition_from_query(GRADES, "game_date", date, _GRADES)
