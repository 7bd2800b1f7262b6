"""The Guard: one loaded pipeline with its warehouse, the entry point of the Python API.

``phaseguard.load("phaseguard.yml")`` returns a Guard. Every consumer (the CLI, gates,
the breaker, the report, backfills) goes through it to reach the warehouse, so there is
one path from config to verdicts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config as config_module
from .assess import Mode, assess
from .config import Config
from .errors import ConfigError, UsageError
from .verdicts import RangeVerdict
from .warehouse import Warehouse, connect

if TYPE_CHECKING:
    from .alerts import AlertCheck, Notifier
    from .events import Event, Recorder
    from .gate import Gate
    from .overrides import Overrides
    from .selection import Selection
    from .store import EventStore


GAP_KINDS = ("retry_exhausted", "data_gap")
"""The events the gap ledger is read from (see :meth:`Guard.gaps`)."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Guard:
    """A pipeline config bound to its warehouse and event store."""

    def __init__(
        self,
        config: Config,
        base_dir: Path,
        *,
        warehouse_url: str | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
        recorder: Recorder | None = None,
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        self.clock = clock
        self._recorder = recorder
        given = warehouse_url or os.environ.get("PHASEGUARD_WAREHOUSE")
        self.warehouse_url = given or config.warehouse
        # Where a bad URL came from, for its error: the option, the variable or the config.
        self._warehouse_from = (
            "--warehouse" if warehouse_url else "PHASEGUARD_WAREHOUSE" if given else None
        )
        # A relative path on the command line is relative to where you stand; in the
        # config, to the config file.
        self.warehouse_base = Path.cwd() if given else base_dir
        self._warehouse: Warehouse | None = None
        self._writing = False

    @property
    def warehouse(self) -> Warehouse:
        """The open warehouse connection (opened on first use).

        Read-only, except inside :meth:`writing`: checking never takes a writer's lock, so
        any number of gates, smoke tests and dashboards read one DuckDB file at once, and
        nothing an aggregate expression calls can write.
        """
        if self._warehouse is None:
            try:
                self._warehouse = connect(
                    self.warehouse_url,
                    base_dir=self.warehouse_base,
                    create=False,
                    read_only=not self._writing,
                    lock_timeout=self.config.warehouse_lock_timeout,
                )
            except ConfigError as exc:
                if self._warehouse_from is None:
                    raise
                raise UsageError(f"{self._warehouse_from}: {exc.reason}") from None
        return self._warehouse

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Inside the block, :attr:`warehouse` is a write connection, opened on first use
        and closed when the block ends (a step of the runner that writes).

        A DuckDB read connection is closed first (DuckDB holds a file in one mode per
        process); on the other backends it is kept for after the block (a local Spark
        session that stopped would forget its tables).
        """
        self.release()
        reader, self._warehouse = self._warehouse, None
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
            self.close()
            self._warehouse = reader

    def release(self) -> None:
        """Close the connection if it holds a lock that a writer elsewhere would wait for
        (a DuckDB file); other backends' read sessions hold none between statements."""
        if self._warehouse is not None and self._warehouse.dialect == "duckdb":
            self.close()

    @cached_property
    def store(self) -> EventStore:
        """The event store: the config's ``events`` URL, else SQLite beside the config."""
        from .store import open_store

        return open_store(
            self.config.events, default_path=self.base_dir / ".phaseguard" / "events.sqlite"
        )

    @property
    def recorder(self) -> Recorder:
        """Where events go: the store unless another recorder was handed in."""
        return self._recorder if self._recorder is not None else self.store

    @cached_property
    def notifier(self) -> Notifier:
        """Alert delivery to the configured sinks; a sink with an empty URL is off."""
        from .alerts import Notifier

        return Notifier(
            self.config.sinks,
            self.recorder,
            store=self.store,
            clock=self.clock,
            pipeline=self.config.pipeline,
        )

    @cached_property
    def overrides(self) -> Overrides:
        """The scoped, audited overrides kept in the event store."""
        from .overrides import Overrides

        return Overrides(self.store, self.recorder, clock=self.clock, pipeline=self.config.pipeline)

    def gate(self, phase: str) -> Gate:
        """The gate guarding ``phase``; UsageError if the config declares none."""
        from .errors import UsageError
        from .gate import Gate

        try:
            return Gate(self, self.config.gate(phase))
        except KeyError:
            known = ", ".join(g.phase for g in self.config.gates) or "none"
            raise UsageError(f"unknown gate {phase!r} (gates: {known})") from None

    def gated(self, phase: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator enforcing the gate of ``phase`` before a phase's entry point runs."""
        from .gate import gated

        return gated(self, phase)

    def alert(self, event: Event) -> None:
        """Send an event as an alert to the configured sinks (e.g. a retry's last failure).

        Pass it as ``phaseguard.retry(..., alert=guard.alert)``: only the final failure of a
        retried call alerts, never its intermediate attempts.
        """
        from .alerts import Alert

        severity = "critical" if event.severity in ("error", "critical") else event.severity
        self.notifier.notify(
            Alert(
                title=f"{event.kind.replace('_', ' ')}: {event.message}"[:150],
                severity=severity if severity in ("info", "warning", "critical") else "warning",  # type: ignore[arg-type]
                pipeline=self.config.pipeline,
                phase=event.phase,
                date=event.date,
                status="opened",
                text=event.message,
            )
        )

    def track_incident(
        self,
        key: str,
        date: dt.date,
        severity: str | None,
        *,
        phase: str,
        title: str,
        resolved_title: str,
        text: str,
        checks: Sequence[AlertCheck] = (),
    ) -> None:
        """Record the state of one incident (``key``, ``date``); alert only on a change.

        ``severity`` None means healthy. The notifier alerts when the incident opens,
        changes severity or resolves, never on a re-check that finds the same state.
        """
        from .alerts import Alert

        def make(status: str, level: str) -> Alert:
            return Alert(
                title=resolved_title if status == "resolved" else title,
                severity=level,  # type: ignore[arg-type]
                pipeline=self.config.pipeline,
                phase=phase,
                date=date,
                status=status,  # type: ignore[arg-type]
                checks=tuple(checks),
                text=text,
            )

        self.notifier.track(key, date, severity, make)  # type: ignore[arg-type]

    def gaps(self, start: dt.date, end: dt.date) -> dict[dt.date, list[dict[str, Any]]]:
        """The gap ledger: per date, the retried calls whose every attempt failed.

        Each entry is a ``retry_exhausted`` event's details (source, key, error class) and
        its message: why a partition is missing; or a ``data_gap`` a step recorded (the
        source answered without some of the data: source, key). An unreadable store gives
        an empty ledger.
        """
        from .errors import PhaseguardError

        out: dict[dt.date, list[dict[str, Any]]] = {}
        try:
            events = [e for kind in GAP_KINDS for e in self.store.query(kind=kind)]
        except PhaseguardError:
            return out
        for event in events:
            if event.date is not None and start <= event.date <= end:
                out.setdefault(event.date, []).append({"message": event.message, **event.details})
        return out

    def close(self) -> None:
        """Collect the alerts re-sent in the background; close the warehouse connection."""
        if "notifier" in self.__dict__:
            self.notifier.finish()
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def smoke(
        self, start: dt.date, end: dt.date | None = None, *, selection: Selection | None = None
    ) -> RangeVerdict:
        """Existence and quorum checks for every phase and date, in one query."""
        return self.assess(start, end, mode="smoke", selection=selection)

    def verify(
        self, start: dt.date, end: dt.date | None = None, *, selection: Selection | None = None
    ) -> RangeVerdict:
        """All criteria for every phase and date, in one query; ``selection`` narrows them
        (``Selection(tags=("nightly",))``), as ``--phase``/``--check``/``--tag`` do."""
        return self.assess(start, end, mode="verify", selection=selection)

    def assess(
        self,
        start: dt.date,
        end: dt.date | None = None,
        *,
        mode: Mode = "verify",
        phases: Sequence[str] | None = None,
        selection: Selection | None = None,
    ) -> RangeVerdict:
        """Measure and judge ``start``..``end`` (one date when ``end`` is None)."""
        from .assess import as_date

        start = as_date(start, "start date")
        end = None if end is None else as_date(end, "end date")
        return assess(
            self.config,
            self.warehouse,
            start,
            end or start,
            mode=mode,
            phases=phases,
            selection=selection,
        )


def load(path: str | Path = "phaseguard.yml", *, warehouse: str | None = None) -> Guard:
    """Load the pipeline config at ``path`` and return its Guard."""
    config, base_dir = config_module.load(path)
    return Guard(config, base_dir, warehouse_url=warehouse)
