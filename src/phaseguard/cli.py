"""The command line: the only module that draws the terminal.

Exit codes (documented in the README):
    0  everything passes (a gate: open)
    1  warnings only (a gate: open with warnings)
    2  any failure (a gate: blocked)
    3  config or usage error
    4  warehouse error
"""

from __future__ import annotations

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
from .verdicts import DateVerdict, Level, Overall, RangeVerdict, exit_code, to_dict

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


def _cell(level: Level, note: str = "") -> str:
    text = f"{ICONS[level]} {level.value}"
    if note:
        text += f" [dim]{note}[/]"
    return f"[{STYLES[level]}]{text}[/]"


def _overall_label(day: DateVerdict, mode: str) -> str:
    if mode == "smoke" and day.overall is not Overall.NA:
        label = "PASS" if all(not p.level.is_failure for p in day.phases) else "FAIL"
        return f"[{'green' if label == 'PASS' else 'red'}]{label}[/]"
    return f"[{OVERALL_STYLES[day.overall]}]{day.overall.value}[/]"


def draw_range(result: RangeVerdict, *, details: bool) -> None:
    """The date x phase table, then (verify) the failing checks with observed vs expected."""
    phases = [p.phase for p in result.dates[0].phases] if result.dates else []
    table = Table(title=f"phaseguard {result.mode} {result.start} → {result.end}", expand=False)
    table.add_column("date", no_wrap=True)
    for name in phases:
        table.add_column(name, no_wrap=True)
    if details:
        table.add_column("health", justify="right")
    table.add_column("overall", no_wrap=True)
    for day in result.dates:
        cells = [_cell(day.phase(p).level) for p in phases]
        if details:
            cells.append("" if day.health is None else f"{day.health:.0f}")
        table.add_row(str(day.date), *cells, _overall_label(day, result.mode))
    out.print(table)
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


def _emit(result: RangeVerdict, fmt: str, *, details: bool) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(to_dict(result), indent=2) + "\n")
    else:
        draw_range(result, details=details)
    raise typer.Exit(exit_code(result))


@app.command()
def smoke(
    start: Annotated[str, typer.Argument(help="First date, YYYY-MM-DD.")],
    end: Annotated[str | None, typer.Argument(help="Last date (default: START).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """PASS/FAIL per phase per date: tables exist and quorums hold (one query)."""
    from .assess import date_range

    fmt = _check_format(fmt)
    first, last = date_range(start, end)
    with _guard(config, warehouse) as guard:
        result = guard.smoke(first, last)
    _emit(result, fmt, details=False)


@app.command()
def verify(
    start: Annotated[str, typer.Argument(help="First date, YYYY-MM-DD.")],
    end: Annotated[str | None, typer.Argument(help="Last date (default: START).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Traffic lights for every criterion, the health score and the overall verdict."""
    from .assess import date_range

    fmt = _check_format(fmt)
    first, last = date_range(start, end)
    with _guard(config, warehouse) as guard:
        result = guard.verify(first, last)
    _emit(result, fmt, details=True)


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
    caught = built.caught(result)
    out.print(f"\n[bold]Caught[/]: {caught[0]} of {caught[1]} injected faults flagged by verify.")
    out.print(
        f"Try: [cyan]phaseguard smoke 2026-01-13 2026-01-23 -c {built.config_path}[/]  "
        f"or  [cyan]phaseguard criteria -c {built.config_path}[/]"
    )


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
