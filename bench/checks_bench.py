"""Benchmark: a season ``verify`` with 40+ checks of every kind against one hand-written query.

Builds the demo season (as ``core_bench.py`` does) at scale 1 and 100 (x100 rows per game
and per date) unless --quick, writes the example config with 42 more checks (not_null,
accepted_values, range, row_count, reconciliation, and ``where:`` filters on the older
kinds: 52 in all, every kind on main), then, for the season:

- counts the statements ``verify`` sends (it must be 1);
- times ``verify`` in-process (warm connection: plan, the one statement, judging), and its
  statement alone (``Warehouse.measure``);
- times one hand-written DuckDB query computing the same aggregates (one grouped select
  per table with FILTER clauses, the offending values with STRING_AGG in the same scan,
  the coverage semi-join, all joined on the date), as an engineer would write it.

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

import duckdb

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

# The checks added to each phase of the example (10 of its own: 52 in all).
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
    ],
    "phase5": [
        f"{{kind: accepted_values, table: predictions, column: system_id, values: {_SYSTEMS}}}",
        "{kind: accepted_values, table: predictions, column: recommendation, values: [OVER, UNDER, PASS]}",
        "{kind: not_null, table: predictions, columns: [predicted_points, line]}",
        "{kind: range, table: predictions, column: predicted_points, min: 0, max: 80}",
        "{kind: row_count, name: ensemble rows, table: predictions, where: \"system_id = 'ensemble'\", pass: 1}",
        "{kind: distinct_count, name: ensemble players, table: predictions, column: player_id, where: \"system_id = 'ensemble'\", pass: 1}",
        "{kind: freshness, name: ensemble fresh, table: predictions, column: created_at, max_age_hours: 100000, where: \"system_id = 'ensemble'\"}",
    ],
    "phase6": [
        "{kind: not_null, table: grades, columns: [actual_points]}",
        "{kind: range, table: grades, column: absolute_error, min: 0, max: 60, measure: share, excellent: 0, acceptable: 0.01}",
        '{kind: reconciliation, name: graded rows, left: {table: grades, expr: "COUNT(*)"}, right: {table: predictions, expr: "COUNT(*)"}, tolerance_pct: 30, severity: warn}',
        '{kind: aggregate, name: over/under hit rate, table: grades, expr: "AVG(CASE WHEN over_under_correct THEN 1.0 ELSE 0.0 END)", where: "line IS NOT NULL", pass: 0.3, severity: warn}',
        '{kind: ratio, name: graded with actuals, numerator: grades, denominator: predictions, where: "actual_points IS NOT NULL", pass: 0.7, severity: warn}',
        f"{{kind: accepted_values, table: grades, column: system_id, values: {_SYSTEMS}}}",
        '{kind: aggregate, name: ensemble MAE, table: grades, expr: "AVG(ABS(predicted_points - actual_points))", where: "system_id = \'ensemble\'", direction: lower, pass: 8, severity: warn}',
    ],
}


def bench_config(example: Path) -> str:
    """The example config with :data:`EXTRA_CHECKS` appended to each phase's checks."""
    lines = example.read_text().splitlines()
    out: list[str] = []
    phase = None
    for i, line in enumerate(lines):
        out.append(line)
        if line.startswith("  - name: "):
            phase = line.removeprefix("  - name: ").strip()
        last_check = line.startswith("      - {kind:") and not lines[i + 1].startswith("      - ")
        if phase in EXTRA_CHECKS and last_check:
            out += [f"      - {check}" for check in EXTRA_CHECKS[phase]]
            phase = None
    return "\n".join(out) + "\n"


def _in(values: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# The hand-written query: what an engineer writes for the same numbers, in DuckDB's SQL.
TEAMS_IN, SYSTEMS_IN = _in(TEAMS), _in(SYSTEMS)
HAND = f"""
WITH sched AS (
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
  FROM nba_raw.bdl_player_boxscores WHERE game_date BETWEEN $start AND $end GROUP BY 1
), gamebook AS (
  SELECT game_date AS d, COUNT(*) AS rows_, COUNT(*) FILTER (WHERE player_id IS NULL) AS nulls
  FROM nba_raw.nbac_gamebook_player_stats WHERE game_date BETWEEN $start AND $end GROUP BY 1
), pgs AS (
  SELECT game_date AS d, COUNT(*) AS rows_,
    COUNT(*) FILTER (WHERE player_id IS NULL OR team IS NULL),
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
    MAX(created_at) FILTER (WHERE system_id = 'ensemble')
  FROM nba_predictions.player_prop_predictions WHERE game_date BETWEEN $start AND $end
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
  FROM nba_predictions.prediction_grades WHERE game_date BETWEEN $start AND $end GROUP BY 1
)
SELECT * FROM coverage
  LEFT JOIN bdl USING (d) LEFT JOIN gamebook USING (d) LEFT JOIN pgs USING (d)
  LEFT JOIN defense USING (d) LEFT JOIN upcoming USING (d) LEFT JOIN pdc USING (d)
  LEFT JOIN psza USING (d) LEFT JOIN pcf USING (d) LEFT JOIN tdza USING (d)
  LEFT JOIN mlfs USING (d) LEFT JOIN preds USING (d) LEFT JOIN grades USING (d)
  CROSS JOIN horizon
"""


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def hand_query(conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> int:
    """The hand-written query over ``start``..``end`` (the coverage window from 6 days before)."""
    wide = start - dt.timedelta(days=6)
    params = {"start": start, "end": end, "wide": wide}
    return len(conn.execute(HAND, params).fetchall())


def bench_scale(scale: int, directory: Path, repeat: int) -> dict[str, object]:
    built = build_demo(directory, scale=scale)
    config = directory / "checks_bench.yml"
    config.write_text(bench_config(built.config_path))
    url = f"duckdb://{built.warehouse_path}"
    guard = phaseguard.load(config, warehouse=url)
    checks = sum(len(p.checks) for p in guard.config.phases)
    kinds = sorted({c.kind for p in guard.config.phases for c in p.checks})
    before = guard.warehouse.queries_sent
    result = guard.verify(*SEASON)
    statements = guard.warehouse.queries_sent - before
    selection = phase_checks(guard.config, "verify")
    plan = build_plan(guard.config, [(c, s.tables) for s in selection for c in s.checks], *SEASON)
    conn = duckdb.connect(str(built.warehouse_path), read_only=True)
    conn.execute("SET enable_progress_bar = false")  # as phaseguard's own connection
    verify = median_time(lambda: guard.verify(*SEASON), repeat)
    measure = median_time(lambda: guard.warehouse.measure(plan), repeat)
    hand = median_time(lambda: hand_query(conn, *SEASON), repeat)
    guard.close()
    conn.close()
    return {
        "scale": scale,
        "build_seconds": round(built.seconds, 1),
        "checks": checks,
        "kinds": kinds,
        "statements": statements,
        "overall": result.overall.value,
        "verify": verify,
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
            f"  verify {res['verify']:.3f} (its statement alone {res['statement']:.3f})  "
            f"hand-written query {res['hand_query']:.3f}  verify/hand {res['ratio']:.2f}x"
        )


if __name__ == "__main__":
    main()
