"""The success criteria as a Markdown document, generated from the config.

This replaces a hand-written BACKFILL-SUCCESS-CRITERIA.md: the document cannot drift from
what ``verify`` actually checks, because both come from the same config.
"""

from __future__ import annotations

from collections.abc import Mapping

from .checks import check_name
from .config import Config, Gate
from .grading import describe, threshold_text
from .kindbase import Thresholds
from .kinds import (
    Aggregate,
    Check,
    DistinctCount,
    Freshness,
    Quorum,
    Ratio,
    RowsExist,
    RowsPerUnit,
    UnitCoverage,
)
from .learned import unit_noun
from .learnedkinds import FreshnessAnomaly, VolumeAnomaly
from .plan import keyed_variant
from .rowkinds import (
    AcceptedValues,
    NotNull,
    Range,
    Reconciliation,
    Relationships,
    RowCount,
    RowLevel,
    Unique,
    bound_text,
)


def _thresholds(check: Thresholds, unit: str = "") -> str:
    text = describe(check, pct=unit == "%")
    if not text:
        return ""
    if check.severity == "warn":
        return text.replace(
            "; beyond: a warning", "; beyond them a warning (ACCEPTABLE), never FAIL"
        )
    return f"{text}; otherwise FAIL"


def explain(check: Check, config: Config, phase_tables: list[str]) -> str:
    """One check as a sentence."""
    text = _explain(check, config, phase_tables)
    if check.severity == "warn" and isinstance(check, RowsExist | Quorum | Freshness):
        text += "; severity warn: a FAIL is a warning (ACCEPTABLE) instead"
    return text


def _explain(check: Check, config: Config, phase_tables: list[str]) -> str:
    if isinstance(check, RowsExist):
        tables = check.any_of or check.tables or phase_tables
        names = ", ".join(f"`{config.table(t).table}`" for t in tables)
        if check.any_of:
            return f"rows exist for the date in any of {names} (EXCELLENT); all empty is FAIL"
        return f"rows exist for the date in {names} (EXCELLENT); any empty table is FAIL"
    if isinstance(check, RowsPerUnit):
        per = f"scheduled `{config.schedule.unit}`" if config.schedule.unit else "scheduled date"
        rows = f"rows of `{config.table(check.table).table}`{_where(check.where)}"
        return f"{rows} per {per}: {_thresholds(check)}"
    if isinstance(check, UnitCoverage):
        names = " or ".join(f"`{config.table(t).table}`" for t in check.sources)
        names += _where(check.where)
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
            f"all {len(tables)} present is EXCELLENT, more than {check.min_present} PASS, "
            f"exactly {check.min_present} ACCEPTABLE (a warning: early-season bootstrap), "
            "fewer or a required one missing FAIL"
        )
    if isinstance(check, DistinctCount):
        table = f"`{config.table(check.table).table}`{_where(check.where)}"
        return f"distinct `{check.column}` in {table}: {_thresholds(check)}"
    if isinstance(check, Aggregate):
        empty = "N/A" if check.on_empty == "na" else "FAIL"
        return (
            f"`{check.expr}` over `{config.table(check.table).table}`{_where(check.where)}: "
            f"{_thresholds(check)}; a scheduled date with no rows is {empty}"
        )
    if isinstance(check, Ratio):
        return (
            f"rows of `{config.table(check.numerator).table}`{_where(check.where)} / rows of "
            f"`{config.table(check.denominator).table}`: {_thresholds(check, '%')}"
        )
    if isinstance(check, Freshness):
        return (
            f"newest `{check.column}` in `{config.table(check.table).table}`{_where(check.where)} "
            f"is at most {check.max_age_hours:g} h old (EXCELLENT), else FAIL"
        )
    if keyed_variant(check):
        return _explain_keyed(check, config)
    if isinstance(check, VolumeAnomaly | FreshnessAnomaly):
        return _learned(check, config)
    return _explain_row_kind(check, config)


# --- row-level and per-table kinds (#16) ---


def _where(where: str | None) -> str:
    return f" where `{where}`" if where else ""


def _explain_row_kind(check: Check, config: Config) -> str:
    """A row-level or per-table kind as a sentence."""
    if isinstance(check, NotNull | AcceptedValues | Range):
        table = f"`{config.table(check.table).table}`{_where(check.where)}"
        if isinstance(check, NotNull):
            cols = ", ".join(f"`{c}`" for c in check.columns)
            bad = f"rows of {table} with a NULL in {cols}"
        elif isinstance(check, AcceptedValues):
            listed = ", ".join(str(v) for v in check.values or ())
            bad = f"rows of {table} whose `{check.column}` is not NULL and not one of {listed}"
        else:
            low = "<" if check.inclusive else "<="
            high = ">" if check.inclusive else ">="
            ends = [
                f"{low} {bound_text(check.min)}" if check.min is not None else "",
                f"{high} {bound_text(check.max)}" if check.max is not None else "",
            ]
            bad = f"rows of {table} whose `{check.column}` is {' or '.join(e for e in ends if e)}"
        measure = "share of " if check.measure == "share" else ""
        return f"{measure}{bad}: {_bad_tiers(check)}; a date with no rows is N/A"
    if isinstance(check, RowCount):
        table = f"`{config.table(check.table).table}`{_where(check.where)}"
        return f"rows of {table}: {_thresholds(check)}"
    if isinstance(check, Reconciliation):
        left, right = (
            f"`{s.expr}` over `{config.table(s.table).table}`{_where(s.where)}"
            for s in (check.left, check.right)
        )
        if check.tolerance_pct is not None:
            within = f"within {check.tolerance_pct:g}% of the right side"
        else:
            within = f"within {check.tolerance or 0:g}"
        beyond = "a warning (ACCEPTABLE)" if check.severity == "warn" else "FAIL"
        return (
            f"{left} equals {right} {within} (EXCELLENT), else {beyond}; N/A when both have no rows"
        )
    return check.kind  # pragma: no cover - every kind is handled above


# --- keyed kinds (#16) ---


def _explain_keyed(check: Check, config: Config) -> str:
    """A keyed kind (unique, relationships, accepted_values from a reference list,
    row_count by group) as a sentence."""
    if isinstance(check, RowCount):
        table = f"`{config.table(check.table).table}`{_where(check.where)}"
        groups = ", ".join(f"`{c}`" for c in check.group_by or ())
        return (
            f"rows of {table} per ({groups}), each group graded on its own and the worst "
            f"deciding: {_thresholds(check)}"
        )
    assert isinstance(check, Unique | Relationships | AcceptedValues)
    table = f"`{config.table(check.table).table}`{_where(check.where)}"
    if isinstance(check, Unique):
        key = ", ".join(f"`{c}`" for c in check.columns)
        bad = f"rows of {table} beyond the first per ({key}) on a date (NULL keys skipped)"
    elif isinstance(check, Relationships):
        bad = (
            f"rows of {table} whose ({', '.join(check.columns)}) is no "
            f"({', '.join(check.to.columns)}) of {_parent(config, check.to.table)}"
        )
    else:
        assert check.values_from is not None
        ref = check.values_from
        bad = (
            f"rows of {table} whose `{check.column}` is not NULL and not among the "
            f"`{ref.column}` values of {_parent(config, ref.table)}"
        )
    measure = "share of " if check.measure == "share" else ""
    return f"{measure}{bad}: {_bad_tiers(check)}; a date with no rows is N/A"


def _bad_tiers(check: RowLevel) -> str:
    """A bad-row kind's tiers; the default (excellent: 0) as 'none is EXCELLENT, any is FAIL'."""
    if (check.excellent, check.pass_, check.acceptable) == (0, None, None):
        return "none is EXCELLENT, any is " + ("a warning" if check.severity == "warn" else "FAIL")
    return _thresholds(check, "%" if check.measure == "share" else "")


def _parent(config: Config, name: str) -> str:
    """A parent as a reader knows it: a phase table on the same date, or a dimension."""
    try:
        return f"`{config.table(name).table}` on the same date"
    except KeyError:
        return f"the dimension `{config.dimension(name).table}` (any row)"


def _learned(check: VolumeAnomaly | FreshnessAnomaly, config: Config) -> str:
    """A learned expectation as a sentence: the rule (what it learned for a date is in that
    date's verdict: ``verify`` prints it, ``--format json`` carries it as ``details``)."""
    schedule = config.schedule
    table = f"`{config.table(check.table).table}`{_where(check.where)}"
    noun = unit_noun(schedule)
    dates = "scheduled dates" if schedule.table is None else f"{noun} dates"
    reach = check.reach(schedule.weekdays)
    if isinstance(check, VolumeAnomaly):
        per = {"unit": f" per scheduled {noun}", "loaded_unit": f" per {noun} it holds"}
        what = f"rows of {table}" + per.get(check.per, "")
        floor = f"at least ± {threshold_text(check.tolerance_pct)} % of the median"
        outside = "too few (a partial load) or too many (a double run)"
    else:
        what = f"how late {table} landed (newest `{check.column}` minus the date's 00:00 UTC)"
        floor = f"reaching at least {threshold_text(check.tolerance_hours)} h past the median"
        outside = "later than the band (earlier is fine)"
    beyond = "a warning (ACCEPTABLE), never FAIL" if check.severity == "warn" else "FAIL"
    band = "within the median ±" if isinstance(check, VolumeAnomaly) else "at most the median +"
    return (
        f"{what}, learned: {band} {threshold_text(check.sensitivity)} robust SDs "
        f"(1.4826 × MAD) of the last {check.history} {dates} before the date that have rows "
        f"(off-days and empty dates left out; read up to {reach} days back in the same "
        f"query), {floor} (EXCELLENT); {outside} is {beyond}; fewer than "
        f"{check.min_history} such dates: N/A (learning). The learned band of each date is "
        "in its verdict (`verify`, `--format json` details) and in `criteria --as-of DATE`"
    )


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


def render(config: Config, learned: Mapping[tuple[str, str], str] | None = None) -> str:
    """The whole criteria document; ``learned`` ({(phase, check name): text}) adds what the
    learned expectations learned for a date (``criteria --as-of DATE``)."""
    health = config.health
    partial_phases = health.partial_phases or [p.name for p in config.phases[:3]]
    lines = [
        f"# Success criteria: {config.pipeline}",
        "",
        "Generated by `phaseguard criteria` from the pipeline config; edit the config, not this file.",
        "",
        _schedule(config),
        "",
        "Levels, best first: EXCELLENT, PASS, ACCEPTABLE (a warning), FAIL; N/A when a check "
        "does not apply. A check graded by thresholds takes the best tier its value is in "
        "(a tier is a number, or a band `between` two); a check that can only hold or fail "
        "(rows exist, fresh) is EXCELLENT when it holds.",
        "",
        "**A phase takes the worst level of its checks** (N/A checks left out; N/A when all "
        "are). A smoke test says PASS where verify says EXCELLENT; verify runs every check "
        "smoke runs, so the two agree on PASS/FAIL wherever both look.",
        "",
        "## Phases",
        "",
    ]
    for phase in config.phases:
        tables = [t.name for t in phase.tables]
        lines.append(f"### {phase.name}" + (f": {phase.description}" if phase.description else ""))
        lines.append("")
        for check in phase.checks or [RowsExist(kind="rows_exist")]:
            name = check_name(check)
            lines.append(f"- **{name}**: {explain(check, config, tables)}")
            if learned and (phase.name, name) in learned:
                lines.append(f"  - *learned*: {learned[phase.name, name]}")
        smoke = [c for c in phase.checks if c.kind in ("rows_exist", "quorum")]
        lines.append(
            "- *smoke test*: "
            + (
                "; ".join(check_name(c) for c in smoke)
                if smoke
                else "rows exist in every table (verify runs this check too)"
            )
        )
        lines.append("")
    scores = ", ".join(f"{k} {threshold_text(v)}" for k, v in health.scores.items())
    complete, partial = threshold_text(health.complete), threshold_text(health.partial)
    lines += [
        "## Overall verdict",
        "",
        f"Health score of a date: the mean of its phases' scores ({scores}), N/A phases left out.",
        "",
        "- **FAILED**: any phase FAIL (or ERROR)",
        f"- **COMPLETE**: no phase FAIL and health >= {complete}",
        f"- **PARTIAL**: no phase FAIL, {', '.join(partial_phases)} PASS or better, "
        f"and health >= {partial}",
        f"- **FAILED** too: every other date (no FAIL, but below PARTIAL's bar: health < "
        f"{partial}, or one of {', '.join(partial_phases)} only ACCEPTABLE). The seed "
        "calls a date FAILED below health 50 and leaves the band up to PARTIAL's bar open; "
        "phaseguard counts that band as FAILED: a date that misses PARTIAL did not succeed.",
        "",
        "A range is as good as its worst scheduled date. `smoke`, `verify`, `run` and a "
        "backfill exit with the range's overall verdict, the one they print: 0 COMPLETE (or "
        "nothing scheduled), 1 PARTIAL, 2 FAILED.",
        "",
    ]
    if config.gates:
        lines += ["## Gates", ""]
        for gate in config.gates:
            lines += _gate(gate, config)
    return "\n".join(lines).rstrip() + "\n"
