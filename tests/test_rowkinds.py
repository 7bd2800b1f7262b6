"""Row-level and per-table check kinds (#16): not_null, accepted_values, range, row_count,
reconciliation, the ``where:`` filter on every table-reading kind and ``severity: warn`` on
every kind, against a real DuckDB file and a real PostgreSQL database (the ``mini`` fixture
with a phase of extra seeded rows).

The extra phase ``quality`` reads ``raw.lines`` (one row per player line) and ``out.totals``
(rows per date as a mart counts them). D1 is clean; D2 has two NULL players and a NULL
team, an unknown team XXX and a lower-case bos, minutes of 61 and -1, and a mart that says
5 rows where there are 6; D3 is an off-day; on D4 neither table has rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import D1, D2, D3, D4, MINI_CONFIG, seed_mini
from phaseguard import load
from phaseguard.assess import assess
from phaseguard.cli import app
from phaseguard.config import parse
from phaseguard.criteria import render
from phaseguard.errors import ConfigError
from phaseguard.verdicts import Level, Verdict
from phaseguard.warehouse import connect

QUALITY = """\
  - name: quality
    depends_on: [ingest]
    tables:
      - {name: lines, table: raw.lines, date_column: game_date}
      - {name: totals, table: out.totals, date_column: game_date}
    checks:
      - {kind: rows_exist, tables: [lines], severity: warn}
      - {kind: not_null, table: lines, columns: [player]}
      - {kind: not_null, table: lines, columns: [player, team], name: ids}
      - {kind: not_null, table: lines, columns: [player], where: "team = 'BOS'", name: bos_ids}
      - {kind: accepted_values, table: lines, column: team, values: [BOS, LAL]}
      - {kind: accepted_values, table: lines, column: team, values: [BOS, LAL], where: "pts >= 5", name: big_teams}
      - {kind: range, table: lines, column: minutes, min: 0, max: 60}
      - {kind: range, table: lines, column: minutes, min: 0, max: 60, where: "pts > 3", name: minutes_scorers}
      - {kind: range, table: lines, column: minutes, max: 36, inclusive: false, measure: share, acceptable: 0.5, name: minutes_share}
      - {kind: row_count, table: lines, pass: {between: [3, 5]}}
      - {kind: row_count, table: lines, where: "team = 'LAL'", pass: 1, name: lal_rows}
      - {kind: reconciliation, left: {table: totals, expr: "SUM(n_rows)"}, right: {table: lines, expr: "COUNT(*)"}, tolerance: 0}
      - {kind: reconciliation, left: {table: totals, expr: "SUM(n_rows)"}, right: {table: lines, expr: "COUNT(*)"}, tolerance_pct: 20, name: recon_pct}
      - {kind: reconciliation, left: {table: totals, expr: "SUM(n_rows)"}, right: {table: lines, expr: "COUNT(*)", where: "player IS NOT NULL"}, name: recon_named}
      - {kind: reconciliation, left: {table: totals, expr: "SUM(n_rows)"}, right: {table: lines, expr: "COUNT(*)"}, severity: warn, name: recon_warn}
      - {kind: not_null, table: lines, columns: [team], severity: warn, name: team_warn}
      - {kind: rows_per_unit, table: lines, where: "team = 'BOS'", pass: 0.5, name: bos_per_game}
      - {kind: distinct_count, table: lines, column: team, where: "team IN ('BOS', 'LAL')", pass: 2, name: good_teams}
      - {kind: aggregate, table: lines, expr: "AVG(minutes)", where: "team = 'LAL'", pass: 10, name: lal_minutes}
      - {kind: ratio, numerator: lines, denominator: lines, where: "player IS NOT NULL", pass: 0.9, name: named_share}
      - {kind: freshness, table: lines, column: ts, max_age_hours: 24, where: "team = 'LAL'", name: lal_fresh}
      - {kind: unit_coverage, table: box, where: "pts > 10", pass: 0.5, name: scoring_coverage}
"""

# (player, team, minutes, pts, ts) per date
LINES: dict[dt.date, list[tuple[Any, ...]]] = {
    D1: [
        ("p1", "BOS", 30.0, 10, dt.datetime(2026, 1, 1, 20)),
        ("p2", "BOS", 20.0, 5, dt.datetime(2026, 1, 1, 21)),
        ("p3", "LAL", 36.0, 20, dt.datetime(2026, 1, 1, 22)),
        ("p4", "LAL", 0.0, 0, dt.datetime(2026, 1, 1, 23)),
    ],
    D2: [
        (None, "BOS", 30.0, 10, dt.datetime(2026, 1, 2, 20)),
        (None, "LAL", 61.0, 12, dt.datetime(2026, 1, 2, 10)),
        ("p3", "XXX", 20.0, 5, dt.datetime(2026, 1, 2, 20)),
        ("p4", "bos", -1.0, 3, dt.datetime(2026, 1, 2, 20)),
        ("p5", "bos", 10.0, 2, dt.datetime(2026, 1, 2, 20)),
        ("p6", None, 15.0, 4, dt.datetime(2026, 1, 2, 20)),
    ],
}
TOTALS = [(D1, 4), (D2, 5)]


def seed_quality(url: str, base_dir: Path) -> None:
    """The quality phase's tables, through the warehouse door."""
    with connect(url, base_dir=base_dir) as wh:
        wh.create_table(
            "raw.lines",
            {
                "game_date": "DATE",
                "player": "VARCHAR",
                "team": "VARCHAR",
                "minutes": "DOUBLE",
                "pts": "INTEGER",
                "ts": "TIMESTAMP",
            },
        )
        wh.create_table("out.totals", {"game_date": "DATE", "n_rows": "INTEGER"})
        rows = [(day, *line) for day, lines in LINES.items() for line in lines]
        wh.insert_rows("raw.lines", ["game_date", "player", "team", "minutes", "pts", "ts"], rows)
        wh.insert_rows("out.totals", ["game_date", "n_rows"], TOTALS)
        wh.insert_rows("raw.box", ["game_id", "game_date", "pts"], [("g10", D1, 20)])


def quality_config(config: Path) -> Path:
    config.write_text(config.read_text().replace("gates:\n", QUALITY + "gates:\n", 1))
    return config


@pytest.fixture
def quality(mini: tuple[Path, str]) -> tuple[Path, str]:
    config, url = mini
    seed_quality(url, config.parent)
    return quality_config(config), url


NOW = dt.datetime(2026, 1, 2, 23, tzinfo=dt.timezone.utc)


def _verdicts(quality: tuple[Path, str]) -> dict[dt.date, dict[str, Verdict]]:
    config, url = quality
    with load(config, warehouse=url) as guard:
        result = assess(guard.config, guard.warehouse, D1, D4, now=NOW)
    return {
        d.date: {v.check: v for p in d.phases if p.phase == "quality" for v in p.verdicts}
        for d in result.dates
    }


def test_clean_date_is_excellent_and_faults_are_caught_with_their_evidence(
    quality: tuple[Path, str],
) -> None:
    by_date = _verdicts(quality)
    clean, bad = by_date[D1], by_date[D2]
    for name in (
        "not_null(lines.player)",
        "ids",
        "accepted_values(lines.team)",
        "range(lines.minutes)",
    ):
        assert clean[name].level is Level.EXCELLENT, (name, clean[name].observed)
        assert bad[name].level is Level.FAIL, (name, bad[name].observed)
    assert bad["not_null(lines.player)"].details["nulls"] == {"player": 2}
    assert bad["ids"].details == {"bad": 3, "rows": 6, "nulls": {"player": 2, "team": 1}}
    assert bad["ids"].observed == "3 rows with a NULL of 6; player 2, team 1"
    values = bad["accepted_values(lines.team)"]
    assert values.details == {
        "bad": 3,
        "rows": 6,
        "offending": ["XXX", "bos"],
        "offending_count": 2,
    }
    assert values.observed == "3 rows with a value not accepted of 6; XXX, bos"
    minutes = bad["range(lines.minutes)"]
    assert minutes.details == {"bad": 2, "rows": 6, "min": -1.0, "max": 61.0}
    assert minutes.value == 2.0
    assert clean["range(lines.minutes)"].details["max"] == 36.0


def test_where_filters_inside_the_probe(quality: tuple[Path, str]) -> None:
    bad = _verdicts(quality)[D2]
    assert bad["bos_ids"].details["rows"] == 1  # only BOS rows: one, and its player is NULL
    assert bad["bos_ids"].details["nulls"] == {"player": 1}
    assert bad["big_teams"].details["offending"] == ["XXX"]  # bos rows have pts < 5
    assert bad["minutes_scorers"].details == {"bad": 1, "rows": 4, "min": 15.0, "max": 61.0}
    assert bad["lal_rows"].observed == "1 rows"
    assert bad["bos_per_game"].value == pytest.approx(1 / 3)  # 1 BOS row, 3 games scheduled
    assert bad["good_teams"].value == 2
    assert bad["lal_minutes"].value == 61.0
    assert bad["named_share"].observed == "67% (4/6)"
    assert bad["lal_fresh"].level is Level.EXCELLENT
    assert bad["lal_fresh"].observed == "13h old"  # the LAL row of 10:00, not the 20:00 ones
    scoring = _verdicts(quality)[D1]["scoring_coverage"]  # only g10 has a row with pts > 10
    assert scoring.level is Level.FAIL
    assert scoring.observed == "33% (1/3); missing 2: g11, g12"


def test_share_measure_and_at_most_tiers(quality: tuple[Path, str]) -> None:
    by_date = _verdicts(quality)
    # max 36 exclusive: D1 has one 36 of 4 (25% <= 50%: ACCEPTABLE), D2 one 61 of 6
    assert by_date[D1]["minutes_share"].level is Level.ACCEPTABLE
    assert by_date[D1]["minutes_share"].value == 0.25
    assert by_date[D1]["minutes_share"].observed.startswith("25% (1 rows out of range of 4)")
    assert by_date[D2]["minutes_share"].expected == "<= 50% acceptable"
    assert by_date[D2]["minutes_share"].observed.startswith("16.7% (1 rows out of range of 6)")


def test_row_count_and_reconciliation(quality: tuple[Path, str]) -> None:
    by_date = _verdicts(quality)
    assert by_date[D1]["row_count(lines)"].level is Level.PASS
    assert by_date[D2]["row_count(lines)"].level is Level.FAIL  # 6, outside [3, 5]
    assert by_date[D4]["row_count(lines)"].level is Level.FAIL  # 0 rows
    recon = "reconciliation(totals=lines)"
    assert by_date[D1][recon].level is Level.EXCELLENT
    assert by_date[D2][recon].level is Level.FAIL
    assert by_date[D2][recon].details == {"left": 5.0, "right": 6.0, "difference": -1.0}
    assert by_date[D2][recon].observed == "5 vs 6 (difference -1)"
    assert by_date[D2]["recon_pct"].level is Level.EXCELLENT  # 1 <= 20% of 6
    assert by_date[D2]["recon_named"].level is Level.FAIL  # 5 vs 4 named players
    assert by_date[D4][recon].level is Level.NA  # neither table has rows
    warned = by_date[D2]["recon_warn"]
    assert warned.level is Level.ACCEPTABLE  # severity: warn
    assert (
        warned.details["warning"]
        == "outside the tolerance (totals.SUM(n_rows) = lines.COUNT(*) within 0)"
    )
    assert warned.observed == "5 vs 6 (difference -1) (a warning)"
    team = by_date[D2]["team_warn"]
    assert team.level is Level.ACCEPTABLE
    assert team.details["warning"] == "above excellent <= 0"


def test_no_rows_is_na_and_severity_warn_never_fails(quality: tuple[Path, str]) -> None:
    by_date = _verdicts(quality)
    empty = by_date[D4]
    for name in ("not_null(lines.player)", "accepted_values(lines.team)", "range(lines.minutes)"):
        assert empty[name].level is Level.NA
        assert empty[name].observed == "no rows in lines"
    assert empty["bos_ids"].observed == "no rows in lines where team = 'BOS'"
    exists = empty["rows_exist"]
    assert exists.level is Level.ACCEPTABLE  # severity: warn
    assert exists.details["warning"] == "not rows in lines"
    assert "(a warning" in exists.observed
    assert empty["lal_fresh"].level is Level.FAIL  # no rows, severity fail
    assert all(v.level is Level.NA for v in by_date[D3].values())  # an off-day


def test_warn_on_quorum_and_freshness(mini: tuple[Path, str]) -> None:
    config, url = mini
    text = config.read_text().replace(
        "      - {kind: quorum, min_present: 2}\n",
        "      - {kind: quorum, min_present: 2, severity: warn}\n"
        "      - {kind: freshness, table: A, column: d, max_age_hours: 1, severity: warn}\n",
        1,
    )
    config.write_text(text)
    with load(config, warehouse=url) as guard:
        result = assess(guard.config, guard.warehouse, D4, D4, now=NOW)
    process = result.dates[0].phase("process")
    levels = {v.check: v for v in process.verdicts}
    assert levels["quorum"].level is Level.ACCEPTABLE  # A (critical) missing: only a warning
    assert "short of" in levels["quorum"].details["warning"]  # type: ignore[operator]
    assert levels["freshness(A)"].level is Level.ACCEPTABLE
    assert levels["freshness(A)"].observed == "no rows (a warning: severity warn)"
    assert process.level is Level.ACCEPTABLE


def test_one_statement_for_every_kind(quality: tuple[Path, str]) -> None:
    config, url = quality
    with load(config, warehouse=url) as guard:
        before = guard.warehouse.queries_sent
        result = guard.verify(D1, D1 + dt.timedelta(days=60))
        assert guard.warehouse.queries_sent - before == 1
        sql = guard.warehouse.last_sql
    assert len(result.dates) == 61
    assert sql.count("raw.lines") + sql.count('"lines"') >= 1
    # one scan of raw.lines for every metric, and one more listing each accepted_values
    assert sql.count('"raw"."lines"') + sql.count("`raw`.`lines`") == 3


def test_json_carries_the_evidence(quality: tuple[Path, str]) -> None:
    config, url = quality
    result = CliRunner().invoke(
        app,
        ["verify", "2026-01-02", "--config", str(config), "--warehouse", url, "--format", "json"],
    )
    assert result.exit_code == 2, result.output
    data = json.loads(result.output)
    checks = {c["check"]: c for c in data["dates"][0]["phases"]["quality"]["checks"]}
    assert checks["ids"]["details"]["nulls"] == {"player": 2, "team": 1}
    assert checks["accepted_values(lines.team)"]["details"]["offending"] == ["XXX", "bos"]
    assert checks["range(lines.minutes)"]["details"]["min"] == -1.0
    assert checks["reconciliation(totals=lines)"]["details"]["difference"] == -1.0


def test_criteria_describe_each_kind(tmp_path: Path) -> None:
    config = parse(MINI_CONFIG.replace("gates:\n", QUALITY + "gates:\n", 1), "p.yml")
    text = render(config)
    assert "rows of `raw.lines` with a NULL in `player`: none is EXCELLENT, any is FAIL" in text
    assert "with a NULL in `team`: none is EXCELLENT, any is a warning" in text
    assert "whose `team` is not NULL and not one of BOS, LAL" in text
    assert "whose `minutes` is < 0 or > 60" in text
    assert "share of rows of `raw.lines` whose `minutes` is >= 36: <= 50% acceptable" in text
    assert "rows of `raw.lines` where `team = 'LAL'`: >= 1 pass" in text
    assert "`SUM(n_rows)` over `out.totals` equals `COUNT(*)` over `raw.lines` within 20%" in text
    assert "severity warn: a FAIL is a warning" in text


def _bad(check: str) -> ConfigError:
    text = MINI_CONFIG.replace("gates:\n", QUALITY + f"      - {check}\ngates:\n", 1)
    with pytest.raises(ConfigError) as info:
        parse(text, "p.yml")
    error = info.value
    assert error.file == "p.yml"
    assert (
        error.line
        == len(MINI_CONFIG.split("gates:\n")[0].splitlines()) + len(QUALITY.splitlines()) + 1
    ), str(error)
    return error


@pytest.mark.parametrize(
    ("check", "says"),
    [
        ('{kind: not_null, table: lines, columns: [player], where: "COUNT(*) > 1"}', "no aggregates"),
        ('{kind: range, table: lines, column: minutes, min: 0, where: "wipe(team) = 1"}', "wipe() is not allowed"),
        ('{kind: row_count, table: lines, pass: 1, where: "team IN (SELECT 1)"}', "may not contain a query"),
        ('{kind: aggregate, table: lines, expr: "AVG(pts)", pass: 1, where: "pts + 1"}', "is not a condition"),
        ('{kind: freshness, table: lines, column: ts, max_age_hours: 1, where: "l.team = 1"}', "unqualified"),
        ('{kind: accepted_values, table: lines, column: team, values: [BOS, true]}', "True is not a string"),
        ('{kind: accepted_values, table: lines, column: team, values: []}', "at least 1"),
        ('{kind: range, table: lines, column: minutes}', "give min, max or both"),
        ('{kind: range, table: lines, column: minutes, min: 5, max: 1}', "min 5 is above max 1"),
        ('{kind: not_null, table: lines, columns: ["a b"]}', "not a plain identifier"),
        ('{kind: reconciliation, left: {table: totals, expr: "SUM(n)"}, right: {table: nope, expr: "COUNT(*)"}}', "unknown table 'nope'"),
        ('{kind: reconciliation, left: {table: totals, expr: "n"}, right: {table: lines, expr: "COUNT(*)"}}', "no aggregate function"),
        ('{kind: reconciliation, left: {table: totals, expr: "SUM(n)"}, right: {table: lines, expr: "COUNT(*)"}, tolerance: 1, tolerance_pct: 1}', "not both"),
        ('{kind: quorum, min_present: 1, severity: maybe}', "'fail' or 'warn'"),
    ],
)  # fmt: skip
def test_bad_config_names_file_and_line(check: str, says: str) -> None:
    error = _bad(check)
    assert says in str(error), str(error)


def test_where_filters_are_checked_once_then_cached(tmp_path: Path) -> None:
    """Loading a config checks every where: against the allow-list with sqlglot once; after
    that a smoke test in a new process reads the verdict from the on-disk cache, as it does
    for aggregates, and never imports sqlglot."""
    from test_cli import _REPORT_AT_EXIT

    (tmp_path / "phaseguard.yml").write_text(MINI_CONFIG)
    url = f"duckdb://{tmp_path / 'mini.duckdb'}"
    seed_mini(url, tmp_path)
    seed_quality(url, tmp_path)
    quality_config(tmp_path / "phaseguard.yml")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PHASEGUARD_NO_SQL_CACHE", "PHASEGUARD_WAREHOUSE")
    }
    env["PHASEGUARD_CACHE_DIR"] = str(tmp_path / "sql-cache")
    cmd = [sys.executable, "-c", _REPORT_AT_EXIT, "smoke", "2026-01-01", "2026-01-04"]
    runs = [
        subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path) for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [2, 2], runs[0].stderr
    assert runs[0].stderr.splitlines()[-1].startswith("loaded: ['sqlglot']")
    assert runs[1].stderr.splitlines()[-1].startswith("loaded: []")
