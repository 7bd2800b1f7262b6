"""Cloud Functions: an open gate publishes the message on to the next topic, for real.

The example's targets run in the real ``functions-framework`` (as in
``test_cloud_functions.py``) with ``PUBSUB_EMULATOR_HOST`` pointing the real
``google-cloud-pubsub`` client at a real gRPC Pub/Sub peer (``pubsub_peer.py``). The demo
season: 2026-01-21 is blocked at phase 5, 2026-01-13 is open.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import free_port
from nba_props.demo import BuiltDemo, build_demo
from phaseguard import load
from phaseguard.errors import ConfigError
from phaseguard.integrations.cloud_functions import GateFunction
from pubsub_peer import PubsubPeer, serving
from test_cloud_functions import BLOCKED, EXAMPLE, OPEN, Served, pubsub_event

NEXT = "projects/nba/topics/phase5-start"

# A source of the test's own: the same gates with a short publish deadline.
SOURCE = (
    "import os\n"
    "from phaseguard.integrations.cloud_functions import gate_function\n"
    "topic = os.environ['NEXT_TOPIC_PHASE5']\n"
    "phase5_gate = gate_function('phase5', publish_to=topic, publish_timeout=2)\n"
    "phase5_gate_http = gate_function(\n"
    "    'phase5', name='phase5_gate_http', signature='http', publish_to=topic, publish_timeout=2\n"
    ")\n"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> BuiltDemo:
    return build_demo(tmp_path_factory.mktemp("cfpub") / "demo")


@pytest.fixture(scope="module")
def module_peer() -> Iterator[PubsubPeer]:
    yield from serving()


@pytest.fixture
def peer(module_peer: PubsubPeer) -> PubsubPeer:
    module_peer.reset()
    return module_peer


@pytest.fixture
def serve(demo: BuiltDemo, peer: PubsubPeer, tmp_path: Path) -> Iterator[object]:
    started: list[Served] = []
    env = {
        "PHASEGUARD_CONFIG": str(demo.config_path),
        "PHASEGUARD_WAREHOUSE": f"duckdb://{demo.warehouse_path}",
        "PUBSUB_EMULATOR_HOST": peer.host,
        "NEXT_TOPIC_PHASE5": NEXT,
        "COLUMNS": "200",
    }
    source = tmp_path / "main.py"
    source.write_text(SOURCE)

    def start(target: str, example: bool = False, **extra: str) -> Served:
        log = tmp_path / f"{target}-{len(started)}.log"
        served = Served(EXAMPLE if example else source, target, {**env, **extra}, log)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.proc.returncode is None:
            served.stop()


def events(demo: BuiltDemo, date: str) -> list[str]:
    """The kinds of the phase-5 events recorded for ``date``, oldest first."""
    with load(demo.config_path, warehouse=f"duckdb://{demo.warehouse_path}") as guard:
        found = guard.store.query()
    return [
        e.kind
        for e in sorted(found, key=lambda e: e.time)
        if e.phase == "phase5" and e.date is not None and e.date.isoformat() == date
    ]


def test_example_open_date_publishes_once_and_blocked_publishes_nothing(demo, peer, serve) -> None:
    served = serve("phase5_gate", example=True)
    # "topic" and "timeout" are ordinary attribute names, not publish() options.
    attributes = {"origin": "scheduler", "topic": "phase4-done", "timeout": "5"}
    event = pubsub_event({"game_date": OPEN, "run": "nightly"}, attributes)
    assert httpx.post(served.url, **event, timeout=60).status_code == 200
    assert httpx.post(served.url, **pubsub_event({"game_date": BLOCKED}), timeout=60).is_success
    assert len(peer.published) == 1, served.stop()
    sent = peer.published[0]
    assert sent.topic == NEXT
    assert json.loads(sent.data) == {"game_date": OPEN, "run": "nightly", "gate": "phase5"}
    assert sent.attributes == attributes
    assert peer.calls == [NEXT]  # nothing for the blocked date, nor a second publish
    assert events(demo, OPEN)[-1] == "gate_open"
    assert events(demo, BLOCKED)[-1] == "gate_blocked"
    lines = [json.loads(x) for x in served.stop().splitlines() if x.startswith("{")]
    assert any(f"published to {NEXT}" in x["message"] for x in lines), lines


def test_http_open_date_publishes_and_answers_the_message_id(peer, serve) -> None:
    served = serve("phase5_gate_http")
    answer = httpx.post(served.url, json={"date": OPEN}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["published"] == peer.published[0].message_id
    assert json.loads(peer.published[0].data)["game_date"] == OPEN
    assert httpx.post(served.url, json={"date": BLOCKED}, timeout=60).status_code == 409
    assert len(peer.published) == 1


def test_a_briefly_unavailable_pubsub_is_retried_and_publishes_once(peer, serve) -> None:
    served = serve("phase5_gate")
    peer.unavailable = 2
    answer = httpx.post(served.url, **pubsub_event({"game_date": OPEN}), timeout=60)
    assert answer.status_code == 200
    assert peer.calls == [NEXT] * 3
    assert len(peer.published) == 1


def test_a_missing_topic_is_not_acknowledged_and_the_redelivery_publishes(
    demo, peer, serve
) -> None:
    served = serve("phase5_gate")
    peer.missing.add(NEXT)
    event = pubsub_event({"game_date": OPEN})
    before = events(demo, OPEN).count("gate_open")
    failed = httpx.post(served.url, **event, timeout=60)
    # Not 2xx: Pub/Sub keeps the message and redelivers it; the decision and the failed
    # hand-on are both in the event log.
    assert failed.status_code == 500
    assert peer.published == []
    kinds = events(demo, OPEN)
    assert kinds.count("gate_open") == before + 1
    assert kinds[-1] == "handoff_failed"
    # The topic now exists: the redelivered message is decided again and published once.
    peer.missing.clear()
    assert httpx.post(served.url, **event, timeout=60).status_code == 200
    assert [json.loads(m.data)["game_date"] for m in peer.published] == [OPEN]
    log = served.stop()
    failure = next(json.loads(x) for x in log.splitlines() if "not handed on" in x)
    assert failure["severity"] == "ERROR"
    assert "NotFound" in failure["message"]
    assert NEXT in failure["message"]


def test_http_answers_502_when_the_message_is_not_handed_on(peer, serve) -> None:
    served = serve("phase5_gate_http")
    peer.missing.add(NEXT)
    answer = httpx.post(served.url, json={"date": OPEN}, timeout=60)
    assert answer.status_code == 502, answer.text
    body = answer.json()
    assert body["status"] == "open"
    assert "not handed on" in body["error"]
    assert NEXT in body["error"]


def test_pubsub_down_fails_within_the_deadline_and_publishes_nothing_late(
    demo, serve, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    served = serve("phase5_gate", PUBSUB_EMULATOR_HOST=f"127.0.0.1:{port}")
    event = pubsub_event({"game_date": OPEN})
    started = time.monotonic()
    failed = httpx.post(served.url, **event, timeout=60)
    assert failed.status_code == 500
    assert time.monotonic() - started < 15  # publish_timeout=2, far below a function's 60 s
    assert events(demo, OPEN)[-2:] == ["gate_open", "handoff_failed"]
    # Pub/Sub comes back: nothing from the failed call arrives behind the function's back;
    # only the redelivery publishes.
    with PubsubPeer(port) as late:
        time.sleep(2)
        assert late.calls == []
        assert httpx.post(served.url, **event, timeout=60).status_code == 200
        assert len(late.published) == 1


def test_a_next_step_that_raises_is_recorded_and_not_acknowledged(demo) -> None:
    def boom(decision: object, message: dict[str, object]) -> None:
        raise RuntimeError("phase 5 trigger refused")

    gate = GateFunction(
        "phase5",
        config=str(demo.config_path),
        warehouse=f"duckdb://{demo.warehouse_path}",
        next_step=boom,
    )
    status, body = gate.handle({"game_date": OPEN}, {})
    assert status == 502
    assert body["error"] == "not handed on to next_step: RuntimeError: phase 5 trigger refused"
    assert events(demo, OPEN)[-2:] == ["gate_open", "handoff_failed"]


def test_publish_to_with_next_step_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not both"):
        GateFunction("phase5", next_step=lambda decision, message: None, publish_to=NEXT)


def test_publish_to_without_google_cloud_pubsub_is_a_config_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "google.pubsub_v1", None)  # as if not installed
    with pytest.raises(ConfigError, match="pip install google-cloud-pubsub"):
        GateFunction("phase5", publish_to=NEXT)
