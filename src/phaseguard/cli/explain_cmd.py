"""The explain command: why a date is red, down the dependency graph to its root cause."""

# Annotations stay evaluated here (no __future__ import): see the package docstring.

import json
import sys
from typing import Annotated, Any

import typer

from phaseguard.verdicts import Level, exit_code

from .app import (
    DEFAULT_CONFIG,
    ICONS,
    OVERALL_STYLES,
    STYLES,
    ConfigOpt,
    WarehouseOpt,
    _guard,
    app,
    err,
    out,
)
from .render import escape


@app.command()
def explain(
    date: Annotated[str, typer.Argument(help="The date to explain, YYYY-MM-DD.")],
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Why a date is what it is: each broken phase down its upstream to the root cause.

    One verify query for the date and the event log's events about it. The exit code is
    verify's for the date (0 COMPLETE, 1 PARTIAL, 2 FAILED). An unreadable event log is
    said, and the verdicts still explain.
    """
    from phaseguard.assess import parse_date
    from phaseguard.explain import explain as build
    from phaseguard.explain import gather
    from phaseguard.explanation import to_dict

    if fmt not in ("text", "table", "json"):
        raise typer.BadParameter(f"--format must be text or json, not {fmt!r}")
    day = parse_date(date)
    with _guard(config, warehouse) as guard:
        result, events, events_error = gather(guard, day)
    code = exit_code(result)
    explanation = build(guard.config, result.dates[0], events, events_error=events_error)
    if fmt == "json":
        data = to_dict(explanation, exit_code=code)
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        draw(explanation)
    raise typer.Exit(code)


def _level(level: Level) -> str:
    return f"[{STYLES[level]}]{ICONS[level]} {level.value}[/]"


def draw(explanation: Any) -> None:
    """The explanation on one screen: the headline, the chains, each phase's evidence."""
    from rich.tree import Tree  # only when drawing: every command's start-up imports this module

    from phaseguard.explanation import chain_text, detail_text

    style = OVERALL_STYLES[explanation.overall]
    health = "" if explanation.health is None else f", health {explanation.health:g}"
    out.print(
        f"[bold]phaseguard explain {explanation.date}[/]: "
        f"[{style}]{explanation.overall.value}[/]{health}"
    )
    if explanation.events_error:
        err.print(
            f"[yellow]the event log could not be read[/] ({escape(explanation.events_error)}); "
            "explained from the verdicts alone"
        )
    if not explanation.roots:
        what = "nothing scheduled" if explanation.scheduled == 0 else "every phase holds"
        out.print(f"No broken phase: {what}.")
    for root in explanation.roots:
        out.print(
            f"[bold]Root cause[/]: {root.phase} {_level(root.level)}"
            + (
                f" ({escape(root.state)})"
                if root.state in ("failed", "blocked", "unhealthy")
                else ""
            )
            + f" — {escape(root.cause)}"
        )
    chains = explanation.chains
    if any(len(c) > 1 for c in chains):
        out.print("[bold]Chain[/] (downstream ← upstream):")
        for chain in chains:
            out.print(f"  {escape(chain_text(chain))}")
    drawn: set[str] = set()

    def add(tree: Any, node: Any) -> None:
        label = f"[bold]{node.phase}[/] {_level(node.level)}"
        if node.state in ("failed", "blocked", "unhealthy"):
            at = f" at {node.state_time:%Y-%m-%d %H:%M} UTC" if node.state_time else ""
            label += f" [red]{escape(node.state)}{at}[/]"
        if node.root:
            label += " [bold red]← root cause[/]"
        branch = tree.add(label)
        if node.phase in drawn:
            branch.add("[dim](shown above)[/]")
            return
        drawn.add(node.phase)
        for v in node.checks:
            leaf = branch.add(
                f"{_level(v.level)} {escape(v.check)}: {escape(v.observed)} "
                f"[dim]— expected {escape(v.expected)}[/]"
            )
            text = detail_text(v.details)
            if text:
                leaf.add(f"[dim]{escape(text)}[/]")
        if node.tables:
            branch.add(f"[dim]tables: {escape(', '.join(node.tables))}[/]")
        for f in node.findings:
            colour = {"error": "red", "critical": "red", "warning": "yellow"}.get(f.severity, "dim")
            branch.add(f"[{colour}]{f.time:%H:%M:%S} {escape(f.kind)}[/]: {escape(f.text)}")
        for cause in node.causes:
            add(branch, cause)

    if explanation.heads:
        tree = Tree("[bold]Broken phases[/] (each under the phase it broke)")
        for head in explanation.heads:
            add(tree, head)
        out.print(tree, soft_wrap=False)
    if explanation.notes:
        out.print("[bold]Below their best[/] (PASS):")
        for note in explanation.notes:
            v = note.verdict
            text = detail_text(v.details)
            out.print(
                f"  {note.phase} {escape(v.check)}: {escape(v.observed)}"
                + (f" [dim]({escape(text)})[/]" if text else "")
            )
    if explanation.findings:
        out.print("[bold]Other events[/] about the date:")
        for f in explanation.findings:
            out.print(f"  {f.time:%H:%M:%S} {escape(f.kind)}: {escape(f.text)}")
