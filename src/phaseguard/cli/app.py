"""The CLI's shared parts: the typer app, the two consoles, common options, ``main``.

``main`` turns every PhaseguardError into one red line and its documented exit code;
a traceback only with ``--debug``.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from phaseguard.errors import PhaseguardError
from phaseguard.redact import shown
from phaseguard.verdicts import DateVerdict, Level, Overall

app = typer.Typer(
    name="phaseguard",
    help="Gates, retries, smoke tests and success criteria for date-partitioned pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
# Piped into a file or a CI log there is no terminal width to read, and rich's 80 columns
# cut the tables' cells ("COMPLE…"); COLUMNS still decides when it is set.
for _console in (out, err):
    if not _console.is_terminal and "COLUMNS" not in os.environ:
        _console.width = 120

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
    from phaseguard.guard import load

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
    if mode == "smoke" and day.overall is not Overall.NA:  # the date's verdict, in smoke words
        label = {Overall.COMPLETE: "PASS", Overall.PARTIAL: "WARN"}.get(day.overall, "FAIL")
        return f"[{OVERALL_STYLES[day.overall]}]{label}[/]"
    return f"[{OVERALL_STYLES[day.overall]}]{day.overall.value}[/]"


def _since(text: str) -> Any:

    from phaseguard.overrides import parse_duration

    return dt.datetime.now(dt.timezone.utc) - parse_duration(text)


DateOpt = Annotated[str, typer.Option("--date", "-d", help="Partition date, YYYY-MM-DD.")]


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
        err.print(f"[red]error:[/] {escape(shown(exc.message))}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("[red]aborted[/]")
        sys.exit(130)
    except typer.TyperException as exc:  # click usage errors: bad option, missing argument
        if debug:
            raise
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err.print(f"[red]error:[/] {escape(shown(message))} (see phaseguard --help)")
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The process entry point (``phaseguard``, ``python -m phaseguard.cli``): one command.

    Everything start-up built (modules, pydantic's validators, the typer app) lives until
    the process exits, so ``gc.freeze()`` moves it to the permanent generation: neither the
    collections during the command nor the one at interpreter shutdown walk it again (~60 ms
    of a season smoke test). ``main`` does not freeze: tests call it many times in one
    process, and frozen garbage is never freed.
    """
    gc.freeze()
    main()
