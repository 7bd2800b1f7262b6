"""Benchmark: a season ``verify`` with 70+ checks of every kind against one hand-written query.

Builds the demo season (as ``core_bench.py`` does) at scale 1 and 100 (x100 rows per game
and per date) unless --quick, writes the example config with more checks: the row kinds
(not_null, accepted_values, range, row_count, reconciliation, ``where:`` filters on the
older kinds), the keyed kinds (unique on the natural keys, relationships to a phase-4 table
on the same date and to the teams dimension, accepted_values from the dimension, row_count
by group) and the learned kinds (volume_anomaly per game and per date, freshness_anomaly):
every kind on main. The teams dimension is the example's when it declares one, else the
bench declares ``nba_reference.teams`` and creates it in the warehouse. Then, for the season:

- counts the statements ``verify`` sends (it must be 1, asserted);
- times ``verify`` in-process (warm connection: plan, the one statement, judging), and its
  statement alone (``Warehouse.measure``);
- times one hand-written DuckDB query computing the same aggregates (one grouped select
  per table with FILTER clauses, the offending values with STRING_AGG in the same scan,
  the coverage semi-join; each keyed check as an engineer writes it: a grouped subquery
  per key, a LEFT JOIN to the parent's distinct keys; the learned checks' rows and newest
  timestamp per date over the wider history window; all joined on the date), plus the
  learned checks' median/MAD bands computed in Python from its rows, as verify does;
- counts the statements one single-date gate decision sends with the learned checks on
  (1: the baseline's history is read by the same statement, asserted), and times a verify
  of that one date (every check; only the learned tables read their history back).

Prints medians and the ratio (target: verify within 1.5x of the hand query).
Run:  python bench/checks_bench.py [--quick] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import yaml

import phaseguard
from nba_props.demo import build_demo
from nba_props.schema import SYSTEMS
from phaseguard.assess import phase_checks
from phaseguard.plan import build_plan

SEASON = (dt.date(2025, 10, 21), dt.date(2026, 4, 12))
TEAMS = (
    "ATL", "BKN", "BOS", "CHA", "CHI", "CLE", "DAL", "DEN", "DET", "GSW", "HOU", "IND", "LAC",
    "LAL", "MEM", "MIA", "MIL", "MIN", "NOP", "NYK", "OKC", "ORL", "PHI", "PHX", "POR", "SAC",
    "SAS", "TOR", "UTA", "WAS",
)  # fmt: skip
_TEAMS = "[" + ", ".join(TEAMS) + "]"
_SYSTEMS = "[" + ", ".join(SYSTEMS) + "]"

# The teams dimension (the example's own once it declares one: the same table and column).
TEAMS_DIMENSION = "nba_reference.teams"
_FROM_TEAMS = "values_from: {table: teams, column: team}"
_LEARN = "history: 28, sensitivity: 4"

# The checks added to each phase of the example (a check the example already has, whatever
# its name and tags, is not added twice), and to its gates.
EXTRA_CHECKS = {
    "phase2": [
        "{kind: not_null, table: bdl_boxscores, columns: [game_id, player_id]}",
        '{kind: not_null, name: scorers, table: bdl_boxscores, columns: [points], where: "minutes > 0"}',
        f"{{kind: accepted_values, table: bdl_boxscores, column: team, values: {_TEAMS}}}",
        "{kind: range, table: bdl_boxscores, column: minutes, min: 0, max: 60}",
        "{kind: range, table: bdl_boxscores, column: points, min: 0, max: 100}",
        "{kind: row_count, table: bdl_boxscores, pass: 1, severity: warn}",
        '{kind: distinct_count, name: players, table: bdl_boxscores, column: player_id, where: "minutes > 0", pass: 1}',
        '{kind: aggregate, name: points of rotation players, table: bdl_boxscores, expr: "AVG(points)", where: "minutes >= 10", pass: {between: [3, 40]}, severity: warn}',
        "{kind: freshness, table: bdl_boxscores, column: scraped_at, max_age_hours: 100000}",
        "{kind: not_null, table: nbac_gamebook, columns: [player_id]}",
        "{kind: unique, table: bdl_boxscores, columns: [game_id, player_id]}",
        f"{{kind: accepted_values, table: bdl_boxscores, column: team, {_FROM_TEAMS}}}",
        f"{{kind: accepted_values, table: bdl_boxscores, column: opponent, {_FROM_TEAMS}}}",
        "{kind: unique, table: nbac_gamebook, columns: [game_id, player_id]}",
        f"{{kind: volume_anomaly, table: bdl_boxscores, per: unit, {_LEARN}, severity: warn}}",
        "{kind: freshness_anomaly, table: bdl_boxscores, column: scraped_at, history: 28, severity: warn}",
        "{kind: volume_anomaly, table: nbac_gamebook, per: date, history: 28, severity: warn}",
    ],
    "phase3": [
        "{kind: not_null, table: player_game_summary, columns: [player_id, team]}",
        "{kind: range, table: player_game_summary, column: fg_pct, min: 0, max: 1}",
        f"{{kind: accepted_values, table: player_game_summary, column: team, values: {_TEAMS}}}",
        '{kind: reconciliation, name: summary rows, left: {table: player_game_summary, expr: "COUNT(*)"}, right: {table: bdl_boxscores, expr: "COUNT(*)"}, tolerance_pct: 50, severity: warn}',
        '{kind: reconciliation, name: points allowed, left: {table: team_defense, expr: "SUM(points_allowed)"}, right: {table: player_game_summary, expr: "SUM(points)"}, tolerance_pct: 5, severity: warn}',
        '{kind: row_count, name: scored against, table: team_defense, where: "points_allowed > 0", pass: 2}',
        "{kind: range, table: upcoming_context, column: days_rest, min: 0, max: 30}",
        '{kind: rows_per_unit, name: home players per game, table: upcoming_context, where: "is_home", pass: 1, severity: warn}',
        "{kind: not_null, table: player_game_summary, columns: [game_id, player_id]}",
        "{kind: unique, table: player_game_summary, columns: [game_id, player_id]}",
        "{kind: unique, table: team_defense, columns: [game_id, team]}",
        "{kind: relationships, table: team_defense, columns: [team], to: {table: teams, columns: [team]}}",
        "{kind: row_count, name: teams per game, table: team_defense, group_by: [game_id], pass: {between: [2, 2]}, severity: warn}",
        '{kind: relationships, name: home context played, table: upcoming_context, columns: [player_id, game_id], to: {table: player_game_summary, columns: [player_id, game_id]}, where: "is_home", severity: warn}',
    ],
    "phase4": [
        "{kind: not_null, table: PDC, columns: [player_id]}",
        "{kind: range, table: PDC, column: points_avg_season, min: 0, max: 60}",
        "{kind: range, table: PSZA, column: paint_rate, min: 0, max: 1}",
        "{kind: range, table: PSZA, column: three_rate, min: 0, max: 1}",
        "{kind: not_null, table: PCF, columns: [player_id, game_id]}",
        "{kind: range, table: TDZA, column: def_rating, min: 80, max: 140, severity: warn}",
        f"{{kind: accepted_values, table: TDZA, column: team, values: {_TEAMS}}}",
        "{kind: not_null, table: MLFS, columns: [player_id, game_id]}",
        "{kind: range, table: MLFS, column: days_rest, min: 0, max: 30}",
        "{kind: ratio, name: features per factor row, numerator: MLFS, denominator: PCF, pass: 0.5, severity: warn}",
        "{kind: unique, table: PDC, columns: [player_id]}",
        "{kind: unique, table: MLFS, columns: [player_id, game_id]}",
        "{kind: relationships, table: PCF, columns: [player_id, game_id], to: {table: MLFS, columns: [player_id, game_id]}, severity: warn}",
        f"{{kind: accepted_values, table: TDZA, column: team, {_FROM_TEAMS}}}",
    ],
    "phase5": [
        f"{{kind: accepted_values, table: predictions, column: system_id, values: {_SYSTEMS}}}",
        "{kind: accepted_values, table: predictions, column: recommendation, values: [OVER, UNDER, PASS]}",
        "{kind: not_null, table: predictions, columns: [predicted_points, line]}",
        "{kind: range, table: predictions, column: predicted_points, min: 0, max: 80}",
        "{kind: row_count, name: ensemble rows, table: predictions, where: \"system_id = 'ensemble'\", pass: 1}",
        "{kind: distinct_count, name: ensemble players, table: predictions, column: player_id, where: \"system_id = 'ensemble'\", pass: 1}",
        "{kind: freshness, name: ensemble fresh, table: predictions, column: created_at, max_age_hours: 100000, where: \"system_id = 'ensemble'\"}",
        "{kind: relationships, table: predictions, columns: [player_id, game_id], to: {table: MLFS, columns: [player_id, game_id]}}",
        "{kind: unique, table: predictions, columns: [game_id, player_id, system_id]}",
        "{kind: row_count, name: rows per system, table: predictions, group_by: [system_id], pass: 1}",
        f"{{kind: volume_anomaly, table: predictions, per: unit, {_LEARN}, severity: warn}}",
        "{kind: freshness_anomaly, table: predictions, column: created_at, history: 28, severity: warn}",
    ],
    "phase6": [
        "{kind: not_null, table: grades, columns: [actual_points]}",
        "{kind: range, table: grades, column: absolute_error, min: 0, max: 60, measure: share, excellent: 0, acceptable: 0.01}",
        '{kind: reconciliation, name: graded rows, left: {table: grades, expr: "COUNT(*)"}, right: {table: predictions, expr: "COUNT(*)"}, tolerance_pct: 30, severity: warn}',
        '{kind: aggregate, name: over/under hit rate, table: grades, expr: "AVG(CASE WHEN over_under_correct THEN 1.0 ELSE 0.0 END)", where: "line IS NOT NULL", pass: 0.3, severity: warn}',
        '{kind: ratio, name: graded with actuals, numerator: grades, denominator: predictions, where: "actual_points IS NOT NULL", pass: 0.7, severity: warn}',
        f"{{kind: accepted_values, table: grades, column: system_id, values: {_SYSTEMS}}}",
        '{kind: aggregate, name: ensemble MAE, table: grades, expr: "AVG(ABS(predicted_points - actual_points))", where: "system_id = \'ensemble\'", direction: lower, pass: 8, severity: warn}',
        "{kind: relationships, table: grades, columns: [player_id, game_id, system_id], to: {table: predictions, columns: [player_id, game_id, system_id]}, severity: warn}",
        "{kind: row_count, name: graded per system, table: grades, group_by: [system_id], pass: 1, severity: warn}",
        "{kind: volume_anomaly, table: grades, per: date, history: 28, severity: warn}",
    ],
    # The phase-3 gate with the learned checks on: a single-date decision, still one statement.
    "gate phase3": [
        f"{{kind: volume_anomaly, table: bdl_boxscores, per: unit, {_LEARN}, severity: warn}}",
        "{kind: freshness_anomaly, table: bdl_boxscores, column: scraped_at, history: 28, severity: warn}",
    ],
}
GATE = ("phase3", dt.date(2026, 1, 14))  # the phase-3 gate on a game date in mid-season


def _same(check: str) -> str:
    """What a check checks (its YAML without ``name`` and ``tags``), to find it twice."""
    parsed = {k: v for k, v in yaml.safe_load(check).items() if k not in ("name", "tags")}
    return json.dumps(parsed, sort_keys=True)


def bench_config(example: Path) -> str:
    """The example config with :data:`EXTRA_CHECKS` appended to each phase's and gate's
    checks (those it lacks), and the teams dimension declared unless it declares one."""
    lines = example.read_text().splitlines()
    have: dict[str, set[str]] = {}
    last: dict[int, str] = {}  # the line of each block's last check -> the block
    block = None  # the phase ("phase2") or gate ("gate phase3") being read
    for i, line in enumerate(lines):
        if line.startswith("  - name: "):
            block = line.removeprefix("  - name: ").strip()
        elif line.startswith("  - phase: "):
            block = "gate " + line.removeprefix("  - phase: ").strip()
        elif line and not line.startswith((" ", "#")):
            block = None
        if block and line.startswith("      - {kind:"):
            have.setdefault(block, set()).add(_same(line.removeprefix("      - ")))
            last = {at: b for at, b in last.items() if b != block} | {i: block}
    out: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("  - {kind: stderr"):  # the gate's alert is not the bench's output
            line = "  # " + line.lstrip()
        if line == "phases:" and not any(x.startswith("dimensions:") for x in lines):
            out += ["dimensions:", f"  - {{name: teams, table: {TEAMS_DIMENSION}}}", ""]
        out.append(line)
        extra = EXTRA_CHECKS.get(last.get(i, ""), [])
        out += [f"      - {c}" for c in extra if _same(c) not in have[last[i]]]
    return "\n".join(out) + "\n"


def ensure_teams(warehouse: Path) -> None:
    """The teams dimension in the warehouse, unless the demo built it (the 30 codes)."""
    conn = duckdb.connect(str(warehouse))
    schema, table = TEAMS_DIMENSION.split(".")
    found = conn.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    if not (found and found[0]):
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"CREATE TABLE {TEAMS_DIMENSION} (team_id INTEGER, team VARCHAR)")
        conn.executemany(
            f"INSERT INTO {TEAMS_DIMENSION} VALUES (?, ?)",
            [(i, team) for i, team in enumerate(TEAMS, start=1)],
        )
    conn.close()


def _in(values: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _key(columns: str, alias: str = "") -> str:
    """A key as text, ``a|b``."""
    return " || '|' || ".join(f"{alias}{c.strip()}" for c in columns.split(","))


def _present(columns: str, alias: str = "") -> str:
    return " AND ".join(f"{alias}{c.strip()} IS NOT NULL" for c in columns.split(","))


def _unique(table: str, day: str, key: str) -> str:
    """Duplicated keys per date: a grouped subquery per (date, key), then per date."""
    dup = f"n > 1 AND {_present(key)}"
    return f"""
  SELECT d, SUM(n) AS rows_, SUM(n - 1) FILTER (WHERE {dup}) AS bad,
    COUNT(*) FILTER (WHERE {dup}) AS keys, STRING_AGG({_key(key)} || '=' || n, ', ') FILTER (WHERE {dup})
  FROM (SELECT {day} AS d, {key}, COUNT(*) AS n FROM {table}
        WHERE {day} BETWEEN $start AND $end GROUP BY ALL) GROUP BY d"""


def _orphans(table: str, day: str, key: str, parent: str, on: str, where: str = "") -> str:
    """Keys with no parent row: a grouped subquery per (date, key) LEFT JOINed with the
    parent's distinct keys (``parent``: a select, named ``p``; ``on``: the join condition)."""
    orphan = f"p.{key.split(',')[0].strip()} IS NULL AND {_present(key, 'c.')}"
    return f"""
  SELECT c.d, SUM(c.n) AS rows_, SUM(c.n) FILTER (WHERE {orphan}) AS bad,
    COUNT(*) FILTER (WHERE {orphan}) AS keys,
    STRING_AGG({_key(key, "c.")} || '=' || c.n, ', ') FILTER (WHERE {orphan})
  FROM (SELECT {day} AS d, {key}, COUNT(*) AS n FROM {table}
        WHERE {day} BETWEEN $start AND $end {where} GROUP BY ALL) c
  LEFT JOIN ({parent}) p ON {on} GROUP BY c.d"""


def _same_date(parent: str, day: str, key: str) -> tuple[str, str]:
    """A parent with a date column: its distinct (date, key), joined on both."""
    select = f"SELECT DISTINCT {day} AS d, {key} FROM {parent} WHERE {day} BETWEEN $start AND $end"
    on = " AND ".join(f"p.{c} = c.{c}" for c in ["d", *(k.strip() for k in key.split(","))])
    return select, on


def _groups(table: str, day: str, key: str, bad: str) -> str:
    """Rows per group: a grouped subquery per (date, group), then per date."""
    return f"""
  SELECT d, SUM(n) AS rows_, COUNT(*) AS groups_, MIN(n), MAX(n),
    COUNT(*) FILTER (WHERE {bad}), STRING_AGG({key} || '=' || n, ', ') FILTER (WHERE {bad})
  FROM (SELECT {day} AS d, {key}, COUNT(*) AS n FROM {table}
        WHERE {day} BETWEEN $start AND $end GROUP BY ALL) GROUP BY d"""


# The hand-written query: what an engineer writes for the same numbers, in DuckDB's SQL.
TEAMS_IN, SYSTEMS_IN = _in(TEAMS), _in(SYSTEMS)
BDL, GAMEBOOK = "nba_raw.bdl_player_boxscores", "nba_raw.nbac_gamebook_player_stats"
PGS, TDGS = "nba_analytics.player_game_summary", "nba_analytics.team_defense_game_summary"
UPCOMING, PDC = "nba_analytics.upcoming_player_game_context", "nba_precompute.player_daily_cache"
PCF, TDZA = "nba_precompute.player_composite_factors", "nba_precompute.team_defense_zone_analysis"
MLFS, PREDS = "nba_predictions.ml_feature_store_v2", "nba_predictions.player_prop_predictions"
GRADES = "nba_predictions.prediction_grades"
_TEAM_LIST = f"SELECT DISTINCT team FROM {TEAMS_DIMENSION}"
_MLFS_KEYS = _same_date(MLFS, "game_date", "player_id, game_id")
_PGS_KEYS = _same_date(PGS, "game_date", "player_id, game_id")
_PRED_KEYS = _same_date(PREDS, "game_date", "player_id, game_id, system_id")
HAND = f"""
WITH units AS (  -- the learned checks' history: units per date over the wider window
  SELECT game_date AS d, COUNT(DISTINCT game_id) AS units FROM nba_raw.nbac_schedule
  WHERE game_date BETWEEN $hist AND $end GROUP BY 1
), sched AS (
  SELECT DISTINCT game_date AS d, game_id AS u FROM nba_raw.nbac_schedule
  WHERE game_date BETWEEN $wide AND $end
), present AS (
  SELECT DISTINCT game_date AS d, game_id AS u FROM nba_raw.bdl_player_boxscores
  WHERE game_date BETWEEN $wide AND $end
  UNION
  SELECT DISTINCT game_date, game_id FROM nba_raw.nbac_gamebook_player_stats
  WHERE game_date BETWEEN $wide AND $end
), coverage AS (
  SELECT s.d, COUNT(*) AS scheduled, COUNT(p.u) AS covered,
         STRING_AGG(CASE WHEN p.u IS NULL THEN s.u END, ', ') AS missing
  FROM sched s LEFT JOIN present p ON p.d = s.d AND p.u = s.u GROUP BY s.d
), horizon AS (
  SELECT MAX(game_date) AS newest FROM nba_raw.nbac_schedule WHERE game_date >= $start
), bdl AS (
  SELECT game_date AS d, COUNT(*) AS rows_,
    COUNT(*) FILTER (WHERE game_id IS NULL OR player_id IS NULL) AS ids_null,
    COUNT(*) FILTER (WHERE game_id IS NULL) AS game_id_null,
    COUNT(*) FILTER (WHERE player_id IS NULL) AS player_id_null,
    COUNT(*) FILTER (WHERE minutes > 0) AS playing,
    COUNT(*) FILTER (WHERE minutes > 0 AND points IS NULL) AS points_null,
    COUNT(*) FILTER (WHERE team NOT IN {TEAMS_IN}) AS bad_team,
    STRING_AGG(DISTINCT team, ', ') FILTER (WHERE team NOT IN {TEAMS_IN}) AS bad_teams,
    COUNT(*) FILTER (WHERE minutes < 0 OR minutes > 60) AS bad_minutes,
    MIN(minutes), MAX(minutes),
    COUNT(*) FILTER (WHERE points < 0 OR points > 100) AS bad_points,
    MIN(points), MAX(points),
    COUNT(DISTINCT player_id) FILTER (WHERE minutes > 0) AS players,
    AVG(points) FILTER (WHERE minutes >= 10) AS rotation_points,
    MAX(scraped_at) AS newest
  FROM nba_raw.bdl_player_boxscores WHERE game_date BETWEEN $hist AND $end GROUP BY 1
), gamebook AS (
  SELECT game_date AS d, COUNT(*) AS rows_, COUNT(*) FILTER (WHERE player_id IS NULL) AS nulls
  FROM nba_raw.nbac_gamebook_player_stats WHERE game_date BETWEEN $hist AND $end GROUP BY 1
), pgs AS (
  SELECT game_date AS d, COUNT(*) AS rows_,
    COUNT(*) FILTER (WHERE player_id IS NULL OR team IS NULL),
    COUNT(*) FILTER (WHERE game_id IS NULL OR player_id IS NULL),
    COUNT(*) FILTER (WHERE game_id IS NULL),
    COUNT(*) FILTER (WHERE player_id IS NULL), COUNT(*) FILTER (WHERE team IS NULL),
    COUNT(*) FILTER (WHERE fg_pct < 0 OR fg_pct > 1), MIN(fg_pct), MAX(fg_pct),
    COUNT(*) FILTER (WHERE team NOT IN {TEAMS_IN}),
    STRING_AGG(DISTINCT team, ', ') FILTER (WHERE team NOT IN {TEAMS_IN}),
    SUM(points) AS points
  FROM nba_analytics.player_game_summary WHERE game_date BETWEEN $start AND $end GROUP BY 1
), defense AS (
  SELECT game_date AS d, COUNT(*) AS rows_, SUM(points_allowed),
    COUNT(*) FILTER (WHERE points_allowed > 0)
  FROM nba_analytics.team_defense_game_summary WHERE game_date BETWEEN $start AND $end
  GROUP BY 1
), upcoming AS (
  SELECT game_date AS d, COUNT(*) AS rows_,
    COUNT(*) FILTER (WHERE days_rest < 0 OR days_rest > 30), MIN(days_rest), MAX(days_rest),
    COUNT(*) FILTER (WHERE is_home)
  FROM nba_analytics.upcoming_player_game_context WHERE game_date BETWEEN $start AND $end
  GROUP BY 1
), pdc AS (
  SELECT cache_date AS d, COUNT(*) AS rows_, COUNT(*) FILTER (WHERE player_id IS NULL),
    COUNT(*) FILTER (WHERE points_avg_season < 0 OR points_avg_season > 60),
    MIN(points_avg_season), MAX(points_avg_season)
  FROM nba_precompute.player_daily_cache WHERE cache_date BETWEEN $start AND $end GROUP BY 1
), psza AS (
  SELECT analysis_date AS d, COUNT(*) AS rows_,
    COUNT(*) FILTER (WHERE paint_rate < 0 OR paint_rate > 1), MIN(paint_rate), MAX(paint_rate),
    COUNT(*) FILTER (WHERE three_rate < 0 OR three_rate > 1), MIN(three_rate), MAX(three_rate)
  FROM nba_precompute.player_shot_zone_analysis
  WHERE analysis_date BETWEEN $start AND $end GROUP BY 1
), pcf AS (
  SELECT game_date AS d, COUNT(*) AS rows_,
    COUNT(*) FILTER (WHERE player_id IS NULL OR game_id IS NULL),
    COUNT(*) FILTER (WHERE player_id IS NULL), COUNT(*) FILTER (WHERE game_id IS NULL)
  FROM nba_precompute.player_composite_factors WHERE game_date BETWEEN $start AND $end
  GROUP BY 1
), tdza AS (
  SELECT analysis_date AS d, COUNT(*) AS rows_,
    COUNT(*) FILTER (WHERE def_rating < 80 OR def_rating > 140), MIN(def_rating),
    MAX(def_rating), COUNT(*) FILTER (WHERE team NOT IN {TEAMS_IN}),
    STRING_AGG(DISTINCT team, ', ') FILTER (WHERE team NOT IN {TEAMS_IN})
  FROM nba_precompute.team_defense_zone_analysis
  WHERE analysis_date BETWEEN $start AND $end GROUP BY 1
), mlfs AS (
  SELECT game_date AS d, COUNT(*) AS rows_,
    COUNT(*) FILTER (WHERE player_id IS NULL OR game_id IS NULL),
    COUNT(*) FILTER (WHERE player_id IS NULL), COUNT(*) FILTER (WHERE game_id IS NULL),
    COUNT(*) FILTER (WHERE days_rest < 0 OR days_rest > 30), MIN(days_rest), MAX(days_rest)
  FROM nba_predictions.ml_feature_store_v2 WHERE game_date BETWEEN $start AND $end GROUP BY 1
), preds AS (
  SELECT game_date AS d, COUNT(*) AS rows_, COUNT(DISTINCT system_id),
    COUNT(*) FILTER (WHERE system_id NOT IN {SYSTEMS_IN}),
    STRING_AGG(DISTINCT system_id, ', ') FILTER (WHERE system_id NOT IN {SYSTEMS_IN}),
    COUNT(*) FILTER (WHERE recommendation NOT IN ('OVER', 'UNDER', 'PASS')),
    STRING_AGG(DISTINCT recommendation, ', ')
      FILTER (WHERE recommendation NOT IN ('OVER', 'UNDER', 'PASS')),
    COUNT(*) FILTER (WHERE predicted_points IS NULL OR line IS NULL),
    COUNT(*) FILTER (WHERE predicted_points IS NULL), COUNT(*) FILTER (WHERE line IS NULL),
    COUNT(*) FILTER (WHERE predicted_points < 0 OR predicted_points > 80),
    MIN(predicted_points), MAX(predicted_points),
    COUNT(*) FILTER (WHERE system_id = 'ensemble'),
    COUNT(DISTINCT player_id) FILTER (WHERE system_id = 'ensemble'),
    MAX(created_at) FILTER (WHERE system_id = 'ensemble'),
    MAX(created_at) AS newest
  FROM nba_predictions.player_prop_predictions WHERE game_date BETWEEN $hist AND $end
  GROUP BY 1
), grades AS (
  SELECT game_date AS d, COUNT(*) AS rows_,
    COUNT(*) FILTER (WHERE actual_points IS NULL),
    COUNT(*) FILTER (WHERE absolute_error < 0 OR absolute_error > 60),
    MIN(absolute_error), MAX(absolute_error),
    AVG(CASE WHEN over_under_correct THEN 1.0 ELSE 0.0 END) FILTER (WHERE line IS NOT NULL),
    COUNT(*) FILTER (WHERE actual_points IS NOT NULL),
    COUNT(*) FILTER (WHERE system_id NOT IN {SYSTEMS_IN}),
    STRING_AGG(DISTINCT system_id, ', ') FILTER (WHERE system_id NOT IN {SYSTEMS_IN}),
    AVG(ABS(predicted_points - actual_points)),
    AVG(ABS(predicted_points - actual_points)) FILTER (WHERE system_id = 'ensemble')
  FROM nba_predictions.prediction_grades WHERE game_date BETWEEN $hist AND $end GROUP BY 1
), u_bdl AS ({_unique(BDL, "game_date", "game_id, player_id")}
), v_bdl AS (  -- team and opponent codes from the teams dimension
  SELECT b.game_date AS d,
    COUNT(*) FILTER (WHERE t.team IS NULL AND b.team IS NOT NULL) AS bad_team,
    STRING_AGG(DISTINCT b.team, ', ') FILTER (WHERE t.team IS NULL AND b.team IS NOT NULL),
    COUNT(*) FILTER (WHERE o.team IS NULL AND b.opponent IS NOT NULL) AS bad_opponent,
    STRING_AGG(DISTINCT b.opponent, ', ') FILTER (WHERE o.team IS NULL AND b.opponent IS NOT NULL)
  FROM {BDL} b LEFT JOIN ({_TEAM_LIST}) t ON t.team = b.team
    LEFT JOIN ({_TEAM_LIST}) o ON o.team = b.opponent
  WHERE b.game_date BETWEEN $start AND $end GROUP BY 1
), u_gamebook AS ({_unique(GAMEBOOK, "game_date", "game_id, player_id")}
), u_pgs AS ({_unique(PGS, "game_date", "game_id, player_id")}
), u_defense AS ({_unique(TDGS, "game_date", "game_id, team")}
), r_defense AS ({_orphans(TDGS, "game_date", "team", _TEAM_LIST, "p.team = c.team")}
), g_defense AS ({_groups(TDGS, "game_date", "game_id", "n NOT BETWEEN 2 AND 2")}
), r_upcoming AS ({_orphans(UPCOMING, "game_date", "player_id, game_id", *_PGS_KEYS, "AND is_home")}
), u_pdc AS ({_unique(PDC, "cache_date", "player_id")}
), u_mlfs AS ({_unique(MLFS, "game_date", "player_id, game_id")}
), r_pcf AS ({_orphans(PCF, "game_date", "player_id, game_id", *_MLFS_KEYS)}
), v_tdza AS ({_orphans(TDZA, "analysis_date", "team", _TEAM_LIST, "p.team = c.team")}
), r_preds AS ({_orphans(PREDS, "game_date", "player_id, game_id", *_MLFS_KEYS)}
), u_preds AS ({_unique(PREDS, "game_date", "game_id, player_id, system_id")}
), g_preds AS ({_groups(PREDS, "game_date", "system_id", "n < 1")}
), r_grades AS ({_orphans(GRADES, "game_date", "player_id, game_id, system_id", *_PRED_KEYS)}
), g_grades AS ({_groups(GRADES, "game_date", "system_id", "n < 1")}
)
SELECT units.units AS "units", bdl.rows_ AS "bdl rows", bdl.newest AS "bdl newest",
  gamebook.rows_ AS "gamebook rows", preds.rows_ AS "predictions rows",
  preds.newest AS "predictions newest", grades.rows_ AS "grades rows", *
FROM units LEFT JOIN coverage USING (d)
  LEFT JOIN bdl USING (d) LEFT JOIN gamebook USING (d) LEFT JOIN pgs USING (d)
  LEFT JOIN defense USING (d) LEFT JOIN upcoming USING (d) LEFT JOIN pdc USING (d)
  LEFT JOIN psza USING (d) LEFT JOIN pcf USING (d) LEFT JOIN tdza USING (d)
  LEFT JOIN mlfs USING (d) LEFT JOIN preds USING (d) LEFT JOIN grades USING (d)
  LEFT JOIN u_bdl USING (d) LEFT JOIN v_bdl USING (d) LEFT JOIN u_gamebook USING (d)
  LEFT JOIN u_pgs USING (d) LEFT JOIN u_defense USING (d) LEFT JOIN r_defense USING (d)
  LEFT JOIN g_defense USING (d) LEFT JOIN r_upcoming USING (d) LEFT JOIN u_pdc USING (d)
  LEFT JOIN u_mlfs USING (d) LEFT JOIN r_pcf USING (d) LEFT JOIN v_tdza USING (d)
  LEFT JOIN r_preds USING (d) LEFT JOIN u_preds USING (d) LEFT JOIN g_preds USING (d)
  LEFT JOIN r_grades USING (d) LEFT JOIN g_grades USING (d)
  CROSS JOIN horizon
"""
# The learned checks, as the hand query's columns: (rows or newest column, per unit?).
LEARNED = (
    ("bdl rows", True),
    ("bdl newest", False),
    ("gamebook rows", False),
    ("predictions rows", True),
    ("predictions newest", False),
    ("grades rows", False),
)


def median_times(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median wall time of ``repeat`` calls of each, after one warm-up call each; the calls
    interleave (one of each per round), so a shared machine's load weighs on all alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def hand_query(conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> int:
    """The hand-written query over ``start``..``end`` (the coverage window from 6 days
    before, the learned checks' history from 56), then the learned bands in Python."""
    wide, hist = start - dt.timedelta(days=6), start - dt.timedelta(days=56)
    params = {"start": start, "end": end, "wide": wide, "hist": hist}
    cursor = conn.execute(HAND, params)
    names = [c[0] for c in cursor.description]
    rows = sorted(cursor.fetchall(), key=lambda r: r[names.index("d")])
    bands = 0
    for column, per_unit in LEARNED:
        bands += len(learned_bands(rows, names, column, per_unit, start))
    return len(rows) + bands


def learned_bands(
    rows: list[tuple[Any, ...]], names: list[str], column: str, per_unit: bool, start: dt.date
) -> dict[dt.date, tuple[float, float]]:
    """Per judged date, median -/+ max(4 x 1.4826 x MAD, 10 % of the median or 1 h) of the
    last 28 comparable dates before it (units scheduled and rows, or a timestamp, on it)."""
    day_at, units_at, value_at = names.index("d"), names.index("units"), names.index(column)
    history: list[float] = []
    bands: dict[dt.date, tuple[float, float]] = {}
    for row in rows:
        day, units, value = row[day_at], row[units_at], row[value_at]
        assert isinstance(day, dt.date)
        if day >= start and len(history) >= 7:
            recent = history[-28:]
            mid = statistics.median(recent)
            spread = 4 * 1.4826 * statistics.median(abs(v - mid) for v in recent)
            floor = 1.0 if column.endswith("newest") else 0.1 * abs(mid)  # 1 h, or 10 %
            spread = max(spread, floor)
            bands[day] = (mid - spread, mid + spread)
        if not units or value is None:
            continue
        if isinstance(value, dt.datetime):  # lateness: hours past the date's start
            number = (value - dt.datetime.combine(day, dt.time())).total_seconds() / 3600
        else:
            number = float(value) / units if per_unit else float(value)
        if number > 0 or isinstance(value, dt.datetime):
            history.append(number)
    return bands


def bench_scale(scale: int, directory: Path, repeat: int) -> dict[str, object]:
    built = build_demo(directory, scale=scale)
    ensure_teams(built.warehouse_path)
    config = directory / "checks_bench.yml"
    config.write_text(bench_config(built.config_path))
    url = f"duckdb://{built.warehouse_path}"
    guard = phaseguard.load(config, warehouse=url)
    checks = sum(len(p.checks) for p in guard.config.phases)
    kinds = sorted({c.kind for p in guard.config.phases for c in p.checks})
    before = guard.warehouse.queries_sent
    result = guard.verify(*SEASON)
    statements = guard.warehouse.queries_sent - before
    assert statements == 1, f"verify sent {statements} statements"
    before = guard.warehouse.queries_sent
    decision = guard.gate(GATE[0]).decide(GATE[1])
    gate_statements = guard.warehouse.queries_sent - before
    assert gate_statements == 1, f"the gate decision sent {gate_statements} statements"
    gate_learned = [
        c.kind for c in guard.config.gate(GATE[0]).checks or () if c.kind.endswith("_anomaly")
    ]
    selection = phase_checks(guard.config, "verify")
    plan = build_plan(guard.config, [(c, s.tables) for s in selection for c in s.checks], *SEASON)
    conn = duckdb.connect(str(built.warehouse_path), read_only=True)
    conn.execute("SET enable_progress_bar = false")  # as phaseguard's own connection
    timed = median_times(
        {
            "verify": lambda: guard.verify(*SEASON),
            "one date": lambda: guard.verify(GATE[1], GATE[1]),
            "statement": lambda: guard.warehouse.measure(plan),
            "hand": lambda: hand_query(conn, *SEASON),
        },
        repeat,
    )
    verify, measure, hand = timed["verify"], timed["statement"], timed["hand"]
    one_date = timed["one date"]
    guard.close()
    conn.close()
    return {
        "scale": scale,
        "build_seconds": round(built.seconds, 1),
        "checks": checks,
        "kinds": kinds,
        "statements": statements,
        "gate_statements": gate_statements,
        "gate_learned": gate_learned,
        "gate_decision": decision.status,
        "overall": result.overall.value,
        "verify": verify,
        "one_date": one_date,
        "statement": measure,
        "hand_query": hand,
        "ratio": verify / hand,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scale 1 only")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scales = [1] if args.quick else [1, 100]
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            report.append(bench_scale(scale, Path(tmp) / f"scale{scale}", args.repeat))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"phaseguard checks benchmark: season verify (median of {args.repeat}; seconds)")
    for res in report:
        print(
            f"\nscale {res['scale']} (built in {res['build_seconds']} s): {res['checks']} checks "
            f"of {len(res['kinds'])} kinds ({', '.join(res['kinds'])})"  # type: ignore[arg-type]
        )
        print(f"  statements sent by verify: {res['statements']}  (overall {res['overall']})")
        print(
            f"  statements sent by one gate decision ({GATE[0]} on {GATE[1]}, with "
            f"{', '.join(res['gate_learned'])}): {res['gate_statements']}"  # type: ignore[arg-type]
        )
        print(
            f"  verify {res['verify']:.3f} (its statement alone {res['statement']:.3f})  "
            f"hand-written query {res['hand_query']:.3f}  verify/hand {res['ratio']:.2f}x"
        )
        print(
            f"  verify of one date ({GATE[1]}, the learned checks' history included): "
            f"{res['one_date']:.3f}"
        )


if __name__ == "__main__":
    main()
