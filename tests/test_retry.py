"""Retries: backoff bounds, transient vs terminal, Retry-After, budget, events and alerts.

HTTP is a real local server; only sleep and the clock are fakes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import requests
from balldontlie import BalldontlieAPI
from balldontlie.exceptions import (
    AuthenticationError,
    BallDontLieException,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from tenacity import RetryCallState, Retrying

from phaseguard.backoff import DecorrelatedJitter, EqualJitter, FullJitter, NoJitter, RetryPolicy
from phaseguard.budget import RetryBudget
from phaseguard.errors import (
    ConfigError,
    RetryBudgetExceeded,
    RetryExhausted,
    UnknownObjectError,
    UsageError,
    WarehouseError,
)
from phaseguard.events import Event
from phaseguard.retry import retry
from phaseguard.transient import is_transient, parse_retry_after

# --- fakes for sleep, clock and the event store -----------------------------------------


class Sleeps(list[float]):
    """A sleep that records how long it was asked to wait and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Events(list[Event]):
    def record(self, event: Event) -> None:
        self.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self]


class Flaky:
    """Fails with ``errors`` in turn, then returns ``value``."""

    def __init__(self, *errors: BaseException, value: str = "ok") -> None:
        self.errors = list(errors)
        self.calls = 0
        self.value = value

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.value


# --- a real local HTTP server -----------------------------------------------------------


class Server:
    """Answers each request with the next scripted (status, headers, body); counts hits."""

    def __init__(self, script: list[tuple[int, dict[str, str], Any]]) -> None:
        self.script = script
        self.hits = 0
        self.lock = threading.Lock()
        self.url = ""

    def next(self) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.hits += 1
            return self.script[min(self.hits, len(self.script)) - 1]


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(*script: tuple[int, dict[str, str], Any]) -> Server:
        state = Server(list(script))

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body = state.next()
                payload = json.dumps(body if body is not None else {"error": "x"}).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(httpd)
        state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        return state

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def get_json(url: str) -> Any:
    with httpx.Client(timeout=5) as client:
        response = client.get(url)
        response.raise_for_status()
        return response.json()


# --- waits ------------------------------------------------------------------------------


def test_ceilings_double_from_base_and_stop_at_the_cap() -> None:
    waits = RetryPolicy(7, 60, 1800, "none").waits()
    assert waits == [60, 120, 240, 480, 960, 1800]


@pytest.mark.parametrize("jitter", ["full", "equal", "decorrelated"])
def test_jittered_waits_stay_within_their_bounds(jitter: Any) -> None:
    policy = RetryPolicy(10, 60, 1800, jitter)
    seen: set[float] = set()
    for seed in range(300):
        waits = policy.waits(random.Random(seed))
        previous = 60.0
        for n, wait in enumerate(waits, start=1):
            ceiling = min(1800, 60 * 2 ** (n - 1))
            assert 0 <= wait <= 1800
            if jitter == "full":
                assert wait <= ceiling
            elif jitter == "equal":
                assert ceiling / 2 <= wait <= ceiling
            else:
                assert 60 <= wait <= max(60, previous * 3)
                previous = wait
        seen.update(waits)
    assert len(seen) > 1000  # really random, not a constant


def test_strategies_never_pass_the_cap_even_after_many_attempts() -> None:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    rng = random.Random(3)
    for cls in (FullJitter, EqualJitter, DecorrelatedJitter, NoJitter):
        strategy = cls(60, 1800, rng)
        for attempt in (1, 6, 7, 100, 10_000):
            state.attempt_number = attempt
            state.upcoming_sleep = 0.0 if attempt == 1 else 1800.0
            assert 0 <= strategy(state) <= 1800
    assert NoJitter(60, 1800)(state) == 1800


def test_same_seed_gives_same_waits() -> None:
    policy = RetryPolicy(5, 60, 1800, "full")
    assert policy.waits(random.Random(7)) == policy.waits(random.Random(7))
    assert policy.waits(random.Random(7)) != policy.waits(random.Random(8))


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_delay": -1}, {"base_delay": 10, "max_delay": 5}]
)
def test_a_policy_that_makes_no_sense_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        RetryPolicy(**kwargs)


def test_an_unknown_jitter_is_refused() -> None:
    with pytest.raises(UsageError, match="jitter"):
        retry(jitter="wild")  # type: ignore[arg-type]


# --- retrying a function ----------------------------------------------------------------


def test_four_transient_failures_then_success_returns_the_value() -> None:
    sleeps, events, alerts = Sleeps(), Events(), Events()
    fn = Flaky(*[TimeoutError(f"t{i}") for i in range(4)], value="box scores")
    wrapped = retry(sleep=sleeps, rng=random.Random(1), recorder=events, alert=alerts.record)(fn)

    assert wrapped("2026-01-15") == "box scores"
    assert fn.calls == 5
    assert len(sleeps) == 4
    assert all(0 <= s <= min(1800, 60 * 2**i) for i, s in enumerate(sleeps))
    assert events.kinds() == ["retry_attempt"] * 4 + ["retry_succeeded"]
    assert [e.details["attempt"] for e in events[:4]] == [1, 2, 3, 4]
    assert [e.details["wait"] for e in events[:4]] == sleeps
    assert events[-1].details["attempts"] == 5
    assert alerts == []


def test_five_transient_failures_raise_retry_exhausted_and_alert_once() -> None:
    sleeps, events, alerts = Sleeps(), Events(), Events()
    errors = [ConnectionError(f"reset {i}") for i in range(5)]
    fn = Flaky(*errors)
    wrapped = retry(5, 60, 1800, sleep=sleeps, recorder=events, alert=alerts.record)(fn)

    with pytest.raises(RetryExhausted) as info:
        wrapped()
    assert info.value.attempts == 5
    assert info.value.last_error is errors[-1]
    assert info.value.__cause__ is errors[-1]
    assert fn.calls == 5
    assert len(sleeps) == 4
    assert events.kinds() == ["retry_attempt"] * 4 + ["retry_exhausted"]
    assert len(alerts) == 1
    assert alerts[0] is events[-1]
    assert alerts[0].severity == "error"
    assert alerts[0].details["error_class"] == "ConnectionError"


def test_a_terminal_error_is_tried_once_and_re_raised_unchanged() -> None:
    sleeps, events, alerts = Sleeps(), Events(), Events()
    error = ValueError("bad date")
    fn = Flaky(error)
    wrapped = retry(sleep=sleeps, recorder=events, alert=alerts.record)(fn)

    with pytest.raises(ValueError, match="bad date") as info:
        wrapped()
    assert info.value is error
    assert fn.calls == 1
    assert sleeps == []
    assert events.kinds() == ["retry_gave_up"]
    assert alerts == []


def test_a_terminal_error_after_transient_ones_stops_at_once() -> None:
    sleeps, events = Sleeps(), Events()
    fn = Flaky(TimeoutError("slow"), KeyError("gone"))
    with pytest.raises(KeyError):
        retry(sleep=sleeps, recorder=events)(fn)()
    assert fn.calls == 2
    assert events.kinds() == ["retry_attempt", "retry_gave_up"]
    assert events[-1].details["attempt"] == 2


def test_extra_transient_classes_are_retried() -> None:
    class Flap(Exception):
        pass

    fn = Flaky(Flap(), Flap())
    assert retry(3, transient=(Flap,), sleep=Sleeps())(fn)() == "ok"
    assert fn.calls == 3


def test_alert_that_fails_does_not_hide_retry_exhausted() -> None:
    events = Events()

    def alert(event: Event) -> None:
        raise RuntimeError("slack is down")

    with pytest.raises(RetryExhausted):
        retry(2, sleep=Sleeps(), recorder=events, alert=alert)(Flaky(*[TimeoutError()] * 2))()
    assert events.kinds() == ["retry_attempt", "retry_exhausted", "alert_failed"]
    assert events[-1].details["event_id"] == events[-2].id
    assert "slack is down" in events[-1].message


def test_exhaustion_names_the_data_gap() -> None:
    events = Events()

    def gap(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"source": "bdl", "date": args[0], "key": f"game {kwargs['game']}"}

    wrapped = retry(
        2, sleep=Sleeps(), recorder=events, gap=gap, pipeline="nba", name="bdl.box_scores"
    )(Flaky(TimeoutError("read timeout"), TimeoutError("read timeout")))
    with pytest.raises(RetryExhausted, match=r"bdl\.box_scores: all 2 attempts failed"):
        wrapped("2026-01-15", game=123)
    final = events[-1]
    assert final.kind == "retry_exhausted"
    assert final.date == dt.date(2026, 1, 15)
    assert final.pipeline == "nba"
    assert final.details["source"] == "bdl"
    assert final.details["key"] == "game 123"
    assert final.details["error_class"] == "TimeoutError"
    assert final.details["function"] == "bdl.box_scores"
    assert events[0].date == dt.date(2026, 1, 15)  # every attempt names its date ...
    assert "source" not in events[0].details  # ... but only a final failure is a gap


def test_wraps_keeps_the_name_and_doc() -> None:
    def scrape_box_scores(game_date: str) -> str:
        """Scrape one date."""
        return game_date

    wrapped = retry()(scrape_box_scores)
    assert wrapped.__name__ == "scrape_box_scores"
    assert wrapped.__doc__ == "Scrape one date."
    assert wrapped.__wrapped__ is scrape_box_scores  # type: ignore[attr-defined]
    assert wrapped("2026-01-15") == "2026-01-15"


def test_phaseguard_retry_is_the_decorator_and_phaseguard_dot_retry_the_module() -> None:
    """``import phaseguard; @phaseguard.retry(...)`` works although ``retry`` is a submodule too."""
    import sys

    import phaseguard

    assert phaseguard.retry is retry
    assert sys.modules["phaseguard.retry"].retry is retry
    assert phaseguard.RetryPolicy is RetryPolicy
    assert phaseguard.RetryBudget is RetryBudget
    assert phaseguard.retry(max_attempts=1)(str.upper)("ok") == "OK"


# --- transient or terminal --------------------------------------------------------------

_REQ = httpx.Request("GET", "http://127.0.0.1/x")


def _status_error(status: int) -> httpx.HTTPStatusError:
    return httpx.HTTPStatusError("x", request=_REQ, response=httpx.Response(status, request=_REQ))


def _requests_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError("x", response=response)


class Marked(Exception):
    transient = True


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (WarehouseError("down"), True),
        (UnknownObjectError("no table"), False),
        (ConfigError("bad"), False),
        (Marked(), True),
        (httpx.ReadTimeout("slow", request=_REQ), True),
        (httpx.ConnectError("refused", request=_REQ), True),
        (httpx.RemoteProtocolError("eof", request=_REQ), True),
        (_status_error(429), True),
        (_status_error(500), True),
        (_status_error(503), True),
        (_status_error(404), False),
        (_status_error(401), False),
        (_status_error(400), False),
        (requests.Timeout(), True),
        (requests.ConnectionError(), True),
        (_requests_error(502), True),
        (_requests_error(404), False),
        (RateLimitError("slow down", 429), True),
        (ServerError("boom", 500), True),
        (AuthenticationError("key", 401), False),
        (NotFoundError("no game", 404), False),
        (ValidationError("bad", 400), False),
        (BallDontLieException("teapot", 418), False),
        (ValueError("x"), False),
        (KeyboardInterrupt(), False),
    ],
)
def test_is_transient(exc: BaseException, expected: bool) -> None:
    assert is_transient(exc) is expected


def test_balldontlie_network_error_is_transient_through_its_context() -> None:
    # The SDK raises its base class inside `except RequestException`, so the network
    # error is only in __context__.
    wrapped = BallDontLieException("Request failed: refused")
    wrapped.__context__ = requests.ConnectionError("refused")
    assert is_transient(wrapped)
    bad_json = BallDontLieException("Invalid JSON response from server")
    bad_json.__context__ = ValueError("Expecting value")
    assert not is_transient(bad_json)


# --- against a real HTTP server ---------------------------------------------------------


def test_http_404_is_tried_exactly_once(serve: Any) -> None:
    server, sleeps, events = serve((404, {}, None)), Sleeps(), Events()
    fetch = retry(sleep=sleeps, recorder=events)(get_json)
    with pytest.raises(httpx.HTTPStatusError):
        fetch(server.url + "/games/123")
    assert server.hits == 1
    assert sleeps == []
    assert events.kinds() == ["retry_gave_up"]


def test_http_503_retry_after_is_a_floor_for_the_wait(serve: Any) -> None:
    server = serve((503, {"Retry-After": "7"}, None), (200, {}, {"data": [1]}))
    sleeps = Sleeps()
    fetch = retry(base_delay=0.5, max_delay=2, sleep=sleeps, rng=random.Random(0))(get_json)
    assert fetch(server.url) == {"data": [1]}
    assert server.hits == 2
    assert sleeps == [7.0]


def test_http_429_retry_after_wins_over_the_cap(serve: Any) -> None:
    server = serve((429, {"Retry-After": "30"}, None), (200, {}, {"ok": True}))
    sleeps = Sleeps()
    fetch = retry(base_delay=0.1, max_delay=1, sleep=sleeps)(get_json)
    assert fetch(server.url) == {"ok": True}
    assert sleeps == [30.0]


def test_http_429_retry_after_as_an_http_date(serve: Any) -> None:
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=120)
    header = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    server = serve((429, {"Retry-After": header}, None), (200, {}, {"ok": True}))
    sleeps = Sleeps()
    assert retry(base_delay=0.1, max_delay=1, sleep=sleeps)(get_json)(server.url) == {"ok": True}
    assert 100 <= sleeps[0] <= 121


def test_retry_after_is_ignored_on_a_500(serve: Any) -> None:
    server = serve((500, {"Retry-After": "99"}, None), (200, {}, {"ok": True}))
    sleeps = Sleeps()
    retry(base_delay=1, max_delay=1, jitter="none", sleep=sleeps)(get_json)(server.url)
    assert sleeps == [1.0]


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after("Thu, 15 Jan 2026 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Thu, 15 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None


def test_a_server_that_is_down_is_retried_then_exhausted() -> None:
    sleeps, events = Sleeps(), Events()
    fetch = retry(3, sleep=sleeps, recorder=events)(get_json)
    with pytest.raises(RetryExhausted) as info:
        fetch(closed_port_url())
    assert isinstance(info.value.last_error, httpx.ConnectError)
    assert info.value.attempts == 3
    assert len(sleeps) == 2
    assert events.kinds() == ["retry_attempt", "retry_attempt", "retry_exhausted"]


TEAM = {
    "data": {
        "id": 2,
        "conference": "East",
        "division": "Atlantic",
        "city": "Boston",
        "name": "Celtics",
        "full_name": "Boston Celtics",
        "abbreviation": "BOS",
    }
}


def test_balldontlie_sdk_rate_limit_is_retried_and_not_found_is_not(serve: Any) -> None:
    server = serve((429, {}, None), (500, {}, None), (200, {}, TEAM))
    sleeps = Sleeps()
    api = BalldontlieAPI(api_key="test", base_url=server.url)
    team = retry(sleep=sleeps)(api.nba.teams.get)(2)
    assert team.data.full_name == "Boston Celtics"
    assert server.hits == 3
    assert len(sleeps) == 2

    missing = serve((404, {}, None))
    api = BalldontlieAPI(api_key="test", base_url=missing.url)
    with pytest.raises(NotFoundError):
        retry(sleep=sleeps)(api.nba.teams.get)(999)
    assert missing.hits == 1


def test_balldontlie_sdk_with_the_api_down_is_retried() -> None:
    api = BalldontlieAPI(api_key="test", base_url=closed_port_url())
    with pytest.raises(RetryExhausted) as info:
        retry(2, sleep=Sleeps())(api.nba.teams.get)(2)
    assert isinstance(info.value.last_error, BallDontLieException)


# --- async ------------------------------------------------------------------------------


def test_async_function_is_retried_with_an_async_sleep(serve: Any) -> None:
    server = serve((503, {}, None), (502, {}, None), (200, {}, {"ok": True}))
    slept: list[float] = []
    events = Events()

    async def nap(seconds: float) -> None:
        slept.append(seconds)

    @retry(base_delay=2, max_delay=4, jitter="none", sleep=nap, recorder=events)
    async def fetch(url: str) -> Any:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(url)
            response.raise_for_status()
            return response.json()

    assert asyncio.run(fetch(server.url)) == {"ok": True}
    assert slept == [2.0, 4.0]
    assert server.hits == 3
    assert events.kinds() == ["retry_attempt", "retry_attempt", "retry_succeeded"]


def test_async_exhaustion_and_terminal_errors() -> None:
    alerts = Events()
    sleeps = Sleeps()  # a plain function is accepted as the async sleep too

    @retry(3, sleep=sleeps, alert=alerts.record)
    async def always_slow() -> None:
        raise TimeoutError("slow")

    @retry(3, sleep=sleeps)
    async def bad() -> None:
        raise ValueError("bad")

    with pytest.raises(RetryExhausted) as info:
        asyncio.run(always_slow())
    assert info.value.attempts == 3
    assert len(alerts) == 1
    with pytest.raises(ValueError, match="bad"):
        asyncio.run(bad())
    assert len(sleeps) == 2


# --- retry budget -----------------------------------------------------------------------


def test_budget_allows_min_retries_then_a_ratio_of_calls_over_a_sliding_window() -> None:
    clock = Clock()
    budget = RetryBudget(ratio=0.1, window=60, min_retries=2, clock=clock)
    assert budget.can_retry()
    budget.record_retry()
    budget.record_retry()
    assert not budget.can_retry()
    for _ in range(30):
        budget.record_call()
    assert budget.can_retry()  # 2 < 0.1 * 30
    budget.record_retry()
    assert not budget.can_retry()  # 3 == 0.1 * 30
    assert budget.usage().retries == 3
    clock.now += 61
    assert budget.usage().calls == 0
    assert budget.can_retry()


def test_a_shared_budget_fails_fast_once_spent() -> None:
    clock = Clock()
    budget = RetryBudget(ratio=0.1, window=60, min_retries=3, clock=clock)
    events, alerts, sleeps = Events(), Events(), Sleeps()

    @retry(5, budget=budget, sleep=sleeps, recorder=events, alert=alerts.record, name="ok")
    def healthy() -> str:
        return "ok"

    calls = 0

    @retry(5, budget=budget, sleep=sleeps, recorder=events, alert=alerts.record, name="down")
    def down() -> None:
        nonlocal calls
        calls += 1
        raise TimeoutError("bdl down")

    for _ in range(30):
        healthy()
    # 31 calls in the window allow max(3, 3.1) retries: the first failing call takes 4.
    with pytest.raises(RetryExhausted):
        down()
    assert (calls, len(sleeps)) == (5, 4)
    # 32 calls allow 3.2 retries and 4 are spent: refused its first retry, no sleep.
    with pytest.raises(RetryBudgetExceeded, match="retry budget exceeded") as info:
        down()
    assert (calls, len(sleeps)) == (6, 4)
    assert isinstance(info.value.last_error, TimeoutError)
    assert info.value.__cause__ is info.value.last_error
    assert "4 retries for 32 calls" in str(info.value)
    assert events.kinds()[-1] == "retry_budget_exceeded"
    assert events[-1].severity == "error"
    assert len(alerts) == 1  # only the exhaustion alerted
    # Once the window has slid past, the min_retries floor allows 3 retries again.
    clock.now += 61
    with pytest.raises(RetryBudgetExceeded):
        down()
    assert (calls, len(sleeps)) == (10, 7)


def test_other_functions_share_the_spent_budget() -> None:
    budget = RetryBudget(min_retries=1, clock=Clock())
    first = retry(3, budget=budget, sleep=Sleeps())(Flaky(TimeoutError(), TimeoutError()))
    with pytest.raises(RetryBudgetExceeded):
        first()
    second = Flaky(TimeoutError())
    with pytest.raises(RetryBudgetExceeded):
        retry(3, budget=budget, sleep=Sleeps())(second)()
    assert second.calls == 1
