"""Commands that measure: smoke, verify, criteria, deploy-check and the demo."""

# Annotations stay evaluated here (no __future__ import): see the package docstring.

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from phaseguard.verdicts import Level, exit_code

from .app import (
    DEFAULT_CONFIG,
    AllDatesOpt,
    ConfigOpt,
    DryRunOpt,
    FormatOpt,
    WarehouseOpt,
    _check_format,
    _guard,
    app,
    out,
)
from .render import _draw_receipt, _emit, draw_range, escape

PhaseSelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--phase",
        metavar="NAME",
        help="Only this phase's checks (repeatable). Gates are never narrowed: "
        "a gate always runs its full criteria.",
    ),
]
CheckSelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--check",
        metavar="NAME",
        help="Only the checks of this name, as `phaseguard criteria` shows it (repeatable).",
    ),
]
TagSelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        metavar="TAG",
        help="Only the checks with this tag, their own or their phase's (repeatable). "
        "--phase, --check and --tag together: a check must match each.",
    ),
]
# typer keeps a docstring's line breaks, so the help paragraphs are whole strings.
SELECTION_HELP = (
    "--phase, --check and --tag run only the checks they select, and the one query reads "
    "only what those need. Gates are not affected: a gate always runs its full criteria."
)
ResultFormatOpt = Annotated[
    str,
    typer.Option("--format", "-f", help="table, json, or junit (JUnit XML for CI test reports)."),
]


def _selection(phases: list[str] | None, checks: list[str] | None, tags: list[str] | None) -> Any:
    """The ``Selection`` the --phase/--check/--tag flags give (empty: every check)."""
    from phaseguard.selection import Selection

    return Selection(tuple(phases or ()), tuple(checks or ()), tuple(tags or ()))


def _dry_run(guard: Any, mode: str, first: Any, last: Any, selection: Any) -> None:
    """Print the statement smoke/verify would send and what it would scan; exit 0."""
    from phaseguard.assess import phase_checks
    from phaseguard.plan import build_plan

    groups = phase_checks(guard.config, mode, selection=selection)  # type: ignore[arg-type]
    checks = [(c, g.tables) for g in groups for c in g.checks]
    sql, scanned = guard.warehouse.dry_run(build_plan(guard.config, checks, first, last))
    sys.stdout.write(sql + "\n")
    size = "n/a" if scanned is None else f"{scanned} ({scanned / 1e9:.3f} GB)"
    out.print(f"bytes scanned: {size}")
    for note in guard.warehouse.notes:
        out.print(f"note: {escape(note)}")
    raise typer.Exit(0)


def _assess(
    mode: str,
    start: str,
    end: str | None,
    config: Path,
    warehouse: str | None,
    fmt: str,
    all_dates: bool,
    dry_run: bool,
    selection: Any,
) -> None:
    """What smoke and verify share: parse the range, one query, draw or print JSON/JUnit."""
    from phaseguard.assess import assess, date_range

    if fmt not in ("table", "json", "junit"):
        raise typer.BadParameter(f"--format must be table or json, or junit (XML), not {fmt!r}")
    first, last = date_range(start, end)
    with _guard(config, warehouse) as guard:
        if dry_run:
            _dry_run(guard, mode, first, last, selection)
        result = assess(
            guard.config,
            guard.warehouse,
            first,
            last,
            mode=mode,  # type: ignore[arg-type]
            selection=selection,
        )
        if fmt == "junit":
            from phaseguard.junit import to_junit

            sys.stdout.write(to_junit(result, name=guard.config.pipeline))
            raise typer.Exit(exit_code(result))
        # The gap ledger explains dates below PASS; a gap since filled (the date re-run
        # and now fine) explains nothing and is left out.
        below = {
            d.date for d in result.dates if any(p.level.rank < Level.PASS.rank for p in d.phases)
        }
        gaps = {d: g for d, g in guard.gaps(first, last).items() if d in below} if below else {}
    if selection and fmt == "table":
        out.print(f"[dim]selected: {escape(selection.describe())} (gates are not affected)[/]")
    _emit(result, fmt, details=mode == "verify", all_dates=all_dates, gaps=gaps)


@app.command(
    help="PASS/FAIL per phase per date: tables exist and quorums hold (one query).\n\n"
    + SELECTION_HELP
)
def smoke(
    start: Annotated[str, typer.Argument(help="First date, YYYY-MM-DD.")],
    end: Annotated[str | None, typer.Argument(help="Last date (default: START).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: ResultFormatOpt = "table",
    all_dates: AllDatesOpt = False,
    dry_run: DryRunOpt = False,
    phase: PhaseSelOpt = None,
    check: CheckSelOpt = None,
    tag: TagSelOpt = None,
) -> None:
    """PASS/FAIL per phase per date: tables exist and quorums hold (one query)."""
    selection = _selection(phase, check, tag)
    _assess("smoke", start, end, config, warehouse, fmt, all_dates, dry_run, selection)


@app.command(
    help="Traffic lights for every criterion, the health score and the overall verdict.\n\n"
    + SELECTION_HELP
    + " The health score and the verdict are over the selected checks."
)
def verify(
    start: Annotated[str, typer.Argument(help="First date, YYYY-MM-DD.")],
    end: Annotated[str | None, typer.Argument(help="Last date (default: START).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: ResultFormatOpt = "table",
    all_dates: AllDatesOpt = False,
    dry_run: DryRunOpt = False,
    phase: PhaseSelOpt = None,
    check: CheckSelOpt = None,
    tag: TagSelOpt = None,
) -> None:
    """Traffic lights for every criterion, the health score and the overall verdict."""
    selection = _selection(phase, check, tag)
    _assess("verify", start, end, config, warehouse, fmt, all_dates, dry_run, selection)


@app.command()
def criteria(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help="Also say what the learned expectations learned for DATE (one query).",
        ),
    ] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Print the success criteria as a Markdown document generated from the config."""
    from phaseguard import config as config_module
    from phaseguard.criteria import render

    if as_of is None:
        loaded, _ = config_module.load(config)
        sys.stdout.write(render(loaded))
        return
    from phaseguard.assess import parse_date
    from phaseguard.checks import check_name

    day = parse_date(as_of, "--as-of")
    with _guard(config, warehouse) as guard:
        kinds = {
            (p.name, check_name(c))
            for p in guard.config.phases
            for c in p.checks
            if c.kind in ("volume_anomaly", "freshness_anomaly")
        }
        verdicts = guard.verify(day).dates[0].phases
        learned = {
            (p.phase, v.check): f"as of {day}: {v.expected}"
            for p in verdicts
            for v in p.verdicts
            if (p.phase, v.check) in kinds
        }
        sys.stdout.write(render(guard.config, learned))


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write the demo warehouse and config.")
    ] = Path("phaseguard-demo"),
    scale: Annotated[int, typer.Option(help="Rows per game and per date multiplier.")] = 1,
    story: Annotated[
        bool, typer.Option("--story/--verify-only", help="Also gate and backfill the season.")
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a warehouse and event log already there.")
    ] = False,
) -> None:
    """Build the NBA props example warehouse with seeded faults, verify it, show what it caught."""
    from phaseguard.errors import UsageError

    try:
        from nba_props.demo import backfill_story, build_demo, existing, tonight_story
    except ModuleNotFoundError as exc:
        raise _example_missing(exc) from None
    there = existing(directory)
    if there and not force:
        raise UsageError(
            f"{directory}/ already holds {' and '.join(there)}; the demo would replace them "
            "(give --force to do so, or --dir NEW)"
        )

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
        raise typer.Exit(exit_code(result))  # the exit code of the headline just printed
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
        f"{told.retries} retried attempts; {told.alerts_sent} alerts sent."
    )
    night = tonight_story(built)
    out.print(
        f"\n[bold]Tonight[/] ({night.date}): the API answers 200 OK with half the games "
        "(the seeds' root cause #1), and NBA.com's gamebook is not out yet:"
    )
    for label, run in zip(("tonight", "next night"), night.runs, strict=True):
        steps_told = ", ".join(f"{p.phase} {p.status}" for p in run.phases)
        out.print(f"  {label}: {steps_told}")
    for title, status in night.alerts:
        out.print(f"  alert {escape(status)}: {escape(title)}")
    out.print(
        f"  the gap ledger kept {night.missing} missing games for the next night. "
        f"Events: [cyan]phaseguard events -c {built.config_path}[/]"
    )
    raise typer.Exit(exit_code(told.second.after))  # the last "Overall:" printed


def _example_missing(exc: ModuleNotFoundError) -> Exception:
    """The one line for a worked example that is not installed: it is a project of its own
    (examples/nba_props), not part of the library. Any other missing module stays a bug."""
    from phaseguard.errors import UsageError

    missing = (exc.name or "").partition(".")[0]
    if missing not in ("nba_props", "balldontlie"):
        return exc
    return UsageError(
        f"phaseguard demo runs the NBA props example, which is not installed ({missing} is "
        "missing): from a phaseguard checkout, pip install -e examples/nba_props"
    )


@app.command("deploy-check")
def deploy_check(
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
    timeout: Annotated[
        float,
        typer.Option(min=0.01, help="Seconds a probe may take unless it sets timeout_seconds."),
    ] = 10.0,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="List the probes as skipped, do not run them (PHASEGUARD_OFFLINE=1)."
        ),
    ] = False,
) -> None:
    """Is everything the pipeline needs there? Schemas, tables, columns, and the probes."""
    from phaseguard.deployment import Status
    from phaseguard.probes import deploy_check as run_deploy_check

    fmt = _check_format(fmt)
    with _guard(config, warehouse) as guard:
        report = run_deploy_check(guard.config, guard.warehouse, timeout=timeout, offline=offline)
        where = guard.warehouse.url
    if fmt == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        raise typer.Exit(report.exit_code)
    icons = {
        Status.PRESENT: "[green]✅",
        Status.MISSING: "[red]❌",
        Status.DRIFT: "[yellow]⚠️ ",
        Status.SKIPPED: "[dim]⏭️ ",
    }
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
        if item.status not in (Status.PRESENT, Status.SKIPPED) and item.how_to_check:
            out.print(f"      [dim]check by hand:[/] {escape(item.how_to_check)}")
    missing = report.count(Status.MISSING)
    out.print(
        f"\n[green]{report.count(Status.PRESENT)} present[/], "
        f"[{'red' if missing else 'green'}]{missing} missing[/], "
        f"[yellow]{report.count(Status.DRIFT)} drift[/]"
        + (
            f", {report.count(Status.SKIPPED)} skipped (offline)."
            if report.count(Status.SKIPPED)
            else "."
        )
    )
    raise typer.Exit(report.exit_code)
