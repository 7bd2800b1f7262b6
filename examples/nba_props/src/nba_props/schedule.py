"""The calendar of the 2025-26 regular season: its dates, its 30 teams and its games.

:func:`schedule` draws 1,230 games from a seed (same seed, same schedule): every team 82,
never two on one date, back-to-backs avoided, from 2025-10-21 to 2026-04-12, with no games on
Thanksgiving, Christmas Eve, the All-Star break 2026-02-13 .. 02-18 and three seeded
off-days.

The fixed dates of the incidents of :mod:`nba_props.faults` are kept here, because the
draw works around them: none of them becomes an off-day, and every date of the partial box
scores gets at least 6 games.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from phaseguard.errors import UsageError

__all__ = [
    "ALL_STAR_BREAK",
    "CONTEXT_MISSING",
    "FIRST_DATE",
    "FIXED_FAULT_DATES",
    "LAST_DATE",
    "NO_PREDICTIONS",
    "P4_OUTAGE",
    "PARTIAL_BOX",
    "PSZA_GAP",
    "SCRAPER_OUTAGE",
    "SEASON",
    "TDGS_MISSING",
    "TEAMS",
    "THIN",
    "Game",
    "schedule",
]

FIRST_DATE = date(2025, 10, 21)
LAST_DATE = date(2026, 4, 12)
SEASON = 2025
_TRICODES = (
    "ATL BOS BKN CHA CHI CLE DAL DEN DET GSW HOU IND LAC LAL MEM "
    "MIA MIL MIN NOP NYK OKC ORL PHI PHX POR SAC SAS TOR UTA WAS"
)
TEAMS: tuple[str, ...] = tuple(_TRICODES.split())
_GAMES_PER_TEAM = 82

ALL_STAR_BREAK = tuple(date(2026, 2, d) for d in range(13, 19))
_OFF_DAYS = frozenset([date(2025, 11, 27), date(2025, 12, 24), *ALL_STAR_BREAK])
# Weekday weights (Mon..Sun): the league stacks Wednesdays, Fridays and Saturdays.
_WEEKDAY = (1.0, 0.85, 1.25, 0.6, 1.25, 1.1, 0.9)

# The fixed dates of the incidents (nba_props.faults tells them): game dates, always.
PARTIAL_BOX = tuple(date(2026, 1, d) for d in range(13, 19))
SCRAPER_OUTAGE = date(2025, 12, 9)
TDGS_MISSING = date(2026, 1, 16)
CONTEXT_MISSING = date(2026, 1, 18)
P4_OUTAGE = tuple(date(2026, 1, d) for d in range(20, 24))
NO_PREDICTIONS = date(2026, 1, 21)
PSZA_GAP = date(2025, 11, 14)
THIN = date(2025, 12, 30)
# Never a seeded off-day, never a seeded fault date.
FIXED_FAULT_DATES = frozenset(
    (*PARTIAL_BOX, SCRAPER_OUTAGE, *P4_OUTAGE, PSZA_GAP, THIN, FIRST_DATE, LAST_DATE)
)


@dataclass(frozen=True)
class Game:
    game_id: str
    game_date: date
    home: str
    away: str


def schedule(seed: int) -> tuple[Game, ...]:
    """Draw the season: every team 82 games, never twice a day, back-to-backs avoided."""
    for attempt in range(50):
        rng = random.Random(f"schedule-{seed}-{attempt}")
        days = _game_days(rng)
        placed = _place(days, _targets(rng, days), _matchups(rng))
        if placed is not None:
            ordered = [(day, g) for day in days for g in placed[day]]
            return tuple(
                Game(f"00225{n:05d}", day, TEAMS[home], TEAMS[away])
                for n, (day, (home, away)) in enumerate(ordered, start=1)
            )
    raise UsageError(f"no valid schedule for seed {seed}")  # pragma: no cover - never seen


def _game_days(rng: random.Random) -> list[date]:
    span = (LAST_DATE - FIRST_DATE).days + 1
    days = [FIRST_DATE + timedelta(days=i) for i in range(span)]
    free = [d for d in days if d not in _OFF_DAYS and d not in FIXED_FAULT_DATES]
    off = _OFF_DAYS | set(rng.sample(free, 3))
    return [d for d in days if d not in off]


def _matchups(rng: random.Random) -> list[tuple[int, int]]:
    """82 rounds of 15 games: the round robin (circle method) twice, 24 rounds a third time."""
    ring = list(range(len(TEAMS)))
    rounds = []
    for _ in range(len(TEAMS) - 1):
        rounds.append([(ring[i], ring[-1 - i]) for i in range(len(TEAMS) // 2)])
        ring = [ring[0], ring[-1], *ring[1:-1]]
    games = [g for r in rounds for g in r] + [(b, a) for r in rounds for a, b in r]
    homes = [len(TEAMS) - 1] * len(TEAMS)
    for r in rng.sample(range(len(rounds)), _GAMES_PER_TEAM - 2 * len(rounds)):
        for a, b in rounds[r]:
            # The third meeting goes to whoever has fewer home games, to stay near 41/41.
            home, away = (a, b) if (homes[a], rng.random()) < (homes[b], 0.5) else (b, a)
            homes[home] += 1
            games.append((home, away))
    rng.shuffle(games)
    return games


def _targets(rng: random.Random, days: list[date]) -> list[int]:
    """Games wanted per date: opening night 2, the last night all 15, weekday-weighted between."""
    total = len(TEAMS) * _GAMES_PER_TEAM // 2
    lows = [6 if d in PARTIAL_BOX else 1 for d in days]
    weights = [_WEEKDAY[d.weekday()] * rng.uniform(0.6, 1.4) for d in days]
    middle = sum(weights[1:-1])
    counts = [2] + [max(lo, min(15, round(w * (total - 17) / middle))) for lo, w in
                    zip(lows[1:-1], weights[1:-1], strict=True)] + [15]  # fmt: skip
    while (diff := total - sum(counts)) != 0:
        i = rng.randrange(1, len(days) - 1)
        step = 1 if diff > 0 else -1
        if lows[i] <= counts[i] + step <= 15:
            counts[i] += step
    return counts


def _place(
    days: list[date], targets: list[int], matchups: list[tuple[int, int]]
) -> dict[date, list[tuple[int, int]]] | None:
    """Fill the dates greedily: teams behind their share first, back-to-backs last."""
    left = [_GAMES_PER_TEAM] * len(TEAMS)
    last: list[date | None] = [None] * len(TEAMS)
    remaining = list(range(len(matchups)))
    placed: dict[date, list[tuple[int, int]]] = {d: [] for d in days}
    carry = 0
    for i, day in enumerate(days):
        want = min(15, targets[i] + carry)
        share = _GAMES_PER_TEAM * (len(days) - i) / len(days)
        yesterday = day - timedelta(days=1)
        scores = {
            n: 4 * ((last[a] == yesterday) + (last[b] == yesterday)) - left[a] - left[b] + 2 * share
            for n in remaining
            for a, b in [matchups[n]]
        }
        busy: set[int] = set()
        for n in sorted(remaining, key=scores.__getitem__):
            a, b = matchups[n]
            if len(placed[day]) == want:
                break
            if a not in busy and b not in busy:
                busy.update((a, b))
                placed[day].append((a, b))
                left[a], left[b], last[a], last[b] = left[a] - 1, left[b] - 1, day, day
                remaining.remove(n)
        carry = targets[i] + carry - len(placed[day])
    for n in remaining:  # the few the greedy pass could not fit: any date with room
        a, b = matchups[n]
        fits = [d for d in days if len(placed[d]) < 15 and not {a, b} & _teams(placed[d])]
        if not fits:
            return None
        placed[fits[-1]].append((a, b))
    ok = all(placed[d] for d in days) and all(len(placed[d]) >= 6 for d in PARTIAL_BOX)
    return placed if ok else None


def _teams(games: list[tuple[int, int]]) -> set[int]:
    return {t for g in games for t in g}
