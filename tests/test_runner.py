"""run and backfill: gates stop downstream, transient failures retry, the receipt is right."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import D1, D2, D4, MINI_CONFIG, seed_mini
from phaseguard import load
from phaseguard.runner import Runner, backfill
from phaseguard.verdicts import Overall
from phaseguard.warehouse import connect

TESTS = Path(__file__).parent
RUN_CONFIG = (
    MINI_CONFIG.replace(
        "  - name: ingest\n", "  - name: ingest\n    step: {call: mini_steps:ingest}\n"
    )
    .replace("  - name: process\n", "  - name: process\n    step: {call: mini_steps:process}\n")
    .replace("  - name: predict\n", "  - name: predict\n    step: {call: mini_steps:predict}\n")
)
DATA_TABLES = ("raw.box", "proc.a", "proc.b", "proc.c", "out.preds", "out.grades")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """The mini pipeline with steps, only its schedule loaded (DuckDB file or PostgreSQL)."""
    (tmp_path / "phaseguard.yml").write_text(RUN_CONFIG)
    url = (
        f"duckdb://{tmp_path / 'mini.duckdb'}"
        if request.param == "duckdb"
        else request.getfixturevalue("pg_url")
    )
    seed_mini(url, tmp_path)
    with connect(url, base_dir=tmp_path) as wh:
        for table in DATA_TABLES:
            wh.driver.execute(f"DELETE FROM {table}")
    return tmp_path / "phaseguard.yml", url


def counts(url: str, base: Path) -> dict[str, int]:
    with connect(url, base_dir=base) as wh:
        return {t: int(wh.driver.execute(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in DATA_TABLES}


def test_backfill_fills_every_date_and_receipt_matches_verify(pipeline: tuple[Path, str]) -> None:
    config, url = pipeline
    sleeps: list[float] = []
    (config.parent / f"flaky-{D2}").touch()  # one transient failure, retried
    with load(config, warehouse=url) as guard:
        receipt = backfill(guard, D1, D4, runner=Runner(guard, sleep=sleeps.append))
        assert [r.date for r in receipt.runs] == [D1, D2, D4]  # D3 has nothing scheduled
        assert all(receipt.before_of(d).overall is Overall.FAILED for d in (D1, D2, D4))
        assert all(receipt.after_of(d).overall is Overall.COMPLETE for d in (D1, D2, D4))
        assert receipt.after.overall is Overall.COMPLETE
        assert len(sleeps) == 1  # the flaky ingest waited once, then succeeded
        again = guard.verify(D1, D4)
    assert again == receipt.after  # the receipt is what verify says afterwards
    assert counts(url, config.parent)["out.grades"] == 18  # 3 dates x 3 games x 2 systems


def test_a_failed_phase_stops_downstream_and_other_dates_go_on(pipeline: tuple[Path, str]) -> None:
    config, url = pipeline
    (config.parent / f"broken-{D2}").touch()
    with load(config, warehouse=url) as guard:
        receipt = backfill(guard, D1, D4, runner=Runner(guard, sleep=lambda _s: None))
        statuses = {r.date: {p.phase: p.status for p in r.phases} for r in receipt.runs}
        blocked_events = guard.store.query(kind="gate_blocked")
    assert statuses[D2] == {"ingest": "ran", "process": "failed", "predict": "skipped"}
    assert statuses[D1] == {"ingest": "ran", "process": "ran", "predict": "ran"}
    assert statuses[D4]["predict"] == "ran"
    assert receipt.after_of(D2).overall is Overall.FAILED
    assert receipt.after_of(D4).overall is Overall.COMPLETE
    assert blocked_events == []  # the failure stopped downstream before its gate was asked


def test_a_blocked_gate_never_runs_the_phase(pipeline: tuple[Path, str]) -> None:
    config, url = pipeline
    with load(config, warehouse=url) as guard:
        # predict's gate wants 2 of A, B, C: run only predict, with nothing upstream
        run = Runner(guard).run_date(D1, from_phase="predict")
        assert [(p.phase, p.status) for p in run.phases] == [("predict", "blocked")]
        assert "BLOCKED" in run.phases[0].message
    assert counts(url, config.parent)["out.preds"] == 0


def test_resumable_complete_dates_are_skipped_unless_forced(pipeline: tuple[Path, str]) -> None:
    config, url = pipeline
    with load(config, warehouse=url) as guard:
        backfill(guard, D1, D4, runner=Runner(guard, sleep=lambda _s: None))
        second = backfill(guard, D1, D4)
        assert all(r.skipped_complete for r in second.runs)
        forced = backfill(guard, D1, D4, force=True)
        assert not any(r.skipped_complete for r in forced.runs)
    assert counts(url, config.parent)["out.grades"] == 18  # forced re-run duplicated nothing


def test_backfill_killed_midway_then_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    (tmp_path / "phaseguard.yml").write_text(RUN_CONFIG)
    url = f"duckdb://{tmp_path / 'mini.duckdb'}"
    seed_mini(url, tmp_path)
    with connect(url, base_dir=tmp_path) as wh:
        for table in DATA_TABLES:
            wh.driver.execute(f"DELETE FROM {table}")
        # a longer range: 20 scheduled dates, 3 games each
        games = [
            (f"x{day}{i}", dt.date(2026, 2, 1) + dt.timedelta(days=day))
            for day in range(20)
            for i in range(3)
        ]
        wh.insert_rows("raw.schedule", ["game_id", "game_date"], games)
    env = {**os.environ, "PYTHONPATH": str(TESTS), "MINI_STEP_PAUSE": "0.15"}
    cmd = [
        sys.executable,
        "-m",
        "phaseguard.cli",
        "backfill",
        "2026-02-01",
        "2026-02-20",
        "-c",
        str(tmp_path / "phaseguard.yml"),
        "--format",
        "json",
    ]
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        lines = 0
        deadline = time.monotonic() + 120
        while lines < 15 and time.monotonic() < deadline:  # about 5 dates in
            if proc.stderr.readline():
                lines += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    partial = counts(url, tmp_path)
    assert 0 < partial["raw.box"] < 60
    env.pop("MINI_STEP_PAUSE")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    receipt = json.loads(done.stdout)
    skipped = [d for d in receipt["dates"] if d["skipped_complete"]]
    assert skipped  # the dates finished before the kill were not run again
    assert receipt["overall"] == "COMPLETE"
    final = counts(url, tmp_path)
    assert final["raw.box"] == 60
    assert final["out.grades"] == 120
    assert final["proc.a"] == 20


def test_cli_backfill_receipt_and_bad_input(
    pipeline: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from phaseguard.cli import main

    config, url = pipeline
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as info:
        main(["backfill", str(D1), str(D4), "-c", str(config), "-w", url])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "backfill receipt" in out
    assert "Overall: COMPLETE" in out
    for args, message in (
        (["backfill", str(D4), str(D1)], "reversed range"),
        (["backfill", str(D1), "--jobs", "0"], "--jobs must be at least 1"),
        (["run", "--date", str(D1), "--from-phase", "nope"], "unknown phase 'nope'"),
    ):
        with pytest.raises(SystemExit) as info:
            main([*args, "-c", str(config), "-w", url])
        assert info.value.code == 3
        assert message in capsys.readouterr().err


def test_parallel_jobs_and_a_shell_command_step(pipeline: tuple[Path, str]) -> None:
    config, url = pipeline
    marker = config.parent / "ran"
    # the predict phase's step becomes a shell command: it touches a file per date
    text = config.read_text().replace(
        "    step: {call: mini_steps:predict}\n",
        f'    step: {{command: "touch {marker}-{{date}}"}}\n',
    )
    config.write_text(text)
    with load(config, warehouse=url) as guard:
        receipt = backfill(
            guard,
            D1,
            D4,
            jobs=2,
            runner=Runner(guard, sleep=lambda _s: None),
            guard_factory=lambda: load(config, warehouse=url),
        )
    runs = {r.date: {p.phase: p.status for p in r.phases} for r in receipt.runs}
    # The command wrote no rows: predict ran, and the health check after it found it FAIL.
    expected = {"ingest": "ran", "process": "ran", "predict": "unhealthy"}
    assert all(r == expected for r in runs.values())
    assert sorted(p.name for p in config.parent.glob("ran-*")) == [f"ran-{d}" for d in (D1, D2, D4)]
    assert counts(url, config.parent)["proc.a"] == 3
    assert counts(url, config.parent)["out.preds"] == 0  # the shell step wrote no rows
