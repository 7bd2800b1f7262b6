"""The SQL that fills phases 2 to 6 of a season, then deletes what its faults remove.

Every row is computed in SQL from ``hash(seed, ...)``, so a build is fast, parallel and
repeatable: same seed, same rows. ``scale`` multiplies the players (``scale`` copies of each
15-man roster, player_id ``copy * 10000 + team_index * 100 + k``); the schedule and the team
tables do not grow. :class:`SeasonSql` reads the schedule from ``nba_raw.nbac_schedule``,
builds its helper tables in the scratch schema :data:`~nba_props.schema.BUILD`, and
drops it at the end.
"""

from __future__ import annotations

from datetime import date

from .faults import LOAD_KEPT, OUTAGE_SYSTEMS, Injection
from .schedule import (
    CONTEXT_MISSING,
    NO_PREDICTIONS,
    P4_OUTAGE,
    PSZA_GAP,
    SCRAPER_OUTAGE,
    TDGS_MISSING,
    TEAMS,
    THIN,
)
from .schema import BUILD, SYSTEMS

__all__ = ["SeasonSql"]

_ROSTER = 15
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


class SeasonSql:
    """The phase 2 to 6 statements; every random number is ``hash(seed, tag, keys...)``."""

    def __init__(self, seed: int, scale: int, injection: Injection | None) -> None:
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
            *self.reload(),
            f"DROP SCHEMA {BUILD} CASCADE",
        ]

    def helpers(self) -> list[str]:
        b, teams = BUILD, ", ".join(f"({i}, '{t}')" for i, t in enumerate(TEAMS, start=1))
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
        b, key = BUILD, ("game_no", "player_id")
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
        # NBA.com's gamebook holds the same lines, scraped the next morning.
        out.append(
            "INSERT INTO nba_raw.nbac_gamebook_player_stats BY NAME "
            "SELECT * REPLACE (scraped_at + INTERVAL 8 HOUR AS scraped_at) "
            "FROM nba_raw.bdl_player_boxscores"
        )
        if self.inj:
            gone = ", ".join(f"'{g}'" for ids in self.inj.missing_games.values() for g in ids)
            out += [
                f"DELETE FROM nba_raw.bdl_player_boxscores WHERE game_id IN ({gone})",
                *(
                    f"DELETE FROM nba_raw.{table} WHERE game_date = DATE '{SCRAPER_OUTAGE}'"
                    for table in ("bdl_player_boxscores", "nbac_gamebook_player_stats")
                ),
            ]
            # bdl's own mistakes (the gamebook, copied above, has them right).
            (null_day, null_game, null_team), (day, team, code) = (
                self.inj.rows.null_ids,
                self.inj.rows.unknown_team,
            )
            out += [
                "UPDATE nba_raw.bdl_player_boxscores SET player_id = NULL "
                f"WHERE game_date = DATE '{null_day}' AND game_id = '{null_game}' "
                f"AND team = '{null_team}'",
                "UPDATE nba_raw.bdl_player_boxscores SET "
                f"team = CASE team WHEN '{team}' THEN '{code}' ELSE team END, "
                f"opponent = CASE opponent WHEN '{team}' THEN '{code}' ELSE opponent END "
                f"WHERE game_date = DATE '{day}' AND '{team}' IN (team, opponent)",
            ]
        return out

    def phase3(self) -> list[str]:
        b = BUILD
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
                f"WHERE game_date = DATE '{THIN}' "
                f"AND {self.u(70, 'game_id', 'player_id')} >= 0.115",
                "DELETE FROM nba_analytics.team_defense_game_summary "
                f"WHERE game_date = DATE '{TDGS_MISSING}'",
                "DELETE FROM nba_analytics.upcoming_player_game_context "
                f"WHERE game_date IN ({_dates([SCRAPER_OUTAGE, CONTEXT_MISSING])})",
                # A double run: the processor appended the date's rows a second time.
                "INSERT INTO nba_analytics.player_game_summary SELECT * FROM "
                "nba_analytics.player_game_summary "
                f"WHERE game_date = DATE '{self.inj.rows.double_run}'",
            ]
        return out

    def phase4(self) -> list[str]:
        b = BUILD
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
            outage = f"BETWEEN DATE '{P4_OUTAGE[0]}' AND DATE '{P4_OUTAGE[-1]}'"
            out += [
                f"DELETE FROM nba_precompute.player_daily_cache WHERE cache_date {outage}",
                "DELETE FROM nba_precompute.player_shot_zone_analysis "
                f"WHERE analysis_date {outage} OR analysis_date = DATE '{PSZA_GAP}'",
                f"DELETE FROM nba_precompute.player_composite_factors WHERE game_date {outage}",
                "DELETE FROM nba_predictions.ml_feature_store_v2 "
                f"WHERE game_date = DATE '{self.inj.rows.orphans[0]}' "
                f"AND game_id = '{self.inj.rows.orphans[1]}'",
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
  FROM {BUILD}.player_games pg CROSS JOIN s WHERE pg.active)
SELECT game_date, game_id, player_id, system_id, predicted_points, line,
  CASE WHEN predicted_points - line >= 1 THEN 'OVER'
       WHEN predicted_points - line <= -1 THEN 'UNDER' ELSE 'PASS' END AS recommendation,
  created_at
FROM p"""
        ]
        if self.inj:
            kept = _sql_list(list(OUTAGE_SYSTEMS))
            dropped = " OR ".join(
                f"(game_date = DATE '{d}' AND list_contains({_sql_list(list(s))}, system_id))"
                for d, s in self.inj.dropped_systems.items()
            )
            out += [
                "DELETE FROM nba_predictions.player_prop_predictions "
                f"WHERE game_date = DATE '{NO_PREDICTIONS}' OR (game_date BETWEEN "
                f"DATE '{P4_OUTAGE[0]}' AND DATE '{P4_OUTAGE[-1]}' "
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

    def reload(self) -> list[str]:
        """The silent partial load: after phase 3 and the grading ran, a re-load of one date's
        box scores keeps ``LOAD_KEPT`` of every game's lines (the first by a seeded draw)."""
        if not self.inj:
            return []
        day = self.inj.rows.partial_load
        return [
            f"""DELETE FROM nba_raw.bdl_player_boxscores x USING (
  SELECT game_id, player_id FROM (
    SELECT game_id, player_id, count(*) OVER (PARTITION BY game_id) AS lines,
      row_number() OVER (PARTITION BY game_id
                         ORDER BY {self.h(110, "game_id", "player_id")}, player_id) AS n
    FROM nba_raw.bdl_player_boxscores WHERE game_date = DATE '{day}')
  WHERE n > round(lines * {LOAD_KEPT})) gone
WHERE x.game_date = DATE '{day}' AND x.game_id = gone.game_id AND x.player_id = gone.player_id"""
        ]
