"""The SQL that builds one synthetic NBA season, phases 2 to 6, with seeded faults.

:func:`season_plan` returns plain DuckDB statements (the warehouse module runs them) that
create the four schemas, the twelve tables of :data:`SCHEMA`, and fill them for the 2025-26
regular season: 30 teams, 1,230 games from 2025-10-21 to 2026-04-12 (no games on Thanksgiving,
Christmas Eve, the All-Star break 2026-02-13 .. 02-18 and three seeded off-days). The schedule
is drawn in Python from the seed and inserted as ``VALUES``; every other row is computed in
SQL from ``hash(seed, ...)``, so a build is fast, parallel and repeatable: same seed, same
rows. ``scale`` multiplies the players (``scale`` copies of each 15-man roster, player_id
``copy * 10000 + team_index * 100 + k``); the schedule and the team tables do not grow.

The faults, as the team's action plan saw them (``faults=False`` leaves every date whole):

1. Partial box scores 2026-01-13 .. 01-18: 11-33 % of each date's games missing from
   ``bdl_player_boxscores``; the phase-3 summaries and the grading, computed from what was
   there, miss the same games; the pre-game tables are whole.
2. Scraper outage 2025-12-09: no box scores, so all three phase-3 tables are empty and nothing
   is graded; phase 4 and the predictions ran on their timers.
3. A phase-3 table missing: ``team_defense_game_summary`` on 2026-01-16 and
   ``upcoming_player_game_context`` on 2026-01-18 (phase 4 ran anyway).
4. Phase-4 outage 2026-01-20 .. 01-23: PDC, PSZA and PCF empty, only TDZA and MLFS present
   (2 of 5, a critical one missing); no predictions on 01-21, three systems on the others.
5. PSZA alone missing on 2025-11-14: 4 of 5 with both critical processors, a tolerable gap.
6. Missing prediction systems: four seeded dates with only 3 or 4 of the 5 ``system_id``.
7. Thin phase 3 on 2025-12-30: ``player_game_summary`` keeps about 3 rows per game.
8. Partial grading: five seeded dates 76-84 % graded, two 55-68 %, the last two game dates
   not graded yet.
9. Poor predictions: one seeded date with MAE about 7, one above 8 (normal dates 4.5-5.5).

The seeded dates come from :class:`Fault` entries, which the demo prints.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from phaseguard.errors import UsageError

__all__ = ["SCHEMA", "SYSTEMS", "TEAMS", "Fault", "Game", "SeasonPlan", "schedule", "season_plan"]

FIRST_DATE = date(2025, 10, 21)
LAST_DATE = date(2026, 4, 12)
SEASON = 2025
_TRICODES = (
    "ATL BOS BKN CHA CHI CLE DAL DEN DET GSW HOU IND LAC LAL MEM "
    "MIA MIL MIN NOP NYK OKC ORL PHI PHX POR SAC SAS TOR UTA WAS"
)
TEAMS: tuple[str, ...] = tuple(_TRICODES.split())
SYSTEMS = ("season_avg", "last5_avg", "opponent_adjusted", "home_away_split", "ensemble")
_GAMES_PER_TEAM = 82
_ROSTER = 15
_BUILD = "phaseguard_build"  # scratch schema for helper tables, dropped at the end

_OFF_DAYS = frozenset(
    [date(2025, 11, 27), date(2025, 12, 24)] + [date(2026, 2, d) for d in range(13, 19)]
)
_PARTIAL_BOX = tuple(date(2026, 1, d) for d in range(13, 19))
_SCRAPER_OUTAGE = date(2025, 12, 9)
_TDGS_MISSING = date(2026, 1, 16)
_CONTEXT_MISSING = date(2026, 1, 18)
_P4_OUTAGE = tuple(date(2026, 1, d) for d in range(20, 24))
_NO_PREDICTIONS = date(2026, 1, 21)
_OUTAGE_SYSTEMS = ("season_avg", "last5_avg", "home_away_split")
_PSZA_GAP = date(2025, 11, 14)
_THIN = date(2025, 12, 30)
_FIXED_FAULT_DATES = frozenset(
    (*_PARTIAL_BOX, _SCRAPER_OUTAGE, *_P4_OUTAGE, _PSZA_GAP, _THIN, FIRST_DATE, LAST_DATE)
)
# Weekday weights (Mon..Sun): the league stacks Wednesdays, Fridays and Saturdays.
_WEEKDAY = (1.0, 0.85, 1.25, 0.6, 1.25, 1.1, 0.9)

_COLUMNS = {
    "nba_raw.nbac_schedule": (
        "game_id VARCHAR, game_date DATE, season INTEGER, home_team VARCHAR, away_team VARCHAR"
    ),
    "nba_raw.bdl_player_boxscores": (
        "game_id VARCHAR, game_date DATE, player_id INTEGER, player_name VARCHAR, "
        "team VARCHAR, opponent VARCHAR, minutes DOUBLE, points INTEGER, rebounds INTEGER, "
        "assists INTEGER, fg_made INTEGER, fg_attempted INTEGER, fg3_made INTEGER, "
        "fg3_attempted INTEGER, ft_made INTEGER, ft_attempted INTEGER, scraped_at TIMESTAMP"
    ),
    "nba_analytics.player_game_summary": (
        "game_id VARCHAR, game_date DATE, player_id INTEGER, team VARCHAR, opponent VARCHAR, "
        "is_home BOOLEAN, minutes DOUBLE, points INTEGER, rebounds INTEGER, assists INTEGER, "
        "fg_pct DOUBLE, processed_at TIMESTAMP"
    ),
    "nba_analytics.team_defense_game_summary": (
        "game_id VARCHAR, game_date DATE, team VARCHAR, opponent VARCHAR, "
        "points_allowed INTEGER, processed_at TIMESTAMP"
    ),
    "nba_analytics.upcoming_player_game_context": (
        "game_id VARCHAR, game_date DATE, player_id INTEGER, team VARCHAR, opponent VARCHAR, "
        "is_home BOOLEAN, days_rest INTEGER, processed_at TIMESTAMP"
    ),
    "nba_precompute.player_daily_cache": (
        "cache_date DATE, player_id INTEGER, team VARCHAR, games_played INTEGER, "
        "points_avg_season DOUBLE, points_avg_last5 DOUBLE, minutes_avg DOUBLE, "
        "processed_at TIMESTAMP"
    ),
    "nba_precompute.player_shot_zone_analysis": (
        "analysis_date DATE, player_id INTEGER, paint_rate DOUBLE, mid_rate DOUBLE, "
        "three_rate DOUBLE, processed_at TIMESTAMP"
    ),
    "nba_precompute.player_composite_factors": (
        "game_date DATE, game_id VARCHAR, player_id INTEGER, fatigue_score DOUBLE, "
        "matchup_score DOUBLE, home_away_adj DOUBLE, processed_at TIMESTAMP"
    ),
    "nba_precompute.team_defense_zone_analysis": (
        "analysis_date DATE, team VARCHAR, paint_allowed_rate DOUBLE, "
        "three_allowed_rate DOUBLE, def_rating DOUBLE, processed_at TIMESTAMP"
    ),
    "nba_predictions.ml_feature_store_v2": (
        "game_date DATE, game_id VARCHAR, player_id INTEGER, points_avg_last5 DOUBLE, "
        "points_avg_season DOUBLE, opp_def_rating DOUBLE, is_home BOOLEAN, days_rest INTEGER, "
        "processed_at TIMESTAMP"
    ),
    "nba_predictions.player_prop_predictions": (
        "game_date DATE, game_id VARCHAR, player_id INTEGER, system_id VARCHAR, "
        "predicted_points DOUBLE, line DOUBLE, recommendation VARCHAR, created_at TIMESTAMP"
    ),
    "nba_predictions.prediction_grades": (
        "game_date DATE, game_id VARCHAR, player_id INTEGER, system_id VARCHAR, "
        "predicted_points DOUBLE, actual_points INTEGER, line DOUBLE, absolute_error DOUBLE, "
        "over_under_correct BOOLEAN, graded_at TIMESTAMP"
    ),
}
SCHEMA: dict[str, dict[str, str]] = {
    table: dict(pair.split(" ") for pair in columns.split(", "))
    for table, columns in _COLUMNS.items()
}
"""Qualified table -> {column: SQL type}, in column order: the twelve tables of the season."""


@dataclass(frozen=True)
class Fault:
    """One injected incident: what kind, in which table, on which dates, told for a human."""

    kind: str
    table: str
    dates: tuple[date, ...]
    detail: str


@dataclass(frozen=True)
class SeasonPlan:
    """The statements that build the season, and what they inject."""

    statements: tuple[str, ...]
    faults: tuple[Fault, ...]
    first_date: date
    last_date: date
    game_dates: int
    games: int


def season_plan(*, scale: int = 1, seed: int = 7, faults: bool = True) -> SeasonPlan:
    """Plan the build of one season: schema, schedule, phases 2 to 6, then the faults.

    Args:
        scale: Copies of every roster; rows per game and per date grow with it.
        seed: Draws the schedule, the players, their points and the seeded fault dates.
        faults: Inject the faults listed in the module docstring; off, every date is whole.

    Returns:
        The plan; run ``statements`` in order on one DuckDB database.

    Raises:
        UsageError: ``scale`` is not between 1 and 10,000.
    """
    if not 1 <= scale <= 10_000:
        raise UsageError(f"scale must be between 1 and 10000, not {scale}")
    games = schedule(seed)
    injection = _choose(games, seed) if faults else None
    sql = _Sql(seed, scale, injection)
    statements = [*_create(), *_insert_schedule(games), *sql.statements()]
    days = sorted({g.game_date for g in games})
    return SeasonPlan(
        statements=tuple(statements),
        faults=_describe(games, injection) if injection else (),
        first_date=days[0],
        last_date=days[-1],
        game_dates=len(days),
        games=len(games),
    )


# --- the schedule -------------------------------------------------------------------------


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
    free = [d for d in days if d not in _OFF_DAYS and d not in _FIXED_FAULT_DATES]
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
    lows = [6 if d in _PARTIAL_BOX else 1 for d in days]
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
    ok = all(placed[d] for d in days) and all(len(placed[d]) >= 6 for d in _PARTIAL_BOX)
    return placed if ok else None


def _teams(games: list[tuple[int, int]]) -> set[int]:
    return {t for g in games for t in g}


def _insert_schedule(games: tuple[Game, ...]) -> list[str]:
    rows = [
        f"('{g.game_id}', DATE '{g.game_date}', {SEASON}, '{g.home}', '{g.away}')" for g in games
    ]
    return [
        "INSERT INTO nba_raw.nbac_schedule VALUES\n" + ",\n".join(rows[i : i + 300])
        for i in range(0, len(rows), 300)
    ]


def _create() -> list[str]:
    schemas = sorted({name.split(".")[0] for name in SCHEMA})
    tables = [
        f"CREATE OR REPLACE TABLE {name} ("
        + ", ".join(f"{col} {kind}" for col, kind in columns.items())
        + ")"
        for name, columns in SCHEMA.items()
    ]
    return [
        f"DROP SCHEMA IF EXISTS {_BUILD} CASCADE",
        *(f"CREATE SCHEMA IF NOT EXISTS {s}" for s in [*schemas, _BUILD]),
        *tables,
    ]


# --- the faults ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Injection:
    """The seeded half of the faults; the fixed dates are module constants."""

    missing_games: dict[date, tuple[str, ...]]
    dropped_systems: dict[date, tuple[str, ...]]
    graded_share: dict[date, float]
    ungraded: tuple[date, ...]
    poor: dict[date, tuple[float, float]]  # date -> (noise multiplier, expected MAE)


def _choose(games: tuple[Game, ...], seed: int) -> _Injection:
    rng = random.Random(f"faults-{seed}")
    by_date: dict[date, list[str]] = {}
    for g in games:
        by_date.setdefault(g.game_date, []).append(g.game_id)
    missing = {}
    for day in _PARTIAL_BOX:
        ids = by_date[day]
        low, high = max(1, -(-len(ids) * 11 // 100)), max(1, len(ids) * 33 // 100)
        missing[day] = tuple(sorted(rng.sample(ids, rng.randint(low, high))))
    days = sorted(by_date)
    # Seeded faults stay off the first weeks (bootstrap), the ungraded tail and the fixed dates.
    candidates = [d for d in days[14:-2] if d not in _FIXED_FAULT_DATES]
    picks = rng.sample(candidates, 13)
    return _Injection(
        missing_games=missing,
        dropped_systems={
            d: tuple(sorted(rng.sample(SYSTEMS, rng.choice((1, 2))))) for d in sorted(picks[:4])
        },
        graded_share={d: round(rng.uniform(0.76, 0.84), 2) for d in sorted(picks[4:9])}
        | {d: round(rng.uniform(0.55, 0.68), 2) for d in sorted(picks[9:11])},
        ungraded=tuple(days[-2:]),
        poor={picks[11]: (2.1, 7.0), picks[12]: (3.1, 9.0)},
    )


def _describe(games: tuple[Game, ...], inj: _Injection) -> tuple[Fault, ...]:
    per_date = {d: sum(g.game_date == d for g in games) for d in _PARTIAL_BOX}
    gaps = ", ".join(f"{d:%m-%d} {len(ids)}/{per_date[d]}" for d, ids in inj.missing_games.items())
    low = {d: s for d, s in inj.graded_share.items() if s < 0.7}
    partial = {d: s for d, s in inj.graded_share.items() if s >= 0.7}
    dropped = "; ".join(f"{d}: no {', '.join(s)}" for d, s in inj.dropped_systems.items())
    return (
        Fault("partial_boxscores", "nba_raw.bdl_player_boxscores", _PARTIAL_BOX,
              f"games missing (missing/scheduled): {gaps}; phase 3 and grading lack the same "
              "games, the pre-game tables are whole"),
        Fault("scraper_outage", "nba_raw.bdl_player_boxscores", (_SCRAPER_OUTAGE,),
              "no box scores at all; the three phase-3 tables are empty and nothing is graded; "
              "phase 4 and the predictions ran on their timers"),
        Fault("phase3_table_missing", "nba_analytics.team_defense_game_summary",
              (_TDGS_MISSING,), "empty while the other phase-3 tables have rows"),
        Fault("phase3_table_missing", "nba_analytics.upcoming_player_game_context",
              (_CONTEXT_MISSING,), "empty while the other phase-3 tables have rows"),
        Fault("phase4_outage", "nba_precompute.player_daily_cache", _P4_OUTAGE,
              "player_daily_cache, player_shot_zone_analysis and player_composite_factors "
              "empty: 2 of 5 processors (TDZA, MLFS), critical PDC missing"),
        Fault("predictions_partial", "nba_predictions.player_prop_predictions", _P4_OUTAGE,
              f"no predictions on {_NO_PREDICTIONS}; only {', '.join(_OUTAGE_SYSTEMS)} on "
              "the other outage dates"),
        Fault("phase4_processor_gap", "nba_precompute.player_shot_zone_analysis",
              (_PSZA_GAP,), "only PSZA empty: 4 of 5 processors with PDC and MLFS"),
        Fault("missing_systems", "nba_predictions.player_prop_predictions",
              tuple(inj.dropped_systems), dropped),
        Fault("thin_phase3", "nba_analytics.player_game_summary", (_THIN,),
              "about 3 player rows per game instead of about 26"),
        Fault("partial_grading", "nba_predictions.prediction_grades", tuple(partial),
              "graded share: " + ", ".join(f"{d} {s:.0%}" for d, s in partial.items())),
        Fault("low_grading", "nba_predictions.prediction_grades", tuple(low),
              "graded share: " + ", ".join(f"{d} {s:.0%}" for d, s in low.items())),
        Fault("not_graded", "nba_predictions.prediction_grades", inj.ungraded,
              "the last game dates are not graded yet"),
        *(Fault("poor_predictions", "nba_predictions.prediction_grades", (d,),
                f"all systems far off: MAE about {mae:.0f}")
          for d, (_, mae) in inj.poor.items()),
    )  # fmt: skip


# --- the SQL ------------------------------------------------------------------------------

_FIRST_NAMES = (  # picked in SQL with string_split
    "James Marcus Jalen Tyrese Darius Malik Devin Jordan Anthony Isaiah Kevin Luka Nikola "
    "Jaylen Trae Paolo Scottie Evan Cade Franz Zion Dejounte Mikal Bam Jarrett Domantas "
    "Alperen Victor Chet Shai Donovan Desmond Keegan Tyler Kyle Bennedict Josh Aaron Cam"
)
_LAST_NAMES = (
    "Walker Johnson Brooks Harris Mitchell Green Williams Brown Holiday Murray Allen Porter "
    "Young Barnes Mobley Wagner Banchero Mills Daniels Bridges Adebayo Allen Sabonis Sengun "
    "Wembanyama Holmgren Gilgeous Bane Monk Ellis Thompson Hayes Lowry Collins Grant Jackson "
    "Turner Reed Fox Cole Simmons Parker Hunter Wright Bailey Carter Rivera Price Hughes"
)
# Scoring means by depth chart slot 1..15: a star, starters, rotation, end of the bench.
_MEANS = (21, 17, 15, 13, 11, 9.5, 8.5, 7.5, 6.5, 5.5, 5, 4.5, 4, 3, 2.5)


def _sql_list(items: tuple[object, ...] | list[str]) -> str:
    return "[" + ", ".join(f"'{x}'" if isinstance(x, str) else str(x) for x in items) + "]"


def _dates(days: tuple[date, ...] | list[date]) -> str:
    return ", ".join(f"DATE '{d}'" for d in days)


class _Sql:
    """The phase 2 to 6 statements; every random number is ``hash(seed, tag, keys...)``."""

    def __init__(self, seed: int, scale: int, injection: _Injection | None) -> None:
        self.seed = seed
        self.scale = scale
        self.inj = injection

    def h(self, tag: int, *keys: str) -> str:
        """A 64-bit hash of the seed, the tag and the row's keys.

        DuckDB's ``hash(a, b, ...)`` combines the arguments' hashes so cheaply that draws
        sharing a key come out correlated (a whole team scoring high in one game: team totals
        spread 2.5 times too wide); hashing the combined value once more removes that.
        """
        return f"hash(hash({self.seed}, {tag}, {', '.join(keys)}))"

    def u(self, tag: int, *keys: str) -> str:
        """A uniform draw in (0, 1), fixed by the seed, the tag and the row's keys."""
        return f"(({self.h(tag, *keys)} % 16777216) + 0.5) / 16777216.0"

    def z(self, tag: int, *keys: str) -> str:
        """A standard normal draw (Box-Muller on two uniform draws); uses ``tag`` and tag + 1."""
        return f"(sqrt(-2 * ln({self.u(tag, *keys)})) * cos(2 * pi() * {self.u(tag + 1, *keys)}))"

    def at(self, day: str, hours: float, tag: int, *keys: str) -> str:
        """A timestamp ``hours`` after midnight of ``day``, plus up to 30 minutes of jitter."""
        seconds = f"{round(hours * 3600)} + {self.h(tag, *keys)} % 1800"
        return f"CAST({day} AS TIMESTAMP) + to_seconds(CAST({seconds} AS BIGINT))"

    def averages(self, day: str, pid: str, mu: str, gp: str) -> tuple[str, str]:
        """Season and last-5 scoring averages of a player before ``day`` (PDC and MLFS agree)."""
        # The error of an average shrinks with the games behind it.
        noise = f"(2.5 + 0.2 * {mu}) * {{}} / sqrt({{}} + 1)"
        season = noise.format(self.z(40, day, pid), f"{gp} + 1")
        last5 = noise.format(self.z(42, day, pid), f"least({gp}, 5)")
        return f"round(greatest(0, {mu} + {season}), 1)", f"round(greatest(0, {mu} + {last5}), 1)"

    def def_rating(self, day: str, team_idx: str, def_z: str) -> str:
        """A team's defensive rating on ``day`` (TDZA and MLFS agree)."""
        return f"round(112 - 3 * {def_z} + 1.5 * {self.z(44, day, team_idx)}, 1)"

    def statements(self) -> list[str]:
        return [
            *self.helpers(),
            *self.phase2(),
            *self.phase3(),
            *self.phase4(),
            *self.phase5(),
            *self.phase6(),
            f"DROP SCHEMA {_BUILD} CASCADE",
        ]

    def helpers(self) -> list[str]:
        b, teams = _BUILD, ", ".join(f"({i}, '{t}')" for i, t in enumerate(TEAMS, start=1))
        first, last = (
            f"list_extract(string_split('{names}', ' '), CAST(1 + {self.h(tag, 'player_id')}"
            f" % {len(names.split())} AS INTEGER))"
            for tag, names in ((12, _FIRST_NAMES), (13, _LAST_NAMES))
        )
        return [
            f"CREATE TABLE {b}.teams AS SELECT team_idx, team, {self.z(10, 'team_idx')} AS def_z"
            f" FROM (VALUES {teams}) v(team_idx, team)",
            f"""CREATE TABLE {b}.roster AS
SELECT r.*,
  {first} || ' ' || {last} AS player_name,
  list_extract({_sql_list(_MEANS)}, k) * (0.8 + 0.4 * {self.u(14, "player_id")}) AS mu,
  CASE WHEN k <= 5 THEN 0.03 WHEN k <= 10 THEN 0.08 ELSE 0.25 END AS dnp_rate,
  0.25 + 0.35 * {self.u(16, "player_id")} AS paint,
  0.10 + 0.25 * {self.u(17, "player_id")} AS mid,
  0.15 + 0.40 * {self.u(18, "player_id")} AS three
FROM (SELECT t.team_idx, t.team, k.k, CAST(c.rep * 10000 + t.team_idx * 100 + k.k AS INTEGER)
        AS player_id
      FROM {b}.teams t CROSS JOIN range({self.scale}) c(rep)
      CROSS JOIN range(1, {_ROSTER + 1}) k(k)) r""",
            f"""CREATE TABLE {b}.team_games AS
WITH sides AS (
  SELECT game_id, game_date, home_team AS team, away_team AS opponent, TRUE AS is_home
  FROM nba_raw.nbac_schedule
  UNION ALL
  SELECT game_id, game_date, away_team, home_team, FALSE FROM nba_raw.nbac_schedule)
SELECT s.*, CAST(substr(s.game_id, 6) AS INTEGER) AS game_no, t.team_idx,
  o.team_idx AS opp_idx, o.def_z AS opp_def_z,
  CAST(coalesce(date_diff('day', lag(s.game_date) OVER (PARTITION BY s.team ORDER BY s.game_date),
                          s.game_date) - 1, 3) AS INTEGER) AS days_rest
FROM sides s JOIN {b}.teams t ON t.team = s.team JOIN {b}.teams o ON o.team = s.opponent""",
            f"""CREATE TABLE {b}.team_dates AS
SELECT d.game_date, t.team_idx, t.team, t.def_z, count(g.game_id) AS games_before
FROM (SELECT DISTINCT game_date FROM nba_raw.nbac_schedule) d CROSS JOIN {b}.teams t
LEFT JOIN {b}.team_games g ON g.team_idx = t.team_idx AND g.game_date < d.game_date
GROUP BY ALL""",
            f"""CREATE TABLE {b}.player_games AS
SELECT g.game_id, g.game_no, g.game_date, g.team, g.opponent, g.opp_idx, g.opp_def_z, g.is_home,
  g.days_rest, td.games_before, r.player_id, r.player_name, r.mu, r.dnp_rate,
  r.mu + CASE WHEN g.is_home THEN 0.2 ELSE -0.2 END - 0.4 * g.opp_def_z AS expected,
  {self.u(30, "g.game_no", "r.player_id")} >= r.dnp_rate AS active
FROM {b}.team_games g JOIN {b}.roster r ON r.team_idx = g.team_idx
JOIN {b}.team_dates td ON td.game_date = g.game_date AND td.team_idx = g.team_idx""",
        ]

    def phase2(self) -> list[str]:
        b, key = _BUILD, ("game_no", "player_id")
        out = [
            f"""INSERT INTO nba_raw.bdl_player_boxscores BY NAME
WITH a AS (
  SELECT *,
    CAST(least(60, greatest(0, round(expected + (2.5 + 0.2 * mu) * {self.z(50, *key)})))
      AS INTEGER) AS points,
    {self.u(52, *key)} AS ua, {self.u(53, *key)} AS ub, {self.u(54, *key)} AS uc
  FROM {b}.player_games WHERE active),
b AS (SELECT *, CAST(floor(points * (0.05 + 0.3 * ua) / 3) AS INTEGER) AS fg3_made FROM a),
c AS (SELECT *, points - 3 * fg3_made AS rest FROM b),
d AS (SELECT *, CAST(rest % 2 + 2 * floor(rest * 0.2 * ub / 2) AS INTEGER) AS ft_made FROM c),
e AS (SELECT *, (rest - ft_made) // 2 + fg3_made AS fg_made FROM d),
f AS (SELECT *, fg_made + CAST(floor(fg_made * (0.7 + 0.6 * uc) + 3 * uc) AS INTEGER)
        AS fg_attempted FROM e)
SELECT game_id, game_date, player_id, player_name, team, opponent,
  round(least(44, greatest(1, 6 + 1.25 * mu + 3 * {self.z(56, *key)})), 1) AS minutes,
  points,
  CAST(greatest(0, round(1 + 0.3 * mu + 2 * {self.z(58, *key)})) AS INTEGER) AS rebounds,
  CAST(greatest(0, round(0.5 + 0.2 * mu + 1.5 * {self.z(60, *key)})) AS INTEGER) AS assists,
  fg_made, fg_attempted, fg3_made,
  least(fg_attempted, fg3_made + CAST(floor(fg3_made * 1.7 + 1.2 * ua) AS INTEGER))
    AS fg3_attempted,
  ft_made, ft_made + CAST(floor(ft_made * 0.5 * ub + 0.4) AS INTEGER) AS ft_attempted,
  {self.at("game_date", 26, 62, *key)} AS scraped_at
FROM f"""
        ]
        if self.inj:
            gone = ", ".join(f"'{g}'" for ids in self.inj.missing_games.values() for g in ids)
            out += [
                f"DELETE FROM nba_raw.bdl_player_boxscores WHERE game_id IN ({gone})",
                "DELETE FROM nba_raw.bdl_player_boxscores "
                f"WHERE game_date = DATE '{_SCRAPER_OUTAGE}'",
            ]
        return out

    def phase3(self) -> list[str]:
        b = _BUILD
        out = [
            f"""INSERT INTO nba_analytics.player_game_summary BY NAME
SELECT x.game_id, x.game_date, x.player_id, x.team, x.opponent, x.team = s.home_team AS is_home,
  x.minutes, x.points, x.rebounds, x.assists,
  CASE WHEN x.fg_attempted > 0 THEN round(x.fg_made / x.fg_attempted, 3) END AS fg_pct,
  {self.at("x.game_date", 28, 64, "x.game_id", "x.player_id")} AS processed_at
FROM nba_raw.bdl_player_boxscores x JOIN nba_raw.nbac_schedule s ON s.game_id = x.game_id""",
            f"""INSERT INTO nba_analytics.team_defense_game_summary BY NAME
SELECT *, {self.at("game_date", 28.5, 66, "game_id", "team")} AS processed_at
FROM (SELECT game_id, game_date, opponent AS team, team AS opponent,
        CAST(round(sum(points) / {self.scale}) AS INTEGER) AS points_allowed
      FROM nba_raw.bdl_player_boxscores GROUP BY ALL)""",
            f"""INSERT INTO nba_analytics.upcoming_player_game_context BY NAME
SELECT game_id, game_date, player_id, team, opponent, is_home, days_rest,
  {self.at("game_date", 5, 68, "game_no", "player_id")} AS processed_at
FROM {b}.player_games""",
        ]
        if self.inj:
            out += [
                "DELETE FROM nba_analytics.player_game_summary "
                f"WHERE game_date = DATE '{_THIN}' "
                f"AND {self.u(70, 'game_id', 'player_id')} >= 0.115",
                "DELETE FROM nba_analytics.team_defense_game_summary "
                f"WHERE game_date = DATE '{_TDGS_MISSING}'",
                "DELETE FROM nba_analytics.upcoming_player_game_context "
                f"WHERE game_date IN ({_dates([_SCRAPER_OUTAGE, _CONTEXT_MISSING])})",
            ]
        return out

    def phase4(self) -> list[str]:
        b = _BUILD
        gp = "CAST(floor(games_before * (1 - dnp_rate)) AS INTEGER)"
        pdc_season, pdc_last5 = self.averages("game_date", "player_id", "mu", "gp")
        season, last5 = self.averages("game_date", "player_id", "mu", gp)
        rates = [f"{col} * (0.85 + 0.3 * {self.u(72 + i, 'game_date', 'player_id')})"
                 for i, col in enumerate(("paint", "mid", "three"))]  # fmt: skip
        total = " + ".join(f"({r})" for r in rates)
        out = [
            f"""INSERT INTO nba_precompute.player_daily_cache BY NAME
SELECT game_date AS cache_date, player_id, team, gp AS games_played,
  {pdc_season} AS points_avg_season, {pdc_last5} AS points_avg_last5,
  round(6 + 1.25 * mu + 1.5 * {self.z(46, "game_date", "player_id")} / sqrt(gp + 1), 1)
    AS minutes_avg,
  {self.at("game_date", 6, 76, "game_date", "player_id")} AS processed_at
FROM (SELECT td.game_date, td.games_before, r.*, {gp} AS gp
      FROM {b}.team_dates td JOIN {b}.roster r ON r.team_idx = td.team_idx)""",
            f"""INSERT INTO nba_precompute.player_shot_zone_analysis BY NAME
SELECT td.game_date AS analysis_date, r.player_id,
  round(({rates[0]}) / ({total}), 3) AS paint_rate,
  round(({rates[1]}) / ({total}), 3) AS mid_rate,
  round(({rates[2]}) / ({total}), 3) AS three_rate,
  {self.at("td.game_date", 6.5, 78, "td.game_date", "player_id")} AS processed_at
FROM {b}.team_dates td JOIN {b}.roster r ON r.team_idx = td.team_idx""",
            f"""INSERT INTO nba_precompute.player_composite_factors BY NAME
SELECT game_date, game_id, player_id,
  round(least(100, greatest(0,
    70 - 15 * least(days_rest, 3) + 10 * {self.z(80, "game_no", "player_id")})), 1)
    AS fatigue_score,
  round(50 - 10 * opp_def_z + 8 * {self.z(82, "game_no", "player_id")}, 1) AS matchup_score,
  round(CASE WHEN is_home THEN 0.5 ELSE -0.5 END + 0.3 * {self.z(84, "game_no", "player_id")}, 2)
    AS home_away_adj,
  {self.at("game_date", 6.75, 86, "game_no", "player_id")} AS processed_at
FROM {b}.player_games""",
            f"""INSERT INTO nba_precompute.team_defense_zone_analysis BY NAME
SELECT game_date AS analysis_date, team,
  round(0.42 + 0.04 * {self.z(88, "game_date", "team_idx")}, 3) AS paint_allowed_rate,
  round(0.37 + 0.03 * {self.z(90, "game_date", "team_idx")}, 3) AS three_allowed_rate,
  {self.def_rating("game_date", "team_idx", "def_z")} AS def_rating,
  {self.at("game_date", 6.25, 92, "game_date", "team_idx")} AS processed_at
FROM {b}.team_dates""",
            f"""INSERT INTO nba_predictions.ml_feature_store_v2 BY NAME
SELECT game_date, game_id, player_id, {last5} AS points_avg_last5,
  {season} AS points_avg_season,
  {self.def_rating("game_date", "opp_idx", "opp_def_z")} AS opp_def_rating, is_home, days_rest,
  {self.at("game_date", 7, 94, "game_no", "player_id")} AS processed_at
FROM {b}.player_games""",
        ]
        if self.inj:
            outage = f"BETWEEN DATE '{_P4_OUTAGE[0]}' AND DATE '{_P4_OUTAGE[-1]}'"
            out += [
                f"DELETE FROM nba_precompute.player_daily_cache WHERE cache_date {outage}",
                "DELETE FROM nba_precompute.player_shot_zone_analysis "
                f"WHERE analysis_date {outage} OR analysis_date = DATE '{_PSZA_GAP}'",
                f"DELETE FROM nba_precompute.player_composite_factors WHERE game_date {outage}",
            ]
        return out

    def phase5(self) -> list[str]:
        systems = ", ".join(
            f"({n}, '{s}', {sd}, {home}, {opp})"
            for n, (s, sd, home, opp) in enumerate(
                zip(
                    SYSTEMS,
                    (4.4, 5.0, 4.4, 4.6, 4.0),
                    (0, 0, 0, 1, 1),
                    (0, 0, 1, 0, 1),
                    strict=True,
                ),
                start=1,
            )
        )
        poor = (self.inj.poor if self.inj else {}).items()
        noise = " ".join(f"WHEN DATE '{d}' THEN {m}" for d, (m, _) in poor)
        noise = f"CASE pg.game_date {noise} ELSE 1.0 END" if noise else "1.0"
        key = ("pg.game_no", "pg.player_id")
        out = [
            f"""INSERT INTO nba_predictions.player_prop_predictions BY NAME
WITH s(sys_no, system_id, sd, home_w, opp_w) AS (VALUES {systems}),
p AS (
  SELECT pg.game_date, pg.game_id, pg.game_no, pg.player_id, s.system_id,
    round(greatest(0, pg.mu + s.home_w * CASE WHEN pg.is_home THEN 0.2 ELSE -0.2 END
      - s.opp_w * 0.4 * pg.opp_def_z + s.sd * {noise} * {self.z(100, *key, "s.sys_no")}), 1)
      AS predicted_points,
    greatest(0, floor(pg.mu + 1.2 * {self.z(102, *key)})) + 0.5 AS line,
    {self.at("pg.game_date", 9, 104, *key, "s.sys_no")} AS created_at
  FROM {_BUILD}.player_games pg CROSS JOIN s WHERE pg.active)
SELECT game_date, game_id, player_id, system_id, predicted_points, line,
  CASE WHEN predicted_points - line >= 1 THEN 'OVER'
       WHEN predicted_points - line <= -1 THEN 'UNDER' ELSE 'PASS' END AS recommendation,
  created_at
FROM p"""
        ]
        if self.inj:
            kept = _sql_list(list(_OUTAGE_SYSTEMS))
            dropped = " OR ".join(
                f"(game_date = DATE '{d}' AND list_contains({_sql_list(list(s))}, system_id))"
                for d, s in self.inj.dropped_systems.items()
            )
            out += [
                "DELETE FROM nba_predictions.player_prop_predictions "
                f"WHERE game_date = DATE '{_NO_PREDICTIONS}' OR (game_date BETWEEN "
                f"DATE '{_P4_OUTAGE[0]}' AND DATE '{_P4_OUTAGE[-1]}' "
                f"AND NOT list_contains({kept}, system_id))",
                f"DELETE FROM nba_predictions.player_prop_predictions WHERE {dropped}",
            ]
        return out

    def phase6(self) -> list[str]:
        out = [
            f"""INSERT INTO nba_predictions.prediction_grades BY NAME
SELECT p.game_date, p.game_id, p.player_id, p.system_id, p.predicted_points,
  x.points AS actual_points, p.line, round(abs(p.predicted_points - x.points), 1) AS absolute_error,
  CASE p.recommendation WHEN 'OVER' THEN x.points > p.line WHEN 'UNDER' THEN x.points < p.line END
    AS over_under_correct,
  {self.at("p.game_date", 32, 106, "p.game_id", "p.player_id", "p.system_id")} AS graded_at
FROM nba_predictions.player_prop_predictions p
JOIN nba_raw.bdl_player_boxscores x ON x.game_id = p.game_id AND x.player_id = p.player_id"""
        ]
        if self.inj:
            draw = self.u(108, "game_id", "player_id", "system_id")
            partial = " OR ".join(
                f"(game_date = DATE '{d}' AND {draw} >= {share})"
                for d, share in self.inj.graded_share.items()
            )
            out += [
                f"DELETE FROM nba_predictions.prediction_grades WHERE {partial}",
                "DELETE FROM nba_predictions.prediction_grades "
                f"WHERE game_date IN ({_dates(self.inj.ungraded)})",
            ]
        return out
