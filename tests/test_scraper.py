"""The box-score scraper through the official SDK against the real local API, into real DuckDB.

Only the clock is fake (a VirtualClock: the retry waits pass at once); every request is real
HTTP to ``nba_props.bdl_server`` on 127.0.0.1 and every row lands in a DuckDB file.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from balldontlie.exceptions import AuthenticationError, NotFoundError

from nba_props.bdl_data import season_games
from nba_props.bdl_server import BdlServer, FaultModel, VirtualClock, serve
from nba_props.schema import SCHEMA
from nba_props.scraper import COLUMNS, TABLE, ScrapeResult, bdl_client, scrape_box_scores
from nba_props.simulation import DEFAULT_SCENARIOS, simulate
from phaseguard.errors import RetryExhausted
from phaseguard.events import Event
from phaseguard.warehouse import Warehouse, connect

DAYS = list(season_games(7))[:8]
DAY = DAYS[1]  # 2025-10-22: nine games


class Events(list[Event]):
    """A recorder that keeps events in memory."""

    def record(self, event: Event) -> None:
        self.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self]


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with connect(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as wh:
        wh.create_table(TABLE, SCHEMA[TABLE])
        yield wh


def count(wh: Warehouse, sql: str, *params: Any) -> int:
    """One number from the warehouse's own DuckDB connection."""
    rows = wh.driver.execute(sql, {str(i): p for i, p in enumerate(params, start=1)})
    return int(rows[0][0])


def scrape(
    server: BdlServer,
    wh: Warehouse,
    day: dt.date,
    clock: VirtualClock,
    *,
    key: str | None = None,
    base_url: str | None = None,
    events: Events | None = None,
    alerts: list[Event] | None = None,
) -> ScrapeResult:
    client = bdl_client(key or server.api_key, base_url=base_url or server.url)
    return scrape_box_scores(
        day,
        client=client,
        warehouse=wh,
        recorder=events,
        alert=None if alerts is None else alerts.append,
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(1),
        timeout=1.0,  # real seconds: room for a loaded CI machine; slow faults hold 1.2 s
    )


def test_ten_percent_faults_still_load_every_game(warehouse: Warehouse) -> None:
    clock, events = VirtualClock(), Events()
    faults = FaultModel(transient_rate=0.10, slow_seconds=1.2)
    with serve(faults=faults, clock=clock, fault_seed=21) as server:
        results = [scrape(server, warehouse, d, clock, events=events) for d in DAYS]
        injected = sum(server.stats.faults.values())
    # The seed injects faults, so this run proves retries, not luck.
    assert injected >= 3
    assert events.kinds().count("retry_attempt") == injected
    assert "retry_exhausted" not in events.kinds()
    for day, result in zip(DAYS, results, strict=True):
        expected = {g.game_id for g in season_games(7)[day]}
        assert result.complete
        assert result.games_expected == result.games_loaded == len(expected)
        loaded = warehouse.driver.execute(
            f"SELECT DISTINCT game_id FROM {TABLE} WHERE game_date = $1", {"1": day}
        )
        assert {r[0] for r in loaded} == expected
        assert count(warehouse, f"SELECT count(*) FROM {TABLE} WHERE game_date = $1", day) == (
            result.rows
        )
    assert clock.slept > 0


def test_rerun_replaces_the_date_and_never_duplicates(warehouse: Warehouse) -> None:
    clock = VirtualClock()
    stale = dict.fromkeys(COLUMNS, 0) | {"game_id": "stale", "game_date": DAY, "player_name": "x"}
    stale |= {"team": "x", "opponent": "x", "scraped_at": dt.datetime(2025, 1, 1)}
    warehouse.insert_rows(TABLE, COLUMNS, [tuple(stale[c] for c in COLUMNS)])
    with serve(clock=clock) as server:
        other = scrape(server, warehouse, DAYS[0], clock)
        first = scrape(server, warehouse, DAY, clock)
        second = scrape(server, warehouse, DAY, clock)
    assert first.rows == second.rows > 9 * 15
    rows = count(warehouse, f"SELECT count(*) FROM {TABLE} WHERE game_date = $1", DAY)
    keys = count(
        warehouse,
        f"SELECT count(DISTINCT (game_id, player_id)) FROM {TABLE} WHERE game_date = $1",
        DAY,
    )
    assert rows == keys == first.rows
    assert count(warehouse, f"SELECT count(*) FROM {TABLE} WHERE game_id = 'stale'") == 0
    assert count(warehouse, f"SELECT count(*) FROM {TABLE}") == rows + other.rows


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [
        ("500", "ServerError"),
        ("502", "ServerError"),
        ("503", "ServerError"),
        ("drop", "BallDontLieException"),  # the SDK wraps the ConnectionError
        ("slow", "TimeoutError"),  # the scraper's deadline; the SDK has no timeout
        ("429", "RateLimitError"),
    ],
)
def test_each_transient_fault_is_retried(warehouse: Warehouse, kind: str, error_class: str) -> None:
    clock, events = VirtualClock(), Events()
    # Games fail twice, then box scores once.
    faults = FaultModel(script=(kind, kind, "", kind), slow_seconds=1.2)
    with serve(faults=faults, clock=clock) as server:
        result = scrape(server, warehouse, DAY, clock, events=events)
        assert server.stats.requests == 5
        assert server.stats.faults == {kind: 3}
    assert result.complete
    assert events.kinds() == [
        "retry_attempt",
        "retry_attempt",
        "retry_succeeded",
        "retry_attempt",
        "retry_succeeded",
    ]
    attempts = [e for e in events if e.kind == "retry_attempt"]
    assert {e.details["error_class"] for e in attempts} == {error_class}
    assert [e.details["function"] for e in attempts] == ["bdl.games"] * 2 + ["bdl.box_scores"]


def test_wrong_key_is_tried_once_and_fails(warehouse: Warehouse) -> None:
    clock, events, alerts = VirtualClock(), Events(), list[Event]()
    with serve(clock=clock) as server:
        with pytest.raises(AuthenticationError):
            scrape(server, warehouse, DAY, clock, key="wrong", events=events, alerts=alerts)
        assert server.stats.by_status == {"401": 1}
    assert clock.slept == 0
    assert alerts == []
    assert events.kinds() == ["retry_gave_up"]


def test_not_found_is_tried_once_and_fails(warehouse: Warehouse) -> None:
    clock = VirtualClock()
    with serve(clock=clock) as server:
        with pytest.raises(NotFoundError):
            scrape(server, warehouse, DAY, clock, base_url=f"{server.url}/v0")
        assert server.stats.by_status == {"404": 1}
    assert clock.slept == 0


def test_outage_longer_than_every_wait_exhausts_and_alerts_once(warehouse: Warehouse) -> None:
    clock, events, alerts = VirtualClock(), Events(), list[Event]()
    with serve(clock=clock) as server:
        loaded = scrape(server, warehouse, DAY, clock)
    # 60 + 120 + 240 + 480 s is the most five attempts can wait; the outage lasts an hour.
    outage = FaultModel(outages=((clock(), clock() + 3600),))
    with serve(faults=outage, clock=clock) as server:
        with pytest.raises(RetryExhausted) as raised:
            scrape(server, warehouse, DAY, clock, events=events, alerts=alerts)
        assert server.stats.by_status == {"503": 5}
    assert raised.value.attempts == 5
    assert 0 < clock.slept <= 900
    assert events.kinds() == ["retry_attempt"] * 4 + ["retry_exhausted"]
    assert len(alerts) == 1
    (alert,) = alerts
    assert alert.kind == "retry_exhausted"
    assert alert.date == DAY
    assert alert.details["source"] == "bdl"
    assert alert.details["date"] == DAY.isoformat()
    assert alert.details["table"] == TABLE
    assert alert.details["key"] == f"nba/v1/games {DAY}"
    # A failed scrape leaves the date as it was: nothing deleted.
    assert count(warehouse, f"SELECT count(*) FROM {TABLE}") == loaded.rows


def test_outage_shorter_than_the_waits_is_ridden_out(warehouse: Warehouse) -> None:
    clock, events = VirtualClock(), Events()
    with serve(faults=FaultModel(outages=((0, 100),)), clock=clock) as server:
        result = scrape(server, warehouse, DAY, clock, events=events)
        outage_answers = server.stats.faults["outage"]
    assert result.complete
    assert clock() >= 100
    assert outage_answers >= 1
    assert events.kinds()[-1] == "retry_succeeded"


def test_small_simulation_retries_beat_no_retries(tmp_path: Path) -> None:
    result = simulate(dates=10, seed=7, workdir=tmp_path, scenarios=DEFAULT_SCENARIOS)
    bare, retried, caught_up = (result.scenario(s.name) for s in DEFAULT_SCENARIOS)
    assert result.outage_date is not None
    assert result.games == sum(len(season_games(7)[d]) for d in list(season_games(7))[:10])
    assert bare.coverage < retried.coverage <= caught_up.coverage == 1.0
    assert bare.alerts > retried.alerts >= 1
    # The 20-minute outage outlasts every wait of its night: that date, and only it, alerts.
    assert retried.failed_dates == (result.outage_date,)
    assert all(s.alerts_match_failures for s in result.scenarios)
    assert retried.overhead < 2
    assert retried.virtual_seconds_slept > 0 == bare.virtual_seconds_slept
