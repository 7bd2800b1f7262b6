"""The event store: many writers, spooling when it cannot be written, queries, signatures."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest

from phaseguard.errors import ConfigError, StoreError
from phaseguard.events import Event, group_errors, signature
from phaseguard.store import EventStore, open_store

Opener = Callable[..., EventStore]
T0 = dt.datetime(2026, 1, 20, 16, 0, tzinfo=dt.timezone.utc)


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
def opener() -> Iterator[Opener]:
    """``open_store``, with every store it opened closed at the end of the test."""
    opened: list[EventStore] = []

    def _open(url: str | None, **options: Any) -> EventStore:
        opened.append(open_store(url, **options))
        return opened[-1]

    yield _open
    for store in opened:
        store.close()


def _ids(store: EventStore) -> list[str]:
    return [e.id for e in store.query()]


def _write_many(default_path: str, worker: int, count: int, barrier: object) -> None:
    """One of the concurrent writers (module level so ``spawn`` can import it)."""
    store = open_store(None, default_path=Path(default_path))
    barrier.wait()  # type: ignore[attr-defined]
    for i in range(count):
        store.record(Event("retry_attempt", "info", f"w{worker} n{i}", id=f"w{worker}-{i}"))
    store.close()


def test_eight_processes_write_every_event_once(tmp_path: Path, opener: Opener) -> None:
    default = tmp_path / "cfg" / ".phaseguard" / "events.sqlite"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    workers = [
        ctx.Process(target=_write_many, args=(str(default), w, 1000, barrier)) for w in range(8)
    ]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * 8

    store = opener(None, default_path=default)
    ids = _ids(store)
    assert len(ids) == 8000
    assert set(ids) == {f"w{w}-{i}" for w in range(8) for i in range(1000)}
    assert not store.spool_path.exists() or store.spool_path.stat().st_size == 0
    with closing(sqlite3.connect(default)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_locked_store_spools_then_flushes_once(tmp_path: Path, opener: Opener) -> None:
    default = tmp_path / ".phaseguard" / "events.sqlite"
    store = opener(None, default_path=default, busy_timeout=0.05)
    store.record(_event(1))

    locker = sqlite3.connect(default, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    for n in (2, 3, 4):
        store.record(_event(n))  # must not raise
    spooled = store.spool_path.read_text().splitlines()
    assert len(spooled) == 3
    locker.execute("ROLLBACK")
    locker.close()

    store.record(_event(5))
    assert _ids(store) == ["e0001", "e0002", "e0003", "e0004", "e0005"]
    assert store.spool_path.read_text() == ""

    # A spool flushed into the store but not emptied (a crash in between) adds nothing.
    store.spool_path.write_text("\n".join(spooled) + "\n")
    store.record(_event(6))
    assert _ids(store) == ["e0001", "e0002", "e0003", "e0004", "e0005", "e0006"]
    back = store.query(kind="gate_blocked")[1]
    assert back == _event(2, host=back.host, pid=back.pid)


def test_a_reader_does_not_queue_behind_a_writer(tmp_path: Path, opener: Opener) -> None:
    default = tmp_path / ".phaseguard" / "events.sqlite"
    opener(None, default_path=default).record(_event(1))
    locker = sqlite3.connect(default, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process is writing (a backfill, say)
    try:
        reader = opener(None, default_path=default, busy_timeout=0.05)  # a new process
        assert _ids(reader) == ["e0001"]  # its first read needs no write lock
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def test_unwritable_directory_spools_to_temp_then_flushes(tmp_path: Path, opener: Opener) -> None:
    blocker = tmp_path / "cfg"
    blocker.write_text("a file where the config directory should be")
    store = opener(None, default_path=blocker / ".phaseguard" / "events.sqlite")
    try:
        for n in (1, 2, 3):
            store.record(_event(n))
        assert not store.spool_path.exists()
        assert len(store.fallback_spool_path.read_text().splitlines()) == 3
        with pytest.raises(StoreError, match="cannot read"):
            store.query()

        blocker.unlink()
        store.record(_event(4))
        assert _ids(store) == ["e0001", "e0002", "e0003", "e0004"]
        assert store.fallback_spool_path.read_text() == ""
    finally:
        store.fallback_spool_path.unlink(missing_ok=True)


def test_query_filters_and_newest_last(tmp_path: Path, opener: Opener) -> None:
    store = opener(None, default_path=tmp_path / "events.sqlite")
    day = dt.date(2026, 1, 18)
    store.record(_event(3, kind="override_used", phase="phase4", date=day))
    store.record(_event(1, phase="phase4", date=day, severity="critical"))
    store.record(_event(2, phase="phase5", details={"checks": ["a", "b"], "n": 2}))

    assert _ids(store) == ["e0001", "e0002", "e0003"]
    assert [e.id for e in store.query(kind="gate_blocked")] == ["e0001", "e0002"]
    assert [e.id for e in store.query(phase="phase4")] == ["e0001", "e0003"]
    assert [e.id for e in store.query(date=day, severity="critical")] == ["e0001"]
    assert [e.id for e in store.query(since=T0 + dt.timedelta(seconds=2))] == ["e0002", "e0003"]
    assert [e.id for e in store.query(limit=2)] == ["e0002", "e0003"]
    assert store.query(phase="phase5")[0].details == {"checks": ["a", "b"], "n": 2}
    # A value that looks like SQL is only ever a value.
    assert store.query(kind="x' OR '1'='1") == []


def test_open_store_urls(tmp_path: Path, opener: Opener) -> None:
    default = tmp_path / "default.sqlite"
    target = tmp_path / "elsewhere" / "ev.sqlite"
    store = opener(f"sqlite:///{target}", default_path=default)
    store.record(_event(1))
    assert target.exists()
    assert not default.exists()
    assert store.location == f"sqlite:///{target}"

    pg = opener("postgresql://me:s3cret@db:5432/x", default_path=default)
    assert "s3cret" not in pg.location
    with pytest.raises(ConfigError, match="mysql"):
        open_store("mysql://db/x", default_path=default)


@pytest.mark.postgres
def test_postgres_store_records_queries_and_flushes_spool(
    pg_url: str, tmp_path: Path, opener: Opener
) -> None:
    default = tmp_path / ".phaseguard" / "events.sqlite"
    with psycopg.connect(pg_url) as conn:
        port = conn.info.port
    down = opener(f"postgresql://postgres@127.0.0.1:{port}/no_such_database", default_path=default)
    down.record(_event(1))  # the database does not exist: spooled, not raised
    assert len(down.spool_path.read_text().splitlines()) == 1

    store = opener(pg_url, default_path=default)
    store.record(_event(2, date=dt.date(2026, 1, 2), details={"k": [1]}))
    store.record(_event(3, severity="critical"))
    assert _ids(store) == ["e0001", "e0002", "e0003"]
    assert store.query(date=dt.date(2026, 1, 2))[0].details == {"k": [1]}
    assert [e.id for e in store.query(severity="critical", limit=5)] == ["e0003"]
    assert store.spool_path.read_text() == ""
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT count(*) FROM phaseguard_events").fetchone()
        assert row is not None
        assert row[0] == 3
    store.close()


# --- signatures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("17 missing box scores on 2026-01-18", "<n> missing box scores on <date>"),
        (
            "Phase 4 BLOCKED: only 2/5 processors at 2026-01-18T06:00:00Z",
            "Phase <n> BLOCKED: only <n>/<n> processors at <date>",
        ),
        (
            "job 3f2a9c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b failed, request 0xdeadbeef id 9f8e7d6c5b",
            "job <id> failed, request <id> id <id>",
        ),
        ("table 'nba_raw.bdl_box' has 0.0 rows", "table '<s>' has <n> rows"),
        ('column "cache_date" missing in phase3', "column '<s>' missing in phase3"),
        ("timeout after 30.5s   at 06:10:01", "timeout after <n>s at <date>"),
    ],
)
def test_signature_replaces_what_varies(message: str, expected: str) -> None:
    assert signature(message) == expected


def test_group_errors_groups_by_signature() -> None:
    d1, d2 = dt.date(2026, 1, 13), dt.date(2026, 1, 14)
    events = [
        _event(1, severity="error", message="BDL timeout after 30s", date=d2, kind="retry"),
        _event(2, severity="critical", message="BDL timeout after 60s", date=d1),
        _event(3, severity="error", message="BDL timeout after 5s", date=d2),
        _event(4, severity="error", message="table 'a' missing", date=d1),
        _event(5, severity="warning", message="BDL timeout after 1s", date=d1),
    ]
    groups = group_errors(events)
    assert [(g.signature, g.count) for g in groups] == [
        ("BDL timeout after <n>s", 3),
        ("table '<s>' missing", 1),
    ]
    top = groups[0]
    assert top.first_seen == T0 + dt.timedelta(seconds=1)
    assert top.last_seen == T0 + dt.timedelta(seconds=3)
    assert top.dates == (d1, d2)
    assert top.kinds == ("gate_blocked", "retry")
    assert top.example == "BDL timeout after 30s"
    assert group_errors([events[4]]) == []


def test_spool_line_is_plain_json(tmp_path: Path, opener: Opener) -> None:
    blocker = tmp_path / "cfg"
    blocker.write_text("")
    store = opener(None, default_path=blocker / "events.sqlite")
    try:
        store.record(_event(1, details={"when": dt.date(2026, 1, 1)}))
        row = json.loads(store.fallback_spool_path.read_text())
        assert row[0] == "e0001"
        assert json.loads(row[8]) == {"when": "2026-01-01"}
    finally:
        store.fallback_spool_path.unlink(missing_ok=True)
