"""Learned expectations: ``volume_anomaly`` and ``freshness_anomaly``.

The band is the median ± k robust SDs (1.4826 × MAD) of the last N comparable dates,
read by the same one query (the plan reaches back). First the pure math, then a seeded
season on a real DuckDB file and the real PostgreSQL fixture: 49 game dates of ~25 box
rows per game, Mondays off, a 7-day break, one silent 60 % load with the schedule
unchanged and one date loaded 8 hours late. Only those two dates may alarm.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phaseguard import load
from phaseguard.cli import app, main
from phaseguard.config import parse
from phaseguard.errors import ConfigError
from phaseguard.learned import SIGMA, baseline, median
from phaseguard.plan import SCHEDULE, Metric, Plan, build_plan
from phaseguard.verdicts import Level, Overall, Verdict
from phaseguard.warehouse import connect

START = dt.date(2026, 1, 1)
LAST = dt.date(2026, 3, 5)
BREAK = [dt.date(2026, 2, 12) + dt.timedelta(days=i) for i in range(7)]  # All-Star break
PARTIAL = dt.date(2026, 2, 5)  # 60 % of the rows, the schedule unchanged
LATE = dt.date(2026, 2, 25)  # landed 8 hours later than usual
AFTER_BREAK = dt.date(2026, 2, 19)

CONFIG = """\
pipeline: learn
warehouse: duckdb://learn.duckdb
schedule: {table: games.schedule, date_column: game_date, unit: game_id}
phases:
  - name: ingest
    tables:
      - {name: box, table: games.box, date_column: game_date, unit: game_id}
    checks:
      - {kind: rows_exist}
      - {kind: volume_anomaly, table: box, per: unit, history: 28, sensitivity: 4}
      - {kind: freshness_anomaly, table: box, column: scraped_at, history: 28}
"""


def game_days() -> list[dt.date]:
    """Every date with games: Mondays off, and the break."""
    days = [START + dt.timedelta(days=i) for i in range((LAST - START).days + 1)]
    return [d for d in days if d.weekday() != 0 and d not in BREAK]


def seed(url: str, base_dir: Path, *, utc: bool = False) -> None:
    """The schedule (3-8 games a date) and box rows (23-27 per game, scraped the next
    morning around 06:00-06:40 UTC), with the partial load and the late load; ``utc``
    gives the timestamps a time zone (BigQuery's TIMESTAMP wants one)."""
    from phaseguard.warehouse import connect

    rng = random.Random(16)
    games: list[tuple[str, dt.date, int, dt.datetime]] = []  # (game, date, players, scraped)
    for day in game_days():
        zone = dt.timezone.utc if utc else None
        scraped = dt.datetime.combine(day, dt.time(6), zone) + dt.timedelta(days=1)
        scraped += dt.timedelta(minutes=rng.randint(0, 40))
        if day == LATE:
            scraped += dt.timedelta(hours=8)
        for g in range(rng.randint(3, 8)):
            players = rng.randint(23, 27)
            if day == PARTIAL:
                players = round(players * 0.6)
            games.append((f"{day:%m%d}-{g}", day, players, scraped))
    box_columns = {"game_id": "VARCHAR", "game_date": "DATE", "scraped_at": "TIMESTAMP"}
    with connect(url, base_dir=base_dir) as wh:
        wh.create_table("games.schedule", {"game_id": "VARCHAR", "game_date": "DATE"})
        wh.create_table("games.box", {**box_columns, "player": "INTEGER"})
        wh.insert_rows("games.schedule", ["game_id", "game_date"], [g[:2] for g in games])
        if not url.startswith("bigquery://"):
            box = [(g, d, t, p) for g, d, n, t in games for p in range(n)]
            wh.insert_rows("games.box", ["game_id", "game_date", "scraped_at", "player"], box)
            return
        # The emulator takes ~30 ms a row through parameters: insert the games with their
        # player counts, and let one statement make a row per player.
        wh.create_table("games.plan", {**box_columns, "players": "INTEGER"})
        columns = ["game_id", "game_date", "players", "scraped_at"]
        wh.insert_rows("games.plan", columns, games)
        wh.run_script(
            [
                "INSERT INTO games.box (game_id, game_date, scraped_at, player) "
                "SELECT game_id, game_date, scraped_at, p FROM games.plan "
                "CROSS JOIN UNNEST(GENERATE_ARRAY(1, players)) AS p"
            ]
        )


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def season(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """The seeded season in a real DuckDB file or a real PostgreSQL database."""
    config = tmp_path / "phaseguard.yml"
    config.write_text(CONFIG)
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'learn.duckdb'}"
    else:
        url = request.getfixturevalue("pg_url")
    seed(url, tmp_path)
    return config, url


def _verdict(day: object, kind: str) -> Verdict:
    verdicts = day.phase("ingest").verdicts  # type: ignore[attr-defined]
    return next(v for v in verdicts if v.check.startswith(kind))


# -- the baseline, pure --------------------------------------------------------------------


def test_median_and_mad_give_the_band() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    base = baseline([10, 12, 11, 13, 50], 4)  # 50 is an outlier: it moves neither
    assert base.median == 12
    assert base.mad == 1  # |deviations| 2, 0, 1, 1, 38 -> 1
    assert base.lo == pytest.approx(12 - 4 * SIGMA)
    assert base.hi == pytest.approx(12 + 4 * SIGMA)
    assert base.n == 5


def test_the_relative_floor_keeps_a_zero_mad_from_alarming_on_a_wobble() -> None:
    regular = [24.0] * 20  # hourly rows: MAD 0
    assert baseline(regular, 4).hi == 24  # no floor: a band of one value
    floored = baseline(regular, 4, relative_floor=0.10)
    assert (floored.lo, floored.hi) == pytest.approx((21.6, 26.4))
    assert floored.lo <= 24 * 0.98 <= floored.hi  # a 2 % wobble is inside
    assert not floored.lo <= 24 * 0.6  # a 60 % load is not
    wide = baseline([10, 20, 30, 40, 50], 4, relative_floor=0.10)
    assert wide.hi - wide.median == pytest.approx(4 * SIGMA * 10)  # the MAD wins when wider
    assert baseline([30.0] * 9, 4, absolute_floor=1.0).hi == 31


def _measured(days: dict[dt.date, tuple[int, int]], first: dt.date, last: dt.date) -> object:
    """Hand-built measurements: {date: (games scheduled, box rows)}; ``last`` alone is judged,
    the dates before it are history."""
    from phaseguard.plan import ROWS, Measurements, Probe

    plan = Plan(
        start=first,
        end=last,
        first=last,
        probes=(
            Probe(SCHEDULE, "games.schedule", "game_date", (ROWS, Metric("units", "game_id"))),
            Probe("box", "games.box", "game_date", (ROWS,)),
        ),
    )
    values: dict[tuple[str, dt.date], dict[str, float | None]] = {}
    for day, (games, rows) in days.items():
        if games:
            values[(SCHEDULE, day)] = {"rows": games, "units:game_id": games}
        if rows:
            values[("box", day)] = {"rows": rows}
    return Measurements.from_values(plan, values)


def _judge(config_text: str, measurements: object) -> list[Verdict]:
    from phaseguard.checks import Days, prepare

    config = parse(config_text)
    check = config.phases[0].checks[1]
    now = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    days, _ = Days.of_schedule(measurements, config.schedule, now)  # type: ignore[arg-type]
    return prepare(check, config, ["box"]).judge(days)


def test_fewer_comparable_dates_than_min_history_is_learning() -> None:
    first = dt.date(2026, 1, 1)
    history = {first + dt.timedelta(days=i): (4, 100) for i in range(3)}
    judged = first + dt.timedelta(days=3)
    measured = _measured({**history, judged: (4, 10)}, first, judged)
    (verdict,) = _judge(CONFIG, measured)
    assert verdict.level is Level.NA
    assert verdict.observed == "learning: 3 of 7 game dates"
    assert verdict.details == {"learning": 3, "needed": 7}


def test_off_days_empty_dates_and_the_date_itself_are_not_history() -> None:
    first = dt.date(2026, 1, 1)
    days: dict[dt.date, tuple[int, int]] = {}
    for i in range(20):
        day = first + dt.timedelta(days=i)
        if i % 3 == 2:
            days[day] = (0, 0)  # an off-day
        elif i == 7:
            days[day] = (4, 0)  # scheduled, nothing loaded: a coverage failure, not history
        else:
            days[day] = (4, 100 + (i % 2) * 4)  # 25 or 26 rows per game
    judged = first + dt.timedelta(days=20)
    days[judged] = (4, 60)  # 15 per game
    (last,) = _judge(CONFIG, _measured(days, first, judged))
    assert last.level is Level.FAIL
    assert last.details["learned_from"] == 13  # 20 dates - 6 off-days - 1 empty
    assert last.details["per"] == "unit"
    assert last.details["anomaly"] == "below"
    assert last.observed == "15 rows per game (60 rows, 4 games), below the learned band"
    # 7 dates at 25, 6 at 26: median 25, MAD 0, so the 10 % floor sets the band.
    assert last.expected == "22.5–27.5 rows per game, learned from the last 13 game dates"
    assert (last.details["median"], last.details["mad"]) == (25, 0)
    days[judged] = (4, 0)  # a scheduled date with no rows is far below the band
    (empty,) = _judge(CONFIG, _measured(days, first, judged))
    assert empty.level is Level.FAIL
    assert empty.observed == "0 rows per game (0 rows, 4 games), below the learned band"


def test_a_learned_check_is_refused_when_it_could_never_learn(tmp_path: Path) -> None:
    text = CONFIG.replace("history: 28, sensitivity: 4", "history: 5, min_history: 7")
    with pytest.raises(ConfigError) as err:
        parse(text, "p.yml")
    assert str(err.value).startswith("p.yml:10: phases[0].checks[1].min_history: ")
    assert "min_history 7 is more than history 5" in str(err.value)
    with pytest.raises(ConfigError, match="sensitivit"):
        parse(CONFIG.replace("sensitivity: 4", "sensitivty: 4"), "p.yml")


def test_the_plan_reads_the_history_back_in_the_same_query() -> None:
    config = parse(CONFIG)
    checks = [(c, ["box"]) for c in config.phases[0].checks]
    plan = build_plan(config, checks, LATE, LATE)
    assert plan.start == LATE - dt.timedelta(days=56)  # 2 x history: room for off-days
    assert plan.first == LATE
    assert plan.dates == [LATE]
    weekday = parse(
        CONFIG.replace(
            "schedule: {table: games.schedule, date_column: game_date, unit: game_id}",
            "schedule: {every: weekday}",
        ).replace(", unit: game_id}", "}")
    )
    plan = build_plan(weekday, [(c, ["box"]) for c in weekday.phases[0].checks], LATE, LATE)
    assert plan.start == LATE - dt.timedelta(days=40 + 7)  # 28 weekdays are 40 days, + a week
    explicit = parse(CONFIG.replace("history: 28, sensitivity: 4", "history_days: 90"))
    plan = build_plan(explicit, [(c, ["box"]) for c in explicit.phases[0].checks], LATE, LATE)
    assert plan.start == LATE - dt.timedelta(days=90)


# -- a seeded season, on real warehouses ---------------------------------------------------


def test_only_the_partial_and_the_late_load_alarm(season: tuple[Path, str]) -> None:
    config, url = season
    with load(config, warehouse=url) as guard:
        before = guard.warehouse.queries_sent
        result = guard.verify(dt.date(2026, 2, 1), LAST)
        assert guard.warehouse.queries_sent - before == 1  # the history came with it
    by_date = {d.date: d for d in result.dates}
    volume = {d: _verdict(v, "volume_anomaly") for d, v in by_date.items()}
    fresh = {d: _verdict(v, "freshness_anomaly") for d, v in by_date.items()}
    alarms = {d for d in by_date if volume[d].level.rank < Level.PASS.rank}
    assert alarms == {PARTIAL}
    late = {d for d in by_date if fresh[d].level.rank < Level.PASS.rank}
    assert late == {LATE}
    partial = volume[PARTIAL]
    assert partial.level is Level.FAIL
    assert partial.observed.endswith("below the learned band")
    assert partial.expected.endswith("rows per game, learned from the last 28 game dates")
    assert partial.details["learned_from"] == 28
    lo, hi = partial.details["expected"]  # type: ignore[misc]
    assert 22 <= lo < 25 < hi <= 28
    assert by_date[PARTIAL].overall is Overall.FAILED
    assert fresh[LATE].level is Level.FAIL
    assert fresh[LATE].expected.startswith("newest scraped_at within ")
    assert "later than the learned band" in fresh[LATE].observed
    # Off-days and the break are N/A, and the first date after the break is judged clean.
    for day in [*BREAK, dt.date(2026, 2, 2), dt.date(2026, 2, 9)]:
        assert by_date[day].overall is Overall.NA
    assert volume[AFTER_BREAK].level is Level.EXCELLENT
    assert fresh[AFTER_BREAK].level is Level.EXCELLENT
    assert volume[AFTER_BREAK].details["learned_from"] == 28
    clean = [d for d in game_days() if d >= dt.date(2026, 2, 1) and d not in (PARTIAL, LATE)]
    assert all(by_date[d].overall is Overall.COMPLETE for d in clean)


def test_the_first_dates_are_learning_not_alarming(season: tuple[Path, str]) -> None:
    config, url = season
    with load(config, warehouse=url) as guard:
        result = guard.verify(START, dt.date(2026, 1, 12))
    volume = {d.date: _verdict(d, "volume_anomaly") for d in result.dates if d.scheduled}
    assert volume[START].observed == "learning: 0 of 7 game dates"
    assert volume[dt.date(2026, 1, 8)].observed == "learning: 6 of 7 game dates"
    assert volume[dt.date(2026, 1, 9)].level is Level.EXCELLENT  # 7 dates learned
    assert volume[dt.date(2026, 1, 9)].expected.endswith("learned from the last 7 game dates")
    assert result.overall is Overall.COMPLETE


def test_severity_warn_makes_the_partial_load_a_warning(season: tuple[Path, str]) -> None:
    config, url = season
    config.write_text(CONFIG.replace("sensitivity: 4}", "sensitivity: 4, severity: warn}"))
    with load(config, warehouse=url) as guard:
        result = guard.verify(PARTIAL)
    verdict = _verdict(result.dates[0], "volume_anomaly")
    assert verdict.level is Level.ACCEPTABLE
    assert verdict.observed.endswith("below the learned band (a warning)")


def test_verify_shows_what_was_learned(season: tuple[Path, str]) -> None:
    config, url = season
    runner = CliRunner()
    args = ["verify", str(PARTIAL), "--config", str(config), "--warehouse", url]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 2, shown.output
    assert "volume_anomaly(box)" in shown.output
    assert "learned from the last 28 game dates" in shown.output
    as_json = runner.invoke(app, [*args, "--format", "json"])
    data = json.loads(as_json.stdout)
    checks = data["dates"][0]["phases"]["ingest"]["checks"]
    volume = next(c for c in checks if c["check"] == "volume_anomaly(box)")
    assert volume["status"] == "FAIL"
    assert volume["details"]["learned_from"] == 28
    assert volume["details"]["per"] == "unit"
    assert len(volume["details"]["expected"]) == 2
    assert volume["value"] == pytest.approx(volume["value"])  # rows per game, a number
    assert volume["value"] < volume["details"]["expected"][0]


def test_criteria_describe_the_learned_rule(tmp_path: Path) -> None:
    config = tmp_path / "phaseguard.yml"
    config.write_text(CONFIG)
    out = CliRunner().invoke(app, ["criteria", "--config", str(config)])
    assert out.exit_code == 0, out.output
    assert "rows of `games.box` per scheduled game, learned:" in out.output
    assert "last 28 game dates" in out.output
    assert "read up to 56 days back" in out.output
    assert "N/A (learning)" in out.output
    assert "how late `games.box` landed" in out.output


def test_criteria_as_of_a_date_say_what_was_learned(season: tuple[Path, str]) -> None:
    config, url = season
    args = ["criteria", "--config", str(config), "--warehouse", url]
    out = CliRunner().invoke(app, [*args, "--as-of", str(PARTIAL)])
    assert out.exit_code == 0, out.output
    learned = [line for line in out.output.splitlines() if "*learned*" in line]
    assert len(learned) == 2  # volume and freshness, under their checks
    assert f"as of {PARTIAL}: " in learned[0]
    assert "rows per game, learned from the last 28 game dates" in learned[0]
    assert "learned from the last" in learned[1]
    with pytest.raises(SystemExit) as bad:
        main([*args, "--as-of", "2026-02-30"])
    assert bad.value.code == 3  # one line naming --as-of, as any bad date


# -- the same season on BigQuery (emulator) and Spark: slow ----------------------------------


def _only_the_partial_and_the_late_load(config: Path, url: str) -> None:
    with load(config, warehouse=url) as guard:
        before = guard.warehouse.queries_sent
        result = guard.verify(dt.date(2026, 2, 1), LAST)
        assert guard.warehouse.queries_sent - before == 1
    levels = {
        (d.date, kind): _verdict(d, kind).level
        for d in result.dates
        if d.scheduled
        for kind in ("volume_anomaly", "freshness_anomaly")
    }
    alarms = {key for key, level in levels.items() if level.rank < Level.PASS.rank}
    assert alarms == {(PARTIAL, "volume_anomaly"), (LATE, "freshness_anomaly")}
    partial = _verdict(next(d for d in result.dates if d.date == PARTIAL), "volume_anomaly")
    assert partial.expected.endswith("rows per game, learned from the last 28 game dates")


@pytest.mark.slow
def test_bigquery_catches_the_same_two_dates(bq_endpoint: str, tmp_path: Path) -> None:
    import uuid

    url = f"bigquery://t-{uuid.uuid4().hex[:12]}?endpoint={bq_endpoint}&timeout=30"
    seed(url, tmp_path, utc=True)
    config = tmp_path / "phaseguard.yml"
    config.write_text(CONFIG)
    _only_the_partial_and_the_late_load(config, url)


@pytest.mark.slow
def test_spark_catches_the_same_two_dates(spark_session: object, tmp_path: Path) -> None:
    from conftest import SPARK_URL

    spark_session.sql("DROP DATABASE IF EXISTS games CASCADE")  # type: ignore[attr-defined]
    seed(SPARK_URL, tmp_path)
    config = tmp_path / "phaseguard.yml"
    config.write_text(CONFIG)
    try:
        _only_the_partial_and_the_late_load(config, SPARK_URL)
    finally:
        spark_session.sql("DROP DATABASE IF EXISTS games CASCADE")  # type: ignore[attr-defined]


def test_where_counts_only_the_rows_it_keeps_in_the_history_too(season: tuple[Path, str]) -> None:
    config, url = season
    config.write_text(CONFIG.replace("sensitivity: 4}", 'sensitivity: 4, where: "player < 20"}'))
    with load(config, warehouse=url) as guard:
        result = guard.verify(PARTIAL, AFTER_BREAK)
    by_date = {d.date: _verdict(d, "volume_anomaly") for d in result.dates if d.scheduled}
    # Every normal game keeps exactly 20 rows: MAD 0, so the 10 % floor is the band.
    assert by_date[AFTER_BREAK].expected == (
        "18–22 rows per game, learned from the last 28 game dates"
    )
    assert by_date[AFTER_BREAK].observed.startswith("20 rows per game")
    assert by_date[PARTIAL].level is Level.FAIL  # 14-16 players kept per game


def test_per_loaded_unit_leaves_a_missing_game_to_coverage(season: tuple[Path, str]) -> None:
    """A game missing altogether on AFTER_BREAK (coverage's finding: another source may have
    it) drops the rows per scheduled game; per game the table holds, the date is normal, and
    the partial load, where every game is there with fewer rows, is still caught."""
    config, url = season
    with connect(url, base_dir=config.parent) as wh:
        wh.run_script(
            [
                "DELETE FROM games.box WHERE game_id IN (SELECT MIN(game_id) FROM games.box "
                "WHERE game_date = '2026-02-19')"
            ]
        )
    per_unit = _volume_by_date(config, url)
    config.write_text(CONFIG.replace("per: unit", "per: loaded_unit"))
    loaded = _volume_by_date(config, url)
    assert per_unit[AFTER_BREAK].level is Level.FAIL
    assert loaded[AFTER_BREAK].level is Level.EXCELLENT
    assert loaded[AFTER_BREAK].details["per"] == "loaded_unit"
    assert loaded[PARTIAL].level is Level.FAIL
    assert "rows per game" in loaded[PARTIAL].expected


def _volume_by_date(config: Path, url: str) -> dict[dt.date, Verdict]:
    with load(config, warehouse=url) as guard:
        result = guard.verify(PARTIAL, AFTER_BREAK)
    return {d.date: _verdict(d, "volume_anomaly") for d in result.dates if d.scheduled}


def test_an_empty_scheduled_date_is_below_even_a_band_that_reaches_zero() -> None:
    first = dt.date(2026, 1, 1)
    # 1 to 9 games a date, 25 rows each: per date, the band reaches below 0.
    days = {first + dt.timedelta(days=i): (1 + i % 9, 25 * (1 + i % 9)) for i in range(28)}
    judged = first + dt.timedelta(days=28)
    per_date = CONFIG.replace("per: unit", "per: date")
    days[judged] = (5, 0)
    (empty,) = _judge(per_date, _measured(days, first, judged))
    assert empty.details["expected"][0] == 0  # type: ignore[index]
    assert empty.level is Level.FAIL
    assert empty.observed == "0 rows, below the learned band"
    days[judged] = (5, 10)  # thin, but inside a band this wide: per: unit is what sees it
    (thin,) = _judge(per_date, _measured(days, first, judged))
    assert thin.level is Level.EXCELLENT
    (per_unit,) = _judge(CONFIG, _measured(days, first, judged))
    assert per_unit.level is Level.FAIL


GATED = (
    CONFIG
    + """\
  - name: summarize
    depends_on: [ingest]
    tables:
      - {name: summary, table: games.summary, date_column: game_date}
gates:
  - phase: summarize
    checks:
      - {kind: volume_anomaly, table: box}
"""
)


def test_a_gate_blocks_the_silent_partial_load_in_one_query(season: tuple[Path, str]) -> None:
    config, url = season
    config.write_text(GATED)
    with load(config, warehouse=url) as guard:
        before = guard.warehouse.queries_sent
        blocked = guard.gate("summarize").decide(PARTIAL)
        assert guard.warehouse.queries_sent - before == 1
        opened = guard.gate("summarize").decide(AFTER_BREAK)
    assert not blocked.allowed
    assert "learned from the last 28 game dates" in blocked.message
    assert opened.allowed
