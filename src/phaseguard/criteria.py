"""The success criteria as a Markdown document, generated from the config.

This replaces a hand-written BACKFILL-SUCCESS-CRITERIA.md: the document cannot drift from
what ``verify`` actually checks, because both come from the same config.
"""

from __future__ import annotations

from .checks import check_name, describe
from .config import (
    Aggregate,
    Check,
    Config,
    DistinctCount,
    Freshness,
    Gate,
    Quorum,
    Ratio,
    RowsExist,
    RowsPerUnit,
    Thresholds,
    UnitCoverage,
)


def _thresholds(check: Thresholds, unit: str = "") -> str:
    pct = unit == "%"

    def fmt(value: float) -> str:
        return f"{value * 100:.0f}%" if pct else f"{value:g}{unit}"

    text = describe(check, fmt)
    return f"{text}; otherwise FAIL" if text else ""


def explain(check: Check, config: Config, phase_tables: list[str]) -> str:
    """One check as a sentence."""
    if isinstance(check, RowsExist):
        tables = check.any_of or check.tables or phase_tables
        names = ", ".join(f"`{config.table(t).table}`" for t in tables)
        if check.any_of:
            return f"rows exist for the date in any of {names}; all empty is FAIL"
        return f"rows exist for the date in {names}; any empty table is FAIL"
    if isinstance(check, RowsPerUnit):
        per = f"scheduled `{config.schedule.unit}`" if config.schedule.unit else "scheduled date"
        return f"rows of `{config.table(check.table).table}` per {per}: {_thresholds(check)}"
    if isinstance(check, UnitCoverage):
        names = " or ".join(f"`{config.table(t).table}`" for t in check.sources)
        window = f", over the {check.window_days} days ending on the date" if check.window else ""
        return (
            f"share of the `{config.schedule.unit}`s the schedule names for the date that have "
            f"rows in {names}{window}: {_thresholds(check, '%')}"
        )
    if isinstance(check, Quorum):
        tables = check.tables or phase_tables
        required = check.required
        if required is None:
            required = [t for t in tables if config.table(t).critical]
        need = f" including {', '.join(required)}" if required else ""
        return (
            f"at least {check.min_present} of {len(tables)} ({', '.join(tables)}) have rows{need}; "
            "all present is EXCELLENT, fewer or a required one missing is FAIL"
        )
    if isinstance(check, DistinctCount):
        return f"distinct `{check.column}` in `{config.table(check.table).table}`: {_thresholds(check)}"
    if isinstance(check, Aggregate):
        return f"`{check.expr}` over `{config.table(check.table).table}`: {_thresholds(check)}"
    if isinstance(check, Ratio):
        return (
            f"rows of `{config.table(check.numerator).table}` / rows of "
            f"`{config.table(check.denominator).table}`: {_thresholds(check, '%')}"
        )
    if isinstance(check, Freshness):
        return (
            f"newest `{check.column}` in `{config.table(check.table).table}` "
            f"is at most {check.max_age_hours:g} h old"
        )
    return check.kind  # pragma: no cover - every kind is handled above


def _schedule(config: Config) -> str:
    schedule = config.schedule
    if schedule.table is None:
        return (
            f"What is expected per date: the {schedule.describe}: one unit on each of its "
            "dates, so a date with no rows fails; its other dates are N/A."
        )
    return (
        f"What is expected per date: distinct `{schedule.unit}` in `{schedule.table}` by "
        f"`{schedule.date_column}`. A date with nothing scheduled is N/A (an off-day), never "
        "FAIL, once proven: when the schedule holds no rows on or after the date (not loaded "
        "yet), or a measured table holds rows for it, the date is ERROR (gates block, verify "
        "fails)."
    )


def _gate(gate: Gate, config: Config) -> list[str]:
    upstream = gate.upstream or config.phase(gate.phase).depends_on
    lines = [f"### Gate `{gate.phase}`", ""]
    lines.append(
        f"Before `{gate.phase}` runs for a date, upstream ({', '.join(upstream) or 'none'}) must hold:"
    )
    lines.append("")
    all_tables = [t.name for p in config.phases if p.name in upstream for t in p.tables]
    if gate.checks is None:
        lines.append(f"- the criteria of {', '.join(upstream)} (above)")
    else:
        for check in gate.checks:
            lines.append(f"- **{check_name(check)}**: {explain(check, config, all_tables)}")
    blocks = " or ".join(gate.block_on)
    lines += [
        "",
        f"A {blocks} blocks the phase and alerts (CRITICAL); a warning lets it run and alerts "
        f"(WARNING). If the warehouse cannot be reached the gate will "
        f"{'block' if gate.on_warehouse_error == 'block' else 'open'}. "
        "Only a scoped, audited override (`phaseguard override`) opens a blocked gate.",
        "",
    ]
    return lines


def render(config: Config) -> str:
    """The whole criteria document."""
    health = config.health
    partial_phases = health.partial_phases or [p.name for p in config.phases[:3]]
    lines = [
        f"# Success criteria: {config.pipeline}",
        "",
        "Generated by `phaseguard criteria` from the pipeline config; edit the config, not this file.",
        "",
        _schedule(config),
        "",
        "Levels: EXCELLENT, PASS, ACCEPTABLE (a warning), FAIL, N/A. A phase takes the worst "
        "level of its checks, and is EXCELLENT when every graded check is.",
        "",
        "## Phases",
        "",
    ]
    for phase in config.phases:
        tables = [t.name for t in phase.tables]
        lines.append(f"### {phase.name}" + (f": {phase.description}" if phase.description else ""))
        lines.append("")
        for check in phase.checks or [RowsExist(kind="rows_exist")]:
            lines.append(f"- **{check_name(check)}**: {explain(check, config, tables)}")
        smoke = [c for c in phase.checks if c.kind in ("rows_exist", "quorum")]
        lines.append(
            "- *smoke test*: "
            + ("; ".join(check_name(c) for c in smoke) if smoke else "rows exist in every table")
        )
        lines.append("")
    scores = ", ".join(f"{k} {v:g}" for k, v in health.scores.items())
    lines += [
        "## Overall verdict",
        "",
        f"Health score of a date: the mean of its phases' scores ({scores}), N/A phases left out.",
        "",
        f"- **COMPLETE**: no phase FAIL and health >= {health.complete:g}",
        f"- **PARTIAL**: {', '.join(partial_phases)} not FAIL and health >= {health.partial:g}",
        "- **FAILED**: anything else",
        "",
        "A range is as good as its worst scheduled date.",
        "",
    ]
    if config.gates:
        lines += ["## Gates", ""]
        for gate in config.gates:
            lines += _gate(gate, config)
    return "\n".join(lines).rstrip() + "\n"
