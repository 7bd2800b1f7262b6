"""The command line: the only module that draws the terminal.

Exit codes (documented in the README):
    0  everything passes (a gate: open)
    1  warnings only (a gate: open with warnings)
    2  any failure (a gate: blocked)
    3  config or usage error
    4  warehouse error
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import PhaseguardError
from .verdicts import DateVerdict, Level, Overall, RangeVerdict, exit_code, to_dict, verdict_to_dict

app = typer.Typer(
    name="phaseguard",
    help="Gates, retries, smoke tests and success criteria for date-partitioned pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOpt = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="PHASEGUARD_CONFIG", help="Pipeline config file."),
]
WarehouseOpt = Annotated[
    str | None,
    typer.Option(
        "--warehouse", "-w", help="Warehouse URL (else PHASEGUARD_WAREHOUSE, else config)."
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table or json.")]
AllDatesOpt = Annotated[
    bool, typer.Option("--all-dates", help="List every date, not only those with problems.")
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the one query and the bytes it would scan (BigQuery); run nothing."
    ),
]
DEFAULT_CONFIG = Path("phaseguard.yml")

ICONS = {
    Level.EXCELLENT: "✅",
    Level.PASS: "✅",
    Level.ACCEPTABLE: "⚠️ ",
    Level.FAIL: "❌",
    Level.ERROR: "💥",
    Level.NA: "·",
}
STYLES = {
    Level.EXCELLENT: "green",
    Level.PASS: "green",
    Level.ACCEPTABLE: "yellow",
    Level.FAIL: "red",
    Level.ERROR: "red",
    Level.NA: "dim",
}
OVERALL_STYLES = {
    Overall.COMPLETE: "green",
    Overall.PARTIAL: "yellow",
    Overall.FAILED: "red",
    Overall.NA: "dim",
}


def _check_format(fmt: str) -> str:
    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"--format must be table or json, not {fmt!r}")
    return fmt


def _guard(config: Path, warehouse: str | None) -> Any:
    from .guard import load

    return load(config, warehouse=warehouse)


SHORT = {
    Level.EXCELLENT: "EXC",
    Level.PASS: "PASS",
    Level.ACCEPTABLE: "ACC",
    Level.FAIL: "FAIL",
    Level.ERROR: "ERR",
    Level.NA: "N/A",
}
LEGEND = "EXC = EXCELLENT, ACC = ACCEPTABLE (a warning), N/A = nothing scheduled"
FULL_TABLE_DATES = 31


def _cell(level: Level, *, short: bool = False) -> str:
    text = f"{ICONS[level]} {SHORT[level] if short else level.value}"
    return f"[{STYLES[level]}]{text}[/]"


def _overall_label(day: DateVerdict, mode: str) -> str:
    if mode == "smoke" and day.overall is not Overall.NA:
        label = "PASS" if all(not p.level.is_failure for p in day.phases) else "FAIL"
        return f"[{'green' if label == 'PASS' else 'red'}]{label}[/]"
    return f"[{OVERALL_STYLES[day.overall]}]{day.overall.value}[/]"


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
            out.print("\n[bold]Failing checks[/] (observed vs expected):")
            for day, phase, verdict in problems:
                out.print(
                    f"  {day.date} {phase.phase} {_cell(verdict.level)} {escape(verdict.check)}: "
                    f"{escape(verdict.observed)} — expected {escape(verdict.expected)}"
                )
    scheduled = [d for d in result.dates if d.overall is not Overall.NA]
    if result.mode == "smoke":
        failed = sum(1 for d in scheduled if any(p.level.is_failure for p in d.phases))
        out.print(
            f"\n{len(result.dates)} dates, {len(scheduled)} scheduled: "
            f"[green]{len(scheduled) - failed} pass[/], [red]{failed} fail[/]."
        )
        return
    counts = {o: sum(1 for d in scheduled if d.overall is o) for o in Overall}
    health = "n/a" if result.health is None else f"{result.health:.1f}"
    out.print(
        f"\n{len(result.dates)} dates, {len(scheduled)} scheduled: "
        f"[green]{counts[Overall.COMPLETE]} complete[/], "
        f"[yellow]{counts[Overall.PARTIAL]} partial[/], [red]{counts[Overall.FAILED]} failed[/]. "
        f"Health {health}. Overall: [{OVERALL_STYLES[result.overall]}]{result.overall.value}[/]"
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


def _dry_run(guard: Any, mode: str, first: Any, last: Any) -> None:
    """Print the statement smoke/verify would send and what it would scan; exit 0."""
    from .assess import phase_checks
    from .plan import build_plan

    selection = phase_checks(guard.config, mode)  # type: ignore[arg-type]
    checks = [(c, g.tables) for g in selection for c in g.checks]
    sql, scanned = guard.warehouse.dry_run(build_plan(guard.config, checks, first, last))
    sys.stdout.write(sql + "\n")
    size = "n/a" if scanned is None else f"{scanned} ({scanned / 1e9:.3f} GB)"
    out.print(f"bytes scanned: {size}")
    for note in guard.warehouse.notes:
        out.print(f"note: {escape(note)}")
    raise typer.Exit(0)


@app.command()
def smoke(
    start: Annotated[str, typer.Argument(help="First date, YYYY-MM-DD.")],
    end: Annotated[str | None, typer.Argument(help="Last date (default: START).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
    all_dates: AllDatesOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """PASS/FAIL per phase per date: tables exist and quorums hold (one query)."""
    from .assess import date_range

    fmt = _check_format(fmt)
    first, last = date_range(start, end)
    with _guard(config, warehouse) as guard:
        if dry_run:
            _dry_run(guard, "smoke", first, last)
        result = guard.smoke(first, last)
        gaps = guard.gaps(first, last) if result.worst.is_failure else {}
    _emit(result, fmt, details=False, all_dates=all_dates, gaps=gaps)


@app.command()
def verify(
    start: Annotated[str, typer.Argument(help="First date, YYYY-MM-DD.")],
    end: Annotated[str | None, typer.Argument(help="Last date (default: START).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
    all_dates: AllDatesOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Traffic lights for every criterion, the health score and the overall verdict."""
    from .assess import date_range

    fmt = _check_format(fmt)
    first, last = date_range(start, end)
    with _guard(config, warehouse) as guard:
        if dry_run:
            _dry_run(guard, "verify", first, last)
        result = guard.verify(first, last)
        gaps = guard.gaps(first, last) if result.worst.rank < Level.PASS.rank else {}
    _emit(result, fmt, details=True, all_dates=all_dates, gaps=gaps)


@app.command()
def criteria(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Print the success criteria as a Markdown document generated from the config."""
    from . import config as config_module
    from .criteria import render

    loaded, _ = config_module.load(config)
    sys.stdout.write(render(loaded))


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write the demo warehouse and config.")
    ] = Path("phaseguard-demo"),
    scale: Annotated[int, typer.Option(help="Rows per game and per date multiplier.")] = 1,
    story: Annotated[
        bool, typer.Option("--story/--verify-only", help="Also gate and backfill the season.")
    ] = True,
) -> None:
    """Build the NBA props example warehouse with seeded faults, verify it, show what it caught."""
    from .nba.demo import build_demo

    out.print(f"[bold]phaseguard demo[/]: building the NBA props warehouse in {directory}/ …")
    built = build_demo(directory, scale=scale)
    out.print(
        f"  {built.plan.games} games on {built.plan.game_dates} game dates, "
        f"{built.plan.first_date} → {built.plan.last_date}, built in {built.seconds:.1f}s"
    )
    out.print("\n[bold]Faults injected[/] (what a bad season looks like):")
    for fault in built.plan.faults:
        dates = ", ".join(str(d) for d in fault.dates[:6]) + (" …" if len(fault.dates) > 6 else "")
        out.print(f"  • {fault.kind}: {fault.table} on {dates} — {fault.detail}")
    out.print(f"\n[bold]phaseguard verify {built.plan.first_date} {built.plan.last_date}[/]\n")
    with _guard(built.config_path, f"duckdb://{built.warehouse_path.resolve()}") as guard:
        result = guard.verify(built.plan.first_date, built.plan.last_date)
    draw_range(result, details=True)
    missed = built.unflagged(result)
    flagged = len(built.plan.faults) - len(missed)
    out.print(f"\n[bold]Flagged[/]: {flagged} of {len(built.plan.faults)} injected faults.")
    for fault in missed:
        out.print(f"  not flagged: {fault.kind} ({fault.detail}) — within the criteria by design")
    if not story:
        return
    from .nba.demo import backfill_story

    out.print("\n[bold]Gates[/] on the broken dates (alerts go to the configured sinks):")
    told = backfill_story(built)
    for decision in told.decisions:
        icon = "⛔" if decision.status == "blocked" else "✅"
        out.print(f"  {icon} {escape(decision.message)}")
    out.print(
        "\n[bold]Backfill[/] of the season through the gates, scraping a local balldontlie API "
        "that fails 10 % of requests and goes down for 20 minutes (virtual clock):"
    )
    _draw_receipt(told.first)
    out.print("\n[bold]Run again[/] an hour later (resumable: COMPLETE dates are skipped):")
    _draw_receipt(told.second)
    out.print(
        f"\nAPI: {told.api_requests} requests, {told.api_faults} faults injected, "
        f"{told.retries} retried attempts; {told.alerts_sent} alerts sent. "
        f"Events: [cyan]phaseguard events -c {built.config_path}[/]"
    )


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


def _since(text: str) -> Any:
    import datetime as dt

    from .overrides import parse_duration

    return dt.datetime.now(dt.timezone.utc) - parse_duration(text)


DateOpt = Annotated[str, typer.Option("--date", "-d", help="Partition date, YYYY-MM-DD.")]


@app.command()
def gate(
    phase: Annotated[str, typer.Argument(help="The gate: the phase it guards.")],
    date: DateOpt,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Decide a gate for a date: exit 0 open, 1 open with warnings, 2 blocked."""
    from .assess import parse_date

    fmt = _check_format(fmt)
    day = parse_date(date)
    with _guard(config, warehouse) as guard:
        decision = guard.gate(phase).decide(day)
    if fmt == "json":
        data = {
            "gate": decision.gate,
            "date": decision.date.isoformat(),
            "status": decision.status,
            "allowed": decision.allowed,
            "message": decision.message,
            "override": decision.override.id if decision.override else None,
            "checks": [verdict_to_dict(v) for v in decision.verdicts],
            **decision.details,
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        raise typer.Exit(decision.exit_code)
    style = {"open": "green", "warn": "yellow", "blocked": "red", "overridden": "yellow"}
    icon = {"open": "✅", "warn": "⚠️ ", "blocked": "⛔", "overridden": "🔓"}
    out.print(
        f"{icon[decision.status]} [bold {style[decision.status]}]{decision.status.upper()}[/] "
        f"{escape(decision.message)}"
    )
    for verdict in decision.verdicts:
        out.print(
            f"   {_cell(verdict.level)} {escape(verdict.check)}: {escape(verdict.observed)} "
            f"[dim](expected {escape(verdict.expected)})[/]"
        )
    if decision.override is not None:
        err.print(
            f"[bold yellow]!! gate {decision.gate} passed on OVERRIDE {decision.override.id} "
            f"by {escape(decision.override.by)}, expires {decision.override.expires_at:%Y-%m-%d %H:%M} UTC[/]"
        )
    raise typer.Exit(decision.exit_code)


@app.command()
def override(
    target: Annotated[str, typer.Argument(help="The gate to override, or 'revoke'.")],
    override_id: Annotated[str | None, typer.Argument(help="With revoke: the override id.")] = None,
    date: Annotated[str | None, typer.Option("--date", "-d", help="Partition date.")] = None,
    reason: Annotated[str, typer.Option(help="Why (required).")] = "",
    by: Annotated[str, typer.Option(help="Who (default: $USER).")] = "",
    expires: Annotated[str, typer.Option(help="How long it lasts, e.g. 24h, 30m, 7d.")] = "24h",
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Let one gate pass for one date (scoped, audited, expiring); or: override revoke ID."""
    from .assess import parse_date
    from .errors import UsageError
    from .overrides import parse_duration

    who = by or os.environ.get("USER", "")
    with _guard(config, None) as guard:
        if target == "revoke":
            if not override_id:
                raise UsageError("override revoke needs the override id")
            revoked = guard.overrides.revoke(override_id, who)
            out.print(f"revoked override {revoked.id} of {revoked.gate} for {revoked.date}")
            return
        if override_id is not None:
            raise UsageError(f"unexpected argument {override_id!r}")
        guard.gate(target)  # an unknown gate is a usage error
        if date is None:
            raise UsageError("override needs --date YYYY-MM-DD")
        if not reason.strip():
            raise UsageError("override needs --reason: say why the gate may be passed")
        made = guard.overrides.create(
            target, parse_date(date), reason, who, parse_duration(expires)
        )
    out.print(
        f"🔓 override [bold]{made.id}[/]: gate {made.gate} may pass {made.date} until "
        f"{made.expires_at:%Y-%m-%d %H:%M} UTC (by {escape(made.by)}: {escape(made.reason)})"
    )


@app.command()
def overrides(
    show_all: Annotated[bool, typer.Option("--all", help="Include expired and revoked.")] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """List the overrides that still count (or all of them)."""
    with _guard(config, None) as guard:
        found = guard.overrides.list(include_inactive=show_all)
        now = guard.clock()
    table = Table(title="overrides")
    for column in ("id", "gate", "date", "by", "reason", "expires (UTC)", "state"):
        table.add_column(column)
    for o in found:
        state = "revoked" if o.revoked_at else ("active" if o.is_active(now) else "expired")
        table.add_row(
            o.id,
            o.gate,
            str(o.date),
            escape(o.by),
            escape(o.reason),
            f"{o.expires_at:%Y-%m-%d %H:%M}",
            state,
        )
    out.print(table if found else "no overrides")


@app.command()
def events(
    since: Annotated[str, typer.Option(help="How far back, e.g. 7d, 24h.")] = "7d",
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. gate_blocked.")] = None,
    phase: Annotated[str | None, typer.Option(help="Only this phase.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest.")] = 200,
    config: ConfigOpt = DEFAULT_CONFIG,
    fmt: FormatOpt = "table",
) -> None:
    """The event log: gate decisions, overrides, alerts, retries and errors."""
    import dataclasses

    fmt = _check_format(fmt)
    with _guard(config, None) as guard:
        found = guard.store.query(since=_since(since), kind=kind, phase=phase, limit=limit)
    if fmt == "json":
        rows = []
        for e in found:
            row = dataclasses.asdict(e)
            row["time"] = e.time.isoformat()
            row["date"] = e.date.isoformat() if e.date else None
            rows.append(row)
        sys.stdout.write(json.dumps({"events": rows}, indent=2, default=str) + "\n")
        return
    table = Table(title=f"events since {since}")
    for column in ("time (UTC)", "kind", "severity", "phase", "date", "message"):
        table.add_column(column, overflow="fold")
    colours = {"critical": "red", "error": "red", "warning": "yellow"}
    for e in found:
        colour = colours.get(e.severity, "")
        table.add_row(
            f"{e.time:%Y-%m-%d %H:%M:%S}",
            e.kind,
            f"[{colour}]{e.severity}[/]" if colour else e.severity,
            e.phase or "",
            str(e.date or ""),
            escape(e.message),
        )
    out.print(table if found else f"no events since {since}")


@app.command()
def errors(
    since: Annotated[str, typer.Option(help="How far back, e.g. 7d.")] = "7d",
    config: ConfigOpt = DEFAULT_CONFIG,
    fmt: FormatOpt = "table",
) -> None:
    """Error events grouped by signature: count, first/last seen, dates hit."""
    from .events import group_errors

    fmt = _check_format(fmt)
    with _guard(config, None) as guard:
        groups = group_errors(guard.store.query(since=_since(since)))
    if fmt == "json":
        data = [
            {
                "signature": g.signature,
                "count": g.count,
                "first_seen": g.first_seen.isoformat(),
                "last_seen": g.last_seen.isoformat(),
                "dates": [d.isoformat() for d in g.dates],
                "kinds": list(g.kinds),
                "example": g.example,
            }
            for g in groups
        ]
        sys.stdout.write(json.dumps({"errors": data}, indent=2) + "\n")
        return
    table = Table(title=f"error signatures since {since}")
    for column in ("count", "signature", "first seen", "last seen", "dates hit"):
        table.add_column(column, overflow="fold")
    for g in groups:
        dates = ", ".join(str(d) for d in g.dates[:5]) + (" …" if len(g.dates) > 5 else "")
        table.add_row(
            str(g.count),
            escape(g.signature),
            f"{g.first_seen:%Y-%m-%d %H:%M}",
            f"{g.last_seen:%Y-%m-%d %H:%M}",
            dates,
        )
    out.print(table if groups else f"no errors since {since}")


@app.command("deploy-check")
def deploy_check(
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
    timeout: Annotated[
        float,
        typer.Option(min=0.01, help="Seconds a probe may take unless it sets timeout_seconds."),
    ] = 10.0,
) -> None:
    """Is everything the pipeline needs there? Schemas, tables, columns, and the probes."""
    from .infra import Status
    from .probes import deploy_check as run_deploy_check

    fmt = _check_format(fmt)
    with _guard(config, warehouse) as guard:
        report = run_deploy_check(guard.config, guard.warehouse, timeout=timeout)
        where = guard.warehouse.url
    if fmt == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        raise typer.Exit(report.exit_code)
    icons = {Status.PRESENT: "[green]✅", Status.MISSING: "[red]❌", Status.DRIFT: "[yellow]⚠️ "}
    out.print(f"[bold]phaseguard deploy-check[/] {escape(report.pipeline)} ({escape(where)})")
    group = None
    for item in report.items:
        if item.group != group:
            group = item.group
            out.print(f"\n[bold]{escape(group)}[/]")
        line = f"  {icons[item.status]} {escape(item.name)}[/]"
        if item.detail:
            line += f" — {escape(item.detail)}"
        out.print(line)
        if item.status is not Status.PRESENT and item.how_to_check:
            out.print(f"      [dim]check by hand:[/] {escape(item.how_to_check)}")
    missing = report.count(Status.MISSING)
    out.print(
        f"\n[green]{report.count(Status.PRESENT)} present[/], "
        f"[{'red' if missing else 'green'}]{missing} missing[/], "
        f"[yellow]{report.count(Status.DRIFT)} drift[/]."
    )
    raise typer.Exit(report.exit_code)


def _draw_receipt(receipt: Any) -> None:
    """The backfill receipt: per date, health before -> after, lights, and why it fails."""
    from .runner import Receipt

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


def _progress_runner(guard: Any, total: int) -> tuple[Any, Any]:
    """A Runner that reports each phase: a progress bar on a terminal, plain lines otherwise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .runner import Runner

    phases = len(guard.config.phases)
    if out.is_terminal:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        )
        task = progress.add_task("backfill", total=max(total * phases, 1))

        def on_phase(date: Any, run: Any) -> None:
            progress.update(task, advance=1, description=f"{date} {run.phase} {run.status}")

        return Runner(guard, on_phase=on_phase), progress

    def plain(date: Any, run: Any) -> None:
        note = f": {run.message}" if run.status in ("blocked", "failed") else ""
        err.print(f"{date} {run.phase} {run.status}{escape(note)}", highlight=False)

    return Runner(guard, on_phase=plain), None


@app.command("run")
def run_command(
    date: DateOpt,
    from_phase: Annotated[
        str | None, typer.Option("--from-phase", help="Start at this phase.")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
) -> None:
    """Run every phase for one date: gate -> step -> check, downstream stopped on a block."""
    import contextlib

    from .assess import parse_date

    day = parse_date(date)
    with _guard(config, warehouse) as guard:
        runner, progress = _progress_runner(guard, 1)
        with progress if progress is not None else contextlib.nullcontext():
            result = runner.run_date(day, from_phase=from_phase)
        verdict = guard.verify(day)
    for run in result.phases:
        out.print(f"  {run.phase:<10} {run.status:<8} {escape(run.message)}")
    draw_range(verdict, details=True)
    raise typer.Exit(exit_code(verdict))


@app.command()
def backfill(
    start: Annotated[str, typer.Argument(help="First date, YYYY-MM-DD.")],
    end: Annotated[str | None, typer.Argument(help="Last date (default: START).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Dates run in parallel.")] = 1,
    from_phase: Annotated[
        str | None, typer.Option("--from-phase", help="Start at this phase.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Run dates that are already COMPLETE too.")] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Backfill a range through the gates, then verify it: the backfill receipt."""
    import contextlib

    from .assess import date_range
    from .errors import UsageError
    from .runner import backfill as run_backfill
    from .runner import receipt_to_dict

    fmt = _check_format(fmt)
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    first, last = date_range(start, end)
    with _guard(config, warehouse) as guard:
        runner, progress = _progress_runner(guard, (last - first).days + 1)
        with progress if progress is not None else contextlib.nullcontext():
            receipt = run_backfill(
                guard,
                first,
                last,
                jobs=jobs,
                from_phase=from_phase,
                force=force,
                runner=runner,
                guard_factory=lambda: _guard(config, warehouse),
            )
    if fmt == "json":
        sys.stdout.write(json.dumps(receipt_to_dict(receipt), indent=2, default=str) + "\n")
    else:
        _draw_receipt(receipt)
    raise typer.Exit(exit_code(receipt.after))


def _report_now() -> Any:
    """The current time in UTC (the report's clock; tests replace it)."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc)


@app.command()
def report(
    start: Annotated[str | None, typer.Argument(help="First date, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Argument(help="Last date (default: START).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the HTML report to this file.")
    ] = None,
    yesterday: Annotated[
        bool, typer.Option("--yesterday", help="Report on yesterday (UTC) instead of START END.")
    ] = False,
    send: Annotated[
        bool, typer.Option("--send", help="Post the quality summary to the configured sinks.")
    ] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
) -> None:
    """The health report: one self-contained HTML file (-o) and/or a summary alert (--send).

    Exit 0 when written and sent; 1 when a sink did not take the summary.
    """
    import datetime as dt

    from . import report as report_module
    from .assess import date_range
    from .errors import UsageError

    now = _report_now()
    if yesterday:
        if start is not None:
            raise UsageError("give START [END] or --yesterday, not both")
        first = last = now.astimezone(dt.timezone.utc).date() - dt.timedelta(days=1)
    elif start is None:
        raise UsageError("report needs START [END] or --yesterday")
    else:
        first, last = date_range(start, end)
    if output is None and not send:
        raise UsageError("report needs -o FILE, --send, or both")
    with _guard(config, warehouse) as guard:
        result = guard.verify(first, last)
        link = None
        if output is not None:
            events, events_error = [], None
            try:
                events = guard.store.query(since=report_module.events_since(first, now))
            except PhaseguardError as exc:
                events_error = exc.message
            source = report_module.provenance(
                str(config.resolve()), guard.warehouse.url, now, guard.store.location
            )
            view = report_module.build(
                result, events, config=guard.config, provenance=source, events_error=events_error
            )
            try:
                output.write_text(report_module.render(view), encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
            link = output.resolve().as_uri()
            health = "n/a" if result.health is None else f"{result.health:.1f}"
            out.print(
                f"wrote {escape(str(output))}: {len(result.dates)} dates, health {health}, "
                f"overall [{OVERALL_STYLES[result.overall]}]{result.overall.value}[/]"
            )
        if not send:
            return
        alert = report_module.summary_alert(result, pipeline=guard.config.pipeline, link=link)
        if not guard.notifier.sinks:
            raise UsageError("--send needs a sink in the config (sinks:)")
        deliveries = guard.notifier.notify(alert)
    if not deliveries:
        err.print(
            f"[yellow]no sink takes {alert.severity} alerts[/] (raise a sink's min_severity "
            f"to {alert.severity} to get every summary)"
        )
        return
    for delivery in deliveries:
        if delivery.ok:
            out.print(f"sent {alert.severity} summary to {escape(delivery.sink)}")
        else:
            err.print(
                f"[yellow]summary not delivered to {escape(delivery.sink)}[/] after "
                f"{delivery.attempts} tries ({delivery.error}); kept to send again"
            )
    if not all(d.ok for d in deliveries):
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8050,
    start: Annotated[
        str | None, typer.Option(help="First date (default: 30 days before END).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Last date (default: today, UTC).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
) -> None:
    """The live dashboard: the report at /, JSON at /api/health, liveness at /healthz."""
    from .assess import parse_date
    from .serve import serve as make_server
    from .serve import stderr_log

    first = parse_date(start, "start date") if start else None
    last = parse_date(end, "end date") if end else None
    with _guard(config, warehouse) as guard:
        server = make_server(
            guard,
            host=host,
            port=port,
            start=first,
            end=last,
            config_path=str(config.resolve()),
            log=stderr_log,
        )
        pipeline = escape(guard.config.pipeline)
        out.print(f"phaseguard dashboard for {pipeline} on {server.url} (Ctrl-C stops)")
        if host not in ("127.0.0.1", "localhost", "::1"):
            err.print(
                f"[yellow]listening on {escape(host)}: the dashboard has no authentication[/]"
            )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            out.print("stopped")
        finally:
            server.server_close()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: PhaseguardError -> one red line and its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PHASEGUARD_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="phaseguard", standalone_mode=False)
    except PhaseguardError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/] {escape(exc.message)}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("[red]aborted[/]")
        sys.exit(130)
    except typer.TyperException as exc:  # click usage errors: bad option, missing argument
        if debug:
            raise
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err.print(f"[red]error:[/] {escape(message)} (see phaseguard --help)")
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
