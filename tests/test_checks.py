"""Checks and verdicts from hand-built measurements: pure, no warehouse."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from conftest import MINI_CONFIG
from mini_measured import HEALTHY, measured, phases_of
from phaseguard.assess import judge, phase_checks
from phaseguard.checks import grade
from phaseguard.config import parse
from phaseguard.kindbase import Thresholds
from phaseguard.plan import Metric
from phaseguard.verdicts import Level, Overall, PhaseVerdict, Verdict, combine, exit_code, overall

CONFIG = parse(MINI_CONFIG)


def verify(
    values: dict[tuple[str, str], float | None], scheduled: int = 10
) -> dict[str, PhaseVerdict]:
    return phases_of(CONFIG, values, scheduled)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.95, Level.EXCELLENT),
        (0.90, Level.EXCELLENT),
        (0.89, Level.ACCEPTABLE),
        (0.70, Level.ACCEPTABLE),
        (0.69, Level.FAIL),
    ],
)
def test_coverage_traffic_lights_match_the_seed(value: float, expected: Level) -> None:
    assert grade(value, Thresholds(excellent=0.9, acceptable=0.7)) is expected


@pytest.mark.parametrize(
    ("mae", "expected"),
    [(5.99, Level.EXCELLENT), (6.0, Level.ACCEPTABLE), (7.99, Level.ACCEPTABLE), (8.0, Level.FAIL)],
)
def test_lower_is_better_is_strict(mae: float, expected: Level) -> None:
    assert grade(mae, Thresholds(excellent=6, acceptable=8, direction="lower")) is expected


def test_healthy_date_is_excellent_everywhere() -> None:
    phases = verify(HEALTHY)
    assert {name: p.level for name, p in phases.items()} == {
        "ingest": Level.EXCELLENT,
        "process": Level.EXCELLENT,
        "predict": Level.PASS,  # the worst of its checks: distinct_count's best tier is pass
    }


def test_nothing_scheduled_is_na_never_fail() -> None:
    phases = verify({}, scheduled=0)
    assert all(p.level is Level.NA for p in phases.values())


def test_empty_table_fails_rows_exist_and_names_it() -> None:
    phases = verify({**HEALTHY, ("box", "rows"): 0, ("coverage:box", "covered:game_id"): 0})
    verdict = phases["ingest"].verdicts[0]
    assert verdict.level is Level.FAIL
    assert verdict.details["empty"] == ["box"]


def test_quorum_missing_required_fails_even_with_enough_present() -> None:
    phases = verify({**HEALTHY, ("A", "rows"): 0})
    verdict = phases["process"].verdicts[0]
    assert verdict.level is Level.FAIL
    assert verdict.details["missing_required"] == ["A"]
    assert "missing A" in verdict.observed


def test_quorum_tolerates_a_missing_optional_table() -> None:
    phases = verify({**HEALTHY, ("C", "rows"): 0})
    assert phases["process"].level is Level.ACCEPTABLE  # 2 of 3: met at its minimum, a warning
    assert phases["process"].verdicts[0].details["missing"] == ["C"]


def test_quorum_below_min_present_fails() -> None:
    phases = verify({**HEALTHY, ("B", "rows"): 0, ("C", "rows"): 0})
    assert phases["process"].level is Level.FAIL


def test_ratio_and_aggregate_observed_and_expected_are_reported() -> None:
    phases = verify(
        {
            **HEALTHY,
            ("grades", "rows"): 75,
            ("grades", "aggregate:AVG(ABS(predicted - actual))"): 7.0,
        }
    )
    by_check = {v.check: v for v in phases["predict"].verdicts}
    ratio = by_check["ratio(grades/preds)"]
    assert ratio.level is Level.ACCEPTABLE
    assert ratio.observed.startswith("75%")
    assert ">= 80% pass" in ratio.expected
    assert by_check["aggregate(grades)"].level is Level.ACCEPTABLE
    assert phases["predict"].level is Level.ACCEPTABLE


def test_combine_takes_the_worst_level_of_the_checks() -> None:
    passing = Verdict("exists", Level.PASS, "", "")
    graded = Verdict("cov", Level.EXCELLENT, "", "", graded=True)
    assert combine("p", (passing, graded)).level is Level.PASS
    assert combine("p", (graded,)).level is Level.EXCELLENT
    assert combine("p", (graded, Verdict("x", Level.FAIL, "", ""))).level is Level.FAIL


def _phases(*levels: Level) -> tuple[PhaseVerdict, ...]:
    return tuple(PhaseVerdict(f"p{i}", lv, ()) for i, lv in enumerate(levels))


def test_overall_verdict_follows_the_seed() -> None:
    rules = {"complete": 85.0, "partial": 70.0, "partial_phases": ["p0", "p1", "p2"]}
    assert overall(_phases(*[Level.PASS] * 5), 90.0, **rules) is Overall.COMPLETE  # type: ignore[arg-type]
    late_fail = _phases(Level.PASS, Level.PASS, Level.PASS, Level.PASS, Level.FAIL)
    assert overall(late_fail, 72.0, **rules) is Overall.FAILED  # type: ignore[arg-type]
    assert overall(late_fail, 60.0, **rules) is Overall.FAILED  # type: ignore[arg-type]
    early_fail = _phases(Level.FAIL, Level.PASS, Level.PASS, Level.PASS, Level.PASS)
    assert overall(early_fail, 80.0, **rules) is Overall.FAILED  # type: ignore[arg-type]
    assert overall((), None, **rules) is Overall.NA  # type: ignore[arg-type]


def test_exit_codes() -> None:
    healthy = judge(CONFIG, measured(HEALTHY), phase_checks(CONFIG, "verify"))
    assert exit_code(healthy) == 0
    warn = judge(
        CONFIG, measured({**HEALTHY, ("grades", "rows"): 75}), phase_checks(CONFIG, "verify")
    )
    assert warn.overall is Overall.COMPLETE  # a warning inside a COMPLETE date ...
    assert exit_code(warn) == 0  # ... exits as the headline says
    partial = dataclasses.replace(warn, overall=Overall.PARTIAL)
    assert exit_code(partial) == 1
    fail = judge(CONFIG, measured({**HEALTHY, ("A", "rows"): 0}), phase_checks(CONFIG, "verify"))
    assert exit_code(fail) == 2


def test_smoke_uses_existence_and_quorum_only() -> None:
    selection = phase_checks(CONFIG, "smoke")
    kinds = {group.name: [c.kind for c in group.checks] for group in selection}
    assert kinds == {"ingest": ["rows_exist"], "process": ["quorum"], "predict": ["rows_exist"]}
    result = judge(
        CONFIG,
        measured({**HEALTHY, ("coverage:box", "covered:game_id"): 1}),
        selection,
        mode="smoke",
    )
    assert all(p.level is Level.PASS for p in result.dates[0].phases)


def test_freshness_pre_flight_check() -> None:
    from phaseguard.checks import Days, prepare
    from phaseguard.kinds import Freshness

    check = Freshness(kind="freshness", table="box", column="loaded_at", max_age_hours=6)
    now = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.timezone.utc)
    metric = Metric("max_epoch", "loaded_at").key

    def verdict(hours_old: float | None) -> Level:
        values = {} if hours_old is None else {("box", metric): now.timestamp() - hours_old * 3600}
        days, _ = Days.of_schedule(measured(values), CONFIG.schedule, now)
        return prepare(check, CONFIG, ["box"]).judge(days)[0].level

    assert verdict(1) is Level.EXCELLENT  # holds: a check that only holds or fails is at its best
    assert verdict(5.9) is Level.EXCELLENT
    assert verdict(7) is Level.FAIL
    assert verdict(None) is Level.FAIL  # no rows: nothing fresh


def test_json_carries_the_graded_number_beside_the_text() -> None:
    from phaseguard.verdicts import to_dict

    result = judge(
        CONFIG,
        measured({**HEALTHY, ("grades", "rows"): 75}),
        phase_checks(CONFIG, "verify"),
    )
    checks = {
        c["check"]: c
        for phase in to_dict(result)["dates"][0]["phases"].values()  # type: ignore[index]
        for c in phase["checks"]
    }
    assert checks["ratio(grades/preds)"]["value"] == 0.75
    assert checks["ratio(grades/preds)"]["observed"] == "75% (75/100)"
    assert checks["aggregate(grades)"]["value"] == 4.5
    assert "value" not in checks["rows_exist"]  # existence has no number to grade
