"""The keyed kinds: unique, relationships, accepted_values from a reference, row_count by group.

Each reads a probe of its own in the ONE statement (a second grouping step or a join per
date) and names its evidence. The mini pipeline (real DuckDB file and real PostgreSQL)
with a ``quality`` phase of our own seeded on top: player lines (duplicates on D2, orphan
games on D2, unknown team codes on D4), hourly weather per airport (a gap on D2, a
surplus hour on D4) and a teams dimension.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import D1, D2, D3, D4, MINI_CONFIG, seed_mini
from phaseguard import load
from phaseguard.cli import main
from phaseguard.config import parse
from phaseguard.criteria import render
from phaseguard.errors import ConfigError, UnknownObjectError
from phaseguard.plan import build_plan
from phaseguard.verdicts import Level, Verdict
from phaseguard.warehouse import connect
from phaseguard.warehouse.statement import measurement_statement

QUALITY = """\
  - name: quality
    depends_on: [ingest]
    tables:
      - {name: lines, table: raw.lines, date_column: game_date}
      - {name: weather, table: raw.weather, date_column: obs_date}
    checks:
      - {kind: unique, table: lines, columns: [game_id, player_id]}
      - {kind: relationships, table: lines, columns: [game_id], to: {table: box, columns: [game_id]}}
      - {kind: accepted_values, table: lines, column: team, values_from: {table: teams, column: abbr}}
      - {kind: row_count, table: weather, group_by: [origin], pass: {between: [24, 24]}}
"""
KEYED_CONFIG = MINI_CONFIG.replace(
    "gates:\n", QUALITY + "dimensions:\n  - {name: teams, table: raw.teams}\ngates:\n"
)
UNIQUE, ORPHANS, TEAMS, HOURS = (
    "unique(lines.game_id,player_id)",
    "relationships(lines.game_id)",
    "accepted_values(lines.team)",
    "row_count(weather)",
)


def seed_quality(url: str, base_dir: Path) -> None:
    """D1 clean. D2: (g20, 1) three times and (g20, 2) twice, two NULL players (skipped);
    lines of g21 and g22, which box lacks on D2 (orphans); LGA 23 hours. D4: teams XXX
    (twice), YYY and "A, B", a NULL team (not bad); EWR 25 hours."""
    with connect(url, base_dir=base_dir) as wh:
        wh.create_table("raw.teams", {"abbr": "VARCHAR", "name": "VARCHAR"})
        wh.insert_rows("raw.teams", ["abbr", "name"], [("BOS", "Boston"), ("LAL", "LA")])
        lines_cols = {"game_date": "DATE", "game_id": "VARCHAR", "player_id": "INTEGER"}
        wh.create_table("raw.lines", {**lines_cols, "team": "VARCHAR"})
        lines: list[tuple[Any, ...]] = []
        for game in ("g10", "g11", "g12"):
            lines += [(D1, game, p, "BOS" if p % 2 else "LAL") for p in (1, 2, 3)]
        lines += [(D2, "g20", 1, "BOS")] * 3 + [(D2, "g20", 2, "LAL")] * 2
        lines += [(D2, "g20", None, "BOS")] * 2
        lines += [(D2, "g21", 1, "BOS"), (D2, "g22", 1, "BOS"), (D2, "g22", 2, "LAL")]
        lines += [(D4, "g40", 1, "XXX"), (D4, "g41", 1, "XXX"), (D4, "g42", 1, "YYY")]
        lines += [(D4, "g40", 2, None), (D4, "g41", 2, "BOS"), (D4, "g42", 2, "A, B")]
        wh.insert_rows("raw.lines", ["game_date", "game_id", "player_id", "team"], lines)
        wh.create_table("raw.weather", {"obs_date": "DATE", "origin": "VARCHAR", "hour": "INTEGER"})
        hours = {D1: {"JFK": 24, "LGA": 24}, D2: {"JFK": 24, "LGA": 23}, D4: {"JFK": 24, "EWR": 25}}
        weather = [
            (day, origin, h % 24)
            for day, n in hours.items()
            for origin, k in n.items()
            for h in range(k)
        ]
        wh.insert_rows("raw.weather", ["obs_date", "origin", "hour"], weather)


@pytest.fixture
def keyed(mini: tuple[Path, str]) -> tuple[Path, str]:
    config, url = mini
    config.write_text(KEYED_CONFIG)
    seed_quality(url, config.parent)
    return config, url


def _verdicts(day: Any, phase: str = "quality") -> dict[str, Verdict]:
    return {v.check: v for v in day.phase(phase).verdicts}


def test_every_keyed_kind_is_judged_with_its_evidence_in_one_statement(
    keyed: tuple[Path, str],
) -> None:
    config, url = keyed
    with load(config, warehouse=url) as guard:
        before = guard.warehouse.queries_sent
        result = guard.verify(D1, D4)
        assert guard.warehouse.queries_sent - before == 1
    by_date = {d.date: _verdicts(d) for d in result.dates if d.date != D3}
    clean = by_date[D1]
    assert {name: v.level for name, v in clean.items()} == {
        "rows_exist": Level.EXCELLENT,
        UNIQUE: Level.EXCELLENT,
        ORPHANS: Level.EXCELLENT,
        TEAMS: Level.EXCELLENT,
        HOURS: Level.PASS,
    }
    assert clean[UNIQUE].observed == "0 duplicate rows by game_id+player_id of 9"
    assert clean[UNIQUE].details == {"bad": 0, "rows": 9}
    assert clean[HOURS].observed == "worst origin 24 rows (24..24 over 2 groups)"

    dup = by_date[D2][UNIQUE]
    assert dup.level is Level.FAIL
    assert dup.value == 3  # (g20, 1) x3 and (g20, 2) x2: 2 + 1 rows beyond the first
    assert dup.observed == (
        "3 duplicate rows by game_id+player_id of 10; 2 keys duplicated: g20|1 (3), g20|2 (2)"
    )
    assert dup.details == {
        "bad": 3,
        "rows": 10,
        "offending_count": 2,
        "offending": ["g20|1", "g20|2"],
        "counts": {"g20|1": 3, "g20|2": 2},
    }
    orphans = by_date[D2][ORPHANS]
    assert orphans.level is Level.FAIL
    assert orphans.observed == "3 orphan rows (no box row) of 10; 2 orphan keys: g21 (1), g22 (2)"
    assert orphans.details["offending"] == ["g21", "g22"]
    assert by_date[D4][ORPHANS].level is Level.EXCELLENT  # box holds g40..g42 on D4
    teams = by_date[D4][TEAMS]
    assert teams.level is Level.FAIL
    assert teams.details["counts"] == {"A, B": 1, "XXX": 2, "YYY": 1}  # NULL is not bad
    assert teams.observed == (
        "4 rows whose team is not in teams of 6; 3 values: A, B (1), XXX (2), YYY (1)"
    )
    assert by_date[D2][TEAMS].level is Level.EXCELLENT
    gap = by_date[D2][HOURS]
    assert gap.level is Level.FAIL
    assert gap.value == 23
    assert gap.observed == "worst origin 23 rows (23..24 over 2 groups); 1 outside: LGA (23)"
    assert gap.details == {"outside_count": 1, "groups": {"LGA": 23}, "min": 23, "max": 24}
    surplus = by_date[D4][HOURS]
    assert surplus.value == 25  # the largest group is the worst one
    assert surplus.details["groups"] == {"EWR": 25}
    assert result.dates[2].date == D3
    assert result.dates[2].phase("quality").level is Level.NA  # an off-day: no alarm


def test_json_carries_the_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "phaseguard.yml").write_text(KEYED_CONFIG)
    url = f"duckdb://{tmp_path / 'mini.duckdb'}"
    seed_mini(url, tmp_path)
    seed_quality(url, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    with pytest.raises(SystemExit):
        main(["verify", "2026-01-02", "2026-01-04", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    days = {d["date"]: d["phases"]["quality"]["checks"] for d in data["dates"]}
    checks = {c["check"]: c for c in days["2026-01-02"]}
    assert checks[UNIQUE]["details"]["counts"] == {"g20|1": 3, "g20|2": 2}
    assert checks[ORPHANS]["details"]["offending"] == ["g21", "g22"]
    assert checks[HOURS]["details"]["groups"] == {"LGA": 23}
    checks4 = {c["check"]: c for c in days["2026-01-04"]}
    assert checks4[TEAMS]["details"]["offending"] == ["A, B", "XXX", "YYY"]


def test_share_budgets_warnings_and_a_dimension_parent(keyed: tuple[Path, str]) -> None:
    config, url = keyed
    config.write_text(
        KEYED_CONFIG.replace(
            "{kind: unique, table: lines, columns: [game_id, player_id]}",
            "{kind: unique, table: lines, columns: [game_id, player_id], measure: share, "
            "pass: 0.2, acceptable: 0.35}",
        ).replace(
            "to: {table: box, columns: [game_id]}}",
            "to: {table: box, columns: [game_id]}, acceptable: 5}\n"
            "      - {kind: relationships, name: known teams, table: lines, columns: [team], "
            "to: {table: teams, columns: [abbr]}, severity: warn, pass: 1}",
        )
    )
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D4)
    by_date = {d.date: _verdicts(d) for d in result.dates}
    share = by_date[D2][UNIQUE]
    assert share.value == pytest.approx(0.3)
    assert share.level is Level.ACCEPTABLE
    assert share.expected == "<= 20% pass, <= 35% acceptable"
    assert share.observed.startswith("30% (3 duplicate rows by game_id+player_id of 10)")
    assert by_date[D2][ORPHANS].level is Level.ACCEPTABLE  # 3 orphans, a budget of 5
    known = by_date[D4]["known teams"]
    assert known.level is Level.ACCEPTABLE  # severity: warn
    assert known.details["offending"] == ["A, B", "XXX", "YYY"]
    assert "above pass <= 1 (a warning)" in known.observed
    assert by_date[D1]["known teams"].level is Level.PASS


def test_a_key_of_several_columns_against_a_dated_parent(keyed: tuple[Path, str]) -> None:
    config, url = keyed
    config.write_text(
        KEYED_CONFIG.replace(
            "columns: [game_id], to: {table: box, columns: [game_id]}",
            "columns: [game_id, game_date], to: {table: box, columns: [game_id, game_date]}",
        )
    )
    with connect(url, base_dir=config.parent) as wh:  # g21 in box on D1 does not parent D2
        wh.insert_rows("raw.box", ["game_id", "game_date", "pts"], [("g21", D1, 1)])
    with load(config, warehouse=url) as guard:
        result = guard.verify(D2)
    orphans = _verdicts(result.dates[0])["relationships(lines.game_id,game_date)"]
    assert orphans.details["counts"] == {"g21|2026-01-02": 1, "g22|2026-01-02": 2}


def test_literal_values_beside_a_reference_list_and_keys_of_another_type(
    keyed: tuple[Path, str],
) -> None:
    config, url = keyed
    config.write_text(
        KEYED_CONFIG.replace(
            "values_from: {table: teams, column: abbr}}",
            "values_from: {table: teams, column: abbr}}\n"
            "      - {kind: accepted_values, name: ids, table: lines, column: player_id, "
            "values: [1, 2, 3]}\n"
            "      - {kind: relationships, name: players, table: lines, columns: [player_id], "
            "to: {table: players, columns: [pid]}}",
        ).replace("dimensions:\n", "dimensions:\n  - {name: players, table: raw.players}\n")
    )
    with connect(url, base_dir=config.parent) as wh:  # a text id where lines has an integer
        wh.create_table("raw.players", {"pid": "VARCHAR"})
        wh.insert_rows("raw.players", ["pid"], [("1",), ("2",)])
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D4)
    by_date = {d.date: _verdicts(d) for d in result.dates if d.date != D3}
    assert by_date[D4][TEAMS].details["counts"] == {"A, B": 1, "XXX": 2, "YYY": 1}
    assert by_date[D1][TEAMS].level is Level.EXCELLENT
    assert [by_date[d]["ids"].level for d in (D1, D2, D4)] == [Level.EXCELLENT] * 3
    players = by_date[D1]["players"]
    assert players.details["counts"] == {"3": 3}  # player 3 of g10, g11, g12
    assert players.observed == "3 orphan rows (no players row) of 9; 1 orphan key: 3 (3)"


def test_where_keeps_only_the_rows_it_holds_for(keyed: tuple[Path, str]) -> None:
    config, url = keyed
    config.write_text(
        KEYED_CONFIG.replace(
            "columns: [game_id, player_id]}",
            "columns: [game_id, player_id], where: player_id <> 1}",
        ).replace(
            "group_by: [origin], pass: {between: [24, 24]}}",
            "group_by: [origin], where: hour < 12, pass: {between: [12, 12]}}",
        )
    )
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D2)
    day1, day2 = (_verdicts(d) for d in result.dates)
    unique = day2["unique(lines.game_id,player_id)"]
    assert unique.details == {  # (g20, 2) x2 and (g22, 2): player 1 and NULL left out
        "bad": 1,
        "rows": 3,
        "offending": ["g20|2"],
        "offending_count": 1,
        "counts": {"g20|2": 2},
    }
    assert day1[HOURS].level is Level.PASS  # 12 hours before noon at JFK and LGA
    assert day2[HOURS].level is Level.PASS  # LGA's missing hour 23 is not a morning one
    assert day2[HOURS].observed == "worst origin 12 rows (12..12 over 2 groups)"


def test_past_a_hundred_offending_keys_the_first_five_are_named(keyed: tuple[Path, str]) -> None:
    config, url = keyed
    with connect(url, base_dir=config.parent) as wh:
        rows = [(D1, f"x{i:03d}", 1, "BOS") for i in range(120) for _ in range(2)]
        wh.insert_rows("raw.lines", ["game_date", "game_id", "player_id", "team"], rows)
    with load(config, warehouse=url) as guard:
        day = _verdicts(guard.verify(D1).dates[0])
    assert day[UNIQUE].value == 120
    assert day[UNIQUE].observed.endswith(
        "120 keys duplicated: x000|1 (2), x001|1 (2), x002|1 (2), x003|1 (2), x004|1 (2) "
        "and 115 more"
    )
    assert day[UNIQUE].details["offending"] == [f"x{i:03d}|1" for i in range(100)]
    assert day[ORPHANS].details["offending_count"] == 120


def test_a_date_without_rows_is_not_applicable(keyed: tuple[Path, str]) -> None:
    config, url = keyed
    with connect(url, base_dir=config.parent) as wh:
        wh.run_script(["DELETE FROM raw.lines WHERE game_date = '2026-01-04'"])
        wh.run_script(["DELETE FROM raw.weather WHERE obs_date = '2026-01-04'"])
    with load(config, warehouse=url) as guard:
        day = _verdicts(guard.verify(D4).dates[0])
    assert day[UNIQUE].level is Level.NA
    assert day[UNIQUE].observed == "no rows in lines"
    assert day["rows_exist"].level is Level.FAIL  # the phase still fails: it is empty
    assert day[HOURS].level is Level.FAIL
    assert day[HOURS].observed == "no rows in weather"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("to: {table: box,", "unknown table 'boxx': not a phase table or a dimension"),
        ("values_from: {table: teams,", "unknown table 'tems'"),
        ("{kind: unique, table: lines,", "'teams' is a dimension"),
        ("columns: [game_id], to: {table: box, columns: [game_id]}", "pair up one to one"),
        ("values_from: {table: teams, column: abbr}}", "exactly one of values, values_from"),
        ("columns: [game_id, player_id]}", "a column is named twice"),
        ("group_by: [origin], pass:", "unknown key (did you mean 'group_by'?)"),
    ],
)
def test_bad_keyed_checks_are_one_line_errors(change: str, message: str) -> None:
    replacement = {
        "to: {table: box,": "to: {table: boxx,",
        "values_from: {table: teams,": "values_from: {table: tems,",
        "{kind: unique, table: lines,": "{kind: unique, table: teams,",
        "columns: [game_id], to: {table: box, columns: [game_id]}": (
            "columns: [game_id], to: {table: box, columns: [game_id, pts]}"
        ),
        "values_from: {table: teams, column: abbr}}": (
            "values_from: {table: teams, column: abbr}, values: [BOS]}"
        ),
        "columns: [game_id, player_id]}": "columns: [game_id, game_id]}",
        "group_by: [origin], pass:": "group_bye: [origin], pass:",
    }[change]
    text = KEYED_CONFIG.replace(change, replacement)
    assert text != KEYED_CONFIG
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        parse(text, "p.yml")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if replacement in row)
    assert str(info.value).startswith(f"p.yml:{line}")
    if "boxx" in replacement:
        assert "did you mean 'box'?" in str(info.value)


def test_a_dimension_name_is_declared_once() -> None:
    text = KEYED_CONFIG.replace(
        "  - {name: teams, table: raw.teams}\n",
        "  - {name: teams, table: raw.teams}\n  - {name: box, table: raw.box2}\n",
    )
    with pytest.raises(ConfigError, match="'box' is already a phase table's name"):
        parse(text, "p.yml")


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "bigquery", "spark"])
def test_the_keyed_statement_renders_for_every_dialect(dialect: str) -> None:
    import sqlglot

    config = parse(KEYED_CONFIG)
    checks = [(c, [t.name for t in p.tables]) for p in config.phases for c in p.checks]
    plan = build_plan(config, checks, D1, D4)
    keys = [p.key for p in plan.probes if p.keyed]
    assert keys == [
        "unique:lines:game_id+player_id",
        "relationships:lines:game_id>raw.box:game_id",
        "accepted_values:lines:team>raw.teams:abbr",
        "row_count:weather:origin:>=24,<=24",
    ]
    sql = measurement_statement(plan.probes, dialect)
    assert sql.count("LEFT JOIN") == 3  # coverage, relationships, accepted_values
    assert sqlglot.parse_one(sql, read=dialect) is not None
    assert "2026" not in sql  # dates are bound, never formatted in


def test_criteria_describe_every_keyed_kind() -> None:
    text = render(parse(KEYED_CONFIG))
    assert (
        "rows of `raw.lines` beyond the first per (`game_id`, `player_id`) on a date (NULL "
        "keys skipped): none is EXCELLENT, any is FAIL; a date with no rows is N/A"
    ) in text
    assert "rows of `raw.lines` whose (game_id) is no (game_id) of `raw.box` on the same" in text
    assert "not among the `abbr` values of the dimension `raw.teams` (any row)" in text
    assert (
        "rows of `raw.weather` per (`origin`), each group graded on its own and the worst "
        "deciding: between 24 and 24 pass; otherwise FAIL"
    ) in text


def test_a_smoke_test_does_not_read_the_keyed_probes(keyed: tuple[Path, str]) -> None:
    config, url = keyed
    with load(config, warehouse=url) as guard:
        result = guard.smoke(D2)
        sql = guard.warehouse.last_sql
    assert "LEFT JOIN" not in sql
    assert "AGG(" not in sql  # no keyed probe's text: smoke reads existence only
    assert result.dates[0].phase("quality").level is Level.PASS


def test_a_key_column_the_table_lacks_is_named(keyed: tuple[Path, str]) -> None:
    config, url = keyed
    config.write_text(KEYED_CONFIG.replace("group_by: [origin]", "group_by: [airport]"))
    with load(config, warehouse=url) as guard, pytest.raises(UnknownObjectError) as info:
        guard.verify(D1)
    assert "column airport does not exist in table raw.weather" in str(info.value)


def test_a_parent_table_that_is_gone_is_named(keyed: tuple[Path, str]) -> None:
    config, url = keyed
    with connect(url, base_dir=config.parent) as wh:
        wh.run_script(["DROP TABLE raw.teams"])
    with load(config, warehouse=url) as guard, pytest.raises(UnknownObjectError) as info:
        guard.verify(D1)
    assert "table raw.teams does not exist" in str(info.value)


def test_deploy_check_expects_the_dimension_tables(keyed: tuple[Path, str]) -> None:
    from phaseguard.deployment import Status
    from phaseguard.probes import deploy_check

    config, url = keyed
    with connect(url, base_dir=config.parent) as wh:
        wh.run_script(["DROP TABLE raw.teams"])
        report = deploy_check(parse(KEYED_CONFIG), wh, offline=True)
    missing = [(i.group, i.name) for i in report.items if i.status is Status.MISSING]
    assert missing == [("table", "raw.teams")]
