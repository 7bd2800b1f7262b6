"""The demo end to end: the seeded season, the gates, a season backfill through a flaky API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nba_props.demo import backfill_story, build_demo
from phaseguard import load
from phaseguard.cli import main
from phaseguard.verdicts import Overall


def test_season_backfill_through_the_gates_and_its_receipt_matches_verify(tmp_path: Path) -> None:
    built = build_demo(tmp_path / "demo")
    story = backfill_story(built)
    assert {d.status for d in story.decisions} == {"blocked"}
    first, second = story.first, story.second
    ran = [r for r in first.runs if not r.skipped_complete]
    assert 10 <= len(ran) <= 25  # only the broken dates are run; COMPLETE ones are skipped
    lost = [r.date for r in ran if first.after_of(r.date).overall is not Overall.COMPLETE]
    assert lost  # the outage swallowed the first dates: every attempt failed ...
    assert all(first.gaps.get(day) for day in lost)  # ... and the gap ledger says why
    assert all(
        p.status == "skipped" for r in ran if r.date in lost for p in r.phases[1:]
    )  # nothing downstream ran on the missing box scores
    assert [r.date for r in second.runs if not r.skipped_complete] == lost
    assert second.after.overall is Overall.COMPLETE
    with load(built.config_path, warehouse=f"duckdb://{built.warehouse_path}") as guard:
        assert guard.verify(built.plan.first_date, built.plan.last_date) == second.after
    assert story.alerts_sent > 0


def test_demo_command_verify_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    with pytest.raises(SystemExit) as info:
        main(["demo", "--dir", str(tmp_path / "d"), "--verify-only"])
    out = capsys.readouterr().out
    assert info.value.code == 2  # as the headline says: the faults are left in place
    assert "Overall: FAILED" in out
    assert "1230 games on 163 game dates" in out
    assert "Flagged: 18 of 19 injected faults" in out
    assert "2026-01-21 phase4 ❌ FAIL processors: 2/5 present" in out
    assert (tmp_path / "d" / "nba_props.duckdb").exists()


def test_off_days_are_never_fail(tmp_path: Path) -> None:
    built = build_demo(tmp_path / "demo")
    with load(built.config_path, warehouse=f"duckdb://{built.warehouse_path}") as guard:
        result = guard.verify(dt.date(2026, 2, 13), dt.date(2026, 2, 18))  # All-Star break
    assert {d.overall for d in result.dates} == {Overall.NA}
