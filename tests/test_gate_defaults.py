"""A gate without its own checks runs what verify runs for its upstream: never less."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from phaseguard import load
from phaseguard.warehouse import connect

CONFIG = """\
pipeline: tiny
warehouse: duckdb://tiny.duckdb
schedule: {table: raw.schedule, date_column: d, unit: game_id}
phases:
  - name: predict
    tables:
      - {name: preds, table: out.preds, date_column: d}
      - {name: grades, table: out.grades, date_column: d}
    checks:
      # Graded by a ratio alone: over no rows it is N/A, so only an existence check fails it.
      - {kind: ratio, numerator: grades, denominator: preds, pass: 0.8}
  - name: publish
    depends_on: [predict]
    tables:
      - {name: pages, table: out.pages, date_column: d}
gates:
  - phase: publish
"""
DAY = dt.date(2026, 1, 20)


def test_a_gate_fails_closed_where_verify_fails(tmp_path: Path) -> None:
    (tmp_path / "phaseguard.yml").write_text(CONFIG)
    with connect(f"duckdb://{tmp_path / 'tiny.duckdb'}") as wh:
        wh.create_table("raw.schedule", {"game_id": "VARCHAR", "d": "DATE"})
        for table in ("out.preds", "out.grades", "out.pages"):
            wh.create_table(table, {"d": "DATE", "v": "INTEGER"})
        wh.insert_rows(
            "raw.schedule", ["game_id", "d"], [("g1", DAY), ("g2", DAY + dt.timedelta(1))]
        )
    with load(tmp_path / "phaseguard.yml") as guard:
        verified = guard.verify(DAY).dates[0].phase("predict")
        decision = guard.gate("publish").decide(DAY)
    assert verified.level.is_failure  # no predictions, no grades: verify says FAIL
    assert decision.status == "blocked"  # and so does the gate (it used to open on N/A)
    assert any(v.check == "rows_exist" and v.level.is_failure for v in decision.verdicts)
