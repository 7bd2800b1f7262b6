"""The outcome measurement, small: ten nights with phaseguard off and on, on the same faults.

The season runs for real: a DuckDB warehouse with only the schedule, the local balldontlie
API with seeded faults over HTTP, the runner, the gates and a webhook inbox; only the clock
is virtual. The faults are placed so that the control surely suffers: the API is down at the
start of the fourth night (one attempt cannot get past it), PSZA crashes on the sixth night
and PDC (a critical processor) on the eighth.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nba_props.outcome import (
    CRASHES,
    MODES,
    FaultPlan,
    OutcomeResult,
    seeded_faults,
    simulate_outcome,
)
from nba_props.scraper import SEED_POLICY
from phaseguard.errors import UsageError

OFF, ON = MODES
FAULTS = FaultPlan(transient_rate=0.08, outage_night=3, crashes=(("PSZA", 5), ("PDC", 7)))
# Every wait of one call that never succeeds, at most: 60 + 120 + 240 + 480 seconds.
MAX_WAITS = sum(min(SEED_POLICY.base_delay * 2**k, SEED_POLICY.max_delay) for k in range(4))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> OutcomeResult:
    return simulate_outcome(dates=10, faults=FAULTS, workdir=tmp_path_factory.mktemp("outcome"))


def test_the_control_leaves_permanent_gaps_and_runs_downstream_on_them(
    result: OutcomeResult,
) -> None:
    off = result.mode(OFF)
    assert result.outage_date in off.box_score_gaps
    assert off.games_missing > 0
    assert ("PSZA", result.crash_dates["PSZA"][0]) in off.partition_gaps
    assert len(off.downstream_on_incomplete) > 0
    ran_on_outage = {r.phase for r in off.downstream_on_incomplete if r.date == result.outage_date}
    assert ran_on_outage == {"phase3", "phase4", "phase5", "phase6"}
    assert result.outage_date in off.manual_backfill


def test_phaseguard_leaves_no_gap_and_never_runs_on_incomplete_upstream(
    result: OutcomeResult,
) -> None:
    on = result.mode(ON)
    assert on.downstream_on_incomplete == ()
    assert on.box_score_gaps == ()
    assert on.partition_gaps == ()
    assert on.manual_backfill == ()
    # The same faults hit it: the outage failed a night, and the next night's backfill fixed it.
    assert on.api_faults.get("outage", 0) >= SEED_POLICY.max_attempts
    assert {(i.phase, i.date) for i in on.incidents} >= {("phase2", result.outage_date)}
    assert on.catch_up_runs >= 1 + len(FAULTS.crashes)


def test_every_incident_alerts_with_phaseguard_and_never_without(result: OutcomeResult) -> None:
    off, on = result.mode(OFF), result.mode(ON)
    assert off.incidents
    assert all(i.alerted_at is None for i in off.incidents)
    assert off.alerts_opened == 0
    assert off.alert_summary() == "never"
    assert on.incidents
    assert all(i.alerted_at is not None for i in on.incidents)
    assert on.alerts_opened == len(on.incidents)
    assert on.alerts_resolved == len(on.incidents)  # each fixed the next night
    by_phase = {i.phase: i.seconds_to_alert for i in on.incidents if i.date != result.outage_date}
    assert by_phase.get("phase4") == 0.0  # a crash alerts at once: nothing to retry
    outage = next(i for i in on.incidents if i.date == result.outage_date)
    assert outage.seconds_to_alert is not None
    assert 0 < outage.seconds_to_alert <= MAX_WAITS


def test_the_result_is_json(result: OutcomeResult) -> None:
    data = json.loads(json.dumps(result.as_dict()))
    assert [m["name"] for m in data["modes"]] == list(MODES)
    assert data["outage_date"] == result.outage_date.isoformat()  # type: ignore[union-attr]
    assert data["modes"][0]["time_to_alert"] == "never"
    assert len(data["dates"]) == 10


def test_seeded_faults_fall_on_distinct_nights() -> None:
    plan = seeded_faults(40, seed=3)
    nights = [plan.outage_night, *(n for _, n in plan.crashes)]
    assert len(set(nights)) == len(nights) == 1 + sum(CRASHES.values())
    assert sorted(p for p, _ in plan.crashes) == sorted(
        name for name, n in CRASHES.items() for _ in range(n)
    )
    assert seeded_faults(40, seed=3) == plan
    with pytest.raises(UsageError):
        seeded_faults(4)


def test_an_unknown_processor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown processors"):
        simulate_outcome(dates=2, faults=FaultPlan(crashes=(("XYZ", 0),)), workdir=tmp_path)
