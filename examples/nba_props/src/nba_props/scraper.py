"""The example box-score scraper: one date from balldontlie into ``nba_raw.bdl_player_boxscores``.

The team's scraper made one request per date and lost the date on any error ("one network
timeout = permanent data gap"). This one makes every HTTP call through the official
``balldontlie`` SDK under :func:`phaseguard.retry.retry` with the action plan's parameters
(5 attempts, waits from 60 s capped at 1800 s, full jitter), then replaces the date's
partition in one transaction, so re-running a date never duplicates it. When every attempt of
a call failed, the retry decorator records ``retry_exhausted`` with the gap it leaves
(source ``bdl``, the date, the endpoint), alerts once, and :class:`RetryExhausted` reaches
the caller, who decides.

The games endpoint is the schedule: it names the games expected on the date, and each box
score is matched to its game by its two teams (box scores carry no game id).

Three gaps in balldontlie 0.1.6 are worked around here: the SDK sets no timeout on its
requests (a stuck connection would hang the scraper for ever), so each call runs under a
deadline; ``games.list()`` prints every page it fetches (a debug ``print`` left in
``base.py``), so the games are read through the SDK's ``_get``, the same request and error
mapping without it; and its errors drop the HTTP response, so a 429's ``Retry-After`` was
lost and the backoff undercut it. The SDK opens a ``requests.Session`` per request; its
module is handed a session class that keeps the last response of the calling thread
(:func:`install_session`), and a rate-limit or server error gets that response back as
``exc.response``, where :func:`phaseguard.transient.retry_after_of` reads the header.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import random
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from nba_props.schema import SCHEMA
from phaseguard.backoff import RetryPolicy
from phaseguard.budget import RetryBudget
from phaseguard.events import Event, Recorder
from phaseguard.retry import retry
from phaseguard.warehouse import Warehouse

__all__ = [
    "SEED_POLICY",
    "TABLE",
    "ScrapeResult",
    "bdl_client",
    "scrape_box_scores",
]

T = TypeVar("T")

TABLE = "nba_raw.bdl_player_boxscores"
COLUMNS = tuple(SCHEMA[TABLE])
DEFAULT_BASE_URL = "https://api.balldontlie.io"
SEED_POLICY = RetryPolicy(max_attempts=5, base_delay=60.0, max_delay=1800.0, jitter="full")
"""The action plan's retry: ``@retry_with_jitter(max_attempts=5, base_delay=60, max_delay=1800)``."""
PER_PAGE = 100  # balldontlie's largest page: one page holds any date's games


_responses = threading.local()  # the last HTTP response the SDK got, per calling thread


def install_session() -> None:
    """Give the SDK's HTTP layer a session class that keeps each response (idempotent).

    ``balldontlie.base`` makes ``requests.Session()`` for every request and raises its own
    errors without the response. Its ``requests`` name is pointed at a view of the real
    module whose ``Session`` records the response in a thread-local; requests themselves are
    unchanged, and nothing outside the SDK is touched.
    """
    import requests
    from balldontlie import base

    if isinstance(base.requests, _SdkRequests):
        return

    class KeepingSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            response = super().request(*args, **kwargs)
            _responses.last = response
            return response

    view = _SdkRequests("requests", requests)
    view.Session = KeepingSession
    base.requests = view


class _SdkRequests(types.ModuleType):
    """``requests`` as the SDK sees it: the real module, with a ``Session`` of our own."""

    Session: Any

    def __init__(self, name: str, real: types.ModuleType) -> None:
        super().__init__(name)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _sdk_call(call: Callable[[], T]) -> T:
    """Run one SDK call; an HTTP error it raises carries the response (``exc.response``)."""
    _responses.last = None
    try:
        return call()
    except Exception as exc:
        response = getattr(_responses, "last", None)
        status = getattr(exc, "status_code", None)
        if response is not None and status is not None and getattr(exc, "response", None) is None:
            exc.response = response  # type: ignore[attr-defined]
        raise


def bdl_client(api_key: str | None = None, *, base_url: str | None = None) -> Any:
    """The official SDK's client (``balldontlie.BalldontlieAPI``).

    Args:
        api_key: the key; default the ``BALLDONTLIE_API_KEY`` environment variable.
        base_url: the API's root; default ``BALLDONTLIE_BASE_URL`` or the public API.
    """
    from balldontlie import BalldontlieAPI  # an optional dependency: the ``example`` extra

    install_session()
    key = api_key if api_key is not None else os.environ.get("BALLDONTLIE_API_KEY", "")
    url = base_url or os.environ.get("BALLDONTLIE_BASE_URL") or DEFAULT_BASE_URL
    return BalldontlieAPI(api_key=key, base_url=url)


@dataclass(frozen=True)
class ScrapeResult:
    """What one scrape loaded for one date.

    Attributes:
        date: the game date.
        games_expected: games the API's schedule lists on the date.
        games_loaded: games with at least one player line loaded.
        rows: player lines loaded (the partition's rows now).
        missing: warehouse game ids expected but without a box score.
    """

    date: dt.date
    games_expected: int
    games_loaded: int
    rows: int
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every expected game was loaded."""
        return not self.missing


def with_deadline(call: Callable[[], T], timeout: float, what: str) -> T:
    """Run ``call`` in a worker thread and wait at most ``timeout`` seconds for it.

    The SDK cannot be given a timeout, so the wait is bounded from outside. A call past its
    deadline is abandoned (its thread finishes or fails on its own, unobserved) and
    ``TimeoutError``, a transient error, is raised.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"bdl {what}", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"{what}: no answer within {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _games_page(client: Any, day: dt.date, cursor: int | None, *, timeout: float) -> Any:
    api = client.nba.games
    params = api._prepare_params(
        {"dates": [day.isoformat()], "per_page": PER_PAGE, "cursor": cursor}
    )
    what = f"GET nba/v1/games?dates[]={day}"
    return with_deadline(
        lambda: _sdk_call(lambda: api._get("nba/v1/games", params=params)), timeout, what
    )


def _box_scores(client: Any, day: dt.date, *, timeout: float) -> Any:
    call = functools.partial(client.nba.box_scores.get_by_date, day.isoformat())
    what = f"GET nba/v1/box_scores?date={day}"
    return with_deadline(lambda: _sdk_call(call), timeout, what).data


def _minutes(text: str | None) -> float:
    """Minutes from balldontlie's ``min``: ``"34"``, ``"34:12"`` or empty."""
    if not text:
        return 0.0
    whole, _, seconds = text.partition(":")
    return round(int(whole or 0) + int(seconds or 0) / 60, 1)


def _int(value: float | None) -> int:
    return int(value or 0)


def box_score_rows(
    day: dt.date, games: Sequence[Mapping[str, Any]], box_scores: Sequence[Any], at: dt.datetime
) -> list[tuple[Any, ...]]:
    """The table's rows from the date's games (raw JSON) and box scores (SDK models).

    A box score is matched to its game by (home, visitor) abbreviations; one the schedule
    does not list is not loaded. Players without minutes did not play and are left out, as
    the warehouse keeps only players who played.
    """
    ids = {
        (g["home_team"]["abbreviation"], g["visitor_team"]["abbreviation"]): f"{g['id']:010d}"
        for g in games
        if g.get("home_team") and g.get("visitor_team")
    }
    rows = []
    for box in box_scores:
        home, away = box.home_team, box.visitor_team
        game_id = ids.get((home.abbreviation, away.abbreviation)) if home and away else None
        if game_id is None:
            continue
        for team, opponent in ((home, away), (away, home)):
            for line in team.players or ():
                minutes = _minutes(line.min)
                if minutes <= 0 or line.player is None:
                    continue
                p = line.player
                row = {
                    "game_id": game_id,
                    "game_date": day,
                    "player_id": p.id,
                    "player_name": f"{p.first_name or ''} {p.last_name or ''}".strip(),
                    "team": team.abbreviation,
                    "opponent": opponent.abbreviation,
                    "minutes": minutes,
                    "points": _int(line.pts),
                    "rebounds": _int(line.reb),
                    "assists": _int(line.ast),
                    "fg_made": _int(line.fgm),
                    "fg_attempted": _int(line.fga),
                    "fg3_made": _int(line.fg3m),
                    "fg3_attempted": _int(line.fg3a),
                    "ft_made": _int(line.ftm),
                    "ft_attempted": _int(line.fta),
                    "scraped_at": at,
                }
                rows.append(tuple(row[c] for c in COLUMNS))
    return rows


def scrape_box_scores(
    game_date: dt.date,
    *,
    client: Any,
    warehouse: Warehouse,
    recorder: Recorder | None = None,
    alert: Callable[[Event], None] | None = None,
    sleep: Callable[[float], object] | None = None,
    clock: Callable[[], float] | None = None,
    budget: RetryBudget | None = None,
    policy: RetryPolicy = SEED_POLICY,
    rng: random.Random | None = None,
    timeout: float = 30.0,
    pipeline: str = "",
    phase: str | None = None,
) -> ScrapeResult:
    """Scrape one date's box scores from balldontlie and replace its partition.

    Args:
        game_date: the date to scrape.
        client: the SDK's ``BalldontlieAPI`` (see :func:`bdl_client`); its ``base_url``
            says which API is called.
        warehouse: where ``nba_raw.bdl_player_boxscores`` lives.
        recorder: keeps the retry events and ``boxscores_incomplete``.
        alert: called once per call whose every attempt failed.
        sleep: waits between attempts; default ``time.sleep``.
        clock: monotonic seconds for the events; default ``time.monotonic``.
        budget: a retry budget shared by every call to balldontlie.
        policy: attempts and waits; default the action plan's :data:`SEED_POLICY`.
        rng: the jitter's random source, for reproducible waits.
        timeout: seconds each HTTP request may take before it counts as failed.
        pipeline: the pipeline named in events.
        phase: the phase named in events (the step's).

    Returns:
        What was loaded. A date whose box scores lack some scheduled games is loaded with
        what there is, recorded as ``boxscores_incomplete`` and named in ``missing``.

    Raises:
        RetryExhausted: every attempt of a call failed on transient errors.
        RetryBudgetExceeded: the shared budget refused a retry.
        balldontlie.exceptions.BallDontLieException: a terminal error (bad key, 404, 400),
            after one attempt.
        WarehouseError: the partition could not be written.
    """
    day = game_date
    settings: dict[str, Any] = {
        "max_attempts": policy.max_attempts,
        "base_delay": policy.base_delay,
        "max_delay": policy.max_delay,
        "jitter": policy.jitter,
        "budget": budget,
        "sleep": sleep,
        "clock": clock,
        "rng": rng,
        "recorder": recorder,
        "alert": alert,
        "pipeline": pipeline,
        "phase": phase,
    }

    def gap(endpoint: str) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
        # What a final failure leaves missing, for the retry_exhausted event and its alert.
        iso = day.isoformat()
        found = {"source": "bdl", "table": TABLE, "date": iso, "key": f"{endpoint} {iso}"}
        return lambda args, kwargs: found

    games_page = retry(name="bdl.games", gap=gap("nba/v1/games"), **settings)(
        functools.partial(_games_page, client, day, timeout=timeout)
    )
    box_scores = retry(name="bdl.box_scores", gap=gap("nba/v1/box_scores"), **settings)(
        functools.partial(_box_scores, client, day, timeout=timeout)
    )

    games: list[Mapping[str, Any]] = []
    cursor: int | None = None
    while True:
        page = games_page(cursor)
        games += page["data"]
        cursor = (page.get("meta") or {}).get("next_cursor")
        if not cursor:
            break
    scraped_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = box_score_rows(day, games, box_scores(), scraped_at)
    warehouse.replace_partition(TABLE, "game_date", day, COLUMNS, rows)

    loaded = {r[COLUMNS.index("game_id")] for r in rows}
    missing = tuple(sorted({f"{g['id']:010d}" for g in games} - loaded))
    result = ScrapeResult(day, len(games), len(loaded), len(rows), missing)
    if missing and recorder is not None:
        message = f"bdl box scores for {day}: {len(missing)} of {len(games)} games missing"
        details = {"source": "bdl", "table": TABLE, "missing": list(missing)}
        recorder.record(
            Event("boxscores_incomplete", "warning", message, pipeline, date=day, details=details)
        )
    return result
