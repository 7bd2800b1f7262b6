"""Commands that run the pipeline: run and backfill."""

# Annotations stay evaluated here (no __future__ import): see the package docstring.

import json
import sys
from typing import Annotated, Any

import typer

from phaseguard.verdicts import exit_code

from .app import (
    DEFAULT_CONFIG,
    ConfigOpt,
    DateOpt,
    FormatOpt,
    WarehouseOpt,
    _check_format,
    _guard,
    app,
    err,
    out,
)
from .render import _draw_receipt, draw_range, escape


def _progress_runner(guard: Any, total: int) -> tuple[Any, Any]:
    """A Runner that reports each phase: a progress bar on a terminal, plain lines otherwise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from phaseguard.runner import Runner

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
        if run.status == "no_step":
            return  # nothing happened; the summary on stdout says so once
        note = f": {run.message}" if run.status in ("blocked", "failed", "unhealthy") else ""
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

    from phaseguard.assess import parse_date

    day = parse_date(date)
    with _guard(config, warehouse) as guard:
        runner, progress = _progress_runner(guard, 1)
        with progress if progress is not None else contextlib.nullcontext():
            result = runner.run_date(day, from_phase=from_phase)
        verdict = guard.verify(day)
    for run in result.phases:
        status = "-" if run.status == "no_step" else run.status
        out.print(f"  {run.phase:<10} {status:<9} {escape(run.message)}")
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

    from phaseguard.assess import date_range
    from phaseguard.errors import UsageError
    from phaseguard.runner import backfill as run_backfill
    from phaseguard.runner import receipt_to_dict

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
