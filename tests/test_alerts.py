"""Alerts against a real local HTTP server: payloads, incidents, failures and re-sending."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pydantic
import pytest

from conftest import free_port
from phaseguard.alerts import (
    Alert,
    AlertCheck,
    AppriseSink,
    Notifier,
    Severity,
    Sink,
    SlackSink,
    Status,
    StderrSink,
    WebhookSink,
    alert_from_json,
    alert_to_json,
    incident_transition,
    mask,
    slack_payload,
)
from phaseguard.errors import ConfigError
from phaseguard.store import EventStore, open_store

DAY = dt.date(2026, 1, 18)
T0 = dt.datetime(2026, 1, 20, 16, 0, tzinfo=dt.timezone.utc)
GATE = "phase4_to_phase5"


# --- a real HTTP server that records what it is sent ----------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        srv = self.server
        srv.posts.append(
            (self.path, json.loads(body), {k.lower(): v for k, v in self.headers.items()})
        )
        if self.path == "/slow":
            time.sleep(1.0)
        status = srv.status.get(self.path, 200)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``posts`` instead."""


class _Server(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[tuple[str, Any, dict[str, str]]] = []
        self.status: dict[str, int] = {"/fail": 500, "/gone": 404}

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The client gave up on /slow before the answer: expected, not an error."""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.posts]

    def bodies(self, path: str) -> list[Any]:
        return [b for p, b, _ in self.posts if p == path]


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite:///{tmp_path / 'events.sqlite'}"


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[EventStore]:
    with open_store(store_url, default_path=tmp_path / "default.sqlite") as opened:
        yield opened


class Sleeps(list[float]):
    """A sleep that only remembers how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_alert(status: Status, severity: Severity) -> Alert:
    return Alert(
        title=f"Phase 5 BLOCKED for {DAY}" if status != "resolved" else f"Phase 5 open for {DAY}",
        severity=severity,
        pipeline="nba",
        phase="phase5",
        date=DAY,
        status=status,
        checks=(AlertCheck("quorum", "FAIL", "2/5 processors", ">= 3 of 5"),),
        text="only 2 of 5 processors ran",
        link="https://example.test/runs/1",
    )


def _leaks(store: EventStore, *secrets: str) -> list[str]:
    """Every stored event that mentions one of the secrets."""
    found = []
    for event in store.query():
        text = event.message + json.dumps(event.details)
        found += [event.kind for secret in secrets if secret in text]
    return found


# --- incidents: one alert per transition -----------------------------------------------


def test_incident_alerts_once_per_transition(
    server: _Server, store: EventStore, capsys: pytest.CaptureFixture[str]
) -> None:
    slack = SlackSink(url=server.url("/slack"), name="ops")
    hook = WebhookSink(
        url=server.url("/hook"), min_severity="critical", headers={"X-Token": "t0k3n"}
    )
    notifier = Notifier([slack, hook, StderrSink()], store, clock=lambda: T0, pipeline="nba")

    opened = notifier.track(GATE, DAY, "critical", make_alert)
    assert opened is not None
    assert (opened.status, opened.severity) == ("opened", "critical")
    assert sorted(server.paths()) == ["/hook", "/slack"]  # sent in parallel
    blocks = server.bodies("/slack")[0]["blocks"]
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == f":rotating_light: Phase 5 BLOCKED for {DAY}"
    assert [f["text"] for f in blocks[1]["fields"]] == [
        "*Pipeline*\nnba",
        "*Phase*\nphase5",
        "*Date*\n2026-01-18",
        "*Severity*\ncritical (opened)",
    ]
    assert blocks[2]["text"]["text"] == "*quorum*: observed 2/5 processors, expected &gt;= 3 of 5"
    assert server.bodies("/slack")[0]["text"] == "only 2 of 5 processors ran"
    hook_body = server.bodies("/hook")[0]
    assert hook_body == alert_to_json(opened)
    assert hook_body["date"] == "2026-01-18"
    assert next(h for p, _, h in server.posts if p == "/hook")["x-token"] == "t0k3n"
    assert "CRITICAL opened: Phase 5 BLOCKED" in capsys.readouterr().err

    assert notifier.track(GATE, DAY, "critical", make_alert) is None  # the same state again
    assert sorted(server.paths()) == ["/hook", "/slack"]

    changed = notifier.track(GATE, DAY, "warning", make_alert)
    assert changed is not None
    assert changed.status == "changed"
    assert sorted(server.paths()) == ["/hook", "/slack", "/slack"]  # the hook: critical only

    resolved = notifier.track(GATE, DAY, None, make_alert)
    assert resolved is not None
    # The all-clear reaches every sink that heard of the incident, the critical-only too.
    assert (resolved.status, resolved.severity) == ("resolved", "critical")
    assert sorted(server.paths()[3:]) == ["/hook", "/slack"]
    assert server.bodies("/slack")[-1]["blocks"][0]["text"]["text"].startswith(":white_check_mark:")
    assert notifier.track(GATE, DAY, None, make_alert) is None
    assert len(server.posts) == 5
    assert store.incidents() == []
    assert [i.status for i in store.incidents(open_only=False)] == ["resolved"]

    sent = store.query(kind="alert_sent")
    assert len(sent) == 5 + 3  # and three lines on stderr
    assert sent[0].details["sink_kind"] == "slack"
    assert sent[0].details["sink_name"] == "ops"
    assert _leaks(store, server.url(""), "t0k3n") == []


def test_concurrent_checks_open_one_incident(
    server: _Server, store_url: str, tmp_path: Path
) -> None:
    results: list[Alert | None] = []

    def check() -> None:
        with open_store(store_url, default_path=tmp_path / "d.sqlite") as own:
            notifier = Notifier([SlackSink(url=server.url("/slack"))], own)
            results.append(notifier.track(GATE, DAY, "critical", make_alert))

    threads = [threading.Thread(target=check) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status if a else "-" for a in results) == ["-"] * 5 + ["opened"]
    assert server.paths() == ["/slack"]


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        (None, None, None),
        (None, "warning", "opened"),
        ("warning", "warning", None),
        ("warning", "critical", "changed"),
        ("critical", None, "resolved"),
    ],
)
def test_incident_transition(before: str | None, now: str | None, expected: str | None) -> None:
    assert incident_transition(before, now) == expected


# --- failures are recorded, kept and sent again ----------------------------------------


def test_failing_sinks_are_recorded_not_raised(server: _Server, store: EventStore) -> None:
    refused = SlackSink(url=f"http://127.0.0.1:{free_port()}/hook", name="refused")
    broken = WebhookSink(url=server.url("/fail"), min_severity="warning")
    slow = WebhookSink(url=server.url("/slow"), name="slow")
    gone = WebhookSink(url=server.url("/gone"), name="gone")
    sleeps = Sleeps()
    notifier = Notifier(
        [refused, broken, slow, gone], store, http_timeout=0.2, attempts=2, sleep=sleeps
    )

    deliveries = notifier.notify(make_alert("opened", "critical"))

    assert [(d.sink, d.ok, d.attempts, d.status_code, d.error) for d in deliveries] == [
        ("slack:refused", False, 2, None, "ConnectError"),
        ("webhook", False, 2, 500, "HTTPStatusError"),
        ("webhook:slow", False, 2, None, "ReadTimeout"),
        ("webhook:gone", False, 1, 404, "HTTPStatusError"),  # a 4xx is not retried
    ]
    assert sleeps == [0.5, 0.5, 0.5]
    assert server.paths().count("/fail") == 2
    failed = store.query(kind="alert_failed")
    assert [e.severity for e in failed] == ["warning"] * 4
    assert failed[1].details["status_code"] == 500
    assert failed[2].details["error"] == "ReadTimeout"
    assert len(store.pending()) == 4
    urls = [s.url for s in (refused, broken, slow, gone)]
    assert _leaks(store, *urls, f"127.0.0.1:{server.server_address[1]}") == []


def test_retry_pending_once_the_server_is_back(server: _Server, store: EventStore) -> None:
    server.status["/flaky"] = 503
    sink = WebhookSink(url=server.url("/flaky"))
    now = [T0]
    notifier = Notifier([sink], store, attempts=1, clock=lambda: now[0])
    alert = make_alert("opened", "critical")

    assert [d.ok for d in notifier.notify(alert)] == [False]
    assert len(store.pending()) == 1
    assert [d.ok for d in notifier.retry_pending()] == [False]  # still down: kept
    assert [p.attempts for p in store.pending()] == [2]

    server.status["/flaky"] = 200
    assert [d.ok for d in notifier.retry_pending()] == [True]
    assert store.pending() == []
    assert server.bodies("/flaky")[-1] == alert_to_json(alert)
    assert [e.kind for e in store.query(kind="alert_sent")] == ["alert_sent"]
    assert notifier.retry_pending() == []  # sent once, not again

    # A pending alert whose sink left the config, or that is too old, is dropped, said so.
    server.status["/flaky"] = 500
    notifier.notify(alert)
    Notifier([StderrSink()], store).retry_pending()
    assert store.pending() == []
    notifier.notify(alert)
    now[0] = T0 + dt.timedelta(days=2)
    assert notifier.retry_pending() == []
    assert len(store.query(kind="alert_dropped")) == 2


# --- sinks and payloads ---------------------------------------------------------------


def test_sink_config_is_a_tagged_union_that_hides_secrets() -> None:
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(Sink)
    url = "https://hooks.slack.com/services/T000/B000/s3cr3t"
    sink = adapter.validate_python({"kind": "slack", "url": url, "name": "ops"})
    assert isinstance(sink, SlackSink)
    assert sink.min_severity == "warning"
    assert "s3cr3t" not in repr(sink)
    assert "s3cr3t" not in str(sink)
    hook = adapter.validate_python({"kind": "webhook", "url": url, "headers": {"A": "tok"}})
    assert "tok" not in repr(hook)
    assert isinstance(adapter.validate_python({"kind": "stderr"}), StderrSink)
    assert adapter.validate_python({"kind": "stderr"}).min_severity == "info"
    with pytest.raises(pydantic.ValidationError, match="extra"):
        adapter.validate_python({"kind": "slack", "url": url, "channel": "#ops"})
    with pytest.raises(pydantic.ValidationError):
        adapter.validate_python({"kind": "pager", "url": url})
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        sink.url = "x"


def test_apprise_sink_needs_its_extra(tmp_path: Path) -> None:
    with open_store(None, default_path=tmp_path / "e.sqlite") as store:
        sinks = [AppriseSink(url="mailto://user:pw@example.test")]
        if importlib.util.find_spec("apprise") is None:
            with pytest.raises(ConfigError, match=r"phaseguard\[apprise\]"):
                Notifier(sinks, store)
        else:
            assert Notifier(sinks, store).sinks == tuple(sinks)


def test_alert_json_round_trip_and_payload_limits() -> None:
    alert = make_alert("opened", "warning")
    assert alert_from_json(json.loads(json.dumps(alert_to_json(alert)))) == alert
    many = Alert(
        "x" * 300, "info", "nba", None, None, "report",
        tuple(AlertCheck(f"c{i}", "FAIL", "0", "1" * 50) for i in range(200)),
    )  # fmt: skip
    payload = slack_payload(many)
    assert len(payload["blocks"][0]["text"]["text"]) == 150
    assert len(payload["blocks"][2]["text"]["text"]) <= 3000
    assert payload["blocks"][1]["fields"][1]["text"] == "*Phase*\n-"
    assert payload["text"] == "x" * 300


def test_mask() -> None:
    assert mask("post to https://h/s3cr3t failed (s3cr3t)", ["s3cr3t", ""]) == (
        "post to https://h/*** failed (***)"
    )
    assert mask("a-b", ["a", "a-b"]) == "***"
