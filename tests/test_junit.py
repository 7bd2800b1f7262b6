"""``--format junit``: the verdicts as a JUnit XML test report, parsed back and counted.

On the mini pipeline (a real DuckDB file and a real PostgreSQL database) through the CLI,
and on hand-built verdicts for what the warehouse cannot easily produce (an ERROR, text
that XML cannot hold as it is).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import D1, D4
from conftest import run_cli as run
from phaseguard import load
from phaseguard.junit import OVERALL_SUITE, to_junit
from phaseguard.verdicts import (
    DateVerdict,
    Level,
    Overall,
    PhaseVerdict,
    RangeVerdict,
    Verdict,
    combine,
)

COUNTED = ("tests", "failures", "errors", "skipped")


@pytest.fixture(autouse=True)
def _no_env_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)


def expected_counts(result: RangeVerdict) -> dict[str, int]:
    """What the report must count: a case per (date, check) and one per date."""
    verdicts = [v for d in result.dates for p in d.phases for v in p.verdicts]
    dates = result.dates
    return {
        "tests": len(verdicts) + len(dates),
        "failures": sum(v.level is Level.FAIL for v in verdicts)
        + sum(d.overall is Overall.FAILED for d in dates),
        "errors": sum(v.level is Level.ERROR for v in verdicts),
        "skipped": sum(v.level is Level.NA for v in verdicts)
        + sum(d.overall is Overall.NA for d in dates),
    }


def counted(root: ET.Element) -> dict[str, int]:
    """The counts the XML's elements give (not its attributes), checked against those."""
    cases = root.findall("./testsuite/testcase")
    found = {
        "tests": len(cases),
        "failures": len(root.findall("./testsuite/testcase/failure")),
        "errors": len(root.findall("./testsuite/testcase/error")),
        "skipped": len(root.findall("./testsuite/testcase/skipped")),
    }
    assert {k: int(root.get(k, "-1")) for k in COUNTED} == found
    for suite in root.findall("testsuite"):
        own = {
            "tests": len(suite.findall("testcase")),
            "failures": len(suite.findall("testcase/failure")),
            "errors": len(suite.findall("testcase/error")),
            "skipped": len(suite.findall("testcase/skipped")),
        }
        assert {k: int(suite.get(k, "-1")) for k in COUNTED} == own
    return found


@pytest.mark.parametrize("mode", ["smoke", "verify"])
def test_junit_counts_match_the_verdicts(
    mini: tuple[Path, str], capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    config, url = mini
    code, out, err = run(
        [mode, "2026-01-01", "2026-01-04", "-c", str(config), "-w", url, "-f", "junit"], capsys
    )
    with load(config, warehouse=url) as guard:
        result = guard.assess(D1, D4, mode=mode)  # type: ignore[arg-type]
    assert err == ""
    assert code == 2  # the exit code stays the command's: D4 misses a critical table
    root = ET.fromstring(out)
    assert root.tag == "testsuites"
    assert counted(root) == expected_counts(result)
    assert [s.get("name") for s in root.findall("testsuite")] == [
        "ingest",
        "process",
        "predict",
        OVERALL_SUITE,
    ]
    process = {c.get("name"): c for c in root.findall("./testsuite[@name='process']/testcase")}
    assert set(process) == {f"quorum [2026-01-0{day}]" for day in (1, 2, 3, 4)}
    assert all(c.get("classname") == "process" for c in process.values())
    failure = process["quorum [2026-01-04]"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("2/3 present")
    assert '"missing_required": ["A"]' in (failure.text or "")
    warned = process["quorum [2026-01-02]"]  # 2 of 3 present: a warning, and it passes
    assert warned.find("failure") is None
    assert (warned.findtext("system-out") or "").startswith("WARNING: quorum: 2/3 present")
    off_day = process["quorum [2026-01-03]"].find("skipped")
    assert off_day is not None
    assert off_day.get("message") == "nothing scheduled"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["exit_code"] == "2"
    assert props["overall"] == "FAILED"


def test_verify_junit_names_the_failing_check_and_the_failed_date(
    mini: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = mini
    code, out, _ = run(
        ["verify", "2026-01-01", "2026-01-04", "-c", str(config), "-w", url, "--format", "junit"],
        capsys,
    )
    assert code == 2
    root = ET.fromstring(out)
    ratio = root.find(
        "./testsuite[@name='predict']/testcase[@name='ratio(grades/preds) [2026-01-04]']"
    )
    assert ratio is not None
    failure = ratio.find("failure")
    assert failure is not None
    assert failure.get("type") == "FAIL"
    assert failure.get("message") == (
        "50% (5/10) — expected >= 95% excellent, >= 80% pass, >= 70% acceptable"
    )
    coverage = root.find(
        "./testsuite[@name='ingest']/testcase[@name='unit_coverage(box) [2026-01-02]']/failure"
    )
    assert coverage is not None
    assert '"missing": ["g21", "g22"]' in (coverage.text or "")
    dates = {
        c.get("name"): c for c in root.findall(f"./testsuite[@name='{OVERALL_SUITE}']/testcase")
    }
    assert dates["overall [2026-01-01]"].find("*") is None  # COMPLETE: passes
    day2 = dates["overall [2026-01-02]"].find("failure")
    assert day2 is not None
    assert "ingest: unit_coverage(box) FAIL" in (day2.text or "")


def test_junit_of_a_selection(mini: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    config, url = mini
    args = ["verify", "2026-01-01", "2026-01-04", "-c", str(config), "-w", url, "-f", "junit"]
    code, out, _ = run([*args, "--phase", "ingest", "--check", "rows_exist"], capsys)
    assert code == 0
    root = ET.fromstring(out)
    assert [s.get("name") for s in root.findall("testsuite")] == ["ingest", OVERALL_SUITE]
    assert counted(root) == {"tests": 8, "failures": 0, "errors": 0, "skipped": 2}


def test_a_format_that_does_not_exist_names_junit(
    mini: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = mini
    code, out, err = run(["smoke", "2026-01-01", "-c", str(config), "-w", url, "-f", "xml"], capsys)
    assert code == 3
    assert "--format must be table or json, or junit (XML), not 'xml'" in err
    assert out == ""


def _range(*days: DateVerdict) -> RangeVerdict:
    return RangeVerdict(days[0].date, days[-1].date, days, None, Overall.FAILED, mode="verify")


def test_errors_and_hostile_text_stay_valid_xml() -> None:
    """An ERROR is an <error>; text XML 1.0 cannot hold is dropped, credentials masked."""
    day = dt.date(2026, 1, 5)
    hostile = "bad\x00 \x1b[31mred\x1b[0m \ud800 <&> postgresql://u:hunter2@db/x \ufffe"
    verdicts = (
        Verdict("schedule", Level.ERROR, "schedule not loaded for 2026-01-05", "a schedule"),
        Verdict("aggregate(t)", Level.FAIL, hostile, "< 8"),
    )
    phases = (combine("load", verdicts), PhaseVerdict("serve", Level.NA, ()))
    text = to_junit(_range(DateVerdict(day, 3, phases, 0.0, Overall.FAILED)), name="p")
    root = ET.fromstring(text.encode("utf-8"))
    assert counted(root) == {"tests": 3, "failures": 2, "errors": 1, "skipped": 0}
    error = root.find("./testsuite[@name='load']/testcase[@name='schedule [2026-01-05]']/error")
    assert error is not None
    assert error.get("type") == "ERROR"
    failure = root.find("./testsuite[@name='load']/testcase/failure")
    assert failure is not None
    message = failure.get("message", "")
    assert "hunter2" not in text
    assert "<&>" in message
    assert "red" in message
    assert "\x1b" not in message
    assert root.get("name") == "p verify 2026-01-05"
