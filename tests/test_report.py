"""The health report and the live dashboard, on the demo season, in a real headless Chromium.

The browser tests need Debian's ``chromium`` and the ``playwright`` Python package (no
Playwright-downloaded browser): they fail, never skip, when either is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from nba_props.demo import BuiltDemo, build_demo
from phaseguard.cli import main
from phaseguard.config import load as load_config
from phaseguard.events import Event
from phaseguard.guard import Guard
from phaseguard.report import relevant, summary_alert
from phaseguard.serve import Dashboard, serve
from phaseguard.verdicts import RangeVerdict, to_dict

UTC = dt.timezone.utc
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> BuiltDemo:
    """The demo season warehouse, built once."""
    return build_demo(tmp_path_factory.mktemp("report-demo"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; a missing piece fails the test, loudly."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (test.sh installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install 'playwright>=1.40,<2'")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Clock:
    """A fixed clock."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def write_config(directory: Path, demo: BuiltDemo, sinks: str = "") -> Path:
    """The demo config in ``directory`` (its own event store), optionally with other sinks."""
    text = demo.config_path.read_text()
    if sinks:
        text = text[: text.index("sinks:")] + sinks + "\n" + text[text.index("health:") :]
    path = directory / "phaseguard.yml"
    path.write_text(text)
    return path


def make_guard(directory: Path, demo: BuiltDemo, now: dt.datetime, url: str = "") -> Guard:
    config, base = load_config(write_config(directory, demo))
    warehouse = url or f"duckdb://{demo.warehouse_path}"
    return Guard(config, base, warehouse_url=warehouse, clock=Clock(now))


def run_cli(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(argv)
    return int(info.value.code or 0)


@contextmanager
def running(server: Dashboard) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.url.rstrip("/")
    finally:
        server.shutdown()
        server.server_close()


def expected_cells(result: RangeVerdict) -> dict[tuple[str, str], str]:
    return {(str(d.date), p.phase): p.level.value for d in result.dates for p in d.phases}


def check_page(
    browser: Any, url: str, result: RangeVerdict, shots: Path, *, full_page: bool = True
) -> Any:
    """Open ``url`` at laptop and phone width, compare every heatmap cell with ``result``,
    save screenshots, and return the laptop page (still open) for more checks."""
    requests: list[str] = []
    page = browser.new_page(viewport=LAPTOP)
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    cells = page.eval_on_selector_all(
        "td.cell[data-phase]",
        "els => els.map(e => [e.dataset.date, e.dataset.phase, e.dataset.status,"
        " e.getAttribute('title'), e.textContent])",
    )
    want = expected_cells(result)
    assert len(cells) == len(want) == len(result.dates) * len(result.dates[0].phases)
    assert {(d, p): s for d, p, s, _, _ in cells} == want
    for d, p, status, title, text in cells:
        verdicts = next(x for x in result.dates if str(x.date) == d).phase(p).verdicts
        for v in verdicts:  # observed vs expected: on hover and for screen readers
            assert f"observed {v.observed}, expected {v.expected}" in title
            assert f"observed {v.observed}, expected {v.expected}" in text
        assert status in title
    assert page.text_content("#overall") == result.overall.value
    page.screenshot(path=str(shots / "laptop.png"), full_page=full_page)
    phone = browser.new_page(viewport=PHONE)
    phone.goto(url)
    # The heatmap scrolls inside its own box; the page itself never scrolls sideways.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(shots / "phone.png"), full_page=full_page)
    phone.close()
    outside = [u for u in requests if not u.startswith((url.split("?")[0], "data:"))]
    assert outside == [], "the page must not fetch anything"
    return page


def test_report_file_in_chromium(tmp_path: Path, demo: BuiltDemo, browser: Any) -> None:
    plan = demo.plan
    config = write_config(tmp_path, demo)
    warehouse = f"duckdb://{demo.warehouse_path}"
    config_model, base = load_config(config)
    with Guard(config_model, base, warehouse_url=warehouse) as guard:
        for day in (dt.date(2026, 1, 16), dt.date(2025, 12, 9)):
            guard.gate("phase4").decide(day)
        guard.store.record(
            Event(
                "retry_exhausted", "error", "scraper failed for 2026-01-14: HTTP 503", "nba_props"
            )
        )
        result = guard.verify(plan.first_date, plan.last_date)
    out = tmp_path / "season.html"
    argv = ["report", str(plan.first_date), str(plan.last_date), "-o", str(out)]
    assert run_cli([*argv, "-c", str(config), "-w", warehouse]) == 0
    html = out.read_text()
    assert "http://" not in html
    assert "https://" not in html
    page = check_page(browser, out.as_uri(), result, tmp_path)
    blocked = page.eval_on_selector_all(
        "#decisions tr[data-kind]", "els => els.map(e => e.dataset.kind)"
    )
    assert blocked.count("gate_blocked") == 2
    assert "scraper failed for <date>: HTTP <n>" in page.text_content("#errors")
    bars = page.eval_on_selector_all("#health-score rect.bar", "els => els.length")
    assert bars == sum(1 for d in result.dates if d.health is not None)
    trended = ("MAE", "weekly games covered")  # the aggregate and the rolling-window coverage
    trends = [v for d in result.dates for p in d.phases for v in p.verdicts if v.check in trended]
    dots = page.eval_on_selector_all("#trends circle.dot", "els => els.length")
    assert dots == sum(1 for v in trends if v.value is not None)  # a date without grades has none
    failing = page.eval_on_selector_all("#failing section[data-date]", "els => els.length")
    assert failing == sum(1 for d in result.dates if any(p.failing for p in d.phases))
    assert str(config) in page.text_content("#about")
    page.close()


def test_live_page_in_chromium(tmp_path: Path, demo: BuiltDemo, browser: Any) -> None:
    now = dt.datetime(2026, 1, 25, 9, 0, tzinfo=UTC)
    with make_guard(tmp_path, demo, now) as guard:
        expected = guard.verify(dt.date(2025, 12, 27), dt.date(2026, 1, 25))  # the last 30 days
        with running(serve(guard, port=0, config_path="phaseguard.yml")) as url:
            page = check_page(browser, url + "/", expected, tmp_path, full_page=False)
            refresh = page.get_attribute("meta[http-equiv=refresh]", "content")
            page.close()
            response = httpx.get(url + "/")
    assert refresh == "60"
    assert "default-src 'none'" in response.headers["content-security-policy"]


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, demo: BuiltDemo
) -> Iterator[tuple[str, Guard]]:
    """One dashboard on the demo season for the API tests; today is 2026-01-25."""
    now = dt.datetime(2026, 1, 25, 9, 0, tzinfo=UTC)
    directory = tmp_path_factory.mktemp("dashboard")
    with make_guard(directory, demo, now) as guard, running(serve(guard, port=0)) as url:
        yield url, guard


def test_api_health_is_the_verify_json(dashboard: tuple[str, Guard]) -> None:
    url, guard = dashboard
    got = httpx.get(url + "/api/health", params={"start": "2026-01-10", "end": "2026-01-23"})
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    want = to_dict(guard.verify(dt.date(2026, 1, 10), dt.date(2026, 1, 23)))
    assert got.json() == json.loads(json.dumps(want, default=str))
    default = httpx.get(url + "/api/health").json()
    assert (default["start"], default["end"]) == ("2025-12-27", "2026-01-25")
    one = httpx.get(url + "/api/health", params={"start": "2026-01-21"}).json()
    assert [d["date"] for d in one["dates"]] == ["2026-01-21"]
    assert one["overall"] == "FAILED"
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("start=2026-13-45", "bad start date"),
        ("start=2026-01-10&end=yesterday", "bad end date"),
        ("start=2026-01-20&end=2026-01-10", "reversed range"),
        ("start=2000-01-01&end=2026-01-01", "longer than 366 days"),
        ("start=2026-01-10&sart=2026-01-11", "unknown query parameter"),
        ("start=2026-01-10&start=2026-01-11", "given twice"),
        ("end=2026-01-10", "end given without start"),
        ("start=", "bad start date"),
        ("start", "bad start date"),
        ("start=%ff%fe%00", "bad start date"),
        ("start=2026-01-10%00", "bad start date"),
        ("start=" + "9" * 600, "longer than"),
        ("a=1&b=2&c=3&d=4&e=5", "too many"),
        ("start=<script>alert(1)</script>", "bad start date"),
    ],
)
def test_api_bad_query_is_a_400_with_a_json_error(
    dashboard: tuple[str, Guard], query: str, says: str
) -> None:
    url, _ = dashboard
    response = httpx.get(f"{url}/api/health?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert says in response.json()["error"]
    assert "Traceback" not in response.text


def raw(url: str, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (httpx would normalise the path) and read the whole answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer.split(b" ", 2)[1]), answer


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET //etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /api/health/../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /api/health?" + b"x" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
        (b"POST /api/health HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 405),
        (b"BREW /healthz HTTP/1.1\r\n\r\n", 501),
    ],
)
def test_hostile_requests_never_get_a_500_or_a_traceback(
    dashboard: tuple[str, Guard], request_bytes: bytes, status: int
) -> None:
    url, _ = dashboard
    got, answer = raw(url, request_bytes)
    assert got == status
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head
    assert "error" in json.loads(body)
    assert b"Traceback" not in answer


def test_head_and_unknown_paths(dashboard: tuple[str, Guard]) -> None:
    url, _ = dashboard
    head = httpx.head(url + "/healthz")
    assert (head.status_code, head.content) == (200, b"")
    missing = httpx.get(url + "/static/../../etc/passwd")
    assert missing.status_code == 404
    assert "not found" in missing.json()["error"]
    page = httpx.get(url + "/", params={"start": "<script>alert(1)</script>"})
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "&lt;script&gt;" in page.text
    assert "<script>" not in page.text


def test_warehouse_error_is_a_503(tmp_path: Path, demo: BuiltDemo) -> None:
    empty = f"duckdb://{tmp_path / 'empty.duckdb'}"
    now = dt.datetime(2026, 1, 25, 9, 0, tzinfo=UTC)
    with make_guard(tmp_path, demo, now, url=empty) as guard, running(serve(guard, port=0)) as url:
        api = httpx.get(url + "/api/health")
        page = httpx.get(url + "/")
        alive = httpx.get(url + "/healthz")
    assert api.status_code == 503
    assert "warehouse unavailable" in api.json()["error"]
    assert page.status_code == 503
    assert '<meta http-equiv="refresh"' in page.text
    assert "Traceback" not in api.text + page.text
    assert alive.status_code == 200


class Hook(BaseHTTPRequestHandler):
    """A webhook receiver that keeps every JSON body it is sent."""

    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (Hook,), {"received": received}))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_yesterday_send_posts_the_daily_summary(
    tmp_path: Path,
    demo: BuiltDemo,
    webhook: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook, received = webhook
    sinks = f"sinks:\n  - {{kind: webhook, url: '{hook}', min_severity: info}}"
    config = write_config(tmp_path, demo, sinks)
    warehouse = f"duckdb://{demo.warehouse_path}"
    out = tmp_path / "daily.html"
    # 2026-01-21, the worst day of the phase-4 outage, then an ordinary day.
    for today in (dt.datetime(2026, 1, 22, 6, tzinfo=UTC), dt.datetime(2026, 3, 3, 6, tzinfo=UTC)):
        monkeypatch.setattr("phaseguard.cli.report_cmds._report_now", lambda today=today: today)
        argv = ["report", "--yesterday", "--send", "-o", str(out), "-c", str(config)]
        assert run_cli([*argv, "-w", warehouse]) == 0
    bad, good = received
    assert (bad["status"], bad["severity"], bad["date"]) == ("report", "critical", "2026-01-21")
    config_model, base = load_config(config)
    with Guard(config_model, base, warehouse_url=warehouse) as guard:
        day = guard.verify(dt.date(2026, 1, 21))
    assert bad["title"] == f"nba_props quality 2026-01-21: FAILED, health {day.health:g}"
    assert bad["link"] == out.as_uri()
    assert "phase4 FAIL (processors)" in bad["text"]
    want = [
        {"name": f"{p.phase} {v.check}", "level": v.level.value, "observed": v.observed,
         "expected": v.expected}
        for p in day.dates[0].phases for v in p.failing
    ]  # fmt: skip
    assert bad["checks"] == want
    assert {c["name"] for c in bad["checks"]} >= {"phase4 processors", "phase5 rows_exist"}
    assert (good["severity"], good["date"], good["checks"]) == ("info", "2026-03-02", [])
    assert "every phase passes" in good["text"]
    assert "2026-03-02" in out.read_text()


@pytest.mark.parametrize(
    "argv",
    [
        ["report"],
        ["report", "2026-01-10"],
        ["report", "2026-01-10", "--yesterday", "--send"],
        ["report", "2026-01-20", "2026-01-10", "-o", "x.html"],
    ],
)
def test_report_usage_errors_exit_3(tmp_path: Path, demo: BuiltDemo, argv: list[str]) -> None:
    config = write_config(tmp_path, demo)
    assert run_cli([*argv, "-c", str(config)]) == 3


def test_summary_severity_and_event_window(tmp_path: Path, demo: BuiltDemo) -> None:
    now = dt.datetime(2026, 3, 1, tzinfo=UTC)
    with make_guard(tmp_path, demo, now) as guard:
        # bdl's gaps are filled by the gamebook (phase 2 counts either source); grading is thin
        warned = guard.verify(dt.date(2026, 1, 14))
    alert = summary_alert(warned, pipeline="nba_props")
    assert (alert.severity, alert.link) == ("warning", None)
    assert "phase6 ACCEPTABLE (grading coverage)" in alert.text
    old = dt.datetime(2025, 6, 1, tzinfo=UTC)
    events = [
        Event("gate_blocked", "critical", "in range, long ago", date=dt.date(2026, 1, 5), time=old),
        Event("gate_blocked", "critical", "out of range, long ago", date=dt.date(2025, 1, 1), time=old),
        Event("gate_blocked", "critical", "recent", date=dt.date(2025, 1, 1), time=now),
    ]  # fmt: skip
    kept = relevant(events, dt.date(2026, 1, 1), dt.date(2026, 1, 31), now)
    assert [e.message for e in kept] == ["in range, long ago", "recent"]
