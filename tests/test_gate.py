"""Gates, the quorum breaker and overrides on the demo warehouse, with real alert delivery."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from conftest import run_cli as run
from nba_props.demo import build_demo
from phaseguard import GateBlocked
from phaseguard.config import load as load_config
from phaseguard.guard import Guard

UTC = dt.timezone.utc


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo season warehouse, built once."""
    return build_demo(tmp_path_factory.mktemp("demo")).warehouse_path


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 21, 8, 0, tzinfo=UTC)

    def __call__(self) -> dt.datetime:
        return self.now


class Hook(BaseHTTPRequestHandler):
    """A webhook receiver that keeps every JSON body it is sent."""

    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    received: ClassVar[list[dict[str, object]]] = []
    handler = type("H", (Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def make_guard(
    tmp_path: Path, demo_dir: Path, clock: Clock, *, sinks: str = "", extra: str = ""
) -> Guard:
    example = Path(__file__).parents[1] / "examples" / "nba_props" / "phaseguard.yml"
    text = example.read_text()
    if sinks:
        start = text.index("sinks:")
        end = text.index("health:")
        text = text[:start] + sinks + "\n" + text[end:]
    if extra:
        text = text.replace("  - phase: phase5\n", f"  - phase: phase5\n{extra}")
    (tmp_path / "phaseguard.yml").write_text(text)
    config, base = load_config(tmp_path / "phaseguard.yml")
    return Guard(config, base, warehouse_url=f"duckdb://{demo_dir}", clock=clock)


def test_phase4_blocked_when_a_phase3_table_is_missing(tmp_path: Path, demo_dir: Path) -> None:
    with make_guard(tmp_path, demo_dir, Clock()) as guard:
        for day in ("2026-01-16", "2026-01-18", "2025-12-09"):
            decision = guard.gate("phase4").decide(dt.date.fromisoformat(day))
            assert decision.status == "blocked", day
            assert "phase 3 tables" in decision.message
        healthy = guard.gate("phase4").decide(dt.date(2026, 1, 10))
        assert healthy.status == "open"
        kinds = [e.kind for e in guard.store.query()]
    assert kinds.count("gate_blocked") == 3
    assert kinds.count("gate_open") == 1


def test_phase4_warns_but_proceeds_on_thin_phase3(tmp_path: Path, demo_dir: Path) -> None:
    with make_guard(tmp_path, demo_dir, Clock()) as guard:
        decision = guard.gate("phase4").enforce(dt.date(2025, 12, 30))
    assert decision.status == "warn"
    assert decision.allowed
    assert decision.exit_code == 1
    assert "player rows per game" in decision.message


def test_phase5_breaker_blocks_through_the_phase4_outage_naming_what_is_missing(
    tmp_path: Path, demo_dir: Path
) -> None:
    with make_guard(tmp_path, demo_dir, Clock()) as guard:
        gate = guard.gate("phase5")
        for day in range(20, 24):
            with pytest.raises(GateBlocked) as info:
                gate.enforce(dt.date(2026, 1, day))
            decision = info.value.decision
            assert decision.details["present"] == ["TDZA", "MLFS"]
            assert decision.details["missing_required"] == ["PDC"]
            assert "missing PDC, PSZA, PCF" in decision.message
        # one processor missing is tolerated: 4 of 5 with PDC and MLFS
        assert gate.enforce(dt.date(2025, 11, 14)).status == "open"


def test_override_opens_exactly_that_gate_and_date_until_it_expires(
    tmp_path: Path, demo_dir: Path
) -> None:
    clock = Clock()
    with make_guard(tmp_path, demo_dir, clock) as guard:
        day = dt.date(2026, 1, 21)
        made = guard.overrides.create(
            "phase5", day, "PDC rebuilt by hand", "alice", dt.timedelta(hours=24)
        )
        decision = guard.gate("phase5").enforce(day)
        assert decision.status == "overridden"
        assert decision.override is not None
        assert decision.override.id == made.id
        assert (
            f"passed by override {made.id} for {day} (alice: PDC rebuilt by hand)"
            in decision.message
        )
        with pytest.raises(GateBlocked):  # another date: still blocked
            guard.gate("phase5").enforce(dt.date(2026, 1, 22))
        with pytest.raises(GateBlocked):  # another gate, same date: still blocked
            guard.gate("phase4").enforce(dt.date(2026, 1, 18))
        clock.now += dt.timedelta(hours=25)
        with pytest.raises(GateBlocked):  # expired
            guard.gate("phase5").enforce(day)
        kinds = [e.kind for e in guard.store.query()]
    assert kinds.count("override_created") == 1
    assert kinds.count("override_used") == 1
    assert kinds.count("override_expired") == 1


def test_gated_decorator(tmp_path: Path, demo_dir: Path) -> None:
    ran: list[str] = []
    with make_guard(tmp_path, demo_dir, Clock()) as guard:

        @guard.gated("phase5")
        def run_phase5(game_date: str) -> str:
            ran.append(game_date)
            return "done"

        assert run_phase5("2026-01-10") == "done"
        with pytest.raises(GateBlocked):
            run_phase5("2026-01-20")
    assert ran == ["2026-01-10"]


def test_warehouse_down_fails_closed_by_default_and_open_when_configured(
    tmp_path: Path, demo_dir: Path
) -> None:
    missing = tmp_path / "gone" / "nothing.duckdb"
    with make_guard(tmp_path, demo_dir, Clock()) as guard:
        guard.warehouse_url = f"duckdb://{missing}"
        decision = guard.gate("phase5").decide(dt.date(2026, 1, 10))
    assert decision.status == "blocked"
    assert "nothing.duckdb does not exist" in decision.message  # missing, not "unreachable"
    (tmp_path / "b").mkdir()
    with make_guard(
        tmp_path / "b", demo_dir, Clock(), extra="    on_warehouse_error: open\n"
    ) as guard:
        guard.warehouse_url = f"duckdb://{missing}"
        decision = guard.gate("phase5").decide(dt.date(2026, 1, 10))
    assert decision.status == "warn"


def test_one_alert_per_incident_open_repeat_resolve(
    tmp_path: Path,
    demo_dir: Path,
    webhook: tuple[str, list[dict[str, object]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = webhook
    monkeypatch.setenv("HOOK_URL", url)
    sinks = 'sinks:\n  - {kind: webhook, url: "${HOOK_URL}", min_severity: warning}\n'
    copy = tmp_path / "wh.duckdb"
    shutil.copyfile(demo_dir, copy)
    with make_guard(tmp_path, copy, Clock(), sinks=sinks) as guard:
        day = dt.date(2026, 1, 20)
        gate = guard.gate("phase5")
        assert gate.decide(day).status == "blocked"
        assert gate.decide(day).status == "blocked"  # a re-check: no second alert
        assert [r["status"] for r in received] == ["opened"]
        assert received[0]["severity"] == "critical"
        assert received[0]["checks"][0]["name"] == "processors"  # type: ignore[index]
        # the processors are backfilled: the incident resolves, once
        with guard.writing():  # checks read through a read-only connection
            guard.warehouse.driver.execute(
                "INSERT INTO nba_precompute.player_daily_cache (cache_date, player_id) "
                "VALUES ('2026-01-20', 1)"
            )
            guard.warehouse.driver.execute(
                "INSERT INTO nba_precompute.player_composite_factors (game_date, player_id) "
                "VALUES ('2026-01-20', 1)"
            )
        assert gate.decide(day).status == "open"
        assert gate.decide(day).status == "open"
        assert [r["status"] for r in received] == ["opened", "resolved"]
        serialized = json.dumps([e.details for e in guard.store.query()])
    assert url not in serialized  # the webhook URL is a secret


def test_a_failing_sink_never_changes_the_decision(
    tmp_path: Path, demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/refused")
    sinks = 'sinks:\n  - {kind: webhook, url: "${HOOK_URL}", min_severity: info}\n'
    with make_guard(tmp_path, demo_dir, Clock(), sinks=sinks) as guard:
        guard.notifier._sleep = lambda _s: None  # no real back-off waits in tests
        decision = guard.gate("phase5").decide(dt.date(2026, 1, 21))
        failed = guard.store.query(kind="alert_failed")
    assert decision.status == "blocked"
    assert len(failed) == 1
    assert "9/refused" not in json.dumps(failed[0].details) + failed[0].message


def test_cli_gate_override_events_errors(
    tmp_path: Path,
    demo_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_guard(tmp_path, demo_dir, Clock()).close()
    monkeypatch.setenv("PHASEGUARD_WAREHOUSE", f"duckdb://{demo_dir}")
    monkeypatch.setenv("COLUMNS", "200")
    cfg = ["-c", str(tmp_path / "phaseguard.yml")]
    assert run(["gate", "phase4", "--date", "2026-01-10", *cfg], capsys)[0] == 0
    assert run(["gate", "phase4", "--date", "2025-12-30", *cfg], capsys)[0] == 1
    code, out, _ = run(["gate", "phase5", "--date", "2026-01-20", *cfg], capsys)
    assert code == 2
    assert "BLOCKED" in out
    code, out, _ = run(
        [
            "override",
            "phase5",
            "--date",
            "2026-01-20",
            "--reason",
            "rebuilt",
            "--by",
            "alice",
            *cfg,
        ],
        capsys,
    )
    assert code == 0
    override_id = out.split("override ")[1].split(":")[0].strip()
    code, out, _ = run(["gate", "phase5", "--date", "2026-01-20", "--format", "json", *cfg], capsys)
    assert code == 1
    assert json.loads(out)["status"] == "overridden"
    assert run(["overrides", *cfg], capsys)[1].count(override_id) == 1
    assert run(["override", "revoke", override_id, "--by", "bob", *cfg], capsys)[0] == 0
    assert run(["gate", "phase5", "--date", "2026-01-20", *cfg], capsys)[0] == 2
    code, out, _ = run(["events", "--kind", "gate_blocked", "--format", "json", *cfg], capsys)
    assert code == 0
    assert len(json.loads(out)["events"]) == 2
    code, out, _ = run(["errors", "--format", "json", *cfg], capsys)
    groups = json.loads(out)["errors"]
    assert groups[0]["count"] >= 2
    assert "<date>" in groups[0]["signature"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gate", "phase9", "--date", "2026-01-10"], "unknown gate 'phase9'"),
        (["gate", "phase5", "--date", "2026-02-30"], "bad date '2026-02-30'"),
        (
            ["override", "phase5", "--date", "2026-01-20", "--reason", "x", "--expires", "soon"],
            "bad duration 'soon'",
        ),
        (["override", "phase5", "--date", "2026-01-20"], "needs --reason"),
        (["override", "revoke", "deadbeef", "--by", "bob"], "no override with id 'deadbeef'"),
        (["events", "--since", "forever"], "bad duration 'forever'"),
    ],
)
def test_cli_gate_bad_input_exit_3(
    tmp_path: Path,
    demo_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    make_guard(tmp_path, demo_dir, Clock()).close()
    monkeypatch.setenv("PHASEGUARD_WAREHOUSE", f"duckdb://{demo_dir}")
    code, out, err = run([*args, "-c", str(tmp_path / "phaseguard.yml")], capsys)
    assert code == (2 if args[0] == "gate" else 3)  # a gate fails closed on any error
    assert message in err
    assert "Traceback" not in out + err
