"""phaseguard init: a starter config from the warehouse's catalogue, as a user sees it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from conftest import run_cli as run
from phaseguard import config as config_module
from phaseguard.scaffold import config_url, default_pipeline, scaffold
from phaseguard.warehouse import connect

D1, D2 = dt.date(2026, 1, 1), dt.date(2026, 1, 2)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory as the cwd, with no warehouse in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


@pytest.fixture
def shop(here: Path) -> Path:
    """A small hand-made DuckDB warehouse in ./data/shop.duckdb.

    raw.calendar: what is expected per date (no id column: the unit cannot be guessed).
    raw.orders: DATE order_date and order_id.  raw.lookup: no date column.
    raw."bad name": a name the config cannot hold.  analytics.daily: ds (DATE) beside a
    TIMESTAMP.  analytics.orders: a name raw has too, partitioned by a TIMESTAMP only.
    analytics."on": a name plain YAML reads as true.
    """
    (here / "data").mkdir()
    path = here / "data" / "shop.duckdb"
    with connect(f"duckdb://{path}") as wh:
        wh.create_table("raw.calendar", {"day": "DATE", "note": "VARCHAR"})
        wh.create_table("raw.orders", {"order_id": "VARCHAR", "order_date": "DATE"})
        wh.create_table("raw.lookup", {"code": "VARCHAR", "label": "VARCHAR"})
        wh.create_table("raw.bad name", {"d": "DATE"})
        wh.create_table(
            "analytics.daily", {"ds": "DATE", "order_id": "VARCHAR", "loaded_at": "TIMESTAMP"}
        )
        wh.create_table("analytics.orders", {"order_id": "VARCHAR", "placed_at": "TIMESTAMP"})
        wh.create_table("analytics.on", {"d": "DATE"})
        wh.insert_rows("raw.calendar", ["day", "note"], [(D1, "open"), (D2, "open")])
        wh.insert_rows("raw.orders", ["order_id", "order_date"], [("o1", D1), ("o2", D2)])
        wh.insert_rows("raw.bad name", ["d"], [(D1,)])
        wh.insert_rows(
            "analytics.daily",
            ["ds", "order_id", "loaded_at"],
            [(D1, "o1", dt.datetime(2026, 1, 1, 3))],
        )
        wh.insert_rows(
            "analytics.orders",
            ["order_id", "placed_at"],
            [("o1", dt.datetime(2026, 1, 1, 9)), ("o2", dt.datetime(2026, 1, 2, 23, 59))],
        )
        wh.insert_rows("analytics.on", ["d"], [(D1,), (D2,)])
    return path


def test_demo_warehouse_init_then_smoke(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nba_props.demo import WAREHOUSE_FILE, build_demo

    build_demo(here / "demo", scale=1)
    schemas = ["nba_raw", "nba_analytics", "nba_precompute", "nba_predictions"]
    url = f"duckdb://demo/{WAREHOUSE_FILE}"
    code, out, err = run(
        ["init", "-w", url, "--schemas", ",".join(schemas), "-o", "demo/mine.yml"], capsys
    )
    assert (code, err) == (0, "")
    assert "4 phases" in out
    assert "13 tables, 0 dimension tables, 0 skipped" in out  # with the nbac gamebook
    text = (here / "demo" / "mine.yml").read_text()
    config = config_module.parse(text, "mine.yml")
    assert [p.name for p in config.phases] == schemas
    assert [p.depends_on for p in config.phases] == [[], *[[s] for s in schemas[:-1]]]
    # relative to the file, which sits beside the warehouse
    assert config.warehouse == f"duckdb://{WAREHOUSE_FILE}"
    assert config.schedule.table == "nba_raw.nbac_schedule"  # named like a schedule
    assert (config.schedule.date_column, config.schedule.unit) == ("game_date", "game_id")
    assert "# ASK: this is a guess" in text
    pdc = config.table("player_daily_cache")
    assert (pdc.date_column, pdc.unit) == ("cache_date", None)
    assert config.table("prediction_grades").unit == "game_id"
    assert all(c.kind == "rows_exist" for p in config.phases for c in p.checks)

    code, out, err = run(["smoke", "2026-01-13", "2026-01-23", "-c", "demo/mine.yml"], capsys)
    assert code == 2, err  # the demo's seeded faults, caught without a hand-written config
    for schema in schemas:
        assert schema in out
    assert "❌ FAIL" in out
    assert "✅ PASS" in out


def test_relative_warehouse_written_relative_to_the_config(
    shop: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["init", "-w", "duckdb://data/shop.duckdb", "-s", "raw,analytics"]
    code, out, err = run([*args, "-o", "conf/phaseguard.yml", "--schedule", "raw.calendar"], capsys)
    assert (code, err) == (0, "")
    text = (here / "conf" / "phaseguard.yml").read_text()
    assert 'warehouse: "duckdb://../data/shop.duckdb"' in text
    config = config_module.parse(text)
    assert [p.name for p in config.phases] == ["raw", "analytics"]

    code, out, err = run(["smoke", "2026-01-01", "2026-01-02", "-c", "conf/phaseguard.yml"], capsys)
    assert code in (0, 1, 2), err
    assert "raw" in out
    assert "analytics" in out
    assert "2 dates, 2 scheduled" in out
    # analytics.daily has rows on D1 only: the second date fails, the first passes
    assert "1 pass, 1 fail" in out


def test_skipped_tables_named_with_why(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["init", "-w", f"duckdb://{shop}", "-s", "raw,analytics", "--schedule", "raw.calendar"],
        capsys,
    )
    assert code == 0
    text = Path("phaseguard.yml").read_text()
    assert "# dimension tables (no date column, not checked per date): raw.lookup" in text
    assert "# skipped raw.bad name: its name is not a plain identifier" in text
    assert "dimension tables (no date column): raw.lookup" in out
    config = config_module.parse(text)
    keys = {t.name for p in config.phases for t in p.tables}
    assert keys == {"calendar", "orders", "daily", "analytics_orders", "on"}
    assert config.table("daily").date_column == "ds"
    assert config.table("analytics_orders").date_column == "placed_at"
    assert config.table("analytics_orders").unit is None  # the unit could not be guessed
    assert config.table("on").table == "analytics.on"
    assert "placed_at is TIMESTAMP" in text
    # the schedule's unit: asked for, and the date column until answered
    assert "# ASK: which column names one scheduled unit" in text
    assert (config.schedule.table, config.schedule.unit) == ("raw.calendar", "day")


def test_a_table_named_like_a_calendar_is_the_guessed_schedule(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(["init", "-w", f"duckdb://{shop}", "-s", "analytics,raw"], capsys)
    assert code == 0
    config, _ = config_module.load("phaseguard.yml")
    # raw.calendar, though raw is the second schema; it has no id column: the unit is asked
    assert (config.schedule.table, config.schedule.unit) == ("raw.calendar", "day")
    assert config.table("orders").unit is None
    assert [p.depends_on for p in config.phases] == [[], ["analytics"]]


def test_else_a_calendar_of_every_day(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["init", "-w", f"duckdb://{shop}", "-s", "analytics"], capsys)
    assert code == 0
    assert "no schedule or calendar table found: every date is expected" in out
    config, _ = config_module.load("phaseguard.yml")
    # no data table is taken for the schedule: a date that never loaded must fail
    assert (config.schedule.table, config.schedule.every) == (None, "day")
    assert config.table("orders").unit is None
    code, out, err = run(["smoke", "2026-01-01", "2026-01-02"], capsys)
    assert code == 2, err
    assert "2 dates, 2 scheduled" in out  # analytics.daily has no rows on D2: FAIL


def test_existing_file_needs_force(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("phaseguard.yml").write_text("mine\n")
    args = ["init", "-w", f"duckdb://{shop}", "-s", "raw"]
    code, out, err = run(args, capsys)
    assert code == 3
    assert err.strip() == "error: phaseguard.yml already exists (give --force to overwrite it)"
    assert out == ""
    assert Path("phaseguard.yml").read_text() == "mine\n"
    code, _, _ = run([*args, "--force"], capsys)
    assert code == 0
    assert config_module.load("phaseguard.yml")[0].phases[0].name == "raw"


def test_unknown_schema_is_one_clear_line(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["init", "-w", f"duckdb://{shop}", "-s", "raw,nope"], capsys)
    assert code == 3
    assert "no tables in schema 'nope'" in err
    assert "--schemas" in err
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1
    assert not Path("phaseguard.yml").exists()


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("oracle://x", 3, "error: --warehouse: unknown warehouse scheme 'oracle'"),
        ("postgresql://postgres@127.0.0.1:1/none", 4, "cannot connect to warehouse"),
    ],
)
def test_bad_or_down_warehouse(
    here: Path, capsys: pytest.CaptureFixture[str], url: str, code: int, message: str
) -> None:
    got, out, err = run(["init", "-w", url, "-s", "raw"], capsys)
    assert got == code
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err
    assert not (here / "phaseguard.yml").exists()


def test_mini_pipeline_on_each_backend(
    mini: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path, url = mini
    monkeypatch.chdir(config_path.parent)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    args = ["init", "-w", url, "-s", "raw,proc,out", "--schedule", "raw.schedule", "-o", "new.yml"]
    code, _, err = run(args, capsys)
    assert (code, err) == (0, "")
    config, _ = config_module.load("new.yml")
    assert config.warehouse == url
    assert (config.schedule.date_column, config.schedule.unit) == ("game_date", "game_id")
    assert [t.name for t in config.phase("proc").tables] == ["a", "b", "c"]
    code, out, err = run(["smoke", "2026-01-01", "2026-01-04", "-c", "new.yml"], capsys)
    # D2: proc.c empty; D4: proc.a empty; D3: nothing scheduled
    assert code == 2, err
    assert "4 dates, 3 scheduled: 1 pass, 2 fail" in out
    for phase in ("raw", "proc", "out"):
        assert phase in out


# --- the pure part: catalogue in, YAML text out ------------------------------------------


def _uncomment_examples(text: str) -> str:
    """The file with its commented-out gates and sinks sections made live."""
    lines = text.splitlines()
    out: list[str] = []
    live = False
    for line in lines:
        if line in ("# gates:", "# sinks:"):
            live = True
        elif not line.startswith("#"):
            live = False
        out.append(line.removeprefix("# ") if live else line)
    return "\n".join(out) + "\n"


def test_commented_examples_are_valid_config() -> None:
    catalogue = {
        "raw.a": {"d": "DATE", "game_id": "VARCHAR"},
        "raw.b": {"d": "DATE"},
        "out.c": {"d": "DATE"},
    }
    text = scaffold(catalogue, ["raw", "out"], warehouse="duckdb://x.duckdb", pipeline="p").text
    assert "# gates:" in text
    live = config_module.parse(_uncomment_examples(text))
    assert [g.phase for g in live.gates] == ["out"]
    assert live.gates[0].checks is not None
    assert [s.kind for s in live.sinks] == ["stderr", "slack"]
    assert live.health == config_module.Health()


def test_names_from_the_warehouse_are_quoted_or_escaped() -> None:
    catalogue = {
        "s.null": {"yes": "DATE", "id": "INTEGER"},
        "s.true": {"date": "TIMESTAMP WITH TIME ZONE"},
        's.evil\nphases: []\n#"': {"d": "DATE"},
        "s.weird": {"when\u2028x": "DATE"},
    }
    built = scaffold(catalogue, ["s"], warehouse="duckdb://x.duckdb", pipeline="on")
    config = config_module.parse(built.text)
    assert config.pipeline == "on"
    assert [t.name for t in config.phases[0].tables] == ["null", "true"]
    assert config.table("null").date_column == "yes"
    assert config.schedule.every == "day"  # no table named like a schedule
    assert {s.table for s in built.skipped} == {'s.evil\nphases: []\n#"', "s.weird"}
    assert '# skipped "s.evil\\nphases: []\\n#\\"": its name is not a plain identifier' in (
        built.text
    )
    assert 'its date columns ("when\\u2028x") are not plain identifiers' in built.text
    assert yaml.safe_load(built.text)["phases"][0]["name"] == "s"


def test_date_column_preference() -> None:
    catalogue = {
        "s.t": {
            "created_at": "TIMESTAMP",
            "load_date": "DATE",
            "ds": "DATE",
            "zzz": "DATE",
        },
        "s.u": {"created_at": "TIMESTAMP", "updated_at": "DATETIME", "n": "INTEGER"},
    }
    built = scaffold(catalogue, ["s"], warehouse="duckdb://x.duckdb", pipeline="p")
    config = config_module.parse(built.text)
    assert config.table("t").date_column == "ds"
    assert config.table("u").date_column == "created_at"
    assert "other DATE columns: load_date, zzz" in built.text


def test_unusable_schema_gets_no_phase_and_the_chain_skips_it() -> None:
    catalogue = {"a.t": {"d": "DATE"}, "b.lookup": {"k": "VARCHAR"}, "c.t": {"d": "DATE"}}
    built = scaffold(catalogue, ["a", "b", "c"], warehouse="duckdb://x.duckdb", pipeline="p")
    config = config_module.parse(built.text)
    assert [(p.name, p.depends_on) for p in config.phases] == [("a", []), ("c", ["a"])]
    assert "# b: no phase, no table has a date to check per date:" in built.text
    assert "#   dimension tables (no date column, not checked per date): b.lookup" in built.text
    assert [t.name for t in config.phase("c").tables] == ["c_t"]


def test_config_url_and_pipeline_name() -> None:
    cwd, conf = Path("/w"), Path("/w/conf")
    assert config_url("duckdb://wh.duckdb", cwd, conf) == "duckdb://../wh.duckdb"
    assert config_url("duckdb:conf/wh.duckdb", cwd, conf) == "duckdb://wh.duckdb"
    assert config_url("duckdb:///abs/wh.duckdb", cwd, conf) == "duckdb:///abs/wh.duckdb"
    assert config_url("postgresql://me:s3cret@h:5432/db", cwd, conf) == "postgresql://me@h:5432/db"
    assert default_pipeline("duckdb://data/nba-props.duckdb") == "nba_props"
    assert default_pipeline("postgresql://me@h:5432/shop") == "shop"
    assert default_pipeline("spark://local[2]") == "pipeline"


def test_schedule_outside_the_phases_schemas(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["init", "-w", f"duckdb://{shop}", "-s", "analytics", "--schedule", "raw.calendar"]
    code, _, err = run(args, capsys)
    assert (code, err) == (0, "")
    config, _ = config_module.load("phaseguard.yml")
    assert config.schedule.table == "raw.calendar"
    assert [p.name for p in config.phases] == ["analytics"]
    code, _, err = run([*args[:-1], "raw.nope", "--force"], capsys)
    assert code == 3
    assert "--schedule: table raw.nope is not in the warehouse's catalogue" in err
