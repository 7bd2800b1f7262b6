"""explain: from each broken phase down its upstream to the root cause (pure), and the
``phaseguard explain`` command on the mini pipeline in a real warehouse."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import D2, D4
from phaseguard import report
from phaseguard.cli import main
from phaseguard.config import parse
from phaseguard.events import Event
from phaseguard.explain import chain_text, detail_text, explain, gather, to_dict
from phaseguard.guard import load
from phaseguard.serve import serve
from phaseguard.verdicts import (
    ACCEPTABLE,
    EXCELLENT,
    FAIL,
    NA,
    PASS,
    DateVerdict,
    Level,
    Overall,
    RangeVerdict,
    Verdict,
    combine,
)

CONFIG = parse(
    """\
pipeline: shop
warehouse: duckdb://shop.duckdb
schedule: {every: day}
phases:
  - name: raw
    tables:
      - {name: orders, table: raw.orders, date_column: d, unit: order_id}
      - {name: refunds, table: raw.refunds, date_column: d}
    checks:
      - {kind: rows_exist, any_of: [orders, refunds]}
  - name: staging
    depends_on: [raw]
    tables:
      - {name: stg_a, table: stg.a, date_column: d}
      - {name: stg_b, table: stg.b, date_column: d}
      - {name: stg_c, table: stg.c, date_column: d}
    checks:
      - {kind: quorum, name: processors, min_present: 2, required: [stg_a]}
  - name: marts
    depends_on: [staging]
    tables:
      - {name: revenue, table: marts.revenue, date_column: d}
    checks:
      - {kind: ratio, name: booked share, numerator: revenue, denominator: stg_a, excellent: 0.95, pass: 0.8}
  - name: dashboards
    depends_on: [marts]
    tables:
      - {name: tiles, table: bi.tiles, date_column: d}
  - name: audit
    depends_on: [raw]
    tables:
      - {name: log, table: audit.log, date_column: d}
gates:
  - phase: marts
"""
)
DAY = dt.date(2026, 3, 3)
T0 = dt.datetime(2026, 3, 4, 6, 0, tzinfo=dt.timezone.utc)


class Facts:
    """An observation that carries hand-written details (what a check's ``details()`` says)."""

    def __init__(self, details: dict[str, object]) -> None:
        self._details = details

    def observed(self, seen: Any) -> str:
        return str(seen)

    def details(self, seen: Any) -> dict[str, object]:
        return self._details

    def value(self, seen: Any) -> float | None:
        return None


def verdict(check: str, level: Level, seen: str = "", **details: object) -> Verdict:
    return Verdict(check, level, seen, "as configured", source=Facts(details) if details else None)


def day_of(
    phases: dict[str, tuple[Verdict, ...]], overall: Overall = Overall.FAILED
) -> DateVerdict:
    judged = tuple(combine(name, verdicts) for name, verdicts in phases.items())
    return DateVerdict(DAY, 1, judged, 40.0, overall)


def event(kind: str, minute: int, phase: str | None = None, **details: Any) -> Event:
    severity = "error" if kind in ("phase_failed", "retry_exhausted", "gate_blocked") else "info"
    if kind == "retry_attempt":
        severity = "warning"
    severity = details.pop("severity", severity)
    message = details.pop("message", f"{kind} for {DAY}")
    return Event(
        kind, severity, message, "shop", phase, DAY, details, T0 + dt.timedelta(minutes=minute)
    )


HEALTHY = {
    "raw": (verdict("rows_exist(orders|refunds)", EXCELLENT),),
    "staging": (verdict("processors", EXCELLENT),),
    "marts": (verdict("booked share", EXCELLENT),),
    "dashboards": (verdict("rows_exist", EXCELLENT),),
    "audit": (verdict("rows_exist", EXCELLENT),),
}


def test_the_chain_runs_downstream_to_the_first_failing_phase_whose_upstream_holds() -> None:
    day = day_of(
        HEALTHY
        | {
            "staging": (
                verdict(
                    "processors",
                    FAIL,
                    "1/3 present; missing stg_a, stg_b",
                    present=["stg_c"],
                    missing=["stg_a", "stg_b"],
                    missing_required=["stg_a"],
                ),
            ),
            "marts": (verdict("booked share", FAIL, "10% (1/10)"),),
            "dashboards": (verdict("rows_exist", FAIL, "tiles=0", empty=["tiles"]),),
        }
    )
    found = explain(CONFIG, day)
    assert [n.phase for n in found.heads] == ["dashboards"]
    assert [[n.phase for n in chain] for chain in found.chains] == [
        ["dashboards", "marts", "staging"]
    ]
    (root,) = found.roots
    assert root.phase == "staging"
    assert root.root
    assert root.level is FAIL
    assert root.tables == ("stg_a", "stg_b")  # what the quorum's details name, not stg_c
    assert root.cause == "processors: 1/3 present; missing stg_a, stg_b"
    assert chain_text(found.chains[0]) == "dashboards FAIL ← marts FAIL ← staging FAIL"
    assert found.headline.startswith("2026-03-03 FAILED (health 40): root cause staging FAIL")
    # The ratio names no table in its details: the tables its config fields read.
    assert found.heads[0].causes[0].tables == ("revenue", "stg_a")


def test_two_independent_roots_and_a_warning_upstream_are_all_named_in_config_order() -> None:
    day = day_of(
        HEALTHY
        | {
            "raw": (verdict("rows_exist(orders|refunds)", FAIL, "orders=0", empty=["orders"]),),
            "audit": (verdict("rows_exist", FAIL, "log=0", empty=["log"]),),
            "marts": (verdict("booked share", ACCEPTABLE, "70%"),),
        }
    )
    found = explain(CONFIG, day)
    assert [r.phase for r in found.roots] == ["raw", "marts"]
    assert [n.phase for n in found.heads] == ["marts", "audit"]
    assert [[n.phase for n in c] for c in found.chains] == [["marts"], ["audit", "raw"]]
    assert found.roots[0].tables == ("orders",)


def test_a_blocked_gate_breaks_a_phase_whose_own_checks_pass_and_retries_are_grouped() -> None:
    """phase 6 FAIL ← phase 5 blocked ← ... ← box scores ← balldontlie 503 × 5, in small."""
    day = day_of(
        HEALTHY
        | {
            "raw": (
                verdict(
                    "rows_exist(orders|refunds)", FAIL, "orders=0, refunds=0", empty=["orders"]
                ),
            ),
            "staging": (verdict("processors", FAIL, "0/3", missing=["stg_a", "stg_b", "stg_c"]),),
            "dashboards": (verdict("rows_exist", FAIL, "tiles=0", empty=["tiles"]),),
        }
    )
    error = {"function": "api.orders", "error_class": "ServerError", "error": "503 Unavailable"}
    events = [
        *(event("retry_attempt", i, "raw", attempt=i + 1, **error) for i in range(4)),
        event("retry_exhausted", 4, "raw", attempt=5, **error),
        event(
            "retry_gave_up",
            4,
            "raw",
            function="step:raw",
            error_class="RetryExhausted",
            error="api.orders: all 5 attempts failed",
        ),
        event("phase_failed", 5, "raw", message="raw failed for 2026-03-03: api.orders ..."),
        event("alert_sent", 5, "raw"),
        event("gate_blocked", 12, "marts", gate="marts", message="marts BLOCKED for 2026-03-03"),
        event("phase_ran", 1, "audit"),  # audit ran fine: its run explains nothing
    ]
    found = explain(CONFIG, day, events)
    assert [[n.phase for n in c] for c in found.chains] == [
        ["dashboards", "marts", "staging", "raw"]
    ]
    marts = found.heads[0].causes[0]
    assert (marts.level, marts.state, marts.root) == (EXCELLENT, "blocked", False)
    assert marts.status == "EXCELLENT, blocked 06:12"
    assert [f.kind for f in marts.findings] == ["gate_blocked"]
    (raw,) = found.roots
    assert raw.state == "failed"
    assert raw.status == "FAIL, failed 06:05"
    retries = [f for f in raw.findings if f.kind == "retries"]
    assert [(f.text, f.count) for f in retries] == [
        ("api.orders ServerError: 503 Unavailable × 5, retry exhausted", 5)
    ]  # the step's wrapper (RetryExhausted) is not counted again; alerts are no cause
    assert [f.kind for f in raw.findings] == ["retries", "phase_failed"]
    assert "api.orders ServerError: 503 Unavailable × 5" in raw.cause
    assert not found.findings


def test_only_the_latest_run_counts_a_failure_since_repaired_explains_nothing() -> None:
    events = [
        event("retry_attempt", 0, "raw", function="api", error_class="Timeout", error="t"),
        event("phase_failed", 1, "raw"),
        event("phase_ran", 60, "raw"),
        event("gate_blocked", 2, "marts", gate="marts"),
        event("gate_open", 61, "marts", gate="marts"),
    ]
    found = explain(CONFIG, day_of(HEALTHY, Overall.COMPLETE), events)
    assert found.roots == ()
    assert found.heads == ()
    assert found.headline == "2026-03-03 COMPLETE (health 40): every phase holds"
    # Failing again in a later run: only that run's events are its evidence.
    events += [
        event("retry_attempt", 70, "raw", function="api", error_class="HTTP", error="503"),
        event("phase_failed", 71, "raw"),
    ]
    (raw,) = explain(CONFIG, day_of(HEALTHY, Overall.COMPLETE), events).roots
    assert [f.text for f in raw.findings if f.kind == "retries"] == ["api HTTP: 503 × 1"]


def test_events_without_a_phase_attach_by_gate_or_table_other_dates_are_ignored() -> None:
    day = day_of(HEALTHY | {"raw": (verdict("rows_exist(orders|refunds)", FAIL, "orders=0"),)})
    events = [
        event(
            "orders_incomplete",
            0,
            None,
            table="raw.orders",
            message="api: 6 of 12 missing",
            severity="warning",
        ),
        event("override_created", 1, None, gate="marts", message="override of marts"),
        event("something_else", 2, None, message="a note about the day"),
        Event("phase_failed", "error", "another day", "shop", "raw", DAY - dt.timedelta(days=1)),
    ]
    found = explain(CONFIG, day, events)
    (raw,) = found.roots
    assert [f.text for f in raw.findings] == ["api: 6 of 12 missing"]
    assert raw.state is None  # the other day's failure is not this date's
    assert [f.text for f in found.findings] == ["a note about the day"]
    assert "api: 6 of 12 missing" in raw.cause
    # The override, kept under the gate it let through, once that phase is broken.
    day = day_of(HEALTHY | {"marts": (verdict("booked share", FAIL, "10%"),)})
    events += [event("gate_overridden", 3, "marts", gate="marts", message="passed on override")]
    (marts,) = explain(CONFIG, day, events).roots
    assert marts.state == "overridden"
    assert [f.kind for f in marts.findings] == ["override_created", "gate_overridden"]


def test_a_pass_that_still_names_something_missing_is_a_note() -> None:
    day = day_of(
        HEALTHY
        | {
            "staging": (
                verdict("processors", PASS, "2/3", present=["stg_a", "stg_b"], missing=["stg_c"]),
            ),
            "dashboards": (verdict("rows_exist", NA, "nothing"),),
        },
        Overall.COMPLETE,
    )
    found = explain(CONFIG, day)
    assert found.roots == ()
    assert [(n.phase, n.verdict.check, n.tables) for n in found.notes] == [
        ("staging", "processors", ("stg_c",))
    ]


def test_json_shape() -> None:
    day = day_of(
        HEALTHY
        | {
            "staging": (
                verdict("processors", FAIL, "1/3", missing=["stg_a", "stg_b"], present=["stg_c"]),
            ),
            "marts": (verdict("booked share", FAIL, "10%"),),
        }
    )
    events = [event("gate_blocked", 3, "marts", gate="marts", message="marts BLOCKED")]
    data = to_dict(explain(CONFIG, day, events, events_error=None), exit_code=2)
    data = json.loads(json.dumps(data))  # JSON all the way down
    assert set(data) == {
        "date",
        "overall",
        "health",
        "scheduled",
        "headline",
        "root_causes",
        "chains",
        "chain_text",
        "phases",
        "notes",
        "events",
        "events_error",
        "exit_code",
    }
    assert data["chains"] == [["marts", "staging"]]
    assert data["chain_text"] == ["marts FAIL, blocked 06:03 ← staging FAIL"]
    (root,) = data["root_causes"]
    assert root["phase"] == "staging"
    assert root["root"] is True
    assert root["upstream"] == []
    assert root["tables"] == ["stg_a", "stg_b"]
    assert root["checks"][0]["details"]["missing"] == ["stg_a", "stg_b"]
    marts = data["phases"]["marts"]
    assert marts["state"] == "blocked"
    assert marts["upstream"] == ["staging"]
    assert marts["events"][0]["kind"] == "gate_blocked"
    assert marts["events"][0]["time"] == "2026-03-04T06:03:00+00:00"


def test_detail_text_shows_any_details_generically() -> None:
    text = detail_text(
        {"nulls": {"player_id": 3, "game_id": 0}, "offending": list("abcdefg"), "empty": []}
    )
    assert text == "nulls: player_id=3, game_id=0; offending: a, b, c, d, e and 2 more"


# --- the command, on the mini pipeline in a real warehouse --------------------------------


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_cli_explains_a_date_to_its_root_cause(
    mini: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, url = mini
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = _run(capsys, "explain", str(D4), "-c", str(config), "-w", url)
    assert code == 2  # verify's for the date: FAILED
    assert "Root cause: process ❌ FAIL — quorum: 2/3 present (the minimum); missing A" in out
    assert "predict FAIL ← process FAIL" in out
    code, out, _ = _run(capsys, "explain", str(D2), "-c", str(config), "-w", url, "-f", "json")
    data = json.loads(out)
    assert code == data["exit_code"] == 2
    assert [r["phase"] for r in data["root_causes"]] == ["ingest"]
    assert data["root_causes"][0]["checks"][0]["details"]["missing"] == ["g21", "g22"]
    assert data["chains"] == [["process", "ingest"]]
    code, out, _ = _run(capsys, "explain", "2026-01-03", "-c", str(config), "-w", url)
    assert code == 0
    assert "nothing scheduled" in out


def test_cli_reads_the_events_and_survives_an_unreadable_event_log(
    mini: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = mini
    with load(config, warehouse=url) as guard:
        decision = guard.gate("predict").decide(D4)  # blocked: A missing; recorded
    assert decision.status == "blocked"
    with load(config, warehouse=url) as guard:
        result, events, error = gather(guard, D4)
        assert guard.warehouse.queries_sent == 1  # verify's one query; the events: the store
    assert ([e.kind for e in events], error) == (["gate_blocked"], None)
    assert result.dates[0].overall is Overall.FAILED
    code, out, _ = _run(capsys, "explain", str(D4), "-c", str(config), "-w", url, "-f", "json")
    predict = json.loads(out)["phases"]["predict"]
    assert predict["state"] == "blocked"
    assert [e["kind"] for e in predict["events"]] == ["gate_blocked"]
    # The store cannot be read: explain says so and still explains from the verdicts.
    store = config.parent / ".phaseguard" / "events.sqlite"
    store.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    store.mkdir()
    with pytest.raises(sqlite3.Error):
        sqlite3.connect(store).execute("SELECT 1 FROM events")
    code, out, err = _run(capsys, "explain", str(D4), "-c", str(config), "-w", url)
    assert code == 2
    assert "the event log could not be read" in err
    assert "Root cause: process ❌ FAIL" in out
    code, out, _ = _run(capsys, "explain", str(D4), "-c", str(config), "-w", url, "-f", "json")
    data = json.loads(out)
    assert data["events_error"]
    assert data["root_causes"][0]["phase"] == "process"


@pytest.mark.parametrize("bad", ["2026-13-01", "20260101", "yesterday"])
def test_cli_a_bad_date_is_one_line_and_a_usage_error(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "explain", bad, "-c", "nowhere.yml")
    assert code == 3  # the exit-code table's usage error, like verify's
    assert err.count("\n") == 1
    assert "expected YYYY-MM-DD" in err
    assert out == ""


def test_a_step_left_unhealthy_keeps_the_events_of_the_run_it_ended() -> None:
    day = day_of(HEALTHY | {"raw": (verdict("coverage", FAIL, "50% (4/8)"),)})
    events = [
        event("phase_failed", 0, "raw"),  # an earlier run
        event("orders_incomplete", 10, "raw", message="api: 4 of 8 missing", severity="warning"),
        event("phase_ran", 11, "raw"),
        event("phase_unhealthy", 12, "raw", message="raw: checks FAIL after the step ran: ..."),
    ]
    (raw,) = explain(CONFIG, day, events).roots
    assert raw.status == "FAIL, unhealthy 06:12"
    assert [f.kind for f in raw.findings] == ["orders_incomplete", "phase_unhealthy"]
    assert raw.cause == "coverage: 50% (4/8); api: 4 of 8 missing"  # not the checks twice


def test_the_report_shows_the_same_explanation_under_each_red_cells_link() -> None:
    day = day_of(
        HEALTHY
        | {
            "staging": (verdict("processors", FAIL, "1/3", missing=["stg_a", "stg_b"]),),
            "marts": (verdict("booked share", FAIL, "10%"),),
        }
    )
    events = [event("gate_blocked", 3, "marts", gate="marts", message="marts BLOCKED for it")]
    result = RangeVerdict(DAY, DAY, (day,), 40.0, Overall.FAILED)
    now = T0 + dt.timedelta(hours=1)
    source = report.provenance("shop.yml", "duckdb://shop.duckdb", now)
    view = report.build(result, events, config=CONFIG, provenance=source)
    assert view.explanations[DAY] == explain(CONFIG, day, events)
    html = report.render(view)
    for phase in ("staging", "marts"):  # the red cells link to their phase's explanation
        assert f'data-phase="{phase}" data-status="FAIL"' in html
        assert f'<a href="#d-2026-03-03-{phase}">' in html
        assert f'<li id="d-2026-03-03-{phase}" data-phase="{phase}"' in html
    assert 'data-roots="staging"' in html
    assert "marts FAIL, blocked 06:03 ← staging FAIL" in html
    assert "marts BLOCKED for it" in html
    # An unreadable event log: the report still explains from the verdicts, and says so.
    view = report.build(result, [], config=CONFIG, provenance=source, events_error="down")
    assert view.explanations[DAY].events_error == "down"
    assert "explained from the verdicts alone" in report.render(view)


def test_the_dashboard_answers_the_same_explanation(mini: tuple[Path, str]) -> None:
    config, url = mini
    with load(config, warehouse=url) as guard:
        server = serve(guard, port=0, end=D4)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            base = server.url.rstrip("/")
            one = httpx.get(f"{base}/api/explain", params={"start": str(D4)})
            today = httpx.get(f"{base}/api/explain")
            span = httpx.get(f"{base}/api/explain", params={"start": str(D2), "end": str(D4)})
            bad = httpx.get(f"{base}/api/explain", params={"start": "2026-1-4"})
        finally:
            server.shutdown()
            server.server_close()
        result, events, error = gather(guard, D4)
    want = to_dict(explain(guard.config, result.dates[0], events, events_error=error), 2)
    assert one.status_code == 200
    assert one.json() == json.loads(json.dumps(want))
    assert today.json()["date"] == str(D4)  # the dashboard's range ends on D4
    assert span.status_code == bad.status_code == 400
    assert "one date" in span.json()["error"]


def test_phases_listed_before_their_upstream_and_a_gate_pointing_downstream() -> None:
    config = parse(
        """\
pipeline: loop
warehouse: duckdb://x.duckdb
schedule: {every: day}
phases:
  - name: report
    depends_on: [load]
    tables: [{name: r, table: s.r, date_column: d}]
  - name: load
    tables: [{name: l, table: s.l, date_column: d}]
gates:
  - {phase: load, upstream: [report]}
"""
    )
    day = day_of(
        {"report": (verdict("rows_exist", FAIL, "r=0"),), "load": (verdict("rows_exist", FAIL),)}
    )
    found = explain(config, day)
    assert [[n.phase for n in c] for c in found.chains] == [["report", "load"]]


def test_a_config_narrowed_to_a_selection_explains_what_it_holds() -> None:
    narrowed = CONFIG.model_copy(update={"phases": [CONFIG.phase("marts")]})
    day = day_of({"marts": (verdict("booked share", FAIL, "10%"),)})
    (root,) = explain(narrowed, day).roots  # its upstream is not selected: it is the root
    assert root.phase == "marts"


def test_row_kinds_name_their_tables_and_any_details_they_carry() -> None:
    config = parse(
        """\
pipeline: rows
warehouse: duckdb://x.duckdb
schedule: {every: day}
phases:
  - name: raw
    tables: [{name: lines, table: raw.lines, date_column: d}]
  - name: marts
    depends_on: [raw]
    tables:
      - {name: totals, table: out.totals, date_column: d}
      - {name: other, table: out.other, date_column: d}
    checks:
      - {kind: not_null, table: totals, columns: [player, lines]}
      - {kind: reconciliation, name: recon, left: {table: totals, expr: "SUM(n)"}, right: {table: lines, expr: "COUNT(*)"}}
      - {kind: accepted_values, name: teams, table: other, column: team, values: [lines, totals]}
"""
    )
    day = day_of(
        {
            "raw": (verdict("rows_exist", EXCELLENT),),
            "marts": (
                verdict(
                    "not_null(totals.player,lines)", FAIL, "2 rows", nulls={"player": 2, "lines": 0}
                ),
                verdict("recon", FAIL, "5 vs 6", left=5, right=6, difference=-1),
                verdict("teams", FAIL, "1 row", offending=["lines"]),
            ),
        }
    )
    (root,) = explain(config, day).roots
    # From the checks' table fields: not their columns, values or offending values.
    assert root.tables == ("totals", "lines", "other")
    text = [detail_text(v.details) for v in root.checks]
    assert text == [
        "nulls: player=2, lines=0",
        "left: 5; right: 6; difference: -1",
        "offending: lines",
    ]
