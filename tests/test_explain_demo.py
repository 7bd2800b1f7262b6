"""explain on the demo: every date the demo broke is explained by the fault it injected.

The faults come from the demo's own fault list (``BuiltDemo.plan.faults``: kind, table,
dates), the gates the demo asks (``GATE_DATES``, ``BREAKER_DATES``) record their blocks,
and two nights through the demo's local balldontlie API put retries, a failed step, a
blocked gate and a 200 with half the games in the event log.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from nba_props import steps
from nba_props.analytics import GAMEBOOK
from nba_props.bdl_server import FaultModel, VirtualClock, serve
from nba_props.demo import BREAKER_DATES, DEMO_KEY, GATE_DATES, BuiltDemo, build_demo
from nba_props.faults import Fault
from nba_props.schema import SCHEMA
from nba_props.scraper import TABLE, bdl_client
from phaseguard import load
from phaseguard.cli import main
from phaseguard.config import Config
from phaseguard.runner import Runner
from phaseguard.verdicts import PASS, Level, Overall, RangeVerdict


def _explain(
    built: BuiltDemo, day: dt.date, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    url = f"duckdb://{built.warehouse_path}"
    with pytest.raises(SystemExit) as info:
        main(["explain", str(day), "-c", str(built.config_path), "-w", url, "--format", "json"])
    return int(info.value.code or 0), json.loads(capsys.readouterr().out)


def _owner(config: Config, table: str) -> tuple[str, str]:
    """The phase holding ``table`` and the table's key in the config."""
    found = [(p.name, t.name) for p in config.phases for t in p.tables if t.table == table]
    return found[0] if found else ("", "")


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltDemo, RangeVerdict]:
    """The demo season with its faults in place, and the gates the demo asks decided."""
    built = build_demo(tmp_path_factory.mktemp("explain") / "demo")
    with load(built.config_path, warehouse=f"duckdb://{built.warehouse_path}") as guard:
        for gate, day in GATE_DATES + BREAKER_DATES:
            assert guard.gate(gate).decide(day).status == "blocked"
        result = guard.verify(built.plan.first_date, built.plan.last_date)
    return built, result


def _fault_dates(built: BuiltDemo) -> list[tuple[Fault, dt.date]]:
    return [(fault, day) for fault in built.plan.faults for day in fault.dates]


def test_every_injected_fault_is_the_root_cause_explain_names_on_its_dates(
    season: tuple[BuiltDemo, RangeVerdict], capsys: pytest.CaptureFixture[str]
) -> None:
    built, result = season
    with load(built.config_path) as guard:
        config = guard.config
    phases = {(d.date, p.phase): p for d in result.dates for p in d.phases}
    # A fault in a table no phase holds (a dimension) shows through the checks reading it.
    faults = [(f, d) for f, d in _fault_dates(built) if _owner(config, f.table)[0]]
    assert len({f.kind for f, _ in faults}) >= 10
    explained = {day: _explain(built, day, capsys) for day in sorted({d for _, d in faults})}
    injected: dict[dt.date, set[str]] = {}
    for fault, day in faults:
        injected.setdefault(day, set()).add(_owner(config, fault.table)[0])
    seen_as = {"root": 0, "downstream": 0, "note": 0, "hidden": 0}
    for fault, day in faults:
        code, data = explained[day]
        phase, key = _owner(config, fault.table)
        level = phases[(day, phase)].level
        # PASS below its best: a tier above it (graded) or something named missing.
        below_best = [
            v
            for v in phases[(day, phase)].verdicts
            if v.level is PASS and (v.graded or v.details.get("missing"))
        ]
        where = f"{fault.kind} on {day} ({phase})"
        assert code == {"FAILED": 2, "PARTIAL": 1}.get(data["overall"], 0), where
        if level.rank < PASS.rank:
            node = data["phases"][phase]
            if node["root"]:
                # The injected cause: the phase holding the faulted table, naming it.
                assert key in node["tables"], where
                assert phase in [r["phase"] for r in data["root_causes"]], where
                assert node["checks"], where
                seen_as["root"] += 1
            else:
                # Downstream of another fault injected on the same date, whose phase is
                # the root its chain ends in (the predictions lost to the phase-4 outage).
                chains = [c for c in data["chains"] if phase in c]
                assert chains, where
                assert all(c[-1] in injected[day] and c[-1] != phase for c in chains), where
                seen_as["downstream"] += 1
        elif below_best:
            # Within the criteria, below their best: named as a note, with its table.
            notes = [n for n in data["notes"] if n["phase"] == phase]
            assert any(key in n["tables"] for n in notes), where
            seen_as["note"] += 1
        else:
            # The criteria do not see it on this date (the gamebook covers the games bdl
            # lacks): explain invents nothing there either.
            assert level in (Level.EXCELLENT, PASS), where
            assert phase not in data["phases"], where
            seen_as["hidden"] += 1
    assert seen_as["root"] >= 20
    assert seen_as["downstream"] >= 3
    assert seen_as["note"] >= 2
    assert seen_as["hidden"] <= 6  # partial box scores only


def test_the_outage_chain_and_the_gates_blocks_as_the_demo_injected_them(
    season: tuple[BuiltDemo, RangeVerdict], capsys: pytest.CaptureFixture[str]
) -> None:
    built, _ = season
    with load(built.config_path) as guard:
        config = guard.config
    (outage,) = [f for f in built.plan.faults if f.kind == "phase4_outage"]
    phase, key = _owner(config, outage.table)
    gated = {day for gate, day in BREAKER_DATES if gate == "phase5"}
    for day in outage.dates:
        code, data = _explain(built, day, capsys)
        assert code == 2
        assert [r["phase"] for r in data["root_causes"]] == [phase]
        (root,) = data["root_causes"]
        assert key in root["tables"]
        assert "2/5 present" in root["cause"]
        chain = next(c for c in data["chains"] if c[-1] == phase)
        assert chain[:2] == ["phase6", "phase5"] if day == dt.date(2026, 1, 21) else chain
        five = data["phases"]["phase5"]
        assert five["upstream"] == [phase]
        if day in gated:
            assert five["state"] == "blocked"  # the breaker the demo asked
            assert [e["kind"] for e in five["events"]] == ["gate_blocked"]
            assert "blocked" in " ← ".join(data["chain_text"])
    for gate, day in GATE_DATES:
        _, data = _explain(built, day, capsys)
        node = data["phases"][gate]
        assert node["state"] == "blocked"
        (upstream,) = node["upstream"]
        assert data["phases"][upstream]["root"]
        missing = {
            _owner(config, f.table)[1]
            for f in built.plan.faults
            if f.kind == "phase3_table_missing" and day in f.dates
        }
        assert missing <= set(data["phases"][upstream]["tables"])


@pytest.fixture
def night(tmp_path: Path) -> tuple[BuiltDemo, dt.date]:
    """A fresh demo and a date whose data is whole, to be run again tonight."""
    built = build_demo(tmp_path / "demo")
    faulted = {d for f in built.plan.faults for d in f.dates}
    with load(built.config_path, warehouse=f"duckdb://{built.warehouse_path}") as guard:
        result = guard.verify(built.plan.first_date, built.plan.last_date)
    day = next(
        d.date
        for d in reversed(result.dates)
        if d.overall is Overall.COMPLETE and d.date not in faulted
    )
    return built, day


def _run_night(built: BuiltDemo, day: dt.date, faults: FaultModel) -> None:
    """The demo's nightly run of ``day`` through its local balldontlie API (virtual clock),
    NBA.com's gamebook not out yet."""
    clock = VirtualClock()
    with load(built.config_path, warehouse=f"duckdb://{built.warehouse_path}") as guard:
        with guard.writing():
            guard.warehouse.replace_partition(
                GAMEBOOK, "game_date", day, tuple(SCHEMA[GAMEBOOK]), []
            )
        with serve(api_key=DEMO_KEY, faults=faults, clock=clock, seed=7) as server:
            steps.configure(
                sleep=clock.sleep,
                clock=clock,
                client=bdl_client(DEMO_KEY, base_url=server.url),
                timeout=2.0,
                rng=random.Random("explain-night"),
            )
            try:
                Runner(guard, sleep=clock.sleep, rng=random.Random("explain")).run_date(day)
            finally:
                steps.configure()


def test_a_200_with_half_the_games_is_the_root_under_the_blocked_phase3(
    night: tuple[BuiltDemo, dt.date], capsys: pytest.CaptureFixture[str]
) -> None:
    built, day = night
    _run_night(built, day, FaultModel(incomplete_dates=(day,)))
    code, data = _explain(built, day, capsys)
    assert code == 2
    assert data["chains"] == [["phase3", "phase2"]]
    assert data["phases"]["phase3"]["state"] == "blocked"
    (root,) = data["root_causes"]
    assert root["phase"] == "phase2"
    assert root["status"] == "FAIL"
    (told,) = [e for e in root["events"] if e["kind"] == "boxscores_incomplete"]
    assert told["details"]["table"] == TABLE
    coverage = next(c for c in root["checks"] if c["check"] == "games covered")
    assert coverage["details"]["missing_count"] == len(told["details"]["missing"])
    assert "games missing" in root["cause"]


def test_an_api_down_all_night_is_the_root_balldontlie_503_times_5(
    night: tuple[BuiltDemo, dt.date], capsys: pytest.CaptureFixture[str]
) -> None:
    built, day = night
    _run_night(built, day, FaultModel(outages=((0.0, 1e9),)))
    code, data = _explain(built, day, capsys)
    (root,) = data["root_causes"]
    assert root["phase"] == "phase2"
    assert root["state"] == "failed"
    retries = [e for e in root["events"] if e["kind"] == "retries"]
    assert [(e["details"]["function"], e["count"]) for e in retries] == [("bdl.games", 5)]
    assert "Service Unavailable" in retries[0]["text"]
    assert "× 5" in root["cause"]
    # The rows of an earlier run are still there, so the date's verdict is unchanged:
    # explain exits as verify does, and says the step failed.
    assert code == 0
    assert data["overall"] == "COMPLETE"
    assert data["chain_text"] == [data["chain_text"][0]]
    assert data["chain_text"][0].startswith("phase2 ")


class _Page(HTMLParser):
    """What the report links: each heatmap cell's link, and each failing date's section (the
    ids inside it and the root causes its explanation names)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.ids: dict[str, str] = {}  # id -> the date of the section holding it
        self.roots: dict[str, list[str]] = {}
        self._section: str | None = None
        self._cell: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and "data-date" in a:
            self._section = a["data-date"]
        if tag == "td" and "data-status" in a:
            self._cell = a
            self.cells.append(a)
        if tag == "a" and self._cell is not None:
            self._cell["href"] = a.get("href", "")
        if "id" in a and self._section is not None:
            self.ids[a["id"]] = self._section
        if tag == "div" and "explain" in a.get("class", "").split() and self._section:
            self.roots[self._section] = a["data-roots"].split()

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        if tag == "section":
            self._section = None


def test_the_report_links_every_red_cell_to_the_explanation_explain_gives(
    season: tuple[BuiltDemo, RangeVerdict], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    built, result = season
    page = tmp_path / "season.html"
    argv = ["report", str(built.plan.first_date), str(built.plan.last_date), "-o", str(page)]
    with pytest.raises(SystemExit) as info:
        main([*argv, "-c", str(built.config_path), "-w", f"duckdb://{built.warehouse_path}"])
    assert info.value.code == 0
    capsys.readouterr()
    parsed = _Page()
    parsed.feed(page.read_text())
    red = [c for c in parsed.cells if Level(c["data-status"]).rank < PASS.rank]
    assert len(red) == sum(1 for d in result.dates for p in d.phases if p.level.rank < PASS.rank)
    for cell in red:
        day, _phase = cell["data-date"], cell["data-phase"]
        target = cell["href"].removeprefix("#")
        assert parsed.ids.get(target) == day, cell  # its phase, in its date's explanation
    for day in sorted({c["data-date"] for c in red}):
        _, data = _explain(built, dt.date.fromisoformat(day), capsys)
        assert parsed.roots[day] == [r["phase"] for r in data["root_causes"]], day
        assert {f"d-{day}-{p}" for p in data["phases"]} <= set(parsed.ids), day
