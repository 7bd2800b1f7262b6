"""The worked example as the seeds ask for it: the symptom caught as it happens, end to end.

Real parts only: the demo season in a DuckDB file, the local balldontlie API over HTTP
(answering 200 with half the games, or 429 with Retry-After), the CLI through its entry
point; only the clock and sleep are fake.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import D1, MINI_CONFIG, seed_mini
from nba_props import steps
from nba_props.analytics import SUMMARY
from nba_props.bdl_server import FaultModel, VirtualClock, serve
from nba_props.demo import BuiltDemo, backfill_story, build_demo, tonight_story
from nba_props.processors import run_phase
from nba_props.schema import SCHEMA
from nba_props.scraper import TABLE, bdl_client, scrape_box_scores
from phaseguard import load
from phaseguard.backoff import RetryPolicy
from phaseguard.cli import main
from phaseguard.errors import UsageError
from phaseguard.events import Event
from phaseguard.runner import StepContext
from phaseguard.warehouse import connect

GAMEBOOK = "nba_raw.nbac_gamebook_player_stats"
HEALTHY = dt.date(2026, 1, 10)  # a whole date of the demo season (6 games)
PARTIAL = dt.date(2026, 1, 13)  # bdl lost some games; the nbac gamebook has them


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> BuiltDemo:
    return build_demo(tmp_path_factory.mktemp("season") / "demo")


@pytest.fixture
def demo(season: BuiltDemo, tmp_path: Path) -> BuiltDemo:
    """A private copy of the demo season (config and warehouse), with no event log."""
    directory = tmp_path / "demo"
    directory.mkdir()
    shutil.copy(season.config_path, directory / "phaseguard.yml")
    shutil.copy(season.warehouse_path, directory / season.warehouse_path.name)
    return BuiltDemo(
        directory,
        directory / "phaseguard.yml",
        directory / season.warehouse_path.name,
        season.plan,
        0.0,
    )


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def count(url: str, sql: str, day: dt.date) -> int:
    with connect(url) as wh:
        return int(wh.select_for_date(sql, day)[0][0])


class Events(list[Event]):
    def record(self, event: Event) -> None:
        self.append(event)


# --- #14.10: HTTP 200 with half the games stops the run at phase 3, one alert per date -----


@pytest.fixture
def half_the_games(demo: BuiltDemo, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The local API answering 200 with every second game left out on HEALTHY."""
    url = f"duckdb://{demo.warehouse_path}"
    with connect(url) as wh:  # the gamebook is not published yet: nothing to fall back on
        wh.replace_partition(GAMEBOOK, "game_date", HEALTHY, tuple(SCHEMA[TABLE]), [])
    clock = VirtualClock()
    with serve(api_key="k", faults=FaultModel(incomplete_dates=(HEALTHY,))) as server:
        monkeypatch.setenv("BALLDONTLIE_API_KEY", "k")
        monkeypatch.setenv("BALLDONTLIE_BASE_URL", server.url)
        monkeypatch.setenv("PHASEGUARD_WAREHOUSE", url)
        steps.configure(sleep=clock.sleep, clock=clock, timeout=5.0)
        try:
            yield server
        finally:
            steps.configure()


def test_incomplete_box_scores_stop_run_at_phase3_with_one_alert(
    demo: BuiltDemo, half_the_games: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--date", str(HEALTHY), "-c", str(demo.config_path)]
    errs = []
    for _night in range(2):  # the second run finds the same incident: no second alert
        code, out, err = cli(args, capsys)
        errs.append(err)
        assert code == 2
        lines = {line.split()[0]: line.split()[1] for line in out.splitlines()[:5]}
        assert lines == {
            "phase2": "unhealthy",
            "phase3": "blocked",
            "phase4": "skipped",
            "phase5": "skipped",
            "phase6": "skipped",
        }
    assert "CRITICAL opened: phase3 BLOCKED" in errs[0]
    assert "games covered" in errs[0]
    assert "CRITICAL" not in errs[1]
    with load(demo.config_path, warehouse=f"duckdb://{demo.warehouse_path}") as guard:
        sent = guard.store.query(kind="alert_sent")
        gaps = guard.gaps(HEALTHY, HEALTHY)[HEALTHY]
        ran = guard.store.query(kind="phase_ran")
    assert len(sent) == 1
    assert sent[0].date == HEALTHY
    assert sent[0].phase == "phase3"
    assert sent[0].details["alert_status"] == "opened"
    assert {e.phase for e in ran} == {"phase2"}  # phase 3 never ran
    missing = half_the_games.games(HEALTHY)[1::2]
    assert gaps[0]["source"] == "bdl+nbac"
    assert len(gaps[0]["missing"]) == len(missing)


def test_demo_tonight_stops_at_phase3_then_heals(demo: BuiltDemo) -> None:
    night = tonight_story(demo)
    assert [p.status for p in night.runs[0].phases] == [
        "unhealthy",
        "blocked",
        "skipped",
        "skipped",
        "skipped",
    ]
    assert all(p.status == "ran" for p in night.runs[1].phases)
    day = demo.plan.last_date
    assert night.alerts == (
        (f"phase3 BLOCKED for {day}", "opened"),
        (f"phase3 gate resolved for {day}", "resolved"),
    )
    assert night.missing == 6  # 12 games scheduled, every second one left out


def test_phase3_gate_checks_coverage_and_freshness_before_it_runs(demo: BuiltDemo) -> None:
    with load(demo.config_path, warehouse=f"duckdb://{demo.warehouse_path}") as guard:
        stale = guard.gate("phase3").decide(HEALTHY)  # the season was scraped months ago
        partial = guard.gate("phase3").decide(dt.date(2025, 12, 9))  # the scraper outage
    assert stale.status == "blocked"
    assert [v.check for v in stale.failing] == ["box scores fresh"]
    assert "games covered" in {v.check for v in partial.failing}


# --- #14.9: the nbac gamebook and phase 2's fallback ------------------------------------------


def test_gamebook_fills_the_games_bdl_lost(demo: BuiltDemo) -> None:
    url = f"duckdb://{demo.warehouse_path}"
    sql_games = "SELECT COUNT(DISTINCT game_id) FROM {} WHERE game_date = :d"
    scheduled = count(url, sql_games.format("nba_raw.nbac_schedule"), PARTIAL)
    assert count(url, sql_games.format(TABLE), PARTIAL) < scheduled
    assert count(url, sql_games.format(GAMEBOOK), PARTIAL) == scheduled
    assert count(url, sql_games.format(GAMEBOOK), dt.date(2025, 12, 9)) == 0  # outage: neither
    clock = VirtualClock()
    with (
        serve(api_key="k", faults=FaultModel(incomplete_dates=(PARTIAL,))) as server,
        load(demo.config_path, warehouse=url) as guard,
    ):
        steps.configure(sleep=clock.sleep, clock=clock, client=bdl_client("k", base_url=server.url))
        try:
            with guard.writing():  # as the runner holds it while a step runs
                steps.phase2(PARTIAL, StepContext(guard, "phase2", PARTIAL))
                run_phase("phase3", PARTIAL, guard.warehouse)
        finally:
            steps.configure()
        kinds = [e.kind for e in guard.store.query()]
    assert "boxscores_fallback" in kinds
    assert "data_gap" not in kinds
    assert count(url, sql_games.format(SUMMARY), PARTIAL) == scheduled  # phase 3 is whole


# --- #14.12: Retry-After through the SDK's HTTP layer -------------------------------------------


def test_retry_after_of_a_429_is_a_floor_through_the_sdk(tmp_path: Path) -> None:
    slept: list[float] = []
    clock = VirtualClock()

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.sleep(seconds)

    faults = FaultModel(script=("429",), retry_after=30)
    with (
        serve(api_key="k", faults=faults) as server,
        connect(f"duckdb://{tmp_path / 'w.duckdb'}") as wh,
    ):
        wh.create_table(TABLE, SCHEMA[TABLE])
        result = scrape_box_scores(
            dt.date(2025, 10, 22),
            client=bdl_client("k", base_url=server.url),
            warehouse=wh,
            sleep=sleep,
            clock=clock,
            policy=RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=2.0),
            rng=random.Random(1),
            timeout=5.0,
        )
    assert result.complete
    assert slept == [30.0]  # the jittered wait (<= 1 s) raised to the server's 30 s


# --- #14.13: the gcp preset, offline; a health check after each phase ------------------------


def test_deploy_check_offline_lists_the_gcp_probes_as_skipped(
    demo: BuiltDemo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    cfg = ["-c", str(demo.config_path), "--warehouse", f"duckdb://{demo.warehouse_path}"]
    code, out, _ = cli(["deploy-check", "--offline", *cfg], capsys)
    assert code == 0
    assert "grading-readiness-monitor" in out
    assert "17 skipped (offline)" in out
    assert "nbac_gamebook_player_stats" in out
    assert "0 missing" in out


def test_deploy_check_without_infrastructure_lists_drift(
    demo: BuiltDemo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = demo.config_path.read_text()
    (tmp_path / "bare.yml").write_text(text[: text.index("infrastructure:")])
    url = f"duckdb://{demo.warehouse_path}"
    with connect(url) as wh:
        wh.create_table("nba_raw.old_scrape", {"game_date": "DATE"})
    code, out, _ = cli(
        ["deploy-check", "-c", str(tmp_path / "bare.yml"), "--warehouse", url], capsys
    )
    assert code == 0
    assert "nba_raw.old_scrape" in out
    assert "1 drift" in out


HEALTH_CONFIG = """\
pipeline: mini
warehouse: duckdb://mini.duckdb
schedule: {table: raw.schedule, date_column: game_date, unit: game_id}
phases:
  - name: ingest
    step: {command: "true"}
    tables:
      - {name: box, table: raw.box, date_column: game_date, unit: game_id}
    checks:
      - {kind: rows_exist}
sinks:
  - {kind: stderr, min_severity: warning}
"""


def test_a_phase_left_failing_by_its_step_alerts_once(tmp_path: Path) -> None:
    (tmp_path / "phaseguard.yml").write_text(HEALTH_CONFIG)
    url = f"duckdb://{tmp_path / 'mini.duckdb'}"
    seed_mini(url, tmp_path)
    with connect(url) as wh:
        wh.driver.execute("DELETE FROM raw.box")  # the step "succeeds" and loads nothing
    with load(tmp_path / "phaseguard.yml", warehouse=url) as guard:
        from phaseguard.runner import Runner

        runs = [Runner(guard).run_date(D1) for _ in range(2)]
        sent = guard.store.query(kind="alert_sent")
    assert [r.phases[0].status for r in runs] == ["unhealthy", "unhealthy"]
    assert "rows_exist" in runs[0].phases[0].message or "rows" in runs[0].phases[0].message
    assert len(sent) == 1
    assert sent[0].phase == "ingest"


# --- #14 rough edges ------------------------------------------------------------------------


def test_demo_refuses_to_replace_a_warehouse_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nba_props.duckdb").write_bytes(b"mine")
    code, _, err = cli(["demo", "--dir", str(tmp_path), "--verify-only"], capsys)
    assert code == 3
    assert "--force" in err
    assert (tmp_path / "nba_props.duckdb").read_bytes() == b"mine"


def test_demo_story_is_the_same_for_the_same_seed(tmp_path: Path) -> None:
    def tell(directory: Path) -> tuple[Any, ...]:
        built = build_demo(directory)
        story = backfill_story(built)
        with load(built.config_path, warehouse=f"duckdb://{built.warehouse_path}") as guard:
            waits = [e.details["wait"] for e in guard.store.query(kind="retry_attempt")]
        return story.first.after, story.second.after, story.api_requests, sorted(waits)

    assert tell(tmp_path / "one") == tell(tmp_path / "two")


def test_override_without_user_names_the_by_option(
    demo: BuiltDemo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USER", raising=False)
    cfg = ["-c", str(demo.config_path)]
    args = ["override", "phase5", "--date", "2026-01-21", "--reason", "known", *cfg]
    code, _, err = cli(args, capsys)
    assert code == 3
    assert "--by" in err


def test_events_kind_unknown_is_a_usage_error(
    demo: BuiltDemo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["events", "--kind", "bogus", "-c", str(demo.config_path)], capsys)
    assert code == 3
    assert "bogus" in err
    assert "gate_blocked" in err


def test_run_without_steps_says_so_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "phaseguard.yml").write_text(MINI_CONFIG)
    seed_mini(f"duckdb://{tmp_path / 'mini.duckdb'}", tmp_path)
    _, out, err = cli(["run", "--date", str(D1), "-c", str(tmp_path / "phaseguard.yml")], capsys)
    assert "no_step" not in out + err
    assert out.count("no step configured") == 3


def test_retry_attempts_name_their_date_and_phase(tmp_path: Path) -> None:
    events, clock = Events(), VirtualClock()
    day = dt.date(2025, 10, 22)
    with (
        serve(api_key="k", faults=FaultModel(script=("503",))) as server,
        connect(f"duckdb://{tmp_path / 'w.duckdb'}") as wh,
    ):
        wh.create_table(TABLE, SCHEMA[TABLE])
        scrape_box_scores(
            day,
            client=bdl_client("k", base_url=server.url),
            warehouse=wh,
            recorder=events,
            sleep=clock.sleep,
            clock=clock,
            rng=random.Random(1),
            timeout=5.0,
            phase="phase2",
        )
    attempts = [e for e in events if e.kind == "retry_attempt"]
    assert attempts
    assert all(e.date == day and e.phase == "phase2" for e in attempts)


def test_python_api_takes_string_dates(demo: BuiltDemo) -> None:
    with load(demo.config_path, warehouse=f"duckdb://{demo.warehouse_path}") as guard:
        assert guard.verify("2026-01-10").dates[0].date == HEALTHY
        assert guard.gate("phase5").decide("2026-01-21").status == "blocked"
        with pytest.raises(UsageError, match="YYYY-MM-DD"):
            guard.verify("01/10/2026")
