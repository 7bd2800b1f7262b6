"""The local balldontlie API: the demo schedule, the SDK's shapes, auth, paging, faults, stats.

Real HTTP on 127.0.0.1; the schedule is checked against a real DuckDB built by season_plan.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from balldontlie import BalldontlieAPI

from nba_props.bdl_data import season_games
from nba_props.bdl_server import BdlServer, FaultModel, VirtualClock, serve
from nba_props.season import season_plan
from phaseguard.errors import UsageError
from phaseguard.warehouse import connect

DAY = dt.date(2025, 10, 22)


@pytest.fixture(scope="module")
def server() -> Iterator[BdlServer]:
    with serve() as running:
        yield running


def get(
    server: BdlServer, path: str, *, key: str | None = "test-key"
) -> tuple[int, dict[str, str], Any]:
    """One raw GET: status, headers, decoded JSON body."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", path, headers={"Authorization": key} if key is not None else {})
        response = conn.getresponse()
        body = response.read()
        return response.status, dict(response.getheaders()), json.loads(body or b"null")
    finally:
        conn.close()


def walk(server: BdlServer, path: str, per_page: int) -> list[dict[str, Any]]:
    """Every item of a cursor-paged list, following ``meta.next_cursor``."""
    items: list[dict[str, Any]] = []
    cursor = None
    sep = "&" if "?" in path else "?"
    while True:
        query = f"{sep}per_page={per_page}" + (f"&cursor={cursor}" if cursor else "")
        status, _, body = get(server, path + query)
        assert status == 200
        assert len(body["data"]) <= per_page
        items += body["data"]
        cursor = body["meta"].get("next_cursor")
        if cursor is None:
            return items


def test_games_are_the_warehouse_schedule(server: BdlServer, tmp_path: Path) -> None:
    with connect(f"duckdb://{tmp_path / 'season.duckdb'}") as wh:
        wh.run_script(season_plan(seed=7, faults=False).statements)
        rows = wh.driver.execute(
            "SELECT game_id, game_date, home_team, away_team FROM nba_raw.nbac_schedule"
        )
    games = walk(server, "/nba/v1/games?start_date=2025-10-01&end_date=2026-06-30", 100)
    served = {
        (
            f"{g['id']:010d}",
            dt.date.fromisoformat(g["date"]),
            g["home_team"]["abbreviation"],
            g["visitor_team"]["abbreviation"],
        )
        for g in games
    }
    assert len(games) == len(served) == 1230
    assert served == set(rows)


def test_box_scores_parse_with_the_sdk_and_add_up(server: BdlServer) -> None:
    api = BalldontlieAPI(api_key="test-key", base_url=server.url)
    boxes = api.nba.box_scores.get_by_date(DAY.isoformat()).data
    _, _, games = get(server, f"/nba/v1/games?dates[]={DAY}")
    assert len(boxes) == len(games["data"]) == len(season_games(7)[DAY]) == 9
    scores = {
        (g["home_team"]["abbreviation"], g["visitor_team"]["abbreviation"]): g["home_team_score"]
        for g in games["data"]
    }
    for box in boxes:
        assert box.home_team is not None
        assert box.visitor_team is not None
        players = box.home_team.players or []
        assert 8 <= len(players) <= 15
        assert sum(p.pts or 0 for p in players) == box.home_team_score
        assert scores[(box.home_team.abbreviation, box.visitor_team.abbreviation)] == (
            box.home_team_score
        )
        for p in players:
            points = 2 * (p.fgm or 0) + (p.fg3m or 0) + (p.ftm or 0)
            assert points == p.pts
            assert (p.fg3m or 0) <= (p.fg3a or 0) <= (p.fga or 0)


def test_cursor_paging_returns_everything_once(server: BdlServer) -> None:
    games = walk(server, f"/nba/v1/games?dates[]={DAY}", 2)
    assert sorted(g["id"] for g in games) == sorted(g.bdl_id for g in season_games(7)[DAY])
    stats = walk(server, f"/nba/v1/stats?dates[]={DAY}", 100)
    assert len({s["id"] for s in stats}) == len(stats) > 9 * 16
    assert {s["game"]["id"] for s in stats} == {g["id"] for g in games}
    one = games[0]["id"]
    only = walk(server, f"/nba/v1/stats?dates[]={DAY}&game_ids[]={one}", 25)
    assert {s["game"]["id"] for s in only} == {one}


@pytest.mark.parametrize("key", [None, "", "wrong", "Bearer test-key"])
def test_a_missing_or_wrong_key_is_401(server: BdlServer, key: str | None) -> None:
    status, _, body = get(server, f"/nba/v1/box_scores?date={DAY}", key=key)
    assert status == 401
    assert body == {"error": "Unauthorized"}


def test_bad_requests(server: BdlServer) -> None:
    assert get(server, "/nba/v1/teams_that_are_not")[0] == 404
    assert get(server, "/nba/v1/games/1")[0] == 404
    assert get(server, "/nba/v1/box_scores")[0] == 400
    assert get(server, "/nba/v1/box_scores?date=yesterday")[0] == 400
    status, _, body = get(server, "/nba/v1/box_scores?date=2025-07-01")
    assert (status, body) == (200, {"data": []})


def test_stats_count_by_path_and_status() -> None:
    with serve() as fresh:
        get(fresh, f"/nba/v1/games?dates[]={DAY}")
        get(fresh, f"/nba/v1/games?dates[]={DAY}", key="wrong")
        get(fresh, "/nba/v1/nothing")
        assert fresh.stats.requests == 3
        assert fresh.stats.by_path == {"/nba/v1/games": 2, "/nba/v1/nothing": 1}
        assert fresh.stats.by_status == {"200": 1, "401": 1, "404": 1}
        assert fresh.stats.faults == {}


def test_outage_window_follows_the_shared_clock() -> None:
    clock = VirtualClock()
    with serve(clock=clock, faults=FaultModel(outages=((600, 1800),))) as fresh:
        assert get(fresh, f"/nba/v1/box_scores?date={DAY}")[0] == 200
        clock.sleep(600)
        assert [get(fresh, f"/nba/v1/games?dates[]={DAY}")[0] for _ in range(3)] == [503] * 3
        clock.advance_to(1800)
        assert get(fresh, f"/nba/v1/box_scores?date={DAY}")[0] == 200
        assert fresh.stats.faults == {"outage": 3}
    assert clock() == 1800
    assert clock.slept == 600


def test_429_carries_retry_after() -> None:
    with serve(faults=FaultModel(script=("429",), retry_after=42)) as fresh:
        status, headers, body = get(fresh, f"/nba/v1/games?dates[]={DAY}")
        assert (status, headers["Retry-After"], body) == (429, "42", {"error": "Too many requests"})
        assert get(fresh, f"/nba/v1/games?dates[]={DAY}")[0] == 200


def test_drop_closes_the_socket_without_a_response() -> None:
    with serve(faults=FaultModel(script=("drop",))) as fresh:
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            get(fresh, f"/nba/v1/games?dates[]={DAY}")
        assert fresh.stats.by_status == {"dropped": 1}


def test_slow_answers_are_held_and_released_on_stop() -> None:
    fresh = serve(faults=FaultModel(script=("slow", "slow"), slow_seconds=0.3))
    started = time.perf_counter()
    assert get(fresh, f"/nba/v1/games?dates[]={DAY}")[0] == 200
    assert time.perf_counter() - started >= 0.3
    fresh.stop()  # would wait 0.3 s more if a held answer were not released


def test_random_faults_come_at_the_configured_rate() -> None:
    faults = FaultModel(transient_rate=0.2, kinds=("500", "503"))
    with serve(faults=faults, fault_seed=1) as fresh:
        statuses = [get(fresh, "/nba/v1/games/22500001")[0] for _ in range(200)]
    assert set(statuses) == {200, 500, 503}
    assert 20 <= statuses.count(500) + statuses.count(503) <= 60


@pytest.mark.parametrize(
    "bad",
    [
        {"transient_rate": 1.5},
        {"transient_rate": 0.6, "rate_limit_rate": 0.6},
        {"kinds": ("418",)},
        {"kinds": ()},
        {"script": ("teapot",)},
    ],
)
def test_fault_model_refuses_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        FaultModel(**bad)


def test_virtual_clock_never_goes_back() -> None:
    clock = VirtualClock(100)
    clock.advance_to(50)
    assert clock() == 100
    with pytest.raises(UsageError):
        clock.sleep(-1)
