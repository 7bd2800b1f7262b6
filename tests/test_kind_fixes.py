"""Four defects of the check kinds, fixed: evidence values kept whole, ``unique`` (and every
keyed kind) past a hundred offenders, ``range`` over dates, and a double-quoted string in a
``where:`` filter. Against a real DuckDB file and a real PostgreSQL database (``mini``).

The ``quality`` phase reads ``raw.items``: D1 is clean; D2 has team codes with ", " in them
(one accepted, two not), duplicated and orphan keys, and release dates outside the range.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import D1, D2, D4, MINI_CONFIG, run_cli
from phaseguard import load
from phaseguard.config import parse
from phaseguard.criteria import render
from phaseguard.errors import ConfigError, UnknownObjectError
from phaseguard.keychecks import offending_items
from phaseguard.verdicts import Level, Verdict
from phaseguard.warehouse import connect

QUALITY = """\
  - name: quality
    depends_on: [ingest]
    tables:
      - {name: items, table: raw.items, date_column: game_date}
    checks:
      - {kind: accepted_values, table: items, column: team, values: [BOS, "LA, CA"]}
      - {kind: unique, table: items, columns: [k]}
      - {kind: relationships, table: items, columns: [game_id], to: {table: box, columns: [game_id]}}
      - {kind: range, table: items, column: released, min: 2020-01-01, max: 2026-01-31}
      - {kind: range, table: items, column: seen, max: "2026-01-02", name: seen_by}
"""
CONFIG = MINI_CONFIG.replace("gates:\n", QUALITY + "gates:\n", 1)
TEAMS, UNIQUE, ORPHANS, RELEASED = (
    "accepted_values(items.team)",
    "unique(items.k)",
    "relationships(items.game_id)",
    "range(items.released)",
)
COLUMNS = ["game_date", "game_id", "k", "team", "released", "seen", "amount"]


def _row(day: dt.date, k: str, team: str = "BOS", game: str | None = None, **more: Any) -> tuple:
    released = more.get("released", dt.date(2025, 6, 1))
    seen = more.get("seen", dt.datetime.combine(day, dt.time(12)))
    return (day, game or f"g{day.day}0", k, team, released, seen, 1.5)


def seed_items(url: str, base_dir: Path) -> None:
    """D1 clean (the box holds g10). D2: teams "LA, CA" (accepted), "NY, NY" and "x=1, y"
    (not); key "x=1, y" twice; game g99 (no box row); released 2019-12-31 and 2026-02-01;
    seen at 23:00 on 2026-01-02 (within max 2026-01-02: compared as dates)."""
    with connect(url, base_dir=base_dir) as wh:
        wh.create_table(
            "raw.items",
            {
                "game_date": "DATE",
                "game_id": "VARCHAR",
                "k": "VARCHAR",
                "team": "VARCHAR",
                "released": "DATE",
                "seen": "TIMESTAMP",
                "amount": "DOUBLE",
            },
        )
        rows = [_row(D1, f"a{i}") for i in range(3)]
        rows += [
            _row(D2, "b1", "LA, CA"),
            _row(D2, "b2", "NY, NY"),
            _row(D2, "x=1, y", "x=1, y"),
            _row(D2, "x=1, y", "NY, NY", "g99"),
            _row(D2, "b3", released=dt.date(2019, 12, 31)),
            _row(D2, "b4", released=dt.date(2026, 2, 1), seen=dt.datetime(2026, 1, 2, 23)),
        ]
        wh.insert_rows("raw.items", COLUMNS, rows)


@pytest.fixture
def items(mini: tuple[Path, str]) -> tuple[Path, str]:
    config, url = mini
    config.write_text(CONFIG)
    seed_items(url, config.parent)
    return config, url


def _verdicts(config: Path, url: str, *days: dt.date) -> dict[dt.date, dict[str, Verdict]]:
    with load(config, warehouse=url) as guard:
        result = guard.verify(days[0], days[-1])
    return {d.date: {v.check: v for v in d.phase("quality").verdicts} for d in result.dates}


# --- 1. literal accepted_values: a value holding ", " stays whole ----------------------------


def test_accepted_values_keeps_a_value_holding_a_comma_whole(items: tuple[Path, str]) -> None:
    config, url = items
    by_date = _verdicts(config, url, D1, D2)
    assert by_date[D1][TEAMS].level is Level.EXCELLENT
    teams = by_date[D2][TEAMS]  # "LA, CA" is accepted: only NY, NY (x2) and x=1, y offend
    assert teams.details == {
        "bad": 3,
        "rows": 6,
        "offending": ["NY, NY", "x=1, y"],
        "offending_count": 2,
    }
    assert teams.observed == "3 rows with a value not accepted of 6; 'NY, NY', 'x=1, y'"


def test_json_carries_each_value_and_key_whole(
    items: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = items
    monkeypatch.chdir(config.parent)
    code, out, _ = run_cli(["verify", "2026-01-02", "--warehouse", url, "--format", "json"], capsys)
    assert code == 2
    checks = {c["check"]: c for c in json.loads(out)["dates"][0]["phases"]["quality"]["checks"]}
    assert checks[TEAMS]["details"]["offending"] == ["NY, NY", "x=1, y"]
    assert checks[UNIQUE]["details"]["counts"] == {"x=1, y": 2}  # not {"x": 1, "y": 2}


# --- 2. past a hundred offenders: the first five in order, and how many more ----------------


def test_past_a_hundred_offenders_the_first_five_are_named_in_order(
    items: tuple[Path, str],
) -> None:
    config, url = items
    rows = []
    for i in reversed(range(120)):  # inserted in reverse: the order must be the warehouse's sort
        copies = 3 if i == 2 else 2
        rows += [_row(D1, f"k{i:03d}", f"T{i:03d}", f"o{i:03d}")] * copies
    with connect(url, base_dir=config.parent) as wh:
        wh.insert_rows("raw.items", COLUMNS, rows)
    day = _verdicts(config, url, D1)[D1]
    unique = day[UNIQUE]
    assert unique.value == 121
    assert unique.observed.endswith(
        "120 keys duplicated: k000 (2), k001 (2), k002 (3), k003 (2), k004 (2) and 115 more"
    )
    assert unique.details["offending_count"] == 120
    assert unique.details["offending"] == [f"k{i:03d}" for i in range(100)]
    assert unique.details["counts"]["k002"] == 3  # type: ignore[index]
    orphans = day[ORPHANS]
    assert orphans.observed.endswith(
        "120 orphan keys: o000 (2), o001 (2), o002 (3), o003 (2), o004 (2) and 115 more"
    )
    teams = day[TEAMS]
    assert teams.observed.endswith("; T000, T001, T002, T003, T004 and 115 more")
    assert teams.details["offending"] == [f"T{i:03d}" for i in range(100)]


def test_items_read_back_whole_whatever_the_key_holds() -> None:
    text = "x=1, y=2:6, a|b=3:3, =4:0"
    assert offending_items(text) == [("", 4), ("a|b", 3), ("x=1, y", 2)]


# --- 3. range over dates ---------------------------------------------------------------------


def test_range_compares_dates(items: tuple[Path, str]) -> None:
    config, url = items
    by_date = _verdicts(config, url, D1, D2)
    assert by_date[D1][RELEASED].level is Level.EXCELLENT
    assert by_date[D1][RELEASED].details == {
        "bad": 0,
        "rows": 3,
        "min": "2025-06-01",
        "max": "2025-06-01",
    }
    released = by_date[D2][RELEASED]
    assert released.level is Level.FAIL
    assert released.details == {"bad": 2, "rows": 6, "min": "2019-12-31", "max": "2026-02-01"}
    assert released.observed == "2 rows out of range of 6; observed 2019-12-31..2026-02-01"
    seen = by_date[D2]["seen_by"]  # 23:00 on the max's day is within: compared as dates
    assert seen.level is Level.EXCELLENT, seen.observed
    assert seen.details["max"] == "2026-01-02"


def test_criteria_say_the_date_bounds() -> None:
    text = render(parse(CONFIG))
    assert "whose `released` is < 2020-01-01 or > 2026-01-31" in text


def _bad(check: str) -> ConfigError:
    text = MINI_CONFIG.replace("gates:\n", QUALITY + f"      - {check}\ngates:\n", 1)
    with pytest.raises(ConfigError) as info:
        parse(text, "p.yml")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if check in row)
    assert str(info.value).startswith(f"p.yml:{line}"), str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("check", "says"),
    [
        (
            "{kind: range, table: items, column: game_date, min: 0}",
            "game_date is the date column of items: give min and max as dates "
            "(e.g. 2020-01-01), not numbers",
        ),
        (
            "{kind: range, table: items, column: released, min: 2020-01-01, max: 5}",
            "min is a date and max a number: give both as dates or both as numbers",
        ),
        (
            "{kind: range, table: items, column: seen, max: 2026-01-02 10:00:00}",
            "range compares dates: give max as a date (2026-01-02), not a time of day",
        ),
        (
            "{kind: range, table: items, column: released, min: 2026-02-01, max: 2026-01-01}",
            "min 2026-02-01 is after max 2026-01-01",
        ),
        (
            '{kind: range, table: items, column: released, min: "2026-02-30"}',
            "min '2026-02-30' is not a number or a date (YYYY-MM-DD)",
        ),
    ],
)
def test_a_bound_of_the_wrong_kind_is_a_config_error_at_load(check: str, says: str) -> None:
    assert says in str(_bad(check))


@pytest.mark.parametrize(
    ("check", "says"),
    [
        (
            "{kind: range, table: items, column: released, min: 0, name: release_days}",
            "release_days: column released of raw.items is DATE, but min/max are numbers: "
            "give them as dates (e.g. min: 2020-01-01)",
        ),
        (
            "{kind: range, table: items, column: amount, max: 2026-01-01}",
            "range(items.amount): column amount of raw.items is DOUBLE, but min/max are "
            "dates: give them as numbers",
        ),
    ],
)
def test_a_bound_of_the_wrong_kind_for_the_column_is_named_at_run_time(
    items: tuple[Path, str], check: str, says: str
) -> None:
    config, url = items
    config.write_text(CONFIG.replace("gates:\n", f"      - {check}\ngates:\n", 1))
    with load(config, warehouse=url) as guard, pytest.raises(UnknownObjectError) as info:
        guard.verify(D1)
    said = str(info.value).replace("DOUBLE PRECISION", "DOUBLE")  # PostgreSQL's name
    assert said.startswith(says), said
    assert "\n" not in str(info.value)


# --- 4. a double-quoted string in where: -----------------------------------------------------


def test_a_double_quoted_string_in_where_is_said_to_be_a_column_name(
    items: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = items
    checks = (
        "      - {kind: row_count, table: items, where: 'team = \"BOS\"', pass: 1, name: bos_rows}\n"
        '      - {kind: row_count, table: items, where: "\\"team\\" = \'BOS\'", pass: 1, '
        "name: quoted_column}\n"
    )
    config.write_text(CONFIG.replace("gates:\n", checks + "gates:\n", 1))
    code, _, err = run_cli(["verify", "2026-01-01", "-c", str(config), "--warehouse", url], capsys)
    assert code == 4
    line = err.strip().splitlines()[-1]
    assert "bos_rows: where: \"BOS\" is a column name in SQL; write 'BOS' for a string" in line
    assert "warehouse query failed" not in err
    # a quoted name that is a column works as SQL says
    config.write_text(CONFIG.replace("gates:\n", checks.splitlines(True)[1] + "gates:\n", 1))
    by_date = _verdicts(config, url, D1)
    assert by_date[D1]["quoted_column"].observed == "3 rows"


@pytest.mark.parametrize(
    ("check", "name"),
    [
        ("{kind: unique, table: items, columns: [k], where: 'team <> \"BOS\"'}", "unique(items.k)"),
        (
            "{kind: accepted_values, table: items, column: team, values: [BOS], "
            "where: 'k = \"BOS\"', name: listed}",
            "listed",
        ),
        (
            "{kind: unit_coverage, table: box, where: 'game_id = \"g10\"', pass: 1}",
            "unit_coverage(box)",
        ),
    ],
)
def test_every_probe_names_the_check_whose_where_quotes_a_string(
    items: tuple[Path, str], check: str, name: str
) -> None:
    config, url = items
    config.write_text(
        CONFIG.replace("      - {kind: unique, table: items, columns: [k]}\n", "", 1).replace(
            "gates:\n", f"      - {check}\ngates:\n", 1
        )
    )
    with load(config, warehouse=url) as guard, pytest.raises(UnknownObjectError) as info:
        guard.verify(D4)
    quoted = re.search(r'"([^"]+)"', check.split("where:")[1])
    assert quoted is not None
    said = f"{name}: where: \"{quoted.group(1)}\" is a column name in SQL; write '{quoted.group(1)}' for a string"
    assert str(info.value).startswith(said), str(info.value)


# --- the same evidence on BigQuery (the local emulator) and Spark ----------------------------


def _evidence(config: Path, url: str) -> dict[tuple[dt.date, str], tuple[Any, ...]]:
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D2)
    return {
        (d.date, v.check): (v.level, v.observed, v.value, v.details)
        for d in result.dates
        for v in d.phase("quality").verdicts
    }


def _seed_many(url: str, base_dir: Path) -> None:
    """Past a hundred offenders on D1: 120 duplicated keys, orphan games and unknown teams."""
    rows = [_row(D1, f"k{i:03d}", f"T{i:03d}", f"o{i:03d}") for i in reversed(range(120))]
    with connect(url, base_dir=base_dir) as wh:
        wh.insert_rows("raw.items", COLUMNS, rows * 2)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["mini_bq_fresh", "mini_spark_fresh"])
def test_bigquery_and_spark_give_the_same_evidence(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from conftest import seed_mini

    base = tmp_path / "reference"
    base.mkdir()
    (base / "phaseguard.yml").write_text(CONFIG)
    reference_url = f"duckdb://{base / 'mini.duckdb'}"
    seed_mini(reference_url, base)
    seed_items(reference_url, base)
    _seed_many(reference_url, base)
    reference = _evidence(base / "phaseguard.yml", reference_url)
    assert reference[(D1, UNIQUE)][1].endswith("and 115 more")
    assert reference[(D2, RELEASED)][3]["min"] == "2019-12-31"

    config, url = request.getfixturevalue(backend)
    config.write_text(CONFIG)
    with connect(url, base_dir=config.parent) as wh:
        wh.run_script(["DROP TABLE IF EXISTS raw.items"])  # Spark's catalogue is the session's
    seed_items(url, config.parent)
    _seed_many(url, config.parent)
    assert _evidence(config, url) == reference
