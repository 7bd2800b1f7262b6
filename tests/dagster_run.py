"""Materializes the Dagster example's assets, one run per date; runs inside ``.venv-dagster``.

``tests/test_dagster.py`` runs this file with ``.venv-dagster/bin/python`` (built by
``scripts/dagster-venv.sh``, so Dagster's pins never reach the main venv)::

    python tests/dagster_run.py DEFINITIONS.py ASSET[,ASSET...] DATE [DATE...]

It imports the definitions file, runs ``dagster.materialize`` of the named assets (their
phaseguard checks come with them) for each date's partition on an ephemeral instance, and
prints one JSON object: per date, whether the run succeeded, the assets materialized, and
every check evaluation (name, asset, passed, severity, partition, metadata), how many
warehouse queries the run sent (``Warehouse.measure`` calls, counted by a pass-through
wrapper: the warehouse itself answers every one), each failed step (a ``dagster.Failure``'s
description and metadata) and the run's log lines (``context.log``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from phaseguard.warehouse.core import Warehouse

QUERIES = [0]
_measure = Warehouse.measure


def _counted(self: Warehouse, plan: Any) -> Any:
    QUERIES[0] += 1
    return _measure(self, plan)


Warehouse.measure = _counted  # type: ignore[method-assign]


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("definitions", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _metadata(values: Any) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in values.items()}


def _failure(event: Any) -> dict[str, Any]:
    """A failed step: what ``dagster.Failure`` said (its description and metadata)."""
    data = event.step_failure_data
    user = data.user_failure_data
    return {
        "step": event.step_key,
        "description": user.description if user else None,
        "metadata": _metadata(user.metadata) if user else {},
        "error": data.error.message.strip() if data.error else None,
    }


def run(definitions: Path, selected: list[str], dates: list[str]) -> dict[str, Any]:
    module = _load(definitions)
    out: dict[str, Any] = {}
    for date in dates:
        before = QUERIES[0]
        instance = dg.DagsterInstance.ephemeral()
        result = dg.materialize(
            [*module.assets, *module.checks],
            partition_key=date,
            selection=dg.AssetSelection.assets(*selected),
            instance=instance,
            raise_on_error=False,
        )
        out[date] = {
            "success": result.success,
            "materialized": sorted(
                e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
            ),
            "checks": [
                {
                    "asset": e.asset_key.to_user_string(),
                    "name": e.check_name,
                    "passed": e.passed,
                    "severity": e.severity.value,
                    "blocking": e.blocking,
                    "partition": e.partition,
                    "description": e.description,
                    "metadata": _metadata(e.metadata),
                }
                for e in result.get_asset_check_evaluations()
            ],
            "queries": QUERIES[0] - before,
            "failures": [_failure(e) for e in result.get_step_failure_events()],
            "logs": [
                {"level": logging.getLevelName(entry.level), "message": entry.user_message}
                for entry in instance.all_logs(result.run_id)
                if not entry.is_dagster_event
            ],
        }
    return out


if __name__ == "__main__":
    path, assets, *days = sys.argv[1:]
    print(json.dumps(run(Path(path), assets.split(","), days), default=str))
