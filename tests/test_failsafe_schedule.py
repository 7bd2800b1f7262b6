"""An empty or stale schedule never opens a gate, and a calendar schedule expects every date.

"Nothing scheduled" must be proven: the schedule holds rows on or after the date, and no
measured table holds rows for it. Otherwise the date is ERROR: gates block, verify fails
(exit 2), and the verdict names the schedule. Real DuckDB files and the real PostgreSQL
fixture (``mini``); the CLI through its entry point.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from conftest import D1, D2, D3, D4, MINI_CONFIG, seed_mini
from phaseguard import load
from phaseguard.cli import main
from phaseguard.errors import ConfigError
from phaseguard.verdicts import Level, Overall, exit_code
from phaseguard.warehouse import connect


def _sql(url: str, base: Path, *statements: str) -> None:
    with connect(url, base_dir=base) as wh:
        wh.run_script(list(statements))


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    return int(info.value.code or 0), capsys.readouterr().out


def test_an_emptied_schedule_blocks_the_gate_and_fails_verify(mini: tuple[Path, str]) -> None:
    config, url = mini
    _sql(url, config.parent, "DELETE FROM raw.schedule")
    with load(config, warehouse=url) as guard:
        decision = guard.gate("process").decide(D4)
        result = guard.verify(D1, D4)
        assert guard.warehouse.queries_sent == 2  # the proof is read in each one query
    assert decision.status == "blocked"
    assert decision.exit_code == 2
    assert "raw.schedule" in decision.message
    assert "nothing scheduled" not in decision.message
    assert result.overall is Overall.FAILED
    assert exit_code(result) == 2
    for day in result.dates:
        assert {p.level for p in day.phases} == {Level.ERROR}
        assert "raw.schedule is empty from" in day.phases[0].verdicts[0].observed


def test_a_schedule_not_loaded_that_far_is_an_error(mini: tuple[Path, str]) -> None:
    config, url = mini
    _sql(url, config.parent, "DELETE FROM raw.schedule WHERE game_date > '2026-01-02'")
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D4)
        decision = guard.gate("predict").decide(D4)
    by_date = {d.date: d for d in result.dates}
    assert by_date[D1].overall is Overall.COMPLETE
    for day in (D3, D4):  # after the schedule's newest date: not proven off-days
        verdict = by_date[day].phase("ingest").verdicts[0]
        assert verdict.level is Level.ERROR
        assert verdict.observed.startswith("raw.schedule is loaded only through 2026-01-02")
    assert decision.status == "blocked"
    assert "raw.schedule is empty from 2026-01-04 on" in decision.message


def test_rows_on_a_date_the_schedule_calls_empty_are_an_error(mini: tuple[Path, str]) -> None:
    config, url = mini
    with load(config, warehouse=url) as guard:  # before: a proven off-day, N/A and open
        assert guard.verify(D3).overall is Overall.NA
        assert guard.gate("process").decide(D3).message == "nothing scheduled"
    with connect(url, base_dir=config.parent) as wh:
        wh.insert_rows("proc.a", ["d", "v"], [(D3, 1)])
    with load(config, warehouse=url) as guard:
        result = guard.verify(D3)
        smoke = guard.smoke(D3)
        decision = guard.gate("predict").decide(D3)
    for judged in (result, smoke):
        verdict = judged.dates[0].phase("process").verdicts[0]
        assert verdict.level is Level.ERROR
        assert "raw.schedule has nothing on 2026-01-03, but A=1 rows" in verdict.observed
        assert exit_code(judged) == 2
    assert decision.status == "blocked"


def test_cli_gate_and_verify_on_an_empty_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "phaseguard.yml").write_text(MINI_CONFIG)
    url = f"duckdb://{tmp_path / 'mini.duckdb'}"
    seed_mini(url, tmp_path)
    _sql(url, tmp_path, "DELETE FROM raw.schedule")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    code, out = run(["gate", "process", "--date", "2026-01-04"], capsys)
    assert code == 2
    assert "BLOCKED" in out
    assert "raw.schedule" in out
    code, out = run(["verify", "2026-01-01", "2026-01-04", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 2
    assert data["overall"] == "FAILED"
    check = data["dates"][0]["phases"]["ingest"]["checks"][0]
    assert check["check"] == "schedule"
    assert check["status"] == "ERROR"
    code, out = run(["verify", "2026-01-01", "2026-01-04"], capsys)
    assert code == 2
    assert "4 dates, 0 scheduled, 4 with nothing scheduled unproven: 0 complete" in out


CALENDAR = MINI_CONFIG.replace(
    "schedule: {table: raw.schedule, date_column: game_date, unit: game_id}",
    "schedule: {every: day}",
).replace("      - {kind: unit_coverage, table: box, excellent: 0.9, acceptable: 0.7}\n", "")


def test_a_calendar_schedule_fails_a_date_that_never_loaded(mini: tuple[Path, str]) -> None:
    config, url = mini
    config.write_text(CALENDAR)
    with load(config, warehouse=url) as guard:
        result = guard.verify(D1, D4)
        decision = guard.gate("process").decide(D3)
    by_date = {d.date: d for d in result.dates}
    assert [d.scheduled for d in result.dates] == [1, 1, 1, 1]
    assert by_date[D1].overall is Overall.COMPLETE
    assert by_date[D3].phase("ingest").level is Level.FAIL  # no rows anywhere: it never loaded
    assert by_date[D3].overall is Overall.FAILED
    assert exit_code(result) == 2
    assert decision.status == "blocked"


def test_a_weekday_calendar_leaves_weekends_na(mini: tuple[Path, str]) -> None:
    config, url = mini
    config.write_text(CALENDAR.replace("{every: day}", "{every: [thu, fri]}"))
    with load(config, warehouse=url) as guard:  # D1 Thursday, D2 Friday, D3-D4 weekend
        result = guard.verify(D1, D4)
    assert [d.scheduled for d in result.dates] == [1, 1, 0, 0]
    assert [d.overall for d in result.dates][2:] == [Overall.NA, Overall.NA]
    assert result.dates[0].date == D1
    assert result.dates[1].date == D2


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("{every: dayly}", "schedule.every: 'dayly': expected day, weekday or a list"),
        ("{every: [mon, fry]}", "schedule.every:"),
        ("{every: day, table: raw.s}", "a calendar schedule (every) takes no table"),
        ("{table: raw.s, date_column: d}", "give table, date_column and unit"),
    ],
)
def test_bad_schedules_are_one_line_errors(schedule: str, message: str) -> None:
    from phaseguard.config import parse

    text = MINI_CONFIG.replace(
        "{table: raw.schedule, date_column: game_date, unit: game_id}", schedule
    )
    with pytest.raises(ConfigError) as info:
        parse(text, "p.yml")
    assert message in str(info.value)
    assert str(info.value).startswith("p.yml:3:")


def test_unit_coverage_needs_a_schedule_table() -> None:
    from phaseguard.config import parse

    text = MINI_CONFIG.replace(
        "{table: raw.schedule, date_column: game_date, unit: game_id}", "{every: day}"
    )
    with pytest.raises(ConfigError, match="unit_coverage needs a schedule table") as info:
        parse(text, "p.yml")
    assert str(info.value).startswith("p.yml:10:")


def test_criteria_explain_the_proof_and_the_calendar(mini: tuple[Path, str]) -> None:
    from phaseguard.config import parse
    from phaseguard.criteria import render

    assert "not loaded yet" in render(parse(MINI_CONFIG))
    assert "calendar (every day)" in render(parse(CALENDAR))


# --- init: a calendar when there is no schedule table; the unit from the schedule's key ---

F1, F2, F3 = (dt.date(2026, 3, d) for d in (2, 3, 4))


@pytest.fixture
def flights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A flights warehouse (raw -> marts), no schedule table, and a dimension table."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "flights.duckdb"
    with connect(f"duckdb://{path}") as wh:
        wh.create_table("raw.flights", {"flight_date": "DATE", "carrier": "VARCHAR", "n": "INT"})
        wh.create_table("raw.airports", {"code": "VARCHAR", "name": "VARCHAR"})
        wh.create_table("marts.daily", {"flight_date": "DATE", "carrier": "VARCHAR", "n": "INT"})
        for table in ("raw.flights", "marts.daily"):
            rows = [(day, c, 1) for day in (F1, F2, F3) for c in ("AA", "DL")]
            wh.insert_rows(table, ["flight_date", "carrier", "n"], rows)
    return path


def test_init_without_a_schedule_table_writes_a_calendar_and_a_lost_day_fails(
    flights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(["init", "-w", f"duckdb://{flights}", "-s", "raw,marts"], capsys)
    assert code == 0
    assert "schedule: a calendar, every: day (no schedule or calendar table found" in out
    assert "dimension tables (no date column): raw.airports" in out
    text = Path("phaseguard.yml").read_text()
    assert "schedule: {every: day}" in text
    assert "# No table named like a schedule or calendar was found, so every day is" in text
    assert "# dimension tables (no date column, not checked per date): raw.airports" in text
    _sql(
        f"duckdb://{flights}",
        flights.parent,
        *[
            f"DELETE FROM {t} WHERE flight_date = '2026-03-03'"
            for t in ("raw.flights", "marts.daily")
        ],
    )
    code, out = run(["verify", "2026-03-02", "2026-03-04"], capsys)
    assert code == 2  # the lost day is a FAIL, not "nothing scheduled"
    assert "3 dates, 3 scheduled: 2 complete, 0 partial, 1 failed" in out


def test_init_guesses_the_unit_from_the_schedule_key(
    flights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from phaseguard.config import load as load_config

    with connect(f"duckdb://{flights}") as wh:
        wh.create_table(
            "raw.carrier_schedule", {"service_date": "DATE", "carrier": "VARCHAR", "note": "TEXT"}
        )
    code, _ = run(["init", "-w", f"duckdb://{flights}", "-s", "raw,marts"], capsys)
    assert code == 0
    config, _ = load_config("phaseguard.yml")
    schedule = config.schedule
    assert (schedule.table, schedule.date_column) == ("raw.carrier_schedule", "service_date")
    assert schedule.unit == "carrier"  # a code, not *_id: the column the phase tables share
    assert config.table("flights").unit == "carrier"
    assert config.table("daily").unit == "carrier"


def test_init_schedule_option_takes_a_calendar(
    flights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from phaseguard.config import load as load_config

    args = ["init", "-w", f"duckdb://{flights}", "-s", "raw", "--schedule", "weekday"]
    code, out = run(args, capsys)
    assert code == 0
    assert "schedule: a calendar, every: weekday\n" in out
    config, _ = load_config("phaseguard.yml")
    assert config.schedule.every == "weekday"
