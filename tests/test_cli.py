"""The CLI: exit codes, output and bad input, as a user sees them."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import D1, D4, MINI_CONFIG, seed_mini
from conftest import run_cli as run
from phaseguard import load


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with the mini config and its DuckDB warehouse; the cwd of the test."""
    (tmp_path / "phaseguard.yml").write_text(MINI_CONFIG)
    seed_mini(f"duckdb://{tmp_path / 'mini.duckdb'}", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_smoke_table_and_exit_code(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["smoke", "2026-01-01", "2026-01-04"], capsys)
    assert code == 2  # D4 misses a critical processor
    assert "✅ PASS" in out
    assert "❌ FAIL" in out
    assert "3 scheduled: 1 pass, 1 with warnings, 1 fail" in out


def test_one_healthy_date_exits_zero(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["verify", "2026-01-01"], capsys)
    assert code == 0
    assert "COMPLETE" in out


def test_verify_json_shape(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["verify", "2026-01-01", "2026-01-04", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 2
    assert data["exit_code"] == 2
    assert [d["date"] for d in data["dates"]] == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
        "2026-01-04",
    ]
    day4 = data["dates"][3]
    assert day4["phases"]["process"]["status"] == "FAIL"
    assert day4["overall"] == "FAILED"
    check = day4["phases"]["predict"]["checks"][1]
    assert set(check) >= {"check", "status", "observed", "expected"}


def test_verify_lists_failing_checks_with_observed_and_expected(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(["verify", "2026-01-01", "2026-01-04"], capsys)
    assert "unit_coverage(box): 33% (1/3); missing 2: g21, g22 — expected >= 90% excellent" in out


def test_criteria_markdown(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["criteria"], capsys)
    assert code == 0
    assert out.startswith("# Success criteria: mini")
    assert "at least 2 of 3 (A, B, C) have rows including A" in out
    assert "**COMPLETE**" in out


def test_warehouse_override_flag(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["smoke", "2026-01-01", "-w", "duckdb://other.duckdb"], capsys)
    assert code == 4
    assert "does not exist" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["verify", "2026-01-05", "2026-01-01"], 3, "reversed range"),
        (["verify", "2026-13-01"], 3, "bad start date '2026-13-01'"),
        (["verify", "2010-01-01", "2026-01-01"], 3, "longer than 10 years"),
        (["verify", "2026-01-01", "-c", "nope.yml"], 3, "nope.yml: config file not found"),
        (["verify", "2026-01-01", "--format", "xml"], 3, "--format must be table or json"),
        (["verify", "--bogus"], 3, "No such option"),
        (
            ["verify", "2026-01-01", "-w", "oracle://x"],
            3,
            "error: --warehouse: unknown warehouse scheme 'oracle'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_3(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    got, out, err = run(args, capsys)
    assert got == code
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_broken_config_names_file_line_and_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "phaseguard.yml").write_text(
        MINI_CONFIG.replace("min_present: 2}", "min_present: 2, extra: 1}", 1)
    )
    code, _, err = run(["smoke", "2026-01-01"], capsys)
    assert code == 3
    assert "phaseguard.yml:18: phases[1].checks[0].extra: unknown key" in err


def test_real_process_no_traceback_unless_debug(project: Path) -> None:
    exe = [sys.executable, "-m", "phaseguard.cli"]
    (project / "phaseguard.yml").write_text(MINI_CONFIG.replace("proc.c", "proc.gone"))
    plain = subprocess.run(
        [*exe, "smoke", "2026-01-01"], capture_output=True, text=True, check=False
    )
    assert plain.returncode == 4
    assert "table proc.gone does not exist" in plain.stderr
    assert "Traceback" not in plain.stderr
    debug = subprocess.run(
        [*exe, "smoke", "2026-01-01", "--debug"], capture_output=True, text=True, check=False
    )
    assert "Traceback" in debug.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["verify", "2026-01-01", "2026-01-04"], 141),
        (["--help"], 141),
        (["gate", "process", "--date", "2026-01-01"], 2),
    ],
)
def test_a_reader_that_goes_away_is_never_read_as_go(
    project: Path, args: list[str], code: int
) -> None:
    """``phaseguard verify ... | head``: click ends a broken pipe with exit 1 ("go:
    PARTIAL"); it is 141, as Unix tools end, and a gate's is a block, with no error line."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    try:
        done = subprocess.run(
            [sys.executable, "-m", "phaseguard.cli", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == code
    assert "error" not in done.stderr.lower()
    assert "Traceback" not in done.stderr


# Run as ``python -m phaseguard.cli``; at exit, print what a fast start must not have loaded
# and whether start-up was frozen out of the collector's sight.
_REPORT_AT_EXIT = """
import atexit, gc, runpy, sys
def report():
    loaded = sorted({"asyncio", "sqlglot", "tenacity"} & set(sys.modules))
    print("loaded:", loaded, "frozen:", gc.get_freeze_count() > 0, file=sys.stderr)
atexit.register(report)
runpy.run_module("phaseguard.cli", run_name="__main__", alter_sys=True)
"""


def test_smoke_process_loads_only_what_it_needs(project: Path, tmp_path: Path) -> None:
    """A smoke test in a new process never loads tenacity (nothing retries) or sqlglot.

    Its wall time is mostly start-up, so what start-up imports is guarded here, not timed.
    The first run renders the SQL and caches it; the second reads it from the cache.
    """
    env = {k: v for k, v in os.environ.items() if k != "PHASEGUARD_NO_SQL_CACHE"}
    env["PHASEGUARD_CACHE_DIR"] = str(tmp_path / "sql-cache")
    cmd = [sys.executable, "-c", _REPORT_AT_EXIT, "smoke", "2026-01-01", "2026-01-04"]
    runs = [subprocess.run(cmd, capture_output=True, text=True, env=env) for _ in range(2)]
    assert [r.returncode for r in runs] == [2, 2]
    assert runs[0].stdout == runs[1].stdout
    assert "3 scheduled: 1 pass, 1 with warnings, 1 fail" in runs[1].stdout
    assert runs[1].stderr.splitlines()[-1] == "loaded: [] frozen: True"


def test_main_in_process_leaves_the_collector_alone(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the process entry point freezes start-up objects; ``main`` runs many times in tests."""
    frozen = gc.get_freeze_count()
    code, _, _ = run(["smoke", "2026-01-01"], capsys)
    assert code == 0
    assert gc.get_freeze_count() == frozen


def test_piped_output_is_not_cut_to_eighty_columns(project: Path) -> None:
    """In a CI log there is no terminal: tables get 120 columns unless COLUMNS says otherwise."""
    show = "from phaseguard.cli.app import out, err; print(out.width, err.width)"
    # not a terminal, and nothing in the environment saying it is one (CI may set these)
    told = {"COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE"}
    env = {k: v for k, v in os.environ.items() if k not in told}
    piped = subprocess.run([sys.executable, "-c", show], capture_output=True, text=True, env=env)
    assert piped.stdout.split() == ["120", "120"]
    narrow = subprocess.run(
        [sys.executable, "-c", show], capture_output=True, text=True, env={**env, "COLUMNS": "60"}
    )
    assert narrow.stdout.split() == ["60", "60"]


def test_a_bad_warehouse_url_names_where_it_came_from(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASEGUARD_WAREHOUSE", "oracle://x")
    code, _, err = run(["smoke", "2026-01-01"], capsys)
    assert (code, err.split(": ")[1]) == (3, "PHASEGUARD_WAREHOUSE")
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE")
    (project / "phaseguard.yml").write_text(
        MINI_CONFIG.replace("warehouse: duckdb://mini.duckdb", "warehouse: oracle://x", 1)
    )
    code, _, err = run(["smoke", "2026-01-01"], capsys)
    assert code == 3
    assert "phaseguard.yml:2: warehouse: unknown warehouse scheme 'oracle'" in err


def test_a_mistyped_duckdb_path_leaves_no_file_behind(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["smoke", "2026-01-01", "-w", "duckdb://typo.duckdb"], capsys)
    assert code == 4
    assert "typo.duckdb does not exist" in err
    assert not (project / "typo.duckdb").exists()


def test_the_gap_ledger_explains_failing_dates_only(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from phaseguard.events import Event

    with load("phaseguard.yml") as guard:
        for day in (D1, D4):  # D1 was re-run since and is healthy; D4 still fails
            details = {"source": "bdl", "key": f"games {day}", "error_class": "ReadTimeout"}
            guard.recorder.record(
                Event(
                    "retry_exhausted", "error", "all 5 attempts failed", date=day, details=details
                )
            )
    code, out, _ = run(["verify", "2026-01-01", "2026-01-04"], capsys)
    assert code == 2
    assert f"{D4} bdl games {D4}: ReadTimeout" in out
    assert f"games {D1}" not in out


def test_one_date_is_counted_as_one_date(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["verify", "2026-01-01"], capsys)
    assert "1 date, 1 scheduled:" in out
    assert "1 dates" not in out
