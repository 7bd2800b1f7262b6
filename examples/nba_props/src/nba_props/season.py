"""The SQL that builds one synthetic NBA season, phases 2 to 6, with seeded faults.

:func:`season_plan` returns plain DuckDB statements (the warehouse module runs them) that
create the five schemas, the thirteen tables and the teams list of :mod:`~nba_props.schema`,
and fill them for the 2025-26 regular season: 30 teams, 1,230 games (:mod:`~nba_props.schedule`).
The schedule is drawn in Python from the seed and inserted as ``VALUES``; every other row is
computed in SQL (:mod:`~nba_props.season_sql`); the faults of
:mod:`~nba_props.faults` are injected on their dates (``faults=False`` leaves every date
whole).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from phaseguard.errors import UsageError

from .faults import Fault, choose_injection, describe_faults
from .schedule import SEASON, Game, schedule
from .schema import TEAM_ROWS, TEAMS_TABLE, create_statements
from .season_sql import SeasonSql

__all__ = ["SeasonPlan", "season_plan"]


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
        faults: Inject the faults listed in :mod:`nba_props.faults`; off, every date is whole.

    Returns:
        The plan; run ``statements`` in order on one DuckDB database.

    Raises:
        UsageError: ``scale`` is not between 1 and 10,000.
    """
    if not 1 <= scale <= 10_000:
        raise UsageError(f"scale must be between 1 and 10000, not {scale}")
    games = schedule(seed)
    injection = choose_injection(games, seed) if faults else None
    sql = SeasonSql(seed, scale, injection)
    statements = [
        *create_statements(),
        _insert_teams(),
        *_insert_schedule(games),
        *sql.statements(),
    ]
    days = sorted({g.game_date for g in games})
    return SeasonPlan(
        statements=tuple(statements),
        faults=describe_faults(games, injection) if injection else (),
        first_date=days[0],
        last_date=days[-1],
        game_dates=len(days),
        games=len(games),
    )


def _insert_teams() -> str:
    rows = ", ".join(f"({i}, '{t}')" for i, t in TEAM_ROWS)
    return f"INSERT INTO {TEAMS_TABLE} VALUES {rows}"


def _insert_schedule(games: tuple[Game, ...]) -> list[str]:
    rows = [
        f"('{g.game_id}', DATE '{g.game_date}', {SEASON}, '{g.home}', '{g.away}')" for g in games
    ]
    return [
        "INSERT INTO nba_raw.nbac_schedule VALUES\n" + ",\n".join(rows[i : i + 300])
        for i in range(0, len(rows), 300)
    ]
