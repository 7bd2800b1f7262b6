"""Every verdict right, as the seeds' "Backfill Success Criteria" define it (issue 14).

Levels from hand-built measurements (pure), the config rules that refuse wrong meanings
at load, and the demo season judged by smoke and verify cell by cell (a real DuckDB file).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from conftest import MINI_CONFIG, seed_mini
from mini_measured import HEALTHY, MAE, measured, phases_of
from nba_props.demo import build_demo
from phaseguard import load
from phaseguard.assess import judge, phase_checks
from phaseguard.checks import Days, describe, prepare
from phaseguard.cli import main
from phaseguard.config import Config, parse
from phaseguard.config import load as load_config
from phaseguard.criteria import render
from phaseguard.errors import ConfigError
from phaseguard.kindbase import Between, Thresholds
from phaseguard.kinds import Quorum
from phaseguard.plan import Metric
from phaseguard.verdicts import Level, Overall, PhaseVerdict, Verdict, combine, exit_code, overall

EXAMPLE = Path(__file__).parents[1] / "examples" / "nba_props" / "phaseguard.yml"
MINI = parse(MINI_CONFIG)
SCHEDULE_OF_MINI = MINI.schedule


def by_check(phase: PhaseVerdict) -> dict[str, Verdict]:
    return {v.check: v for v in phase.verdicts}


# --- 14.2: an aggregate over a scheduled date with no rows --------------------------------


def test_aggregate_over_a_scheduled_date_without_rows_fails() -> None:
    phases = phases_of(MINI, {**HEALTHY, ("grades", "rows"): 0, ("grades", MAE): None})  # type: ignore[dict-item]
    mae = by_check(phases["predict"])["aggregate(grades)"]
    assert mae.level is Level.FAIL
    assert "no rows in grades" in mae.observed
    assert phases["predict"].level is Level.FAIL


def test_aggregate_on_empty_na_keeps_the_old_meaning() -> None:
    config = parse(MINI_CONFIG.replace("direction: lower,", "direction: lower, on_empty: na,"))
    phases = phases_of(config, {**HEALTHY, ("grades", MAE): None})  # type: ignore[dict-item]
    assert by_check(phases["predict"])["aggregate(grades)"].level is Level.NA
    assert "a scheduled date with no rows is N/A" in render(config)
    assert "a scheduled date with no rows is FAIL" in render(MINI)


# --- 14.4: a phase takes the worst level of its checks ------------------------------------


def test_phase_level_is_the_worst_of_its_check_levels() -> None:
    levels = (Level.PASS, Level.PASS, Level.PASS, Level.EXCELLENT, Level.PASS)
    verdicts = tuple(Verdict(f"c{i}", lv, "", "", graded=i == 3) for i, lv in enumerate(levels))
    assert combine("p", verdicts).level is Level.PASS
    assert combine("p", (Verdict("x", Level.NA, "", ""), verdicts[3])).level is Level.EXCELLENT


def test_a_pass_only_threshold_keeps_the_phase_at_pass() -> None:
    phase = phases_of(MINI, HEALTHY)["predict"]  # distinct_count has a pass tier only
    levels = {v.check: v.level for v in phase.verdicts}
    assert levels["distinct_count(preds.system_id)"] is Level.PASS
    assert phase.level is min(levels.values(), key=lambda lv: lv.rank) is Level.PASS
    assert "A phase takes the worst level of its checks" in render(MINI)


# --- 14.5: the seed's tiers ----------------------------------------------------------------


RULES = {"complete": 85.0, "partial": 70.0, "partial_phases": ["p2", "p3", "p4"]}


def _day(*levels: Level) -> tuple[PhaseVerdict, ...]:
    return tuple(PhaseVerdict(f"p{i + 2}", lv, ()) for i, lv in enumerate(levels))


def test_any_phase_fail_makes_the_date_failed_whatever_the_health() -> None:
    phase6_fail = _day(Level.EXCELLENT, Level.EXCELLENT, Level.EXCELLENT, Level.PASS, Level.FAIL)
    assert overall(phase6_fail, 78.0, **RULES) is Overall.FAILED  # type: ignore[arg-type]
    assert overall(phase6_fail, 95.0, **RULES) is Overall.FAILED  # type: ignore[arg-type]


def test_partial_needs_phases_2_to_4_pass_and_health_70() -> None:
    late_warning = _day(Level.PASS, Level.PASS, Level.PASS, Level.ACCEPTABLE, Level.ACCEPTABLE)
    assert overall(late_warning, 82.0, **RULES) is Overall.PARTIAL  # type: ignore[arg-type]
    early_warning = _day(Level.ACCEPTABLE, Level.PASS, Level.PASS, Level.PASS, Level.ACCEPTABLE)
    assert overall(early_warning, 82.0, **RULES) is Overall.FAILED  # type: ignore[arg-type]
    # The band the seed leaves open (no FAIL, health 50-70) is FAILED, and criteria says so.
    assert overall(late_warning, 60.0, **RULES) is Overall.FAILED  # type: ignore[arg-type]
    assert overall(late_warning, 90.0, **RULES) is Overall.COMPLETE  # type: ignore[arg-type]
    text = render(MINI)
    assert "- **FAILED**: any phase FAIL (or ERROR)" in text
    assert "- **PARTIAL**: no phase FAIL, ingest, process, predict PASS or better" in text
    assert "counts that band as FAILED" in text


def test_a_fail_with_high_health_is_failed_end_to_end() -> None:
    config = parse(
        MINI_CONFIG
        + "health:\n  scores: {EXCELLENT: 100, PASS: 90, ACCEPTABLE: 70, FAIL: 60}\n"
        + "  partial_phases: [ingest, process]\n"
    )
    values = {**HEALTHY, ("grades", "rows"): 60}  # grading coverage 60 %: predict FAILs
    result = judge(config, measured(values), phase_checks(config, "verify"))
    assert result.dates[0].phase("predict").level is Level.FAIL
    assert result.dates[0].health == 86.7  # was PARTIAL: the FAIL is not in partial_phases
    assert result.dates[0].overall is Overall.FAILED
    assert exit_code(result) == 2


# --- 14.6: phase 4 (quorum) levels ---------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ((), Level.EXCELLENT),
        (("PSZA",), Level.PASS),
        (("PSZA", "TDZA"), Level.ACCEPTABLE),  # at its minimum: the early-season bootstrap
        (("PSZA", "TDZA", "PCF"), Level.FAIL),
        (("PDC",), Level.FAIL),  # a required one
    ],
)
def test_quorum_levels_follow_the_seed(missing: tuple[str, ...], expected: Level) -> None:
    config, _ = load_config(EXAMPLE)
    check = config.phase("phase4").checks[0]
    assert isinstance(check, Quorum)
    tables = ["PDC", "PSZA", "PCF", "TDZA", "MLFS"]
    values = {(t, "rows"): 0.0 if t in missing else 50.0 for t in tables}
    days, _ = Days.of_schedule(measured(values), SCHEDULE_OF_MINI, dt.datetime.now(dt.timezone.utc))
    verdict = prepare(check, config, tables).judge(days)[0]
    assert verdict.level is expected
    if expected is Level.ACCEPTABLE:
        assert "3/5 present (the minimum)" in verdict.observed


# --- 14.7 and 14.8: the example's phase 3 band and MAE warning -----------------------------


def _example_check(phase: str, name: str) -> tuple[Config, object]:
    config, _ = load_config(EXAMPLE)
    return config, next(c for c in config.phase(phase).checks if c.name == name)


@pytest.mark.parametrize(
    ("rows", "expected", "says"),
    [
        (44, Level.ACCEPTABLE, "below pass between 5 and 30"),  # 4.89 per game: thin, proceed
        (135, Level.EXCELLENT, ""),  # 15 per game: in the seeds' band
        (72, Level.PASS, ""),  # 8 per game
        (360, Level.ACCEPTABLE, "above pass between 5 and 30"),  # 40 per game: duplicates
    ],
)
def test_phase3_rows_per_game_band(rows: int, expected: Level, says: str) -> None:
    config, check = _example_check("phase3", "player rows per game")
    days, _ = Days.of_schedule(
        measured({("player_game_summary", "rows"): rows}, scheduled=9),
        SCHEDULE_OF_MINI,
        dt.datetime.now(dt.timezone.utc),
    )
    verdict = prepare(check, config, ["player_game_summary"]).judge(days)[0]  # type: ignore[arg-type]
    assert verdict.level is expected
    if says:
        assert says in verdict.observed
        assert verdict.details == {"warning": says}


def test_mae_beyond_8_is_a_warning_that_names_it_and_a_hard_limit_is_explicit() -> None:
    config, check = _example_check("phase6", "MAE")
    metric = Metric("aggregate", expr=check.expr).key  # type: ignore[attr-defined]
    days, _ = Days.of_schedule(
        measured({("grades", metric): 9.36, ("grades", "rows"): 10}),
        SCHEDULE_OF_MINI,
        dt.datetime.now(dt.timezone.utc),
    )
    verdict = prepare(check, config, ["grades"]).judge(days)[0]  # type: ignore[arg-type]
    assert verdict.level is Level.ACCEPTABLE
    assert verdict.check == "MAE"
    assert verdict.observed == "9.36, above acceptable < 8 (a warning)"
    hard = check.model_copy(update={"severity": "fail"})  # type: ignore[attr-defined]
    assert prepare(hard, config, ["grades"]).judge(days)[0].level is Level.FAIL
    assert "never FAIL (severity: warn)" in render(config)


# --- #13 item 11: thresholds, quorums and health bands with a wrong meaning are refused ----


def _refused(old: str, new: str) -> ConfigError:
    assert old in MINI_CONFIG
    with pytest.raises(ConfigError) as info:
        parse(MINI_CONFIG.replace(old, new), "p.yml")
    return info.value


def _line_of(text: str) -> int:
    return next(i for i, line in enumerate(MINI_CONFIG.splitlines(), 1) if text in line)


@pytest.mark.parametrize(
    ("old", "new", "key", "says"),
    [
        (
            "excellent: 0.9, acceptable: 0.7}",
            "excellent: 0.70, acceptable: 0.90}",
            "phases[0].checks[1].excellent",
            "out of order: excellent 0.7, acceptable 0.9 (higher is better",
        ),
        (
            "direction: lower, excellent: 6, acceptable: 8",
            "direction: lower, excellent: 8, acceptable: 6",
            "phases[2].checks[2].excellent",
            "(lower is better, so excellent <= pass <= acceptable)",
        ),
        (
            "excellent: 0.9, acceptable: 0.7}",
            "excellent: .nan, acceptable: 0.7}",
            "phases[0].checks[1].excellent",
            "finite",
        ),
        (
            "excellent: 0.9, acceptable: 0.7}",
            "excellent: 0.9, acceptable: -.inf}",
            "phases[0].checks[1].acceptable",
            "finite",
        ),
        (
            "excellent: 0.9, acceptable: 0.7}",
            "excellent: {between: [0.95, 0.9]}, acceptable: 0.7}",
            "phases[0].checks[1].excellent.between",
            "reversed",
        ),
        (
            "excellent: 0.9, acceptable: 0.7}",
            "excellent: {betwen: [0.9, 1]}, acceptable: 0.7}",
            "phases[0].checks[1].excellent",
            "a threshold is a number or a band {between: [lo, hi]}",
        ),
        (
            "{kind: quorum, min_present: 2}",
            "{kind: quorum, min_present: 4}",
            "phases[1].checks[0].min_present",
            "more than the quorum's 3 tables",
        ),
        (
            "{kind: quorum, min_present: 2}",
            "{kind: quorum, min_present: 2, tables: [A, B], required: [C]}",
            "phases[1].checks[0].required[0]",
            "not one of the quorum's tables",
        ),
        (
            "{kind: quorum, tables: [A, B, C], min_present: 2}",
            "{kind: quorum, tables: [A, B, C], min_present: 5}",
            "gates[1].checks[0].min_present",
            "could never be met",
        ),
    ],
)
def test_wrong_thresholds_are_refused_with_file_line_key(
    old: str, new: str, key: str, says: str
) -> None:
    error = _refused(old, new)
    assert error.file == "p.yml"
    assert error.key == key
    assert error.line == _line_of(old)
    assert says in str(error)


@pytest.mark.parametrize(
    ("health", "key", "says"),
    [
        ("  complete: 50\n  partial: 99\n", "health.complete", "out of order"),
        ("  complete: 185\n", "health.complete", "from 0 to 100"),
        ("  partial: .nan\n", "health.partial", "from 0 to 100"),
        (
            "  scores: {EXCELLENT: 100, PASS: 120, ACCEPTABLE: 70, FAIL: 0}\n",
            "health.scores.PASS",
            "",
        ),
        (
            "  scores: {EXCELLENT: 60, PASS: 90, ACCEPTABLE: 70, FAIL: 0}\n",
            "health.scores.EXCELLENT",
            "out of order",
        ),
    ],
)
def test_health_bands_out_of_range_or_order_are_refused(health: str, key: str, says: str) -> None:
    text = MINI_CONFIG + "health:\n" + health
    with pytest.raises(ConfigError) as info:
        parse(text, "p.yml")
    assert info.value.key == key
    assert info.value.line is not None
    assert info.value.line > len(MINI_CONFIG.splitlines())
    assert says in str(info.value)


def test_the_example_and_the_bands_in_order_still_load() -> None:
    load_config(EXAMPLE)
    parse(MINI_CONFIG + "health:\n  complete: 85\n  partial: 85\n")
    gate = "{kind: rows_per_unit, table: box, pass: 5, acceptable: 0}"
    parse(MINI_CONFIG.replace("{kind: rows_exist}", gate, 1))


# --- rough edges: thresholds as written, exit code = headline ------------------------------


def test_a_band_can_be_built_in_python_too() -> None:
    band = Thresholds(excellent=Between(between=(10, 30)), pass_=Between(between=(5, 30)))
    assert describe(band) == "between 10 and 30 excellent, between 5 and 30 pass"


def test_thresholds_are_printed_as_written() -> None:
    assert describe(Thresholds(excellent=0.001, direction="lower")) == "< 0.001 excellent"
    assert describe(Thresholds(excellent=1.001, acceptable=0.999), pct=True) == (
        ">= 100.1% excellent, >= 99.9% acceptable"
    )


def test_verify_prints_thresholds_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MINI_CONFIG.replace(
        "excellent: 0.9, acceptable: 0.7}", "excellent: 1.001, acceptable: 0.999}"
    )
    text = text.replace(
        "direction: lower, excellent: 6, acceptable: 8",
        "direction: lower, excellent: 0.001, acceptable: 8",
    )
    (tmp_path / "phaseguard.yml").write_text(text)
    seed_mini(f"duckdb://{tmp_path / 'mini.duckdb'}", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit):
        main(["verify", "2026-01-01", "2026-01-04"])
    out = capsys.readouterr().out
    assert "expected >= 100.1% excellent, >= 99.9% acceptable" in out
    assert "expected < 0.001 excellent, < 8 acceptable" in out


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    (tmp_path / "phaseguard.yml").write_text(text)
    seed_mini(f"duckdb://{tmp_path / 'mini.duckdb'}", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def test_verify_complete_with_a_warning_exits_as_its_headline_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # D1 of the mini pipeline, with MAE 6 (12 - 10 = 2 is EXCELLENT; make 2 ACCEPTABLE).
    _project(
        tmp_path,
        monkeypatch,
        MINI_CONFIG.replace("excellent: 6, acceptable: 8", "excellent: 1, acceptable: 8"),
    )
    with pytest.raises(SystemExit) as info:
        main(["verify", "2026-01-01"])
    out = capsys.readouterr().out
    assert "ACC" in out  # a warning is shown ...
    assert "Overall: COMPLETE" in out
    assert info.value.code == 0  # ... and the exit code is the headline's


def test_demo_verify_only_exits_as_its_headline_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as info:
        main(["demo", "--dir", str(tmp_path / "d"), "--verify-only"])
    assert "Overall: FAILED" in capsys.readouterr().out
    assert info.value.code == 2


# --- 14.3: smoke and verify agree on every cell of the demo season -------------------------


def test_smoke_and_verify_agree_on_every_cell_of_the_demo_season(tmp_path: Path) -> None:
    built = build_demo(tmp_path / "demo")  # the season with its seeded faults left in place
    with load(built.config_path, warehouse=f"duckdb://{built.warehouse_path}") as guard:
        smoke = guard.smoke(built.plan.first_date, built.plan.last_date)
        verify = guard.verify(built.plan.first_date, built.plan.last_date)
    cells = 0
    for s_day, v_day in zip(smoke.dates, verify.dates, strict=True):
        assert s_day.date == v_day.date
        for s_phase in s_day.phases:
            v_phase = v_day.phase(s_phase.phase)
            cells += 1
            where = f"{s_day.date} {s_phase.phase}"
            # Verify runs every check smoke runs, and judges it the same.
            v_checks = {v.check: v.level for v in v_phase.verdicts}
            for check in s_phase.verdicts:
                assert check.check in v_checks, where
                assert check.level.is_failure == v_checks[check.check].is_failure, where
                assert (check.level is Level.NA) == (v_checks[check.check] is Level.NA), where
            # So a smoke FAIL is a verify FAIL; a verify FAIL smoke does not show is a
            # check smoke does not run.
            if s_phase.level.is_failure:
                assert v_phase.level.is_failure, where
            if v_phase.level.is_failure and not s_phase.level.is_failure:
                smoke_checks = {v.check for v in s_phase.verdicts}
                assert any(
                    v.level.is_failure and v.check not in smoke_checks for v in v_phase.verdicts
                ), where
            assert (s_phase.level is Level.NA) == (v_phase.level is Level.NA), where
    assert cells == len(smoke.dates) * 5
    day = dt.date(2026, 1, 21)
    assert smoke.dates[0].date <= day
    s21 = next(d for d in smoke.dates if d.date == day)
    v21 = next(d for d in verify.dates if d.date == day)
    assert s21.phase("phase6").level is Level.FAIL
    assert v21.phase("phase6").level is Level.FAIL  # was N/A: grades=0 graded nothing


def test_smoke_date_verdict_and_exit_code_follow_the_levels() -> None:
    selection = phase_checks(MINI, "smoke")
    warn = judge(MINI, measured({**HEALTHY, ("C", "rows"): 0}), selection, mode="smoke")
    assert warn.dates[0].phase("process").level is Level.ACCEPTABLE
    assert warn.overall is Overall.PARTIAL
    assert exit_code(warn) == 1
    ok = judge(MINI, measured(HEALTHY), selection, mode="smoke")
    assert {v.level for p in ok.dates[0].phases for v in p.verdicts} == {Level.PASS}
    assert exit_code(dataclasses.replace(ok)) == 0
