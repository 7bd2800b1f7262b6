"""unit_coverage: the share of the schedule's units for a date that have rows.

A semi-join on the unit against the schedule, inside the one query: a renamed unit is
missing, not covered, and the verdict names the missing units. ``any_of`` covers over the
union of several sources; ``window: 7d`` over the days ending on the date. Real DuckDB
files and the real PostgreSQL fixture (``mini``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from conftest import D1, D2, D4, MINI_CONFIG, seed_mini
from phaseguard import load
from phaseguard.cli import main
from phaseguard.config import parse
from phaseguard.errors import ConfigError
from phaseguard.plan import build_plan
from phaseguard.verdicts import Level, Verdict
from phaseguard.warehouse import connect
from phaseguard.warehouse.statement import measurement_statement


def _coverage(result_day: object, phase: str = "ingest") -> Verdict:
    verdicts = result_day.phase(phase).verdicts  # type: ignore[attr-defined]
    return next(v for v in verdicts if v.check.startswith(("unit_coverage", "games")))


def test_a_renamed_unit_is_missing_not_covered(mini: tuple[Path, str]) -> None:
    config, url = mini
    with connect(url, base_dir=config.parent) as wh:  # g10 -> x10 on D1: still 3 games
        wh.run_script(["UPDATE raw.box SET game_id = 'x10' WHERE game_id = 'g10'"])
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1)
    verdict = _coverage(result.dates[0])
    assert verdict.observed == "67% (2/3); missing 1: g10"
    assert verdict.level is Level.FAIL  # below acceptable (70 %)
    assert verdict.value == pytest.approx(2 / 3)
    assert verdict.details == {"missing_count": 1, "missing": ["g10"]}


def test_units_outside_the_schedule_cover_nothing(mini: tuple[Path, str]) -> None:
    config, url = mini
    with connect(url, base_dir=config.parent) as wh:  # D2: 1 of 3 games, plus 5 strays
        wh.insert_rows(
            "raw.box", ["game_id", "game_date", "pts"], [(f"z{i}", D2, 1) for i in range(5)]
        )
    with load(config, warehouse=url) as guard:
        result = guard.verify(D2)
    verdict = _coverage(result.dates[0])
    assert verdict.observed == "33% (1/3); missing 2: g21, g22"
    assert verdict.level is Level.FAIL


def test_many_missing_units_name_the_first_few_and_count_the_rest(
    mini: tuple[Path, str],
) -> None:
    config, url = mini
    with connect(url, base_dir=config.parent) as wh:
        wh.insert_rows(
            "raw.schedule", ["game_id", "game_date"], [(f"m{i:02d}", D1) for i in range(9)]
        )
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1)
    verdict = _coverage(result.dates[0])
    assert verdict.observed == "25% (3/12); missing 9: m00, m01, m02, m03, m04 and 4 more"
    assert verdict.details == {
        "missing_count": 9,
        "missing": ["m00", "m01", "m02", "m03", "m04"],
    }


def test_json_names_the_missing_units(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "phaseguard.yml").write_text(MINI_CONFIG)
    url = f"duckdb://{tmp_path / 'mini.duckdb'}"
    seed_mini(url, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    with pytest.raises(SystemExit):
        main(["verify", "2026-01-02", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    check = data["dates"][0]["phases"]["ingest"]["checks"][1]
    assert check["check"] == "unit_coverage(box)"
    assert check["details"] == {"missing_count": 2, "missing": ["g21", "g22"]}
    assert check["value"] == pytest.approx(1 / 3)


ANY_OF = MINI_CONFIG.replace(
    "      - {name: box, table: raw.box, date_column: game_date, unit: game_id}\n",
    "      - {name: box, table: raw.box, date_column: game_date, unit: game_id}\n"
    "      - {name: gamebook, table: raw.gamebook, date_column: day, unit: gid}\n",
).replace(
    "      - {kind: rows_exist}\n      - {kind: unit_coverage, table: box,",
    "      - {kind: rows_exist, any_of: [box, gamebook]}\n"
    "      - {kind: unit_coverage, any_of: [gamebook, box],",
)


def test_any_of_covers_over_the_union_of_the_sources(mini: tuple[Path, str]) -> None:
    config, url = mini
    config.write_text(ANY_OF)
    with connect(url, base_dir=config.parent) as wh:
        wh.create_table("raw.gamebook", {"gid": "VARCHAR", "day": "DATE"})
        wh.insert_rows("raw.gamebook", ["gid", "day"], [("g21", D2), ("g20", D2), ("g40", D4)])
        wh.run_script(["DELETE FROM raw.box WHERE game_date = '2026-01-04'"])
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D4)
    by_date = {d.date: d for d in result.dates}
    assert _coverage(by_date[D1]).check == "unit_coverage(gamebook|box)"
    assert _coverage(by_date[D1]).observed == "100% (3/3)"  # box alone
    assert _coverage(by_date[D2]).observed == "67% (2/3); missing 1: g22"  # box g20 + book g21
    assert _coverage(by_date[D4]).observed == "33% (1/3); missing 2: g41, g42"  # book alone
    exists = by_date[D4].phase("ingest").verdicts[0]
    assert exists.level is Level.EXCELLENT  # box is empty, the gamebook is not: it holds
    assert exists.expected == "rows in any of box, gamebook"


def test_units_of_different_types_are_compared_as_text(mini: tuple[Path, str]) -> None:
    config, url = mini
    config.write_text(ANY_OF)
    with connect(url, base_dir=config.parent) as wh:  # the gamebook's ids are integers
        wh.create_table("raw.gamebook", {"gid": "INTEGER", "day": "DATE"})
        wh.insert_rows("raw.gamebook", ["gid", "day"], [(21, D2)])
        wh.run_script(["UPDATE raw.schedule SET game_id = '21' WHERE game_id = 'g21'"])
    with load(config, warehouse=url) as guard:
        result = guard.verify(D2)
    assert _coverage(result.dates[0]).observed == "67% (2/3); missing 1: g22"


def test_any_of_with_every_source_empty_fails(mini: tuple[Path, str]) -> None:
    config, url = mini
    config.write_text(ANY_OF)
    with connect(url, base_dir=config.parent) as wh:
        wh.create_table("raw.gamebook", {"gid": "VARCHAR", "day": "DATE"})
        wh.run_script(["DELETE FROM raw.box WHERE game_date = '2026-01-04'"])
    with load(config, warehouse=url) as guard:
        day = guard.verify(D4).dates[0]
    assert day.phase("ingest").verdicts[0].level is Level.FAIL
    assert _coverage(day).observed.startswith("0% (0/3); missing 3: g40, g41, g42")


WINDOW = MINI_CONFIG.replace(
    "      - {kind: unit_coverage, table: box, excellent: 0.9, acceptable: 0.7}\n",
    "      - {kind: unit_coverage, table: box, excellent: 0.9, acceptable: 0.7}\n"
    "      - {kind: unit_coverage, name: weekly, table: box, pass: 0.6, window: 3d}\n",
)


def test_a_rolling_window_reads_back_in_the_same_query(mini: tuple[Path, str]) -> None:
    config, url = mini
    config.write_text(WINDOW)
    with load(config, warehouse=url) as guard:
        before = guard.warehouse.queries_sent
        result = guard.verify(D4)  # the window D2..D4: D2 1/3, D3 nothing, D4 3/3
        assert guard.warehouse.queries_sent - before == 1
    assert [d.date for d in result.dates] == [D4]
    weekly = next(v for v in result.dates[0].phase("ingest").verdicts if v.check == "weekly")
    assert weekly.observed == "67% over 3 days (4/6)"
    assert weekly.expected == ">= 60% pass over 3 days"
    assert weekly.level is Level.PASS
    with load(config, warehouse=url) as guard:
        day2 = guard.verify(D2).dates[0]  # D1 3/3 + D2 1/3 = 4/6 as well; D1 alone 3/3
        day1 = guard.verify(D1).dates[0]
    assert next(v for v in day2.phase("ingest").verdicts if v.check == "weekly").value == (
        pytest.approx(4 / 6)
    )
    assert next(v for v in day1.phase("ingest").verdicts if v.check == "weekly").observed == (
        "100% over 3 days (3/3)"
    )


def test_a_window_below_its_threshold_fails(mini: tuple[Path, str]) -> None:
    config, url = mini
    config.write_text(WINDOW.replace("pass: 0.6, window: 3d", "pass: 0.95, window: 7d"))
    with load(config, warehouse=url) as guard:
        day = guard.verify(D4).dates[0]
    weekly = next(v for v in day.phase("ingest").verdicts if v.check == "weekly")
    assert weekly.observed == "78% over 7 days (7/9)"
    assert weekly.level is Level.FAIL


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("window: 7d", None),
        ("window: 7", "window 7: expected a number of days"),
        ("window: 400d", "window '400d'"),
    ],
)
def test_window_values(change: str, message: str | None) -> None:
    text = MINI_CONFIG.replace(
        "{kind: unit_coverage, table: box, excellent: 0.9, acceptable: 0.7}",
        f"{{kind: unit_coverage, table: box, excellent: 0.9, acceptable: 0.7, {change}}}",
    )
    if message is None:
        assert parse(text).phases[0].checks[1].window_days == 7  # type: ignore[union-attr]
        return
    with pytest.raises(ConfigError, match=message):
        parse(text, "p.yml")


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("{kind: unit_coverage, excellent: 0.9}", "give exactly one of table, any_of"),
        ("{kind: unit_coverage, table: box, any_of: [box], pass: 1}", "exactly one of table"),
        ("{kind: unit_coverage, any_of: [box, nope], pass: 1}", "unknown table 'nope'"),
        ("{kind: rows_exist, any_of: [box, A]}", "table 'A' is not in this phase"),
        ("{kind: rows_exist, tables: [box], any_of: [box]}", "not both"),
    ],
)
def test_bad_coverage_checks_are_one_line_errors(check: str, message: str) -> None:
    text = MINI_CONFIG.replace(
        "{kind: unit_coverage, table: box, excellent: 0.9, acceptable: 0.7}", check
    )
    with pytest.raises(ConfigError, match=message) as info:
        parse(text, "p.yml")
    assert str(info.value).startswith("p.yml:")


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "bigquery", "spark"])
def test_the_coverage_statement_renders_for_every_dialect(dialect: str) -> None:
    import sqlglot

    config = parse(ANY_OF.replace("excellent: 0.9, acceptable: 0.7}", "pass: 1, window: 7d}"))
    checks = [(c, [t.name for t in p.tables]) for p in config.phases for c in p.checks]
    plan = build_plan(config, checks, D1, D4)
    assert plan.start == D1 - dt.timedelta(days=6)
    assert plan.dates[0] == D1
    sql = measurement_statement(plan.probes, dialect)
    assert "LEFT JOIN" in sql
    assert sqlglot.parse_one(sql, read=dialect) is not None
    assert "2026" not in sql  # dates are bound, never formatted in


def test_the_window_is_in_the_report_and_the_daily_summary(mini: tuple[Path, str]) -> None:
    from phaseguard import report

    config, url = mini
    config.write_text(WINDOW)
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D4)
    alert = report.summary_alert(result, pipeline="mini")
    assert "ingest weekly: 67% over 3 days (4/6) (PASS)" in alert.text  # the last game date
    now = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    view = report.build(
        result,
        [],
        config=guard.config,
        provenance=report.provenance(str(config), url, now),
    )
    chart = next(c for c in view.trends if c.title == "weekly (ingest)")
    assert len(chart.marks) == 3  # D1, D2, D4: one dot per scheduled date
    assert "weekly" in report.render(view)


def test_past_a_hundred_missing_units_only_the_first_is_named(mini: tuple[Path, str]) -> None:
    config, url = mini
    with connect(url, base_dir=config.parent) as wh:
        wh.insert_rows(
            "raw.schedule", ["game_id", "game_date"], [(f"m{i:03d}", D1) for i in range(120)]
        )
    with load(config, warehouse=url) as guard:
        verdict = _coverage(guard.verify(D1).dates[0])
    assert verdict.observed == "2% (3/123); missing 120: m000 and 119 more"
    assert verdict.details == {"missing_count": 120, "missing": ["m000"]}


def test_the_example_grades_phase_2_on_either_source(tmp_path: Path) -> None:
    """#14 item 9 on the demo season: 2026-01-13 lost bdl games the nbac gamebook has."""
    from nba_props.demo import build_demo

    demo = build_demo(tmp_path / "demo")
    with load(demo.config_path) as guard:
        day = guard.verify(dt.date(2026, 1, 13)).dates[0]
        phase2 = {v.check: v for v in day.phase("phase2").verdicts}
        bdl_alone = guard.warehouse.driver.execute(
            "SELECT COUNT(DISTINCT game_id) FROM nba_raw.bdl_player_boxscores "
            "WHERE game_date = DATE '2026-01-13'"
        )[0][0]
    assert bdl_alone < day.scheduled  # balldontlie alone is partial
    assert phase2["games covered"].observed == f"100% ({day.scheduled}/{day.scheduled})"
    assert phase2["games covered"].check == "games covered"
    assert phase2["rows_exist(bdl_boxscores|nbac_gamebook)"].level is Level.EXCELLENT
    weekly = phase2["weekly games covered"]
    assert weekly.observed.startswith("100% over 7 days")
