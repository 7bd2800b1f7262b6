"""The tables of the example warehouse: thirteen tables in four schemas, and their columns.

:data:`SCHEMA` is the one description of them: :func:`create_statements` creates them from
it, and the scraper, the processors and the benchmarks read the columns from it.
:data:`REFERENCE` holds the tables without a date (the teams list, a dimension the checks
read team codes from); :func:`create_statements` creates them too.
:data:`SYSTEMS` are the five prediction systems, the ``system_id`` values of the phase-5 and
phase-6 tables.
"""

from __future__ import annotations

from .schedule import TEAMS

__all__ = [
    "BUILD",
    "REFERENCE",
    "SCHEMA",
    "SYSTEMS",
    "TEAMS_TABLE",
    "TEAM_ROWS",
    "create_statements",
]

SYSTEMS = ("season_avg", "last5_avg", "opponent_adjusted", "home_away_split", "ensemble")
BUILD = "phaseguard_build"  # scratch schema for helper tables, dropped at the end

_COLUMNS = {
    "nba_raw.nbac_schedule": (
        "game_id VARCHAR, game_date DATE, season INTEGER, home_team VARCHAR, away_team VARCHAR"
    ),
    "nba_raw.bdl_player_boxscores": (
        "game_id VARCHAR, game_date DATE, player_id INTEGER, player_name VARCHAR, "
        "team VARCHAR, opponent VARCHAR, minutes DOUBLE, points INTEGER, rebounds INTEGER, "
        "assists INTEGER, fg_made INTEGER, fg_attempted INTEGER, fg3_made INTEGER, "
        "fg3_attempted INTEGER, ft_made INTEGER, ft_attempted INTEGER, scraped_at TIMESTAMP"
    ),
    # The second box-score source: NBA.com's gamebooks, published the morning after. The
    # same columns as balldontlie's, so phase 3 reads either (bdl first, see analytics.BOX).
    "nba_raw.nbac_gamebook_player_stats": (
        "game_id VARCHAR, game_date DATE, player_id INTEGER, player_name VARCHAR, "
        "team VARCHAR, opponent VARCHAR, minutes DOUBLE, points INTEGER, rebounds INTEGER, "
        "assists INTEGER, fg_made INTEGER, fg_attempted INTEGER, fg3_made INTEGER, "
        "fg3_attempted INTEGER, ft_made INTEGER, ft_attempted INTEGER, scraped_at TIMESTAMP"
    ),
    "nba_analytics.player_game_summary": (
        "game_id VARCHAR, game_date DATE, player_id INTEGER, team VARCHAR, opponent VARCHAR, "
        "is_home BOOLEAN, minutes DOUBLE, points INTEGER, rebounds INTEGER, assists INTEGER, "
        "fg_pct DOUBLE, processed_at TIMESTAMP"
    ),
    "nba_analytics.team_defense_game_summary": (
        "game_id VARCHAR, game_date DATE, team VARCHAR, opponent VARCHAR, "
        "points_allowed INTEGER, processed_at TIMESTAMP"
    ),
    "nba_analytics.upcoming_player_game_context": (
        "game_id VARCHAR, game_date DATE, player_id INTEGER, team VARCHAR, opponent VARCHAR, "
        "is_home BOOLEAN, days_rest INTEGER, processed_at TIMESTAMP"
    ),
    "nba_precompute.player_daily_cache": (
        "cache_date DATE, player_id INTEGER, team VARCHAR, games_played INTEGER, "
        "points_avg_season DOUBLE, points_avg_last5 DOUBLE, minutes_avg DOUBLE, "
        "processed_at TIMESTAMP"
    ),
    "nba_precompute.player_shot_zone_analysis": (
        "analysis_date DATE, player_id INTEGER, paint_rate DOUBLE, mid_rate DOUBLE, "
        "three_rate DOUBLE, processed_at TIMESTAMP"
    ),
    "nba_precompute.player_composite_factors": (
        "game_date DATE, game_id VARCHAR, player_id INTEGER, fatigue_score DOUBLE, "
        "matchup_score DOUBLE, home_away_adj DOUBLE, processed_at TIMESTAMP"
    ),
    "nba_precompute.team_defense_zone_analysis": (
        "analysis_date DATE, team VARCHAR, paint_allowed_rate DOUBLE, "
        "three_allowed_rate DOUBLE, def_rating DOUBLE, processed_at TIMESTAMP"
    ),
    "nba_predictions.ml_feature_store_v2": (
        "game_date DATE, game_id VARCHAR, player_id INTEGER, points_avg_last5 DOUBLE, "
        "points_avg_season DOUBLE, opp_def_rating DOUBLE, is_home BOOLEAN, days_rest INTEGER, "
        "processed_at TIMESTAMP"
    ),
    "nba_predictions.player_prop_predictions": (
        "game_date DATE, game_id VARCHAR, player_id INTEGER, system_id VARCHAR, "
        "predicted_points DOUBLE, line DOUBLE, recommendation VARCHAR, created_at TIMESTAMP"
    ),
    "nba_predictions.prediction_grades": (
        "game_date DATE, game_id VARCHAR, player_id INTEGER, system_id VARCHAR, "
        "predicted_points DOUBLE, actual_points INTEGER, line DOUBLE, absolute_error DOUBLE, "
        "over_under_correct BOOLEAN, graded_at TIMESTAMP"
    ),
}
SCHEMA: dict[str, dict[str, str]] = {
    table: dict(pair.split(" ") for pair in columns.split(", "))
    for table, columns in _COLUMNS.items()
}
"""Qualified table -> {column: SQL type}, in column order: the thirteen tables of the season."""


TEAMS_TABLE = "nba_reference.teams"
REFERENCE: dict[str, dict[str, str]] = {
    TEAMS_TABLE: {"team_id": "INTEGER", "team": "VARCHAR"},
}
"""Qualified table -> {column: SQL type}: the tables without a date (the 30 teams)."""
TEAM_ROWS: tuple[tuple[int, str], ...] = tuple(enumerate(TEAMS, start=1))
"""The teams list's rows: the codes the schedule uses, numbered as the rosters are."""


def create_statements() -> list[str]:
    """Create the schemas, a fresh scratch schema (:data:`BUILD`), the thirteen tables and the
    reference tables."""
    every = {**SCHEMA, **REFERENCE}
    schemas = sorted({name.split(".")[0] for name in every})
    tables = [
        f"CREATE OR REPLACE TABLE {name} ("
        + ", ".join(f"{col} {kind}" for col, kind in columns.items())
        + ")"
        for name, columns in every.items()
    ]
    return [
        f"DROP SCHEMA IF EXISTS {BUILD} CASCADE",
        *(f"CREATE SCHEMA IF NOT EXISTS {s}" for s in [*schemas, BUILD]),
        *tables,
    ]
