"""Commands that show health: report and serve."""

# Annotations stay evaluated here (no __future__ import): see the package docstring.

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from phaseguard.errors import PhaseguardError

from .app import (
    DEFAULT_CONFIG,
    OVERALL_STYLES,
    ConfigOpt,
    WarehouseOpt,
    _guard,
    app,
    err,
    out,
)
from .check_cmds import SELECTION_HELP, CheckSelOpt, PhaseSelOpt, TagSelOpt, _selection
from .render import escape


def _report_now() -> Any:
    """The current time in UTC (the report's clock; tests replace it)."""

    return dt.datetime.now(dt.timezone.utc)


@app.command(
    help="The health report: one self-contained HTML file (-o) and/or a summary alert "
    "(--send).\n\nExit 0 when written and sent; 1 when a sink did not take the summary.\n\n"
    + SELECTION_HELP
)
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
    phase: PhaseSelOpt = None,
    check: CheckSelOpt = None,
    tag: TagSelOpt = None,
) -> None:
    """The health report: one self-contained HTML file (-o) and/or a summary alert (--send)."""

    from phaseguard import report as report_module
    from phaseguard.assess import assess, date_range, phase_checks
    from phaseguard.errors import UsageError
    from phaseguard.selection import narrowed

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
    selection = _selection(phase, check, tag)
    with _guard(config, warehouse) as guard:
        result = assess(guard.config, guard.warehouse, first, last, selection=selection)
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
                result,
                events,
                config=narrowed(
                    guard.config, phase_checks(guard.config, "verify", selection=selection)
                ),
                provenance=source,
                events_error=events_error,
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
    from phaseguard.assess import parse_date
    from phaseguard.serve import serve as make_server
    from phaseguard.serve import stderr_log

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
