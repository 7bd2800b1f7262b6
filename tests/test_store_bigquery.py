"""The event store in BigQuery, against a local emulator driven by the real client.

Overrides and incidents run the very test bodies of ``test_overrides.py`` and
``test_alerts.py`` on a ``bigquery://`` store; then what only this store has: its tables,
the compare-and-set of incidents, spooling while the endpoint is down, and the CLI reading
events from a config whose ``events:`` is BigQuery. Each test gets a project of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import test_alerts as alerts_suite
import test_overrides as overrides_suite
from conftest import MINI_CONFIG
from phaseguard.alerts import Notifier, StderrSink
from phaseguard.cli import main
from phaseguard.errors import ConfigError, StoreError
from phaseguard.events import Event
from phaseguard.overrides import Overrides
from phaseguard.records import IncidentRow, PendingAlert
from phaseguard.store import EventStore, open_store
from phaseguard.store_bigquery import BigQueryStore

pytestmark = pytest.mark.slow

T0 = dt.datetime(2026, 1, 20, 16, 0, tzinfo=dt.timezone.utc)
DAY = dt.date(2026, 1, 18)
GATE = "phase4_to_phase5"


def _event(n: int, **fields: object) -> Event:
    values: dict[str, object] = {
        "kind": "gate_blocked",
        "severity": "warning",
        "message": f"event {n}",
        "time": T0 + dt.timedelta(seconds=n),
        "id": f"e{n:04d}",
    }
    values.update(fields)
    return Event(**values)  # type: ignore[arg-type]


@pytest.fixture
def bq_url(bq_endpoint: str) -> str:
    """A ``bigquery://`` store URL in a fresh emulator project."""
    return f"bigquery://t-{uuid.uuid4().hex[:12]}/ops?endpoint={bq_endpoint}&timeout=30"


@pytest.fixture
def store(bq_url: str, tmp_path: Path) -> Iterator[EventStore]:
    with open_store(bq_url, default_path=tmp_path / ".phaseguard" / "events.sqlite") as opened:
        assert isinstance(opened, BigQueryStore)
        yield opened


@pytest.fixture
def server() -> Iterator[alerts_suite._Server]:
    srv = alerts_suite._Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def _ids(store: EventStore) -> list[str]:
    return [e.id for e in store.query()]


# --- events -------------------------------------------------------------------------------


def test_events_recorded_and_queried_with_filters(store: EventStore) -> None:
    store.record(_event(3, kind="override_used", phase="phase4", date=DAY))
    store.record(_event(1, phase="phase4", date=DAY, severity="critical"))
    store.record(_event(2, phase="phase5", details={"checks": ["a", "b"], "n": 2}))

    assert _ids(store) == ["e0001", "e0002", "e0003"]
    assert [e.id for e in store.query(kind="gate_blocked")] == ["e0001", "e0002"]
    assert [e.id for e in store.query(phase="phase4")] == ["e0001", "e0003"]
    assert [e.id for e in store.query(date=DAY, severity="critical")] == ["e0001"]
    assert [e.id for e in store.query(since=T0 + dt.timedelta(seconds=2))] == ["e0002", "e0003"]
    assert [e.id for e in store.query(limit=2)] == ["e0002", "e0003"]
    assert store.query(phase="phase5")[0].details == {"checks": ["a", "b"], "n": 2}
    assert store.query(kind="x' OR '1'='1") == []  # a value is only ever a value
    back = store.query(phase="phase4", kind="gate_blocked")[0]
    assert back == _event(1, phase="phase4", date=DAY, severity="critical", pid=back.pid)

    # A spool flushed into the store but not emptied (a crash in between) doubles nothing.
    row = ["e0002", (T0 + dt.timedelta(seconds=2)).isoformat(), "gate_blocked", "warning", ""]
    line = json.dumps([*row, "phase5", None, "event 2", "{}", "h", 1])
    store.spool_path.parent.mkdir(parents=True, exist_ok=True)
    store.spool_path.write_text(line + "\n")
    store.record(_event(4))
    assert _ids(store) == ["e0001", "e0002", "e0003", "e0004"]
    assert store.spool_path.read_text() == ""


def test_tables_are_created_in_the_dataset(store: EventStore, bq_url: str) -> None:
    assert store.location == bq_url
    assert store.incidents() == []  # the first use creates the dataset and the tables
    client = store._connect()
    project = bq_url.split("/")[2]
    tables = {t.table_id for t in client.list_tables(f"{project}.ops")}
    assert tables == {
        "phaseguard_events",
        "phaseguard_overrides",
        "phaseguard_incidents",
        "phaseguard_pending_alerts",
    }
    events = client.get_table(f"{project}.ops.phaseguard_events")
    assert events.time_partitioning.field == "time"


def test_down_endpoint_spools_then_flushes_when_back(
    bq_endpoint: str, bq_url: str, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    default = tmp_path / ".phaseguard" / "events.sqlite"
    project = bq_url.split("/")[2]
    with open_store(
        f"bigquery://{project}/ops?endpoint=http://127.0.0.1:{closed}&timeout=0.5",
        default_path=default,
    ) as down:
        down.record(_event(1))  # must not raise
        down.record(_event(2, details={"k": [1]}))
        assert len(down.spool_path.read_text().splitlines()) == 2
        with pytest.raises(StoreError, match="cannot read the event store bigquery://"):
            down.query()

    with open_store(bq_url, default_path=default) as back:
        back.record(_event(3))
        assert _ids(back) == ["e0001", "e0002", "e0003"]
        assert back.query(kind="gate_blocked")[1].details == {"k": [1]}
        assert back.spool_path.read_text() == ""


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("bigquery://proj", "expected bigquery://PROJECT/DATASET"),
        ("bigquery://proj/a-b", "expected bigquery://PROJECT/DATASET"),
        ("bigquery://proj/ds?region=eu", "unknown option"),
        ("bigquery://proj/ds?timeout=soon", "bad timeout"),
    ],
)
def test_bad_urls_are_config_errors(url: str, match: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=match):
        open_store(url, default_path=tmp_path / "events.sqlite")


# --- overrides: the same scenarios as on SQLite and PostgreSQL --------------------------


def test_override_create_active_use_expire(store: EventStore) -> None:
    overrides_suite.test_create_active_use_expire(store)


def test_override_revoke_and_list(store: EventStore) -> None:
    overrides_suite.test_revoke_and_list(store)


def test_an_override_id_is_taken_once(store: EventStore) -> None:
    made = Overrides(store, clock=lambda: T0).create(GATE, DAY, "why", "ana", dt.timedelta(1))
    assert store.add_override(store.overrides(id=made.id)[0]) is False
    assert len(store.overrides()) == 1


# --- incidents and pending alerts ---------------------------------------------------------


def test_incident_alerts_once_per_transition(
    server: alerts_suite._Server, store: EventStore, capsys: pytest.CaptureFixture[str]
) -> None:
    alerts_suite.test_incident_alerts_once_per_transition(server, store, capsys)


def test_retry_pending_once_the_server_is_back(
    server: alerts_suite._Server, store: EventStore
) -> None:
    alerts_suite.test_retry_pending_once_the_server_is_back(server, store)


def test_a_worker_that_lost_the_race_alerts_nothing(
    bq_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Worker A reads no incident; before it writes, worker B opens it. A's write must not
    land, and A, reading again, must see B's incident and stay silent."""
    default = tmp_path / "events.sqlite"
    with (
        open_store(bq_url, default_path=default) as a,
        open_store(bq_url, default_path=default) as b,
    ):
        b_notifier = Notifier([StderrSink()], b)
        seen: list[IncidentRow | None] = []

        def a_update(row: IncidentRow | None) -> IncidentRow | None:
            seen.append(row)
            if len(seen) == 1:  # B gets in between A's read and A's write
                assert b_notifier.track(GATE, DAY, "critical", alerts_suite.make_alert)
            if row is not None:
                return None
            return IncidentRow(GATE, DAY.isoformat(), "warning", "warning", "a", "a", "open")

        before = a.swap_incident(GATE, DAY.isoformat(), a_update)
        assert seen[0] is None
        assert before is not None
        assert before.severity == "critical"  # B's row, seen on A's second read
        assert [(i.severity, i.opened_at) for i in a.incidents()] == [
            ("critical", before.opened_at)
        ]
        assert capsys.readouterr().err.count("CRITICAL opened") == 1

        # The same race on an open incident: B resolves it between A's read and write.
        calls: list[IncidentRow | None] = []

        def a_change(row: IncidentRow | None) -> IncidentRow | None:
            calls.append(row)
            if len(calls) == 1:
                b_notifier.track(GATE, DAY, None, alerts_suite.make_alert)
            assert row is not None
            return row._replace(severity="warning", updated_at="a")

        assert a.swap_incident(GATE, DAY.isoformat(), a_change) == calls[-1]
        assert [c.status for c in calls if c] == ["open", "resolved"]
        assert [i.updated_at for i in a.incidents(open_only=False)] == ["a"]


def test_pending_alerts_claimed_once(store: EventStore) -> None:
    row = PendingAlert("p1", "webhook", '{"title": "t"}', 1, "2026-01-20T16:00:00+00:00", "x")
    store.add_pending(row)
    store.add_pending(row._replace(attempts=3, last_error="HTTPStatusError"))
    assert store.pending() == [row._replace(attempts=3, last_error="HTTPStatusError")]
    assert store.remove_pending("p1") is True
    assert store.remove_pending("p1") is False
    assert store.pending() == []


# --- the CLI on a config whose events live in BigQuery -----------------------------------


def test_cli_events_and_override_on_a_bigquery_store(
    bq_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "phaseguard.yml"
    config.write_text(MINI_CONFIG + f"events: {bq_url}\n")
    args = ["-c", str(config)]

    with pytest.raises(SystemExit) as info:
        main(["override", "process", "-d", "2026-01-02", "--reason", "late", "--by", "ana", *args])
    assert info.value.code in (0, None), capsys.readouterr()
    created = re.search(r"override ([0-9a-f]{8}): gate process", capsys.readouterr().out)
    assert created is not None

    with pytest.raises(SystemExit) as info:
        main(["events", "--format", "json", *args])
    assert info.value.code in (0, None)
    events = json.loads(capsys.readouterr().out)["events"]
    assert [(e["kind"], e["details"]["id"], e["date"]) for e in events] == [
        ("override_created", created[1], "2026-01-02")
    ]
    assert not (tmp_path / ".phaseguard" / "events.sqlite").exists()
