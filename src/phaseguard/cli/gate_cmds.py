"""Commands about gates: gate, override, overrides, events, errors."""

# Annotations stay evaluated here (no __future__ import): see the package docstring.

import json
import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from .app import (
    DEFAULT_CONFIG,
    ConfigOpt,
    DateOpt,
    FormatOpt,
    WarehouseOpt,
    _cell,
    _check_format,
    _guard,
    _since,
    app,
    err,
    out,
)
from .render import escape


@app.command()
def gate(
    phase: Annotated[str, typer.Argument(help="The gate: the phase it guards.")],
    date: DateOpt,
    config: ConfigOpt = DEFAULT_CONFIG,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Decide a gate for a date: exit 0 open, 1 open with warnings, 2 blocked."""
    from phaseguard.assess import parse_date

    fmt = _check_format(fmt)
    day = parse_date(date)
    with _guard(config, warehouse) as guard:
        decision = guard.gate(phase).decide(day)
    if fmt == "json":
        data = decision.to_dict()
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        raise typer.Exit(decision.exit_code)
    style = {"open": "green", "warn": "yellow", "blocked": "red", "overridden": "yellow"}
    icon = {"open": "✅", "warn": "⚠️ ", "blocked": "⛔", "overridden": "🔓"}
    # The message names the status ("phase5 BLOCKED for ..."); say it once.
    label = "" if decision.status in decision.message.lower() else decision.status.upper() + " "
    out.print(
        f"{icon[decision.status]} [bold {style[decision.status]}]{label}{escape(decision.message)}[/]"
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
    from phaseguard.assess import parse_date
    from phaseguard.errors import UsageError
    from phaseguard.overrides import parse_duration

    who = by or os.environ.get("USER", "")

    def need_who() -> None:
        if not who.strip():
            raise UsageError("override needs --by WHO: who decides ($USER is not set)")

    with _guard(config, None) as guard:
        if target == "revoke":
            if not override_id:
                raise UsageError("override revoke needs the override id")
            need_who()
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
        day, duration = parse_date(date), parse_duration(expires)
        need_who()
        made = guard.overrides.create(target, day, reason, who, duration)
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


EVENT_KINDS = (
    "gate_open", "gate_warned", "gate_blocked", "gate_overridden",
    "override_created", "override_used", "override_expired", "override_revoked",
    "alert_sent", "alert_failed", "alert_dropped", "alert_status",
    "retry_attempt", "retry_succeeded", "retry_exhausted", "retry_gave_up",
    "retry_budget_exceeded", "phase_ran", "phase_failed", "phase_unhealthy",
    "backfill_started", "backfill_finished", "pipeline_error", "data_gap",
    "boxscores_incomplete", "boxscores_fallback",
)  # fmt: skip
"""The kinds phaseguard and its worked example record (``events --kind``)."""


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

    from phaseguard.errors import UsageError

    fmt = _check_format(fmt)
    with _guard(config, None) as guard:
        found = guard.store.query(since=_since(since), kind=kind, phase=phase, limit=limit)
    if kind is not None and kind not in EVENT_KINDS and not found:
        # A step may record kinds of its own: unknown means neither phaseguard's nor seen.
        raise UsageError(f"unknown event kind {kind!r} (known: {', '.join(EVENT_KINDS)})")
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
    from phaseguard.events import group_errors

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
                "phases": list(g.phases),
                "kinds": list(g.kinds),
                "example": g.example,
            }
            for g in groups
        ]
        sys.stdout.write(json.dumps({"errors": data}, indent=2) + "\n")
        return
    table = Table(title=f"error signatures since {since}")
    for column in ("count", "signature", "phases", "first seen", "last seen", "dates hit"):
        table.add_column(column, overflow="fold")
    for g in groups:
        dates = ", ".join(str(d) for d in g.dates[:5]) + (" …" if len(g.dates) > 5 else "")
        table.add_row(
            str(g.count),
            escape(g.signature),
            escape(", ".join(g.phases)),
            f"{g.first_seen:%Y-%m-%d %H:%M}",
            f"{g.last_seen:%Y-%m-%d %H:%M}",
            dates,
        )
    out.print(table if groups else f"no errors since {since}")
