"""Overrides: create, find, use, expire, revoke, with a fake clock, in SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from phaseguard.errors import UsageError
from phaseguard.overrides import Override, Overrides, parse_duration
from phaseguard.store import EventStore, open_store

T0 = dt.datetime(2026, 1, 20, 16, 0, tzinfo=dt.timezone.utc)
DAY = dt.date(2026, 1, 18)
GATE = "phase4_to_phase5"


class FakeClock:
    """The current time, moved by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    with open_store(url, default_path=tmp_path / ".phaseguard" / "events.sqlite") as opened:
        yield opened


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("24h", 86400),
        ("7d", 604800),
        ("1h30m", 5400),
        (" 2W ", 1209600),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "24", "h", "1.5h", "-3h", "0h", "3 days", "24h!"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="bad duration") as info:
        parse_duration(text)
    assert repr(text) in str(info.value)


def test_create_active_use_expire(store: EventStore) -> None:
    clock = FakeClock()
    overrides = Overrides(store, clock=clock, pipeline="nba")
    made = overrides.create(
        GATE, DAY, " late BDL feed, checked by hand ", "ana", dt.timedelta(hours=2)
    )
    assert len(made.id) == 8
    assert int(made.id, 16) >= 0
    assert made.reason == "late BDL feed, checked by hand"
    assert made.expires_at == T0 + dt.timedelta(hours=2)

    assert overrides.active(GATE, DAY) == made
    assert overrides.active(GATE, DAY + dt.timedelta(days=1)) is None
    assert overrides.active("phase3_to_phase4", DAY) is None
    overrides.use(made)

    clock.now = T0 + dt.timedelta(hours=1, minutes=59)
    assert overrides.expire_due() == []
    clock.now = T0 + dt.timedelta(hours=2)
    assert overrides.active(GATE, DAY) is None
    assert overrides.expire_due() == [made]
    assert overrides.expire_due() == []  # recorded once only
    assert Overrides(store, clock=clock).expire_due() == []  # and once across runs

    kinds = [(e.kind, e.severity, e.pipeline, e.date) for e in store.query()]
    assert kinds == [
        ("override_created", "warning", "nba", DAY),
        ("override_used", "warning", "nba", DAY),
        ("override_expired", "warning", "nba", DAY),
    ]
    created = store.query(kind="override_created")[0]
    assert created.details["by"] == "ana"
    assert created.details["id"] == made.id
    assert "late BDL feed" in created.message


def test_revoke_and_list(store: EventStore) -> None:
    clock = FakeClock()
    overrides = Overrides(store, clock=clock)
    first = overrides.create(GATE, DAY, "reason one", "ana", dt.timedelta(days=1))
    clock.now += dt.timedelta(minutes=1)
    second = overrides.create(GATE, DAY, "reason two", "bo", dt.timedelta(days=1))
    assert overrides.active(GATE, DAY) == second  # the newest one counts

    clock.now += dt.timedelta(minutes=1)
    revoked = overrides.revoke(second.id, "cy")
    assert revoked.revoked_by == "cy"
    assert revoked.revoked_at == clock.now
    assert overrides.active(GATE, DAY) == first
    assert [o.id for o in overrides.list()] == [first.id]
    assert [o.id for o in overrides.list(include_inactive=True)] == [first.id, second.id]

    with pytest.raises(UsageError, match="already revoked by cy"):
        overrides.revoke(second.id, "cy")
    with pytest.raises(UsageError, match="'0badc0de'"):
        overrides.revoke("0badc0de", "cy")

    clock.now += dt.timedelta(days=2)
    assert overrides.expire_due() == [first]  # the revoked one does not expire again
    assert [e.kind for e in store.query()] == [
        "override_created",
        "override_created",
        "override_revoked",
        "override_expired",
    ]
    assert store.query(kind="override_revoked")[0].details["revoked_by"] == "cy"


@pytest.mark.parametrize(("reason", "by", "match"), [("", "ana", "reason"), ("why", "  ", "by")])
def test_create_needs_reason_and_author(
    store: EventStore, reason: str, by: str, match: str
) -> None:
    overrides = Overrides(store, clock=FakeClock())
    with pytest.raises(UsageError, match=match):
        overrides.create(GATE, DAY, reason, by, dt.timedelta(hours=1))
    assert overrides.list(include_inactive=True) == []
    assert store.query() == []


def test_override_is_active_until_expiry() -> None:
    o = Override("a1b2c3d4", GATE, DAY, "r", "ana", T0, T0 + dt.timedelta(hours=1))
    assert o.is_active(T0)
    assert not o.is_active(T0 + dt.timedelta(hours=1))
