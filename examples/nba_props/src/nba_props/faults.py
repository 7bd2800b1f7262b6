"""The faults injected into a season: one incident per kind, its table and its dates.

The faults, as the team's action plan saw them (``season_plan(faults=False)`` leaves every
date whole):

1. Partial box scores 2026-01-13 .. 01-18: 11-33 % of each date's games missing from
   ``bdl_player_boxscores`` (NBA.com's gamebook, ``nbac_gamebook_player_stats``, has them);
   the phase-3 summaries and the grading, computed from bdl alone as the old pipeline did,
   miss the same games; the pre-game tables are whole.
2. Scraper outage 2025-12-09: no box scores from either source, so all three phase-3 tables
   are empty and nothing is graded; phase 4 and the predictions ran on their timers.
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

Five row-level faults (#16), each on a seeded game date of its own (4 games or more, clear
of the dates above, of the first weeks, of the last two dates and of the first dates after
the All-Star break), that no table-level check sees:

10. NULL player ids: one team's box-score lines of one game lost their ``player_id`` (and
    so did the phase-3 summary built from them).
11. A double run: the phase-3 ``player_game_summary`` of one date inserted twice.
12. An unknown team code: one team's box-score lines carry the code another source uses
    (e.g. ``PHO`` for ``PHX``), in ``team`` and in its opponents' ``opponent``; the teams list
    (``nba_reference.teams``) does not know it.
13. Orphan predictions: the feature-store rows (``ml_feature_store_v2``) of one game are
    gone while its predictions stay.
14. A silent partial load: a re-load of one date's box scores, after phase 3 and the grading
    ran, kept 60 % of every game's lines: every game is there (coverage 100 %), the
    schedule is unchanged, and only the rows per game show it.

The fixed dates are constants of :mod:`nba_props.schedule` (the schedule is drawn around
them); :func:`choose_injection` draws the seeded ones from the schedule, :func:`describe_faults`
tells them all as :class:`Fault` entries, which the demo prints, and
:class:`~nba_props.season_sql.SeasonSql` deletes the rows they remove.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from .schedule import (
    ALL_STAR_BREAK,
    CONTEXT_MISSING,
    FIXED_FAULT_DATES,
    NO_PREDICTIONS,
    P4_OUTAGE,
    PARTIAL_BOX,
    PSZA_GAP,
    SCRAPER_OUTAGE,
    TDGS_MISSING,
    THIN,
    Game,
)
from .schema import SYSTEMS

__all__ = [
    "LOAD_KEPT",
    "OTHER_CODES",
    "OUTAGE_SYSTEMS",
    "Fault",
    "Injection",
    "RowFaults",
    "choose_injection",
    "describe_faults",
]

# The prediction systems that still ran on the phase-4 outage dates (but 01-21).
OUTAGE_SYSTEMS = ("season_avg", "last5_avg", "home_away_split")
# Codes other sources use for some teams (Basketball-Reference's, ESPN's): none is in the
# teams list, so a load that writes one is an unknown team code.
OTHER_CODES = {
    "PHX": "PHO",
    "BKN": "BRK",
    "CHA": "CHO",
    "GSW": "GS",
    "NYK": "NY",
    "NOP": "NO",
    "SAS": "SA",
    "UTA": "UTAH",
    "WAS": "WSH",
}
LOAD_KEPT = 0.6  # the share of every game's box-score lines the silent partial load keeps


@dataclass(frozen=True)
class Fault:
    """One injected incident: what kind, in which table, on which dates, told for a human."""

    kind: str
    table: str
    dates: tuple[date, ...]
    detail: str


@dataclass(frozen=True)
class RowFaults:
    """The row-level faults (10-14 above): one seeded date each, and what they touch."""

    null_ids: tuple[date, str, str]  # (date, game_id, team): that team's player_id NULL
    double_run: date  # player_game_summary's rows of the date inserted twice
    unknown_team: tuple[date, str, str]  # (date, team, the code written instead)
    orphans: tuple[date, str]  # (date, game_id): the game's feature rows deleted
    partial_load: date  # box scores: LOAD_KEPT of every game's lines


@dataclass(frozen=True)
class Injection:
    """The seeded half of the faults; the fixed dates are constants of the schedule module."""

    missing_games: dict[date, tuple[str, ...]]
    dropped_systems: dict[date, tuple[str, ...]]
    graded_share: dict[date, float]
    ungraded: tuple[date, ...]
    poor: dict[date, tuple[float, float]]  # date -> (noise multiplier, expected MAE)
    rows: RowFaults


def choose_injection(games: tuple[Game, ...], seed: int) -> Injection:
    """Draw the seeded half of the faults from ``seed``, on the dates of ``games``."""
    rng = random.Random(f"faults-{seed}")
    by_date: dict[date, list[str]] = {}
    for g in games:
        by_date.setdefault(g.game_date, []).append(g.game_id)
    missing = {}
    for day in PARTIAL_BOX:
        ids = by_date[day]
        low, high = max(1, -(-len(ids) * 11 // 100)), max(1, len(ids) * 33 // 100)
        missing[day] = tuple(sorted(rng.sample(ids, rng.randint(low, high))))
    days = sorted(by_date)
    # Seeded faults stay off the first weeks (bootstrap), the ungraded tail and the fixed dates.
    candidates = [d for d in days[14:-2] if d not in FIXED_FAULT_DATES]
    picks = rng.sample(candidates, 13)
    # The row faults draw from a source of their own, so the picks above stay as they were.
    clear = set(picks) | set(days[-2:]) | set(_after_break(days, 3))
    row_days = [d for d in candidates if d not in clear and len(by_date[d]) >= 4]
    return Injection(
        missing_games=missing,
        dropped_systems={
            d: tuple(sorted(rng.sample(SYSTEMS, rng.choice((1, 2))))) for d in sorted(picks[:4])
        },
        graded_share={d: round(rng.uniform(0.76, 0.84), 2) for d in sorted(picks[4:9])}
        | {d: round(rng.uniform(0.55, 0.68), 2) for d in sorted(picks[9:11])},
        ungraded=tuple(days[-2:]),
        poor={picks[11]: (2.1, 7.0), picks[12]: (3.1, 9.0)},
        rows=_row_faults(games, row_days, seed),
    )


def _after_break(days: list[date], n: int) -> list[date]:
    """The first ``n`` game dates after the All-Star break."""
    return [d for d in days if d > ALL_STAR_BREAK[-1]][:n]


def _row_faults(games: tuple[Game, ...], candidates: list[date], seed: int) -> RowFaults:
    rng = random.Random(f"row-faults-{seed}")
    teams = {d: [(g.game_id, t) for g in games if g.game_date == d for t in (g.home, g.away)]
             for d in candidates}  # fmt: skip
    renamed = [d for d in candidates if any(t in OTHER_CODES for _, t in teams[d])]
    team_day = rng.choice(renamed)
    team = rng.choice(sorted({t for _, t in teams[team_day] if t in OTHER_CODES}))
    null_day, double_day, orphan_day, load_day = rng.sample(
        [d for d in candidates if d != team_day], 4
    )
    null_game, null_team = rng.choice(teams[null_day])
    orphan_game = rng.choice(sorted({g for g, _ in teams[orphan_day]}))
    return RowFaults(
        null_ids=(null_day, null_game, null_team),
        double_run=double_day,
        unknown_team=(team_day, team, OTHER_CODES[team]),
        orphans=(orphan_day, orphan_game),
        partial_load=load_day,
    )


def describe_faults(games: tuple[Game, ...], inj: Injection) -> tuple[Fault, ...]:
    """Every fault of the season, fixed and seeded, told for a human."""
    per_date = {d: sum(g.game_date == d for g in games) for d in PARTIAL_BOX}
    gaps = ", ".join(f"{d:%m-%d} {len(ids)}/{per_date[d]}" for d, ids in inj.missing_games.items())
    low = {d: s for d, s in inj.graded_share.items() if s < 0.7}
    partial = {d: s for d, s in inj.graded_share.items() if s >= 0.7}
    dropped = "; ".join(f"{d}: no {', '.join(s)}" for d, s in inj.dropped_systems.items())
    return (
        Fault("partial_boxscores", "nba_raw.bdl_player_boxscores", PARTIAL_BOX,
              f"games missing (missing/scheduled): {gaps}; the nbac gamebook has them; phase 3 "
              "and grading lack the same games, the pre-game tables are whole"),
        Fault("scraper_outage", "nba_raw.bdl_player_boxscores", (SCRAPER_OUTAGE,),
              "no box scores from either source; the three phase-3 tables are empty and nothing "
              "is graded; "
              "phase 4 and the predictions ran on their timers"),
        Fault("phase3_table_missing", "nba_analytics.team_defense_game_summary",
              (TDGS_MISSING,), "empty while the other phase-3 tables have rows"),
        Fault("phase3_table_missing", "nba_analytics.upcoming_player_game_context",
              (CONTEXT_MISSING,), "empty while the other phase-3 tables have rows"),
        Fault("phase4_outage", "nba_precompute.player_daily_cache", P4_OUTAGE,
              "player_daily_cache, player_shot_zone_analysis and player_composite_factors "
              "empty: 2 of 5 processors (TDZA, MLFS), critical PDC missing"),
        Fault("predictions_partial", "nba_predictions.player_prop_predictions", P4_OUTAGE,
              f"no predictions on {NO_PREDICTIONS}; only {', '.join(OUTAGE_SYSTEMS)} on "
              "the other outage dates"),
        Fault("phase4_processor_gap", "nba_precompute.player_shot_zone_analysis",
              (PSZA_GAP,), "only PSZA empty: 4 of 5 processors with PDC and MLFS"),
        Fault("missing_systems", "nba_predictions.player_prop_predictions",
              tuple(inj.dropped_systems), dropped),
        Fault("thin_phase3", "nba_analytics.player_game_summary", (THIN,),
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
        *_describe_rows(inj.rows),
    )  # fmt: skip


def _describe_rows(rows: RowFaults) -> tuple[Fault, ...]:
    (null_day, null_game, null_team), (team_day, team, code) = rows.null_ids, rows.unknown_team
    orphan_day, orphan_game = rows.orphans
    return (
        Fault("null_player_ids", "nba_raw.bdl_player_boxscores", (null_day,),
              f"player_id NULL on {null_team}'s lines of game {null_game} (and in the "
              "phase-3 summary built from them)"),
        Fault("double_run", "nba_analytics.player_game_summary", (rows.double_run,),
              "the date's rows inserted twice: every (game_id, player_id) key twice"),
        Fault("unknown_team_code", "nba_raw.bdl_player_boxscores", (team_day,),
              f"{team} written as {code}, a code the teams list does not know "
              "(team and opponent)"),
        Fault("orphan_predictions", "nba_predictions.player_prop_predictions", (orphan_day,),
              f"the feature rows of game {orphan_game} are gone, its predictions stay"),
        Fault("silent_partial_load", "nba_raw.bdl_player_boxscores", (rows.partial_load,),
              f"a re-load kept {LOAD_KEPT:.0%} of every game's lines: every game present, "
              "the schedule unchanged; only the rows per game show it"),
    )  # fmt: skip
