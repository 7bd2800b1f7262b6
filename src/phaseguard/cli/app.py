"""The CLI's shared parts: the typer app, the two consoles, common options, ``main``.

``main`` turns every error into one red line and its documented exit code (the table in
``errors.EXIT_CODES``, shown by ``--help``): a PhaseguardError its own, any other exception
5 (a bug), and anything at all that goes wrong in ``gate`` 2 (blocked). Only 0 and 1 mean
"go". A traceback only with ``--debug``.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from phaseguard.errors import (
    CLOSED_PIPE_EXIT,
    EXIT_CODES,
    INTERNAL_EXIT,
    InternalError,
    PhaseguardError,
)
from phaseguard.redact import shown
from phaseguard.verdicts import DateVerdict, Level, Overall

# typer's rich help joins an epilog's lines; "\b" keeps a paragraph's line breaks.
EPILOG = "\b\nExit codes (only 0 and 1 mean go; gate exits 2 on any error):\n" + "\n".join(
    f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES
)
app = typer.Typer(
    name="phaseguard",
    help="Gates, retries, smoke tests and success criteria for date-partitioned pipelines.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
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
    """``phaseguard.load``, with the config validated once per edit (``configcache``)."""
    from phaseguard.configcache import load
    from phaseguard.guard import Guard

    loaded, base_dir = load(config)
    return Guard(loaded, base_dir, warehouse_url=warehouse)


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


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("phaseguard")
        except PackageNotFoundError:  # a source tree on PYTHONPATH, not installed
            number = "unknown"
        out.print(f"phaseguard {number}")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Gates, retries, smoke tests and success criteria for date-partitioned pipelines."""


def _command_name(args: list[str]) -> str | None:
    """The subcommand ``args`` name: the first word that is not an option (none take values)."""
    for arg in args:
        if arg in ("-h", "--help", "--version"):
            return None
        if not arg.startswith("-"):
            return arg
    return None


def _command_app(args: list[str]) -> typer.Typer:
    """The app with only the command ``args`` run registered.

    typer makes a click command of every registered command each time the program starts
    (~7 ms of a smoke test for the fifteen), and a run needs one. Help, no command, or a
    name that is no command's get the whole app: its list of commands, its suggestions.
    """
    name = _command_name(args)
    if name is None or "-h" in args or "--help" in args:
        return app
    chosen = [
        info
        for info in app.registered_commands
        if info.callback is not None
        and (info.name or typer.main.get_command_name(info.callback.__name__)) == name
    ]
    if len(chosen) != 1:
        return app
    one = copy.copy(app)
    one.registered_commands = chosen
    return one


def _hide_flag_types(command: Any, ctx: Any = None) -> None:
    """Drop typer's ``<bool>`` type placeholder from every flag's help, --help's included."""
    import typer._click as click

    ctx = click.Context(command, info_name=command.name, parent=ctx, **command.context_settings)
    for param in [*command.params, command.get_help_option(ctx)]:
        if param is not None and getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _hide_flag_types(sub, ctx)


def _fail(message: str, code: int, *, gate: bool, args: list[str]) -> None:
    """One red line on stderr, then exit; for ``gate`` every error is a block (exit 2)."""
    if gate:
        code = 2
        message = f"gate BLOCKED (fails closed on any error): {message}"
        if any(a in ("json", "--format=json", "-fjson") for a in args):
            import json

            data = {"status": "blocked", "allowed": False, "message": shown(message), "error": True}
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
    err.print(f"[red]error:[/] {escape(shown(message))}")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: any error -> one red line and its exit code, never 0 or 1.

    ``--debug`` adds the traceback above that line; the exit code stays the same, so a
    crash is never read as "go" even while debugging.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PHASEGUARD_DEBUG") == "1"
    args = [a for a in args if a != "--debug"] or ["--help"]
    gate = _command_name(args) == "gate"
    try:
        command = typer.main.get_command(_command_app(args))
        if "-h" in args or "--help" in args:
            _hide_flag_types(command)
        code = command.main(args=args, prog_name="phaseguard", standalone_mode=False)
    except typer.Abort:
        err.print("[red]aborted[/]")
        sys.exit(130)
    except (Exception, SystemExit) as exc:
        if _closed_pipe(exc):
            _quiet_exit(2 if gate else CLOSED_PIPE_EXIT)
        if debug:
            traceback.print_exc(file=sys.stderr)
        message, code = _describe(exc)
        _fail(message, code, gate=gate, args=args)
    if not isinstance(code, int):
        code = 0
    if gate and code not in (0, 1, 2):
        code = 2
    sys.exit(code)


def _closed_pipe(exc: BaseException) -> bool:
    """Whether the command ended because its output's reader went away (``| head``).

    click turns a broken pipe into ``sys.exit(1)``, which would read as "go: PARTIAL"
    whatever the verdict was; it is told apart by the error it was raised from.
    """
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, SystemExit) and isinstance(exc.__context__, BrokenPipeError)
    )


def _quiet_exit(code: int) -> None:
    """Exit with ``code`` and nothing more on a closed pipe: stdout is pointed at
    /dev/null first, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (a test's capture)
        pass
    sys.exit(code)


def _describe(exc: BaseException) -> tuple[str, int]:
    """The one line and the exit code for an exception that ended a command."""
    if isinstance(exc, PhaseguardError):
        return exc.message, exc.exit_code
    if isinstance(exc, typer.TyperException):  # click usage errors: bad option, missing argument
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return f"{message} (see phaseguard --help)", 3
    if isinstance(exc, SystemExit):  # code the command ran (a step) ended the process
        return (
            f"internal error: the command was ended by sys.exit({exc.code!r}) before it finished",
            INTERNAL_EXIT,
        )
    internal = InternalError(exc)
    return f"{internal.message} (run again with --debug for the traceback)", internal.exit_code


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
