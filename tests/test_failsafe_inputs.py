"""Issue #13 items 1, 11 (inputs), 12 and #14's CLI rough edges: no input makes phaseguard
crash, hang, exhaust memory or say "go" by mistake; each is refused on one line instead.

Every case here failed on the code before this change (a traceback, exit 1, a hang, a 500
or a config accepted with the wrong meaning).
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from conftest import D1, MINI_CONFIG, seed_mini
from conftest import run_cli as run
from phaseguard import load
from phaseguard.config import Gate as GateConfig
from phaseguard.errors import GateBlocked, UsageError
from phaseguard.kinds import Quorum

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import failsafe_configs


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The mini pipeline in a DuckDB file; the cwd of the test."""
    (tmp_path / "phaseguard.yml").write_text(MINI_CONFIG)
    seed_mini(f"duckdb://{tmp_path / 'mini.duckdb'}", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def limited(args: list[str], cwd: Path, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """The real CLI in a process that may use 1 GiB of memory and ``timeout`` seconds."""

    def cap() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [sys.executable, "-m", "phaseguard.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
        check=False,
    )


OVERRIDE = ["override", "predict", "--date", "2026-01-01", "--reason", "x", "--by", "me"]


# --- item 1: any crash exits 1 ------------------------------------------------------------------


def test_a_bug_exits_5_on_one_line_not_1(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import phaseguard.criteria

    def bug(config: object) -> str:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(phaseguard.criteria, "render", bug)  # a bug, not the warehouse
    code, _, err = run(["criteria"], capsys)
    assert code == 5
    line = one_line(err)
    assert "internal error (a bug in phaseguard): ZeroDivisionError: division by zero" in line
    assert "--debug" in line


def test_a_step_that_ends_the_process_is_not_go(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MINI_CONFIG.replace(
        "    depends_on: [ingest]\n", '    depends_on: [ingest]\n    step: {call: "sys:exit"}\n', 1
    )
    (project / "phaseguard.yml").write_text(text)
    code, _, err = run(["run", "--date", "2026-01-01"], capsys)
    assert code == 5  # sys.exit(date) used to end the process with 1: "go with warnings"
    assert "ended by sys.exit(datetime.date(2026, 1, 1))" in err.strip().splitlines()[-1]


def test_debug_shows_the_traceback_and_keeps_the_exit_code(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["smoke", "9999-12-31", "--debug"], capsys)
    assert code == 3
    assert "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("error: bad start date 9999-12-31")


def test_gate_exits_2_on_any_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "phaseguard.yml").write_text(
        MINI_CONFIG.replace("min_present: 2}", "min_present: 2, zzz: 1}", 1)
    )
    code, out, err = run(["gate", "predict", "--date", "2026-01-01", "-f", "json"], capsys)
    assert code == 2  # a config error: the gate cannot say yes, so it says no
    line = one_line(err)
    assert "gate BLOCKED" in line
    assert json.loads(out)["status"] == "blocked"
    code, _, err = run(["gate", "predict", "--dat", "2026-01-01"], capsys)
    assert code == 2  # even a usage error never exits 0 or 1 for gate
    assert "No such option" in one_line(err)


def test_a_gate_that_cannot_be_evaluated_is_blocked_recorded_and_alerted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "phaseguard.yml").write_text(MINI_CONFIG + "sinks:\n  - {kind: stderr}\n")
    guard = load(project / "phaseguard.yml")
    # A config built in code skips the load-time checks: a gate with no upstream at all,
    # and one whose quorum names a table that does not exist (a KeyError deep inside).
    broken = GateConfig(
        phase="process", checks=[Quorum(kind="quorum", tables=["nope"], min_present=1)]
    )
    config = guard.config.model_copy(update={"gates": [GateConfig(phase="ingest"), broken]})
    guard.config = config
    with guard:
        for gate in ("ingest", "process"):
            decision = guard.gate(gate).decide(D1)
            assert decision.status == "blocked"
            assert "could not be evaluated" in decision.message
            with pytest.raises(GateBlocked):
                guard.gate(gate).enforce(D1)
        events = guard.store.query(kind="gate_blocked")
    errors = {e.phase: e.details["error"] for e in events}
    assert errors == {"ingest": "ConfigError", "process": "KeyError"}
    err = capsys.readouterr().err  # the stderr sink's alerts
    assert "ingest BLOCKED" in err
    assert "process BLOCKED" in err


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["gate", "predict", "--date", "9999-12-31"], 2, "dates run from 1000-01-01 to 9998-12-31"),
        (["smoke", "9999-12-31"], 3, "dates run from"),
        (
            [*OVERRIDE, "--expires", "9999999d"],
            3,
            "bad duration '9999999d': longer than 3660 days",
        ),
        (["events", "--since", "99999999999999999999d"], 3, "bad duration"),
    ],
)
def test_dates_and_durations_the_tool_cannot_handle_are_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, says: str
) -> None:
    got, _, err = run(args, capsys)
    assert got == code
    assert says in one_line(err)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (MINI_CONFIG.encode("utf-16"), "phaseguard.yml:1: the file is UTF-16: save it as UTF-8"),
        (
            MINI_CONFIG.replace("pipeline: mini", "pipeline: caf\xe9").encode("latin-1"),
            "phaseguard.yml:1: byte 0xe9 is not UTF-8",
        ),
        (b"pipeline: x\n" + bytes(range(256)), "phaseguard.yml:2: a NUL byte"),
        (
            MINI_CONFIG.replace("pipeline: mini", "pipeline: !!python/object:os.system mini"),
            "phaseguard.yml:1: pipeline: unknown YAML tag '!!python/object:os.system'",
        ),
        (MINI_CONFIG + "x-loop: &x [*x]\n", "phaseguard.yml:33: x-loop[0]: an alias refers to"),
        (
            MINI_CONFIG + "  - phase: ingest\n",
            "phaseguard.yml:33: gates[2].phase: gate 'ingest' has no upstream",
        ),
    ],
)
def test_configs_that_crashed_are_one_line_with_file_and_line(
    project: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, says: str
) -> None:
    data = content.encode() if isinstance(content, str) else content
    (project / "phaseguard.yml").write_bytes(data)
    code, _, err = run(["smoke", "2026-01-01"], capsys)
    assert code == 3
    assert says in one_line(err)


def test_an_include_of_a_device_is_refused_before_it_is_read(project: Path) -> None:
    text = MINI_CONFIG + "infrastructure: {include: [/dev/zero]}\n"
    (project / "phaseguard.yml").write_text(text)
    done = limited(["deploy-check"], project)
    assert done.returncode == 3
    assert "phaseguard.yml:33: infrastructure.include[0]: cannot read include '/dev/zero'" in (
        one_line(done.stderr)
    )


# --- item 11: configs accepted with the wrong meaning ---------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "{name: box, table: raw.box, date_column: game_date,",
            "{name: box, table: raw.box, date_colum: game_date,",
            "phaseguard.yml:7: phases[0].tables[0].date_colum: unknown key "
            "(did you mean 'date_column'?)",
        ),
        (
            "pipeline: mini\n",
            "pipeline: mini\nevents: mysql://db/x\n",
            "phaseguard.yml:2: events: unknown event store scheme 'mysql'",
        ),
        (
            "  - phase: process\n",
            "  - {phase: process, checks: []}\n",
            "phaseguard.yml:29: gates[0].checks: a gate with no checks would open on anything",
        ),
        (
            "  - phase: process\n",
            "  - {phase: process, block_on: []}\n",
            "phaseguard.yml:29: gates[0].block_on: a gate that blocks on nothing",
        ),
    ],
)
def test_configs_with_a_wrong_meaning_are_refused(
    project: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, says: str
) -> None:
    assert old in MINI_CONFIG
    (project / "phaseguard.yml").write_text(MINI_CONFIG.replace(old, new, 1))
    code, _, err = run(["smoke", "2026-01-01"], capsys)
    assert code == 3
    assert says in one_line(err)


def test_an_alias_bomb_is_refused_at_once(project: Path) -> None:
    lines = ["x-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x-a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (project / "phaseguard.yml").write_text("\n".join(lines) + "\n" + MINI_CONFIG)
    started = time.monotonic()
    done = limited(["smoke", "2026-01-01"], project, timeout=30)
    assert time.monotonic() - started < 10
    assert done.returncode == 3
    assert "more than 100000 values once aliases are expanded" in one_line(done.stderr)


def test_a_merge_key_merges(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "x-table: &day {date_column: d}\n" + MINI_CONFIG.replace(
        "{name: A, table: proc.a, date_column: d, critical: true}",
        "{<<: *day, name: A, table: proc.a, critical: true}",
    ).replace("{name: B, table: proc.b, date_column: d}", "{<<: *day, name: B, table: proc.b}")
    (project / "phaseguard.yml").write_text(text)
    code, out, err = run(["smoke", "2026-01-01"], capsys)
    assert (code, err) == (0, "")
    assert "PASS" in out


# --- item 12: dates ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["20260101", "2026-W01-1"])
def test_dates_are_exactly_yyyy_mm_dd_everywhere(
    project: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    code, _, err = run(["smoke", text], capsys)
    assert code == 3
    assert "expected YYYY-MM-DD" in one_line(err)
    guard = load(project / "phaseguard.yml")

    @guard.gated("predict")
    def step(date: str) -> str:
        return date

    with guard, pytest.raises(UsageError, match="expected YYYY-MM-DD"):
        step(text)


@contextlib.contextmanager
def dashboard_on(project: Path) -> Iterator[str]:
    from phaseguard.serve import serve

    with load(project / "phaseguard.yml") as guard:
        server = serve(guard, port=0)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield server.url.rstrip("/")
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def dashboard(project: Path) -> Iterator[str]:
    """A dashboard on the mini pipeline."""
    with dashboard_on(project) as url:
        yield url


@pytest.fixture
def busy_dashboard(project: Path) -> Iterator[str]:
    """A dashboard on the mini pipeline with a year of box scores (~3.6 M rows) to read."""
    con = duckdb.connect(str(project / "mini.duckdb"))
    con.execute(
        "INSERT INTO raw.schedule SELECT 'y' || (i % 10), DATE '2025-01-01' + CAST(i // 10 AS "
        "INTEGER) FROM range(3650) t(i)"
    )
    con.execute(
        "INSERT INTO raw.box SELECT 'y' || (i % 10), DATE '2025-01-01' + CAST(i // 10000 AS "
        "INTEGER), 1 FROM range(3650000) t(i)"
    )
    con.close()
    with dashboard_on(project) as url:
        yield url


def test_dashboard_bad_and_long_ranges_are_400(dashboard: str) -> None:
    for query, says in (
        ("start=9999-12-31", "dates run from"),
        ("start=20260101", "expected YYYY-MM-DD"),
        ("start=2016-01-01&end=2026-01-01", "longer than 366 days"),
    ):
        response = httpx.get(f"{dashboard}/api/health?{query}", timeout=30)
        assert response.status_code == 400, query
        assert says in response.json()["error"]
    assert httpx.get(f"{dashboard}/?start=9999-12-31", timeout=30).status_code == 400


def test_dashboard_serves_a_day_while_years_are_being_verified(busy_dashboard: str) -> None:
    done: dict[str, float] = {}
    client = httpx.Client(base_url=busy_dashboard, timeout=60)  # one client: no TLS set-up each

    def get(name: str, query: str) -> None:
        response = client.get(f"/api/health?{query}")
        assert response.status_code == 200
        done[name] = time.monotonic()

    year = "start=2025-01-01&end=2025-12-31"
    longs = [threading.Thread(target=get, args=(f"year{i}", year)) for i in range(3)]
    with client:
        for thread in longs:
            thread.start()
        time.sleep(0.03)
        get("day", "start=2025-06-01")
        for thread in longs:
            thread.join()
    assert done["day"] < min(done[f"year{i}"] for i in range(3))


# --- item 4 and #14: the command line itself ------------------------------------------------------


def test_no_arguments_help_version_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([], capsys)
    assert (code, err) == (0, "")
    assert "Usage: phaseguard" in out
    assert "only 0 and 1 mean go" in out
    for exit_code in (0, 1, 2, 3, 4, 5):
        meaning = "go" if exit_code < 2 else "stop"
        assert re.search(rf"^ +{exit_code}  {meaning}: ", out, re.MULTILINE)
    assert "<bool>" not in out
    code, out, _ = run(["--version"], capsys)
    assert code == 0
    assert out.startswith("phaseguard ")
    code, out, _ = run(["verify", "-h"], capsys)
    assert code == 0
    assert "--all-dates" in out
    assert "<bool>" not in out


# --- the corpus, a part of it --------------------------------------------------------------------


def test_a_sample_of_the_malformed_config_corpus(tmp_path: Path) -> None:
    cases = [c for c in failsafe_configs.corpus() if c.owner == "inputs"][::12]
    results = failsafe_configs.run_all(cases, tmp_path, timeout=20)
    bad = [r for r in results if not r.ok]
    assert not bad, "\n".join(f"{r.name}: {r.problem}" for r in bad)
