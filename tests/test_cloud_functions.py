"""Cloud Functions: the example's gate targets served by the real Functions Framework.

``functions-framework`` runs ``examples/nba_props/cloud_functions/main.py`` on 127.0.0.1 as
a separate process, and the tests send it what Pub/Sub (a CloudEvent, binary mode) and an
HTTP caller send. The demo season's warehouse is a real DuckDB file: 2026-01-21 has 2 of 5
phase-4 processors (the 4 -> 5 breaker blocks), 2026-01-13 is healthy.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from conftest import free_port
from nba_props.demo import BuiltDemo, build_demo
from phaseguard import load
from phaseguard.integrations.cloud_functions import date_from, message_payload

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "nba_props" / "cloud_functions" / "main.py"
BLOCKED, OPEN = "2026-01-21", "2026-01-13"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> BuiltDemo:
    return build_demo(tmp_path_factory.mktemp("cf") / "demo")


class Served:
    """One functions-framework process serving one target."""

    def __init__(self, source: Path, target: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        self._out = log.open("w")
        binary = Path(sys.executable).with_name("functions-framework")
        self.proc = subprocess.Popen(
            [
                str(binary),
                "--source",
                str(source),
                "--target",
                target,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env={**os.environ, **env},
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"functions-framework exited: {log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"functions-framework did not start: {log.read_text()}")

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self._out.close()
        return self.log.read_text()


@pytest.fixture
def serve(demo: BuiltDemo, tmp_path: Path) -> Iterator[object]:
    started: list[Served] = []
    env = {
        "PHASEGUARD_CONFIG": str(demo.config_path),
        "PHASEGUARD_WAREHOUSE": f"duckdb://{demo.warehouse_path}",
        "COLUMNS": "200",
    }

    def start(target: str, source: Path = EXAMPLE, **extra: str) -> Served:
        served = Served(source, target, {**env, **extra}, tmp_path / f"{target}.log")
        started.append(served)
        return served

    yield start
    for served in started:
        if served.proc.returncode is None:
            served.stop()


def pubsub_event(payload: dict[str, object], attributes: dict[str, str] | None = None) -> dict:
    """A Pub/Sub push as the Eventarc CloudEvent binding delivers it: (headers, body)."""
    return {
        "headers": {
            "ce-id": uuid.uuid4().hex,
            "ce-specversion": "1.0",
            "ce-source": "//pubsub.googleapis.com/projects/nba/topics/phase4-done",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "content-type": "application/json",
        },
        "content": json.dumps(
            {
                "message": {
                    "data": base64.b64encode(json.dumps(payload).encode()).decode(),
                    "attributes": attributes or {},
                    "messageId": "1",
                },
                "subscription": "projects/nba/subscriptions/phase5",
            }
        ),
    }


def decisions(demo: BuiltDemo) -> list[tuple[str, str, str | None]]:
    with load(demo.config_path, warehouse=f"duckdb://{demo.warehouse_path}") as guard:
        events = guard.store.query()
    return [
        (e.kind, e.date.isoformat() if e.date else "", e.phase)
        for e in events
        if e.kind.startswith("gate_")
    ]


def test_pubsub_cloudevent_blocked_is_recorded_and_acknowledged(demo, serve) -> None:
    served = serve("phase5_gate")
    answer = httpx.post(served.url, **pubsub_event({"game_date": BLOCKED}), timeout=30)
    # 2xx acknowledges the message: a blocked date is not redelivered forever.
    assert answer.status_code == 200
    assert ("gate_blocked", BLOCKED, "phase5") in decisions(demo)
    lines = [json.loads(x) for x in served.stop().splitlines() if x.startswith("{")]
    blocked = [x for x in lines if "BLOCKED" in x["message"]]
    assert blocked
    assert blocked[0]["severity"] == "ERROR"
    labels = blocked[0]["logging.googleapis.com/labels"]
    assert labels["phase"] == "phase5"
    assert labels["date"] == BLOCKED


def test_pubsub_cloudevent_date_from_attributes_and_open(demo, serve) -> None:
    served = serve("phase5_gate")
    answer = httpx.post(served.url, **pubsub_event({}, {"date": OPEN}), timeout=30)
    assert answer.status_code == 200
    assert ("gate_open", OPEN, "phase5") in decisions(demo)


def test_http_target_answers_the_decision(demo, serve) -> None:
    served = serve("phase5_gate_http")
    blocked = httpx.post(served.url, json={"date": BLOCKED}, timeout=30)
    assert blocked.status_code == 409
    assert blocked.json()["status"] == "blocked"
    assert "processors" in blocked.json()["message"]
    opened = httpx.post(served.url, json={"game_date": OPEN}, timeout=30)
    assert opened.status_code == 200, opened.text
    assert opened.json()["status"] in ("open", "warn")
    # The warm instance holds no lock on the DuckDB file between messages: a writer gets in.
    writer = duckdb.connect(str(demo.warehouse_path))
    writer.close()
    bad = httpx.post(served.url, json={"date": "20260113"}, timeout=30)
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in bad.json()["message"]


def test_open_gate_hands_the_message_to_the_next_step(demo, serve, tmp_path: Path) -> None:
    handed = tmp_path / "handed.jsonl"
    source = tmp_path / "main.py"
    source.write_text(
        "import json, os\n"
        "from phaseguard.integrations.cloud_functions import gate_function\n"
        "def hand_on(decision, message):\n"
        "    with open(os.environ['HANDED'], 'a') as f:\n"
        "        f.write(json.dumps({'status': decision.status, **message}) + '\\n')\n"
        "phase5_gate = gate_function('phase5', next_step=hand_on)\n"
    )
    served = serve("phase5_gate", source, HANDED=str(handed))
    for day in (OPEN, BLOCKED):
        event = pubsub_event({"game_date": day, "run": "nightly"})
        assert httpx.post(served.url, **event, timeout=30).status_code == 200
    sent = [json.loads(line) for line in handed.read_text().splitlines()]
    assert [(m["game_date"], m["run"], m["gate"]) for m in sent] == [(OPEN, "nightly", "phase5")]


def test_a_config_that_does_not_load_blocks(demo, serve, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("pipeline: x\nphases: [\n")
    served = serve("phase5_gate_http", PHASEGUARD_CONFIG=str(broken))
    answer = httpx.post(served.url, json={"date": OPEN}, timeout=30)
    assert answer.status_code == 409
    assert answer.json()["status"] == "blocked"
    assert "broken.yml" in answer.json()["message"]


def test_message_parsing() -> None:
    data = base64.b64encode(json.dumps({"game_date": "2026-01-20"}).encode()).decode()
    payload, attributes = message_payload({"message": {"data": data, "attributes": {"a": 1}}})
    assert payload == {"game_date": "2026-01-20"}
    assert attributes == {"a": "1"}
    assert message_payload({"message": {"data": "%%%"}}) == ({}, {})
    assert date_from({}, {"date": "2026-01-20"}).isoformat() == "2026-01-20"
    for bad in ({"date": "2026-1-2"}, {"game_date": "2026-W01-1"}, {}):
        with pytest.raises(ValueError, match="date"):
            date_from(bad)
