"""Dagster: phaseguard's criteria and gates as asset checks on the assets a user maps to phases.

:func:`phaseguard_asset_checks` reads the config once and returns Dagster asset checks
(``AssetCheckSpec`` / ``multi_asset_check``), one per (phase, criterion):

- **criteria**: each criterion of a mapped phase is a check on that phase's asset, named after
  the criterion (``games_covered``, ``processors``). It runs after the asset materializes and
  judges the partition as ``phaseguard verify`` does. Not blocking.
- **gates**: each criterion of a gate is a *blocking* check named ``<gate>_gate_<criterion>``
  on the asset of the gate's upstream phase (the last mapped one of ``depends_on``, or of the
  gate's ``upstream``). The gate's decision is phaseguard's own (``guard.gate(p).decide``:
  ``block_on``, overrides, ``on_warehouse_error``; recorded and alerted as everywhere else),
  so a blocked date fails its checks with severity ERROR and Dagster does not run the
  assets downstream of the upstream asset in that run. A warning (ACCEPTABLE) is severity
  WARN and blocks nothing; an override turns the blocking verdicts into WARN. Each result
  carries the decision (``decision``, ``message``) and its criterion's verdict.

Every check is partition-aware: the run's partition key is the date (``YYYY-MM-DD``, as a
``DailyPartitionsDefinition`` makes it, or the start of a time-window partition). When an
asset is mapped as an ``AssetsDefinition``, its checks take its partitions definition, so the
Dagster UI shows a check's result per partition. A run without exactly one partition fails
the checks with one line saying so. Each evaluation is one warehouse query: all criteria of
one phase, or all criteria of one gate, are judged together (``guard.assess`` / the gate's
decision) and reported as one result per criterion, each with the observed value, the
threshold, the level and, where the thresholds grade a number, that number in its metadata.

A blocking check stops what follows its asset *in the same run* only. A gated phase's asset
materialized in a run of its own (a schedule, a backfill of that phase alone, a click in the
UI) is guarded by :func:`enforce_gate`, called first in the asset's body::

    @dg.asset(partitions_def=days, deps=[phase4])
    def phase5(context: dg.AssetExecutionContext) -> None:
        enforce_gate(context, "phase5")  # blocked: dagster.Failure, nothing written
        ...

It decides the gate for the partition's date (phaseguard's own decision, recorded and
alerted; overrides apply) and, when blocked, raises ``dagster.Failure`` with the one-line
reason and the verdicts as metadata, so the materialization fails in any run; open, it
logs the decision and returns it. In a run where the blocking check already decided that
gate for that date, the check's decision is read back from Dagster's event log: one
decision, one warehouse query and one event per (gate, date) and run. It judges one date
per run, like the checks: a run over a range of partitions (a single-run backfill) fails.

For declarative automation, the complement is Dagster's own condition, which waits for the
upstream's blocking checks (the ``<gate>_gate_*`` checks) to have passed for a partition::

    automation_condition=(
        dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    )

It counts only checks that *passed*: a gate open with warnings or passed by an override
fails its checks with severity WARN, so automation waits for that partition; materialize it
by hand (``enforce_gate`` lets it run and logs why).

Dagster is imported only in this package (``pip install 'phaseguard[dagster]'``): the checks
in ``checks.py``, ``enforce_gate`` in ``gate.py``.
"""

try:
    import dagster as _dagster  # noqa: F401  (one clear line instead of "No module named dagster")
except ImportError as _missing:
    raise ImportError(
        "phaseguard.integrations.dagster needs Dagster: pip install 'phaseguard[dagster]'"
    ) from _missing

from .checks import partition_date as partition_date
from .checks import phaseguard_asset_checks as phaseguard_asset_checks
from .gate import enforce_gate as enforce_gate

__all__ = ["enforce_gate", "partition_date", "phaseguard_asset_checks"]
