"""The NBA season plan, built in real DuckDB files: shape, faults, determinism, scale."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from nba_props.faults import Fault
from nba_props.schedule import TEAMS
from nba_props.schema import SCHEMA, SYSTEMS
from nba_props.season import SeasonPlan, season_plan
from phaseguard.errors import UsageError

BOX = "nba_raw.bdl_player_boxscores"
SUMMARY = "nba_analytics.player_game_summary"
TEAM_DEFENSE = "nba_analytics.team_defense_game_summary"
CONTEXT = "nba_analytics.upcoming_player_game_context"
PDC = "nba_precompute.player_daily_cache"
PSZA = "nba_precompute.player_shot_zone_analysis"
PCF = "nba_precompute.player_composite_factors"
TDZA = "nba_precompute.team_defense_zone_analysis"
MLFS = "nba_predictions.ml_feature_store_v2"
PREDICTIONS = "nba_predictions.player_prop_predictions"
GRADES = "nba_predictions.prediction_grades"
PHASE4 = [PDC, PSZA, PCF, TDZA, MLFS]
DATE_COLUMN = {PDC: "cache_date", PSZA: "analysis_date", TDZA: "analysis_date"}
# Tables with one row per team, which do not grow with the scale.
TEAM_TABLES = {"nba_raw.nbac_schedule", TEAM_DEFENSE, TDZA}


def build(path: Path, plan: SeasonPlan) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for statement in plan.statements:
        con.execute(statement)
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> float:
    found = con.execute(sql, list(params)).fetchone()
    assert found is not None
    return float(found[0] or 0)


def rows(con: duckdb.DuckDBPyConnection, table: str, day: date) -> int:
    column = DATE_COLUMN.get(table, "game_date")
    return int(scalar(con, f"SELECT count(*) FROM {table} WHERE {column} = ?", day))


def per_date(con: duckdb.DuckDBPyConnection, sql: str) -> dict[date, float]:
    """A ``SELECT day, value ... GROUP BY 1`` as a dict."""
    return {d: float(v) for d, v in con.execute(sql).fetchall()}


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: int(scalar(con, f"SELECT count(*) FROM {t}")) for t in SCHEMA}


def checksums(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[object, ...]]:
    """Order-free fingerprint of every table: row count and the sum of the rows' hashes."""
    out = {}
    for table in SCHEMA:
        found = con.execute(f"SELECT count(*), sum(hash(t)) FROM {table} t").fetchone()
        assert found is not None
        out[table] = tuple(found)
    return out


def mae_by_date(con: duckdb.DuckDBPyConnection) -> dict[date, float]:
    sql = f"SELECT game_date, avg(abs(predicted_points - actual_points)) FROM {GRADES} GROUP BY 1"
    return {d: float(v) for d, v in con.execute(sql).fetchall()}


def faults_of(plan: SeasonPlan, kind: str) -> list[Fault]:
    found = [f for f in plan.faults if f.kind == kind]
    assert found, kind
    return found


def game_dates(con: duckdb.DuckDBPyConnection) -> list[date]:
    sql = "SELECT DISTINCT game_date FROM nba_raw.nbac_schedule ORDER BY 1"
    return [d for (d,) in con.execute(sql).fetchall()]


@pytest.fixture(scope="module")
def plan() -> SeasonPlan:
    return season_plan()


@pytest.fixture(scope="module")
def con(
    plan: SeasonPlan, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = build(tmp_path_factory.mktemp("season") / "w.duckdb", plan)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def normal_day(plan: SeasonPlan, con: duckdb.DuckDBPyConnection) -> date:
    """A mid-season game date no fault touches."""
    touched = {d for f in plan.faults for d in f.dates}
    return next(d for d in game_dates(con)[60:] if d not in touched)


def test_schedule_is_a_full_season(plan: SeasonPlan, con: duckdb.DuckDBPyConnection) -> None:
    assert plan.games == 1230
    assert 160 <= plan.game_dates <= 170
    assert (plan.first_date, plan.last_date) == (date(2025, 10, 21), date(2026, 4, 12))
    schedule = con.execute(
        "SELECT game_id, game_date, home_team, away_team FROM nba_raw.nbac_schedule"
    ).fetchall()
    assert len(schedule) == 1230
    assert len({g for g, *_ in schedule}) == 1230
    assert all(re.fullmatch(r"00225\d{5}", g) for g, *_ in schedule)
    sides = [(team, day) for _, day, home, away in schedule for team in (home, away)]
    assert len(set(sides)) == len(sides)  # nobody plays twice on one date
    games_per_team = {t: sum(team == t for team, _ in sides) for t in TEAMS}
    assert set(games_per_team.values()) == {82}
    per_day = [
        n
        for (n,) in con.execute(
            "SELECT count(*) FROM nba_raw.nbac_schedule GROUP BY game_date"
        ).fetchall()
    ]
    assert len(per_day) == plan.game_dates
    assert min(per_day) >= 1
    assert max(per_day) <= 15
    assert 5 <= statistics.median(per_day) <= 10
    days = {day for _, day, *_ in schedule}
    off = [date(2025, 11, 27), date(2025, 12, 24), *(date(2026, 2, d) for d in range(13, 19))]
    assert not days & set(off)


def test_row_counts_per_table(con: duckdb.DuckDBPyConnection) -> None:
    found = counts(con)
    expected = {
        "nba_raw.nbac_schedule": (1230, 1230),
        BOX: (29_000, 34_000),
        "nba_raw.nbac_gamebook_player_stats": (30_000, 35_000),  # bdl's games and those it lost
        SUMMARY: (28_000, 34_000),
        TEAM_DEFENSE: (2_300, 2_460),
        CONTEXT: (35_000, 36_900),
        PDC: (70_000, 73_350),
        PSZA: (70_000, 73_350),
        PCF: (34_000, 36_900),
        TDZA: (4_890, 4_890),
        MLFS: (36_850, 36_900),  # one game's feature rows gone: the orphan predictions
        PREDICTIONS: (140_000, 166_000),
        GRADES: (125_000, 160_000),
    }
    assert found.keys() == expected.keys()
    for table, (low, high) in expected.items():
        assert low <= found[table] <= high, (table, found[table])
    assert 550_000 <= sum(found.values()) <= 750_000


def test_tables_match_schema_and_scratch_is_dropped(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in SCHEMA.items():
        schema, name = table.split(".")
        found = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
        assert dict(found) == columns
        assert [c for c, _ in found] == list(columns)
    schemas = {
        s for (s,) in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()
    }
    assert {"nba_raw", "nba_analytics", "nba_precompute", "nba_predictions"} <= schemas
    assert "phaseguard_build" not in schemas


def test_box_scores_look_like_basketball(con: duckdb.DuckDBPyConnection) -> None:
    assert 8 <= scalar(con, f"SELECT avg(points) FROM {BOX}") <= 12
    assert 35 <= scalar(con, f"SELECT max(points) FROM {BOX}") <= 60
    assert 15 <= scalar(con, f"SELECT avg(minutes) FROM {BOX}") <= 25
    assert (
        scalar(con, f"SELECT count(*) FROM {BOX} WHERE 2 * fg_made + fg3_made + ft_made <> points")
        == 0
    )
    assert (
        scalar(
            con,
            f"SELECT count(*) FROM {BOX} WHERE fg_made > fg_attempted OR fg3_made > fg3_attempted OR ft_made > ft_attempted OR fg3_attempted > fg_attempted",
        )
        == 0
    )
    per_team = scalar(
        con, f"SELECT avg(n) FROM (SELECT count(*) n FROM {BOX} GROUP BY game_id, team)"
    )
    assert 12 <= per_team <= 14
    assert scalar(con, f"SELECT count(DISTINCT player_id) FROM {BOX}") == 450


def test_partial_box_scores_jan_13_to_18(plan: SeasonPlan, con: duckdb.DuckDBPyConnection) -> None:
    (partial,) = faults_of(plan, "partial_boxscores")
    assert partial.dates == tuple(date(2026, 1, d) for d in range(13, 19))
    for day in partial.dates:
        coverage = scalar(
            con,
            f"SELECT (SELECT count(DISTINCT game_id) FROM {BOX} WHERE game_date = $1)"
            " / (SELECT count(*) FROM nba_raw.nbac_schedule WHERE game_date = $1)",
            day,
        )
        assert 0.67 <= coverage <= 0.89, (day, coverage)
        # Post-game tables lack the same games; pre-game ones are whole.
        games = "SELECT count(DISTINCT game_id) FROM {} WHERE game_date = ?"
        assert scalar(con, games.format(SUMMARY), day) == scalar(con, games.format(BOX), day)
        assert scalar(con, games.format(GRADES), day) == scalar(con, games.format(BOX), day)
        assert scalar(con, games.format(PREDICTIONS), day) > scalar(con, games.format(BOX), day)


def test_scraper_outage_dec_9(plan: SeasonPlan, con: duckdb.DuckDBPyConnection) -> None:
    day = date(2025, 12, 9)
    assert faults_of(plan, "scraper_outage")[0].dates == (day,)
    assert [rows(con, t, day) for t in (BOX, SUMMARY, TEAM_DEFENSE, CONTEXT, GRADES)] == [0] * 5
    assert all(rows(con, t, day) > 0 for t in [*PHASE4, PREDICTIONS])


def test_phase3_table_missing(plan: SeasonPlan, con: duckdb.DuckDBPyConnection) -> None:
    missing = {f.table: f.dates for f in faults_of(plan, "phase3_table_missing")}
    assert missing == {TEAM_DEFENSE: (date(2026, 1, 16),), CONTEXT: (date(2026, 1, 18),)}
    assert rows(con, TEAM_DEFENSE, date(2026, 1, 16)) == 0
    assert rows(con, CONTEXT, date(2026, 1, 18)) == 0
    for day, table in [(16, SUMMARY), (16, CONTEXT), (18, SUMMARY), (18, TEAM_DEFENSE)]:
        assert rows(con, table, date(2026, 1, day)) > 0, (day, table)


def test_phase4_outage_jan_20_to_23(plan: SeasonPlan, con: duckdb.DuckDBPyConnection) -> None:
    outage = tuple(date(2026, 1, d) for d in range(20, 24))
    assert faults_of(plan, "phase4_outage")[0].dates == outage
    for day in outage:
        present = [t for t in PHASE4 if rows(con, t, day) > 0]
        assert present == [TDZA, MLFS], day
        systems = scalar(
            con, f"SELECT count(DISTINCT system_id) FROM {PREDICTIONS} WHERE game_date = ?", day
        )
        assert systems == (0 if day == date(2026, 1, 21) else 3)


def test_psza_gap_nov_14_leaves_four_of_five(
    plan: SeasonPlan, con: duckdb.DuckDBPyConnection
) -> None:
    day = date(2025, 11, 14)
    assert faults_of(plan, "phase4_processor_gap")[0].dates == (day,)
    assert [t for t in PHASE4 if rows(con, t, day) == 0] == [PSZA]


def test_thin_phase3_dec_30(
    plan: SeasonPlan, con: duckdb.DuckDBPyConnection, normal_day: date
) -> None:
    per_game = f"SELECT count(*) / count(DISTINCT game_id) FROM {SUMMARY} WHERE game_date = ?"
    assert 2 <= scalar(con, per_game, date(2025, 12, 30)) <= 5
    assert scalar(con, per_game, normal_day) >= 24
    assert faults_of(plan, "thin_phase3")[0].dates == (date(2025, 12, 30),)


def test_five_systems_on_a_normal_date(con: duckdb.DuckDBPyConnection, normal_day: date) -> None:
    found = con.execute(
        f"SELECT DISTINCT system_id FROM {PREDICTIONS} WHERE game_date = ?", [normal_day]
    ).fetchall()
    assert sorted(s for (s,) in found) == sorted(SYSTEMS)
    assert rows(con, GRADES, normal_day) == rows(con, PREDICTIONS, normal_day)
    assert all(rows(con, t, normal_day) > 0 for t in SCHEMA)


def test_missing_systems_on_seeded_dates(plan: SeasonPlan, con: duckdb.DuckDBPyConnection) -> None:
    (missing,) = faults_of(plan, "missing_systems")
    assert len(missing.dates) == 4
    for day in missing.dates:
        systems = scalar(
            con, f"SELECT count(DISTINCT system_id) FROM {PREDICTIONS} WHERE game_date = ?", day
        )
        assert systems in (3, 4)
        assert str(day) in missing.detail


def test_grading_coverage_faults(plan: SeasonPlan, con: duckdb.DuckDBPyConnection) -> None:
    ratio = per_date(
        con,
        f"SELECT p.game_date, coalesce(g.n, 0) / p.n FROM"
        f" (SELECT game_date, count(*) n FROM {PREDICTIONS} GROUP BY 1) p LEFT JOIN"
        f" (SELECT game_date, count(*) n FROM {GRADES} GROUP BY 1) g USING (game_date)",
    )
    (partial,) = faults_of(plan, "partial_grading")
    (low,) = faults_of(plan, "low_grading")
    (ungraded,) = faults_of(plan, "not_graded")
    assert len(partial.dates) == 5
    assert len(low.dates) == 2
    assert all(0.73 <= ratio[d] <= 0.87 for d in partial.dates), [ratio[d] for d in partial.dates]
    assert all(0.50 <= ratio[d] < 0.70 for d in low.dates), [ratio[d] for d in low.dates]
    assert ungraded.dates == tuple(game_dates(con)[-2:])
    assert all(ratio[d] == 0 for d in ungraded.dates)


def test_prediction_quality(plan: SeasonPlan, con: duckdb.DuckDBPyConnection) -> None:
    mae = mae_by_date(con)
    poor = faults_of(plan, "poor_predictions")
    assert len(poor) == 2
    assert 6.5 <= mae[poor[0].dates[0]] <= 7.8
    assert mae[poor[1].dates[0]] > 8
    normal = [v for d, v in mae.items() if d not in {p.dates[0] for p in poor}]
    assert 4.5 <= statistics.median(normal) <= 5.5
    assert max(normal) < 6


def test_faults_are_on_game_dates_and_seeded(
    plan: SeasonPlan, con: duckdb.DuckDBPyConnection
) -> None:
    days = set(game_dates(con))
    assert all(set(f.dates) <= days and f.detail and "." in f.table for f in plan.faults)
    assert set(season_plan(seed=7).faults) == set(plan.faults)
    other = {f.dates for f in season_plan(seed=8).faults if f.kind == "missing_systems"}
    assert other != {f.dates for f in plan.faults if f.kind == "missing_systems"}


def test_same_seed_same_data(
    con: duckdb.DuckDBPyConnection, plan: SeasonPlan, tmp_path: Path
) -> None:
    again = build(tmp_path / "again.duckdb", season_plan(seed=7))
    assert checksums(again) == checksums(con)
    # Rebuilding over an existing warehouse replaces it; another seed gives other data.
    for statement in season_plan(seed=8).statements:
        again.execute(statement)
    other = checksums(again)
    assert other[BOX] != checksums(con)[BOX]
    assert other["nba_raw.nbac_schedule"] != checksums(con)["nba_raw.nbac_schedule"]
    again.close()


def test_no_faults_every_date_complete(tmp_path: Path) -> None:
    plan = season_plan(faults=False)
    assert plan.faults == ()
    con = build(tmp_path / "clean.duckdb", plan)
    scheduled = per_date(con, "SELECT game_date, count(*) FROM nba_raw.nbac_schedule GROUP BY 1")
    assert len(scheduled) == plan.game_dates
    for table in SCHEMA:
        column = DATE_COLUMN.get(table, "game_date")
        present = per_date(con, f"SELECT {column}, count(*) FROM {table} GROUP BY 1")
        assert present.keys() == scheduled.keys(), table
    covered = per_date(con, f"SELECT game_date, count(DISTINCT game_id) FROM {BOX} GROUP BY 1")
    assert covered == scheduled
    systems = per_date(
        con, f"SELECT game_date, count(DISTINCT system_id) FROM {PREDICTIONS} GROUP BY 1"
    )
    assert set(systems.values()) == {5}
    predicted = per_date(con, f"SELECT game_date, count(*) FROM {PREDICTIONS} GROUP BY 1")
    assert per_date(con, f"SELECT game_date, count(*) FROM {GRADES} GROUP BY 1") == predicted
    assert max(mae_by_date(con).values()) < 6
    con.close()


def test_scale_multiplies_player_rows(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    plan = season_plan(scale=2)
    assert plan.games == 1230
    doubled = build(tmp_path / "x2.duckdb", plan)
    small, big = counts(con), counts(doubled)
    for table in SCHEMA:
        if table in TEAM_TABLES:
            assert big[table] == small[table], table
        else:
            assert 1.9 <= big[table] / small[table] <= 2.1, table
    assert scalar(doubled, f"SELECT count(DISTINCT player_id) FROM {PDC}") == 900
    doubled.close()


@pytest.mark.parametrize("scale", [0, -1, 10_001])
def test_bad_scale_is_refused(scale: int) -> None:
    with pytest.raises(UsageError, match="scale"):
        season_plan(scale=scale)
