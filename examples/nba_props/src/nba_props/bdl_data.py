"""The balldontlie API's answers for the demo season: pure, no HTTP (see ``bdl_server``).

:class:`SeasonApi` answers the paths the official ``balldontlie`` SDK (0.1.6) calls, in the
shapes its pydantic models parse: ``/nba/v1/games`` (``dates[]``, ``start_date``,
``end_date``, ``per_page``, ``cursor``), ``/nba/v1/games/{id}``, ``/nba/v1/stats``
(``dates[]``, ``game_ids[]``, ``per_page``, ``cursor``) and ``/nba/v1/box_scores?date=``.
Lists carry ``meta = {per_page, next_cursor}``; the cursor is the id of the last item sent
and is left out on the last page, as balldontlie does.

The games are the demo schedule of :mod:`nba_props.schedule` for the same seed: the same
dates, game ids (``int("0022500001")``, the warehouse id without its leading zeros) and teams,
so box-score coverage against ``nba_raw.nbac_schedule`` is measurable. The player lines are
drawn here in Python from the seed, with the warehouse rosters' player ids (team index * 100
+ depth slot); they are plausible, not equal to the SQL-built warehouse rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nba_props.schedule import SEASON, TEAMS, schedule

__all__ = ["Game", "SeasonApi", "season_games"]

_TEAM_INFO = (  # abbreviation|city|name|conference|division, in balldontlie's id order 1..30
    "ATL|Atlanta|Hawks|East|Southeast BOS|Boston|Celtics|East|Atlantic "
    "BKN|Brooklyn|Nets|East|Atlantic CHA|Charlotte|Hornets|East|Southeast "
    "CHI|Chicago|Bulls|East|Central CLE|Cleveland|Cavaliers|East|Central "
    "DAL|Dallas|Mavericks|West|Southwest DEN|Denver|Nuggets|West|Northwest "
    "DET|Detroit|Pistons|East|Central GSW|Golden_State|Warriors|West|Pacific "
    "HOU|Houston|Rockets|West|Southwest IND|Indiana|Pacers|East|Central "
    "LAC|LA|Clippers|West|Pacific LAL|Los_Angeles|Lakers|West|Pacific "
    "MEM|Memphis|Grizzlies|West|Southwest MIA|Miami|Heat|East|Southeast "
    "MIL|Milwaukee|Bucks|East|Central MIN|Minnesota|Timberwolves|West|Northwest "
    "NOP|New_Orleans|Pelicans|West|Southwest NYK|New_York|Knicks|East|Atlantic "
    "OKC|Oklahoma_City|Thunder|West|Northwest ORL|Orlando|Magic|East|Southeast "
    "PHI|Philadelphia|76ers|East|Atlantic PHX|Phoenix|Suns|West|Pacific "
    "POR|Portland|Trail_Blazers|West|Northwest SAC|Sacramento|Kings|West|Pacific "
    "SAS|San_Antonio|Spurs|West|Southwest TOR|Toronto|Raptors|East|Atlantic "
    "UTA|Utah|Jazz|West|Northwest WAS|Washington|Wizards|East|Southeast"
)
_FIRST = ("James", "Marcus", "Jalen", "Tyrese", "Darius", "Malik", "Devin", "Jordan", "Kevin")
_LAST = ("Walker", "Johnson", "Brooks", "Harris", "Mitchell", "Green", "Brown", "Murray", "Allen")
# Scoring means by depth-chart slot 1..15 and the share of games each slot sits out.
_MEANS = (21, 17, 15, 13, 11, 9.5, 8.5, 7.5, 6.5, 5.5, 5, 4.5, 4, 3, 2.5)
_DNP = (0.03,) * 5 + (0.08,) * 5 + (0.25,) * 5


def _teams() -> tuple[dict[str, Any], ...]:
    out = []
    for index, row in enumerate(_TEAM_INFO.split(), start=1):
        abbr, city, name, conference, division = row.replace("_", " ").split("|")
        out.append(
            {
                "id": index,
                "conference": conference,
                "division": division,
                "city": city,
                "name": name,
                "full_name": f"{city} {name}",
                "abbreviation": abbr,
            }
        )
    return tuple(out)


_TEAMS_JSON = _teams()
_TEAM_IDS = {abbr: i for i, abbr in enumerate(TEAMS, start=1)}


def _team_json(index: int) -> dict[str, Any]:
    return dict(_TEAMS_JSON[index - 1])


# --- the season -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Game:
    """One scheduled game of the demo season, as ``nba_raw.nbac_schedule`` holds it."""

    game_id: str
    game_date: dt.date
    home: str
    away: str

    @property
    def bdl_id(self) -> int:
        """The balldontlie id: the warehouse game id as an integer."""
        return int(self.game_id)


@functools.lru_cache(maxsize=4)
def season_games(seed: int = 7) -> dict[dt.date, tuple[Game, ...]]:
    """The demo schedule for ``seed`` by date, the same games ``season_plan(seed=...)`` inserts."""
    by_date: dict[dt.date, list[Game]] = {}
    for g in schedule(seed):
        by_date.setdefault(g.game_date, []).append(Game(g.game_id, g.game_date, g.home, g.away))
    return {day: tuple(games) for day, games in sorted(by_date.items())}


class SeasonApi:
    """The balldontlie API's answers for the demo season of one seed.

    Player lines are drawn once per game and cached; thread-safe.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.by_date = season_games(seed)
        self.by_id = {g.bdl_id: g for games in self.by_date.values() for g in games}
        self._lines: dict[int, dict[str, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def lines(self, game: Game) -> dict[str, list[dict[str, Any]]]:
        """Player lines of both teams: {"home": [...], "away": [...]} (box-score entries)."""
        with self._lock:
            if game.bdl_id not in self._lines:
                self._lines[game.bdl_id] = {
                    "home": self._draw(game, game.home),
                    "away": self._draw(game, game.away),
                }
            return self._lines[game.bdl_id]

    def _draw(self, game: Game, team: str) -> list[dict[str, Any]]:
        rng = random.Random(f"bdl-{self.seed}-{game.game_id}-{team}")
        out = []
        for k in range(1, 16):
            pid = _TEAM_IDS[team] * 100 + k
            if rng.random() < _DNP[k - 1]:
                continue
            talent = random.Random(f"player-{self.seed}-{pid}")
            mu = _MEANS[k - 1] * (0.8 + 0.4 * talent.random())
            ua, ub, uc = rng.random(), rng.random(), rng.random()
            pts = int(min(60, max(0, round(rng.gauss(mu, 2.5 + 0.2 * mu)))))
            fg3m = int(pts * (0.05 + 0.3 * ua) / 3)
            rest = pts - 3 * fg3m
            ftm = rest % 2 + 2 * int(rest * 0.2 * ub / 2)
            fgm = (rest - ftm) // 2 + fg3m
            fga = fgm + int(fgm * (0.7 + 0.6 * uc) + 3 * uc)
            seconds = round(60 * min(44.0, max(1.0, rng.gauss(6 + 1.25 * mu, 3))))
            out.append(
                {
                    "min": f"{seconds // 60}:{seconds % 60:02d}",
                    "pts": pts,
                    "fgm": fgm,
                    "fga": fga,
                    "fg3m": fg3m,
                    "fg3a": min(fga, fg3m + int(fg3m * 1.7 + 1.2 * ua)),
                    "ftm": ftm,
                    "fta": ftm + int(ftm * 0.5 * ub + 0.4),
                    "reb": max(0, round(rng.gauss(1 + 0.3 * mu, 2))),
                    "ast": max(0, round(rng.gauss(0.5 + 0.2 * mu, 1.5))),
                    "player": {
                        "id": pid,
                        "first_name": talent.choice(_FIRST),
                        "last_name": talent.choice(_LAST),
                        "position": "GFC"[k % 3],
                        "team_id": _TEAM_IDS[team],
                    },
                }
            )
        return out

    def game(self, game: Game, *, teams: bool = True) -> dict[str, Any]:
        """A game as ``/games`` serves it (teams nested) or as ``/stats`` nests it (team ids)."""
        lines = self.lines(game)
        out: dict[str, Any] = {
            "id": game.bdl_id,
            "date": game.game_date.isoformat(),
            "season": SEASON,
            "status": "Final",
            "period": 4,
            "time": "Final",
            "postseason": False,
            "home_team_score": sum(p["pts"] for p in lines["home"]),
            "visitor_team_score": sum(p["pts"] for p in lines["away"]),
        }
        home, away = _TEAM_IDS[game.home], _TEAM_IDS[game.away]
        if teams:
            return {**out, "home_team": _team_json(home), "visitor_team": _team_json(away)}
        return {**out, "home_team_id": home, "visitor_team_id": away}

    def box_score(self, game: Game) -> dict[str, Any]:
        """A game's box score as ``/box_scores`` serves it: both teams with their players."""
        lines, summary = self.lines(game), self.game(game)
        del summary["id"], summary["home_team"], summary["visitor_team"]
        return {
            **summary,
            "home_team": {**_team_json(_TEAM_IDS[game.home]), "players": lines["home"]},
            "visitor_team": {**_team_json(_TEAM_IDS[game.away]), "players": lines["away"]},
        }

    def stats(self, game: Game) -> list[dict[str, Any]]:
        """A game's player lines as ``/stats`` serves them, ids ascending."""
        summary = self.game(game, teams=False)
        out = []
        for side, team in (("home", game.home), ("away", game.away)):
            for line in self.lines(game)[side]:
                stat_id = game.bdl_id * 10_000 + line["player"]["id"]
                out.append(
                    {"id": stat_id, **line, "team": _team_json(_TEAM_IDS[team]), "game": summary}
                )
        return sorted(out, key=lambda s: int(s["id"]))

    def answer(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """The JSON body for ``GET path?query`` (query as ``parse_qs`` gives it).

        Raises:
            LookupError: an unknown path or game id (the server's 404).
            ValueError: a malformed or missing parameter (the server's 400).
        """
        if path == "/nba/v1/box_scores":
            day = _date(_one(query, "date", required=True))
            return {"data": [self.box_score(g) for g in self.by_date.get(day, ())]}
        if path.startswith("/nba/v1/games/"):
            return {"data": self.game(self.by_id[int(path.rsplit("/", 1)[1])])}
        first, last = _range(query)
        wanted = {_date(d) for d in query.get("dates[]", [])}
        games = [
            g
            for day, gs in self.by_date.items()
            if (not wanted or day in wanted) and first <= day <= last
            for g in gs
        ]
        if path == "/nba/v1/games":
            return _page([self.game(g) for g in games], query)
        if path == "/nba/v1/stats":
            ids = {int(x) for x in query.get("game_ids[]", [])}
            lines = [s for g in games if not ids or g.bdl_id in ids for s in self.stats(g)]
            return _page(lines, query)
        raise LookupError(path)


def _one(query: dict[str, list[str]], name: str, *, required: bool = False) -> str | None:
    values = query.get(name, [])
    if required and not values:
        raise ValueError(f"{name} is required")
    return values[-1] if values else None


def _date(text: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None


def _range(query: dict[str, list[str]]) -> tuple[dt.date, dt.date]:
    """The ``start_date``..``end_date`` range, open ends as far as the dates go."""
    start, end = _one(query, "start_date"), _one(query, "end_date")
    return (
        dt.date.min if start is None else _date(start),
        dt.date.max if end is None else _date(end),
    )


def _page(items: Sequence[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    """One cursor page: items whose id is above ``cursor``, at most ``per_page`` (max 100)."""
    per_page = min(100, max(1, int(_one(query, "per_page") or 25)))
    cursor = int(_one(query, "cursor") or 0)
    rest = sorted((i for i in items if int(i["id"]) > cursor), key=lambda i: int(i["id"]))
    page = rest[:per_page]
    meta: dict[str, Any] = {"per_page": per_page}
    if len(rest) > per_page:
        meta["next_cursor"] = page[-1]["id"]
    return {"data": page, "meta": meta}
