"""The example's processors (phases 3 to 6) on a real DuckDB file and a real PostgreSQL.

The raw tables are the first game dates of the generated season (schedule and box scores);
every processor runs for every date through the phase steps, and each table's rows per date
are checked against counts and values computed here in Python from the raw rows.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from nba_props.processors import (
    CRASH_ENV,
    PHASES,
    PROCESSORS,
    STEPS,
    ProcessorsFailed,
    crash_dates,
    ensure_schema,
    run_phase,
    set_crash_dates,
)
from nba_props.schedule import TEAMS
from nba_props.schema import SCHEMA, SYSTEMS
from nba_props.season import season_plan
from phaseguard.errors import UsageError
from phaseguard.warehouse import Warehouse, connect

SCHEDULE = "nba_raw.nbac_schedule"
BOX = "nba_raw.bdl_player_boxscores"
PGS = "nba_analytics.player_game_summary"
TDGS = "nba_analytics.team_defense_game_summary"
CONTEXT = "nba_analytics.upcoming_player_game_context"
PDC = "nba_precompute.player_daily_cache"
PSZA = "nba_precompute.player_shot_zone_analysis"
PCF = "nba_precompute.player_composite_factors"
TDZA = "nba_precompute.team_defense_zone_analysis"
MLFS = "nba_predictions.ml_feature_store_v2"
PREDICTIONS = "nba_predictions.player_prop_predictions"
GRADES = "nba_predictions.prediction_grades"
DATE_COLUMN = {PDC: "cache_date", PSZA: "analysis_date", TDZA: "analysis_date"}
N_DATES = 6
# Columns that hold the time a row was written, which differ between runs.
STAMPS = {"processed_at", "created_at", "graded_at", "scraped_at"}

Row = dict[str, Any]


@dataclass(frozen=True)
class Raw:
    """The seeded raw rows: the season's first game dates."""

    days: list[dt.date]
    schedule: list[tuple[Any, ...]]
    box: list[tuple[Any, ...]]


@dataclass(frozen=True)
class Ctx:
    """What the runner hands a step."""

    warehouse: Warehouse


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Raw:
    path = tmp_path_factory.mktemp("season") / "season.duckdb"
    con = duckdb.connect(str(path))
    for statement in season_plan(faults=False).statements:
        con.execute(statement)
    days = [
        d
        for (d,) in con.execute(f"SELECT DISTINCT game_date FROM {SCHEDULE} ORDER BY 1").fetchall()
    ]
    days = days[:N_DATES]
    where = f"WHERE game_date <= DATE '{days[-1]}' ORDER BY game_date, game_id"
    schedule = con.execute(f"SELECT {', '.join(SCHEMA[SCHEDULE])} FROM {SCHEDULE} {where}")
    schedule_rows = schedule.fetchall()
    box = con.execute(f"SELECT {', '.join(SCHEMA[BOX])} FROM {BOX} {where}").fetchall()
    con.close()
    return Raw(days, schedule_rows, box)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path, raw: Raw) -> Iterator[Warehouse]:
    """A real warehouse holding the example's tables, with the raw rows seeded."""
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'nba.duckdb'}"
    else:
        url = request.getfixturevalue("pg_url")
    with connect(url) as wh:
        seed(wh, raw)
        yield wh


def seed(wh: Warehouse, raw: Raw) -> None:
    ensure_schema(wh)
    wh.insert_rows(SCHEDULE, list(SCHEMA[SCHEDULE]), raw.schedule)
    wh.insert_rows(BOX, list(SCHEMA[BOX]), raw.box)


@pytest.fixture(autouse=True)
def no_crashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(CRASH_ENV, raising=False)
    set_crash_dates(None)
    yield
    set_crash_dates(None)


def table(wh: Warehouse, name: str) -> list[Row]:
    columns = list(SCHEMA[name])
    rows = wh.driver.execute(f"SELECT {', '.join(columns)} FROM {name}")
    return [dict(zip(columns, row, strict=True)) for row in rows]


def by_date(wh: Warehouse, name: str) -> dict[dt.date, list[Row]]:
    return _by_date(name, table(wh, name))


def _by_date(name: str, rows: list[Row]) -> dict[dt.date, list[Row]]:
    out: dict[dt.date, list[Row]] = defaultdict(list)
    for row in rows:
        out[row[DATE_COLUMN.get(name, "game_date")]].append(row)
    return out


def run_all(wh: Warehouse, days: list[dt.date]) -> None:
    for day in days:
        for step in STEPS.values():
            step(day, Ctx(wh))


def box_rows(raw: Raw) -> list[Row]:
    return [dict(zip(SCHEMA[BOX], row, strict=True)) for row in raw.box]


def expected_context(raw: Raw, day: dt.date) -> set[tuple[str, int]]:
    """(game_id, player_id) per the roster rule: seen in 30 days up to ``day``, latest team."""
    latest: dict[int, tuple[dt.date, str, str]] = {}
    for x in box_rows(raw):
        if day - dt.timedelta(days=30) <= x["game_date"] <= day:
            key = (x["game_date"], x["game_id"], x["team"])
            latest[x["player_id"]] = max(latest.get(x["player_id"], key), key)
    games = {}
    for game_id, game_date, _, home, away in raw.schedule:
        if game_date == day:
            games[home] = games[away] = game_id
    return {(games[t], p) for p, (_, _, t) in latest.items() if t in games}


@pytest.fixture(scope="module")
def duck_tables(raw: Raw, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Row]]:
    """Every table after running every step for every date on a DuckDB file (built once)."""
    with connect(f"duckdb://{tmp_path_factory.mktemp('duck') / 'nba.duckdb'}") as wh:
        seed(wh, raw)
        run_all(wh, raw.days)
        return {name: table(wh, name) for name in SCHEMA}


@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_pipeline_rows_and_values(
    backend: str, raw: Raw, duck_tables: dict[str, list[Row]], request: pytest.FixtureRequest
) -> None:
    rows = duck_tables
    if backend == "postgres":
        with connect(request.getfixturevalue("pg_url")) as wh:
            seed(wh, raw)
            run_all(wh, raw.days)
            rows = {name: table(wh, name) for name in SCHEMA}
        for name in SCHEMA:  # the same SQL gives the same rows on both engines
            assert _comparable(rows[name]) == _comparable(duck_tables[name]), name
    tables = {name: _by_date(name, found) for name, found in rows.items()}
    box = box_rows(raw)
    teams = {t for _, _, _, home, away in raw.schedule for t in (home, away)}
    assert teams == set(TEAMS)
    mae: list[float] = []
    for day in raw.days:
        today = [x for x in box if x["game_date"] == day]
        before = [x for x in box if x["game_date"] < day]
        seen = {x["player_id"] for x in before}
        context = {(r["game_id"], r["player_id"]) for r in tables[CONTEXT][day]}
        features = tables[MLFS][day]
        predictions = tables[PREDICTIONS][day]
        played = {(x["game_id"], x["player_id"]) for x in today}

        assert len(tables[PGS][day]) == len(today)
        assert len(tables[TDGS][day]) == 2 * len({x["game_id"] for x in today})
        assert context == expected_context(raw, day)
        assert len(tables[CONTEXT][day]) == len(context)
        assert len(tables[PDC][day]) == len(seen)
        assert len(tables[PSZA][day]) == len({x["player_id"] for x in before if x["fg_attempted"]})
        assert len(tables[TDZA][day]) == (30 if before else 0)
        assert len(tables[PCF][day]) == len(context)
        assert {(r["game_id"], r["player_id"]) for r in features} == {
            (g, p) for g, p in context if p in seen
        }
        assert len(predictions) == 5 * len(features)
        assert {r["system_id"] for r in predictions} == (set(SYSTEMS) if features else set())
        graded = tables[GRADES][day]
        assert len(graded) == sum((r["game_id"], r["player_id"]) in played for r in predictions)
        mae += [g["absolute_error"] for g in graded]
        _check_values(day, before, today, tables)
    assert len(mae) > 1000
    assert 2 < statistics.mean(mae) < 15


def _check_values(
    day: dt.date, before: list[Row], today: list[Row], tables: dict[str, dict[dt.date, list[Row]]]
) -> None:
    """Values recomputed from the box scores, and ranges."""
    for r in tables[PGS][day]:
        assert r["fg_pct"] is None or 0 <= r["fg_pct"] <= 1
    scored: dict[tuple[str, str], int] = defaultdict(int)
    for x in today:
        scored[(x["game_id"], x["team"])] += x["points"]
    for r in tables[TDGS][day]:
        assert r["points_allowed"] == scored[(r["game_id"], r["opponent"])]
    history: dict[int, list[Row]] = defaultdict(list)
    for x in sorted(before, key=lambda x: (x["game_date"], x["game_id"])):
        history[x["player_id"]].append(x)
    for r in tables[PDC][day]:
        games = history[r["player_id"]]
        assert r["games_played"] == len(games)
        assert r["points_avg_season"] == pytest.approx(
            statistics.mean(g["points"] for g in games), abs=0.051
        )
        assert r["points_avg_last5"] == pytest.approx(
            statistics.mean(g["points"] for g in games[-5:]), abs=0.051
        )
    for r in tables[PSZA][day]:
        assert r["paint_rate"] + r["mid_rate"] + r["three_rate"] == pytest.approx(1, abs=0.002)
    for r in tables[CONTEXT][day]:
        assert r["days_rest"] >= 0
    for r in tables[PCF][day]:
        assert 0 <= r["fatigue_score"] <= 100
        assert 0 <= r["matchup_score"] <= 100
    for r in tables[PREDICTIONS][day]:
        assert r["recommendation"] in {"OVER", "UNDER", "PASS"}
        assert r["predicted_points"] >= 0
        assert r["line"] - int(r["line"]) == 0.5


def test_rerun_replaces_never_duplicates(warehouse: Warehouse, raw: Raw) -> None:
    run_all(warehouse, raw.days[:3])
    first = {name: _comparable(table(warehouse, name)) for name in SCHEMA}
    for day in raw.days[:3]:
        for phase in PHASES:
            run_phase(phase, day, warehouse)
    second = {name: _comparable(table(warehouse, name)) for name in SCHEMA}
    assert second == first
    assert len(first[GRADES]) > 0


def _comparable(rows: list[Row]) -> list[tuple[Any, ...]]:
    return sorted(
        tuple(
            (k, round(v, 6) if isinstance(v, float) else v) for k, v in r.items() if k not in STAMPS
        )
        for r in rows
    )


def test_crash_fails_the_step_and_keeps_the_others(warehouse: Warehouse, raw: Raw) -> None:
    day = raw.days[3]
    run_all(warehouse, raw.days[:3])
    STEPS["phase3"](day, Ctx(warehouse))
    set_crash_dates({"PSZA": {day}, "TDZA": {raw.days[5]}})
    with pytest.raises(ProcessorsFailed) as caught:
        STEPS["phase4"](day, Ctx(warehouse))
    assert list(caught.value.failures) == ["PSZA"]
    assert str(caught.value.failures["PSZA"]) == "PSZA crashed (injected fault)"
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert set(caught.value.rows) == {"PDC", "TDZA", "PCF", "MLFS"}
    assert all(n > 0 for n in caught.value.rows.values())
    assert "1 of 5 processors failed" in str(caught.value)
    assert by_date(warehouse, PSZA).get(day) is None
    for name, table_name in (("PDC", PDC), ("PCF", PCF), ("TDZA", TDZA), ("MLFS", MLFS)):
        assert len(by_date(warehouse, table_name)[day]) == caught.value.rows[name]
    # Once the fault is gone the re-run fills the gap.
    set_crash_dates(None)
    assert run_phase("phase4", day, warehouse)["PSZA"] > 0


def test_crashed_system_is_left_out(warehouse: Warehouse, raw: Raw) -> None:
    days = raw.days[:4]
    run_all(warehouse, days[:3])
    for step in ("phase3", "phase4"):
        STEPS[step](days[3], Ctx(warehouse))
    set_crash_dates({"ensemble": {days[3]}})
    with pytest.raises(ProcessorsFailed, match="ensemble crashed"):
        STEPS["phase5"](days[3], Ctx(warehouse))
    predictions = by_date(warehouse, PREDICTIONS)
    assert {r["system_id"] for r in predictions[days[3]]} == set(SYSTEMS) - {"ensemble"}
    assert {r["system_id"] for r in predictions[days[2]]} == set(SYSTEMS)


def test_crash_dates_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CRASH_ENV, "PSZA:2026-01-05, PDC:2026-02-10,PSZA:2026-01-06")
    set_crash_dates({"PDC": [dt.date(2026, 3, 1)]})
    assert crash_dates() == {
        "PSZA": {dt.date(2026, 1, 5), dt.date(2026, 1, 6)},
        "PDC": {dt.date(2026, 2, 10), dt.date(2026, 3, 1)},
    }
    with (
        connect("duckdb://:memory:") as wh,
        pytest.raises(RuntimeError, match=r"^PDC crashed \(injected fault\)$"),
    ):
        PROCESSORS["PDC"](dt.date(2026, 2, 10), wh)


@pytest.mark.parametrize(
    ("value", "message"),
    [("PSZA:2026-13-01", "is not NAME:YYYY-MM-DD"), ("PSAZ:2026-01-05", "unknown processor")],
)
def test_bad_crash_spec_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv(CRASH_ENV, value)
    with pytest.raises(UsageError, match=message):
        crash_dates()
    with pytest.raises(UsageError, match="unknown processor 'nope'"):
        set_crash_dates({"nope": []})
