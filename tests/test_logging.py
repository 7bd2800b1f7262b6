"""phaseguard.logging: the pipeline's own errors in the event log, and Cloud Logging lines."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import MINI_CONFIG
from phaseguard import load
from phaseguard.cli import main
from phaseguard.logging import CloudLoggingFormatter, EventLogHandler, context

DAYS = [dt.date(2026, 1, d) for d in (5, 6, 7)]


@pytest.fixture
def logger(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path]]:
    config = tmp_path / "phaseguard.yml"
    config.write_text(MINI_CONFIG)
    guard = load(config)
    log = logging.getLogger(f"pipeline.test.{tmp_path.name}")
    log.propagate = False
    handler = EventLogHandler(guard.recorder, guard.config.pipeline)
    log.addHandler(handler)
    try:
        yield log, config
    finally:
        log.removeHandler(handler)
        guard.close()


def _load_player_rows(game_id: int) -> None:
    raise KeyError(f"player {game_id * 7} missing from box score {game_id}")


def errors_json(config: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    with pytest.raises(SystemExit) as info:
        main(["errors", "--since", "1d", "-c", str(config), "--format", "json"])
    assert info.value.code in (0, None)
    return json.loads(capsys.readouterr().out)["errors"]  # type: ignore[no-any-return]


def test_logged_exceptions_group_with_their_siblings_with_phase_and_date(
    logger: tuple[logging.Logger, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    log, config = logger
    for i, day in enumerate(DAYS):
        with context(phase="process", date=day):
            try:
                _load_player_rows(1000 + i)
            except KeyError:
                log.exception("phase 3 failed on game %s", 1000 + i)
    log.error(
        "upstream file gs://bucket/2026/01/07/part-0001.json unreadable",
        extra={"phase": "ingest", "date": "2026-01-07"},
    )
    log.warning("a warning is not an error")  # below the handler's level: not kept
    groups = errors_json(config, capsys)
    mine = [g for g in groups if "pipeline_error" in g["kinds"]]  # type: ignore[operator]
    assert len(mine) == 2
    siblings = next(g for g in mine if g["count"] == 3)
    assert siblings["phases"] == ["process"]
    assert siblings["dates"] == [d.isoformat() for d in DAYS]
    assert "KeyError" in str(siblings["example"])
    single = next(g for g in mine if g["count"] == 1)
    assert single["phases"] == ["ingest"]
    assert single["dates"] == ["2026-01-07"]


def test_context_nests_and_extra_wins(logger: tuple[logging.Logger, Path]) -> None:
    log, config = logger
    with context(phase="process", date="2026-01-05"), context(date=DAYS[1]):
        log.error("inner")
        log.error("explicit", extra={"phase": "predict"})
    log.error("outside")
    with load(config) as guard:
        events = {e.message: e for e in guard.store.query(kind="pipeline_error")}
    assert (events["inner"].phase, events["inner"].date) == ("process", DAYS[1])
    assert (events["explicit"].phase, events["explicit"].date) == ("predict", DAYS[1])
    assert (events["outside"].phase, events["outside"].date) == (None, None)


def test_cloud_logging_lines_are_structured() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(CloudLoggingFormatter(pipeline="nba_props"))
    log = logging.getLogger("pipeline.cloud")
    log.propagate = False
    log.addHandler(handler)
    try:
        with context(phase="phase4", date="2026-01-20"):
            try:
                1 / 0  # noqa: B018
            except ZeroDivisionError:
                log.exception("precompute crashed")
        log.warning("thin upstream")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["severity"] == "ERROR"
    assert first["message"].startswith("precompute crashed\nTraceback")
    assert first["logging.googleapis.com/labels"] == {
        "logger": "pipeline.cloud",
        "pipeline": "nba_props",
        "phase": "phase4",
        "date": "2026-01-20",
    }
    assert first["logging.googleapis.com/sourceLocation"]["file"].endswith("test_logging.py")
    assert second["severity"] == "WARNING"
    assert "phase" not in second["logging.googleapis.com/labels"]
