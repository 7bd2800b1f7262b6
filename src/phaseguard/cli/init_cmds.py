"""The command that starts a config: init, from the warehouse's catalogue."""

# Annotations stay evaluated here (no __future__ import): see the package docstring.

from pathlib import Path
from typing import Annotated

import typer

from .app import DEFAULT_CONFIG, app, out
from .render import escape


@app.command()
def init(
    warehouse: Annotated[
        str,
        typer.Option(
            "--warehouse",
            "-w",
            envvar="PHASEGUARD_WAREHOUSE",
            help="Warehouse URL to read the catalogue of (a relative DuckDB path: from here).",
        ),
    ],
    schemas: Annotated[
        str, typer.Option("--schemas", "-s", help="Schemas in pipeline order, e.g. raw,analytics.")
    ],
    schedule: Annotated[
        str | None,
        typer.Option(
            help="schema.table that says what is expected per date, or day / weekday for a "
            "calendar (default: a table named like a schedule or calendar, else every day)."
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the config.")
    ] = DEFAULT_CONFIG,
    pipeline: Annotated[
        str | None, typer.Option(help="Pipeline name (default: from the warehouse URL).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter config from the warehouse's catalogue: one phase per schema."""
    from phaseguard import config as config_module
    from phaseguard import scaffold
    from phaseguard.errors import ConfigError, UsageError
    from phaseguard.warehouse import connect, mask_url

    if output.exists() and not force:
        raise UsageError(f"{output} already exists (give --force to overwrite it)")
    wanted = scaffold.parse_schemas(schemas)
    read = list(wanted)
    if schedule is not None and "." in schedule:
        read.append(schedule.split(".", 1)[0].lower())
    try:
        opened = connect(warehouse, base_dir=Path.cwd(), create=False, read_only=True)
    except ConfigError as exc:
        raise UsageError(f"--warehouse: {exc.reason}") from None
    with opened as wh:
        catalogue = wh.tables_in_schemas(read)
    built = scaffold.scaffold(
        catalogue,
        wanted,
        warehouse=scaffold.config_url(warehouse, Path.cwd(), output.absolute().parent),
        pipeline=pipeline or scaffold.default_pipeline(warehouse),
        schedule=schedule,
        source=mask_url(warehouse),
    )
    config_module.parse(built.text, str(output))  # a scaffold that does not parse is a bug
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with output.open("w" if force else "x", encoding="utf-8") as file:
            file.write(built.text)
    except FileExistsError:
        raise UsageError(f"{output} already exists (give --force to overwrite it)") from None
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    out.print(
        f"wrote {escape(str(output))}: {len(built.phases)} phases "
        f"({escape(', '.join(built.phases))}), {len(built.tables)} tables, "
        f"{len(built.dimensions)} dimension tables, {len(built.skipped)} skipped"
    )
    for skipped in built.skipped:
        out.print(f"  skipped {escape(skipped.table)}: {escape(skipped.reason)}")
    if built.dimensions:
        out.print(f"  dimension tables (no date column): {escape(', '.join(built.dimensions))}")
    if built.calendar:
        why = "" if schedule else " (no schedule or calendar table found: every date is expected)"
        out.print(f"schedule: a calendar, {escape(built.schedule)}{why}")
    else:
        unit = built.schedule_unit if built.unit_guessed else "ASK: no unit column guessed"
        guess = "" if schedule else " (a guess: point it at what says what is expected per date)"
        out.print(
            f"schedule: {escape(built.schedule)}, date {escape(built.schedule_date_column)}, "
            f"unit {escape(unit)}{guess}"
        )
    config_opt = "" if output == DEFAULT_CONFIG else f" -c {output}"
    out.print(f"next: phaseguard smoke YYYY-MM-DD{escape(config_opt)}")
