"""Drawing results on the terminal: the date x phase table, the gap ledger, the receipt."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import typer
from rich.markup import escape as _markup_escape
from rich.table import Table

from phaseguard.redact import shown
from phaseguard.verdicts import Level, Overall, RangeVerdict, exit_code, to_dict

from .app import FULL_TABLE_DATES, LEGEND, OVERALL_STYLES, _cell, _overall_label, out


def escape(text: str) -> str:
    """Text fit to print in Rich markup: control characters and ANSI escapes stripped, URL
    credentials masked (``redact.shown``), then markup escaped. Every user-given text the
    terminal shows goes through here.
    """
    return _markup_escape(shown(text))


def draw_range(result: RangeVerdict, *, details: bool, all_dates: bool = False) -> None:
    """The date x phase table, then (verify) the failing checks with observed vs expected.

    Long ranges list only the dates that are not clean, unless ``all_dates``.
    """
    phases = [p.phase for p in result.dates[0].phases] if result.dates else []
    shown = list(result.dates)
    if len(shown) > FULL_TABLE_DATES and not all_dates:
        shown = [d for d in shown if any(p.level.rank < Level.PASS.rank for p in d.phases)]
    table = Table(title=f"phaseguard {result.mode} {result.start} → {result.end}", expand=False)
    table.add_column("date", no_wrap=True)
    for name in phases:
        table.add_column(name, no_wrap=True)
    if details:
        table.add_column("health", justify="right")
    table.add_column("overall", no_wrap=True)
    for day in shown:
        cells = [_cell(day.phase(p).level, short=True) for p in phases]
        if details:
            cells.append("" if day.health is None else f"{day.health:.0f}")
        table.add_row(str(day.date), *cells, _overall_label(day, result.mode))
    out.print(table)
    hidden = len(result.dates) - len(shown)
    if hidden:
        out.print(f"[dim]{hidden} clean or unscheduled dates not shown (--all-dates shows them)[/]")
    out.print(f"[dim]{LEGEND}[/]")
    if details:
        problems = [
            (day, phase, verdict)
            for day in result.dates
            for phase in day.phases
            for verdict in phase.failing
        ]
        if problems:
            out.print("\n[bold]Checks below PASS[/] (warnings and failures, observed vs expected):")
            for day, phase, verdict in problems:
                out.print(
                    f"  {day.date} {phase.phase} {_cell(verdict.level)} {escape(verdict.check)}: "
                    f"{escape(verdict.observed)} — expected {escape(verdict.expected)}"
                )
    scheduled = [d for d in result.dates if d.overall is not Overall.NA]
    # A date the schedule calls empty without proof is judged (ERROR), not scheduled.
    unproven = sum(1 for d in scheduled if not d.scheduled)
    plural = "" if len(result.dates) == 1 else "s"
    counted = f"{len(result.dates)} date{plural}, {len(scheduled) - unproven} scheduled" + (
        f", {unproven} with nothing scheduled unproven" if unproven else ""
    )
    headline = f"Overall: [{OVERALL_STYLES[result.overall]}]{result.overall.value}[/]"
    if result.mode == "smoke":
        # Counted by each date's verdict, as the exit code is: FAILED fail, PARTIAL warn.
        failed = sum(1 for d in scheduled if d.overall is Overall.FAILED)
        warned = sum(1 for d in scheduled if d.overall is Overall.PARTIAL)
        out.print(
            f"\n{counted}: [green]{len(scheduled) - failed - warned} pass[/], "
            + (f"[yellow]{warned} with warnings[/], " if warned else "")
            + f"[red]{failed} fail[/]. {headline}"
        )
        return
    counts = {o: sum(1 for d in scheduled if d.overall is o) for o in Overall}
    health = "n/a" if result.health is None else f"{result.health:.1f}"
    out.print(
        f"\n{counted}: [green]{counts[Overall.COMPLETE]} complete[/], "
        f"[yellow]{counts[Overall.PARTIAL]} partial[/], [red]{counts[Overall.FAILED]} failed[/]. "
        f"Health {health}. {headline}"
    )


def _emit(
    result: RangeVerdict, fmt: str, *, details: bool, all_dates: bool, gaps: dict[Any, Any]
) -> None:
    if fmt == "json":
        data = to_dict(result)
        for day in data["dates"]:  # type: ignore[attr-defined]
            ledger = gaps.get(dt.date.fromisoformat(day["date"]))
            if ledger:
                day["gaps"] = ledger
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        draw_range(result, details=details, all_dates=all_dates)
        _draw_gaps(gaps)
    raise typer.Exit(exit_code(result))


def _draw_gaps(gaps: dict[Any, list[dict[str, Any]]]) -> None:
    """The gap ledger under the table: why a partition is missing."""
    if not gaps:
        return
    out.print("\n[bold]Gap ledger[/] (calls whose every retry failed):")
    for day in sorted(gaps):
        for gap in gaps[day]:
            out.print(
                f"  {day} {escape(str(gap.get('source', '')))} {escape(str(gap.get('key', '')))}: "
                f"{escape(str(gap.get('error_class', '')))} after {gap.get('attempt', '?')} attempts"
            )


def _draw_receipt(receipt: Any) -> None:
    """The backfill receipt: per date, health before -> after, lights, and why it fails."""
    from phaseguard.runner import Receipt

    assert isinstance(receipt, Receipt)
    phases = [p.phase for p in receipt.after.dates[0].phases] if receipt.after.dates else []
    table = Table(title=f"backfill receipt {receipt.start} → {receipt.end}")
    table.add_column("date", no_wrap=True)
    table.add_column("health", justify="right", no_wrap=True)
    for name in phases:
        table.add_column(name, no_wrap=True)
    table.add_column("overall", no_wrap=True)
    shown = [r for r in receipt.runs if not r.skipped_complete]
    if not shown and receipt.runs:
        out.print(f"nothing to run: all {len(receipt.runs)} scheduled dates are COMPLETE")
        return
    for run in shown:
        before, after = receipt.before_of(run.date), receipt.after_of(run.date)
        health = f"{_num(before.health)} → {_num(after.health)}"
        if run.skipped_complete:
            health = f"{_num(after.health)} (skipped)"
        cells = [_cell(after.phase(p).level, short=True) for p in phases]
        table.add_row(str(run.date), health, *cells, _overall_label(after, "verify"))
    out.print(table)
    out.print(f"[dim]{LEGEND}[/]")
    for run in shown:
        after = receipt.after_of(run.date)
        reasons = [r for r in run.phases if r.status in ("blocked", "failed")]
        failing = [(p.phase, v) for p in after.phases for v in p.failing]
        if not reasons and not failing:
            continue
        out.print(f"\n[bold]{run.date}[/] {after.overall.value}")
        for r in reasons:
            out.print(f"  {r.phase} {r.status.upper()}: {escape(r.message)}")
        for phase, verdict in failing:
            out.print(
                f"  {phase} {_cell(verdict.level)} {escape(verdict.check)}: "
                f"{escape(verdict.observed)} — expected {escape(verdict.expected)}"
            )
        for gap in receipt.gaps.get(run.date, []):
            out.print(
                f"  gap: {escape(str(gap.get('source', '')))} {escape(str(gap.get('key', '')))} "
                f"{escape(str(gap.get('error_class', '')))}: {escape(str(gap.get('message', '')))}"
            )
    whole_before, whole_after = receipt.before, receipt.after
    ran = sum(1 for r in receipt.runs if not r.skipped_complete)
    out.print(
        f"\n{len(receipt.runs)} scheduled dates, {ran} run, "
        f"{len(receipt.runs) - ran} already complete. Health {_num(whole_before.health)} → "
        f"{_num(whole_after.health)}. Overall: "
        f"[{OVERALL_STYLES[whole_after.overall]}]{whole_after.overall.value}[/] "
        f"({receipt.seconds:.1f}s)"
    )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"
