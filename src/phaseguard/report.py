"""The report: a range's verdicts and the event log, as one self-contained HTML page.

Pure: ``build`` turns a ``RangeVerdict`` and events into a ``ReportView`` (plain data,
every chart coordinate already computed), ``render`` turns the view into HTML through the
packaged Jinja2 template. Nothing here reads the warehouse or the event store; the CLI and
the dashboard (``serve.py``) do that and hand the results in. The page needs no network:
CSS is inline and the charts are inline SVG drawn from the view.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, ClassVar

import jinja2
import markupsafe

from .alerts import Alert, AlertCheck, Severity
from .checks import check_name
from .config import Config
from .events import ErrorGroup, Event, group_errors
from .explain import explain
from .explanation import Explanation, chain_text, detail_text
from .kinds import Aggregate, UnitCoverage
from .metricchecks import UnitCoverageCheck
from .redact import clean, redact
from .verdicts import DateVerdict, Level, Overall, RangeVerdict

EVENT_WINDOW = dt.timedelta(days=30)
DECISION_KINDS = ("gate_blocked", "gate_warned", "gate_overridden")
MAX_DECISIONS = 100
MAX_ERRORS = 10
MAX_ALERT_CHECKS = 40
_GLYPH = {Level.ACCEPTABLE: "~", Level.FAIL: "✕", Level.ERROR: "!"}
_SEVERITY_CSS = {"critical": "s-fail", "error": "s-fail", "warning": "s-acceptable"}


def css(level: Level | Overall) -> str:
    """The CSS class of a level or an overall verdict, e.g. ``s-fail``, ``o-partial``."""
    prefix = "s" if isinstance(level, Level) else "o"
    return f"{prefix}-{level.value.lower().replace('/', '')}"


@dataclass(frozen=True)
class Provenance:
    """When and from what a report was made (shown at the foot of the page)."""

    generated_at: dt.datetime
    config_path: str
    warehouse_url: str
    events_location: str = ""
    version: str = ""


def provenance(
    config_path: str, warehouse_url: str, now: dt.datetime, events_location: str = ""
) -> Provenance:
    """A Provenance with the installed phaseguard version; ``warehouse_url`` already masked."""
    try:
        version = importlib.metadata.version("phaseguard")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return Provenance(now, config_path, redact(warehouse_url), redact(events_location), version)


@dataclass(frozen=True)
class Cell:
    """One heatmap cell: a phase's level for one date, with its checks as text."""

    date: dt.date
    phase: str
    level: Level
    text: str

    @property
    def below_pass(self) -> bool:
        """Whether the cell links to the date's failing checks."""
        return self.level.rank < Level.PASS.rank


@dataclass(frozen=True)
class Month:
    """The heatmap of one calendar month: its dates, and one row of cells per phase."""

    label: str
    days: tuple[tuple[DateVerdict, str], ...]
    rows: tuple[tuple[str, tuple[Cell, ...]], ...]


@dataclass(frozen=True)
class Mark:
    """A bar or a dot of a chart, in SVG user units, with its hover text."""

    x: float
    y: float
    w: float
    h: float
    css: str
    text: str


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart over the range's dates: bars or dots, rules and month ticks.

    ``rules`` are (y, label, css) lines across the plot (css ``tick`` for a y-axis value).
    """

    width: ClassVar[int] = 760
    left: ClassVar[int] = 40
    right: ClassVar[int] = 750
    top: ClassVar[int] = 10

    title: str
    summary: str
    height: int
    marks: tuple[Mark, ...]
    line: str
    rules: tuple[tuple[float, str, str], ...]
    xticks: tuple[tuple[float, str], ...]
    bars: bool

    @property
    def bottom(self) -> int:
        """The y of the date axis."""
        return self.height - 20


@dataclass(frozen=True)
class ReportView:
    """Everything the template shows."""

    title: str
    result: RangeVerdict
    pipeline: str
    phases: tuple[tuple[str, str], ...]
    counts: tuple[tuple[str, int, str], ...]
    legend: tuple[tuple[str, Level], ...]
    months: tuple[Month, ...]
    health_chart: Chart
    trends: tuple[Chart, ...]
    failing: tuple[DateVerdict, ...]
    decisions: tuple[Event, ...]
    decisions_hidden: int
    errors: tuple[ErrorGroup, ...]
    events_error: str | None
    provenance: Provenance
    # Why each failing date fails: what ``phaseguard explain DATE`` says, shown in its section.
    explanations: Mapping[dt.date, Explanation] = field(default_factory=dict)


def events_since(start: dt.date, now: dt.datetime) -> dt.datetime:
    """How far back to read the event log for a report on ``start``..: whichever is older,
    the range's first date or 30 days before ``now``."""
    first = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    return min(first, now - EVENT_WINDOW)


def relevant(
    events: Iterable[Event], start: dt.date, end: dt.date, now: dt.datetime
) -> list[Event]:
    """The events about a date in ``start``..``end`` or recorded in the last 30 days."""
    recent = now - EVENT_WINDOW
    return [
        e for e in events if (e.date is not None and start <= e.date <= end) or e.time >= recent
    ]


def _cell_text(day: DateVerdict, phase: str) -> str:
    verdict = day.phase(phase)
    lines = [f"{day.date} {phase}: {verdict.level.value}"]
    if day.scheduled == 0 and verdict.level is Level.NA:
        lines.append("nothing scheduled")
    lines += [
        f"{v.check}: {v.level.value}, observed {v.observed}, expected {v.expected}"
        for v in verdict.verdicts
    ]
    return "\n".join(lines)


def _anchor(date: dt.date, phase: str | None = None) -> str:
    """The id of a failing date's section, or of one phase's part of its explanation."""
    return f"d-{date.isoformat()}" + (f"-{phase}" if phase else "")


def _months(result: RangeVerdict, phases: Sequence[str]) -> tuple[Month, ...]:
    groups: dict[tuple[int, int], list[DateVerdict]] = {}
    for day in result.dates:
        groups.setdefault((day.date.year, day.date.month), []).append(day)
    months = []
    for days in groups.values():
        heads = tuple(
            (
                d,
                f"{d.date:%a} {d.date}: {d.overall.value}, {d.scheduled} scheduled, "
                f"health {_num(d.health)}",
            )
            for d in days
        )
        rows = tuple(
            (
                phase,
                tuple(
                    Cell(d.date, phase, d.phase(phase).level, _cell_text(d, phase)) for d in days
                ),
            )
            for phase in phases
        )
        months.append(Month(f"{days[0].date:%B %Y}", heads, rows))
    return tuple(months)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}".removesuffix(".0")


def _chart(
    title: str,
    summary: str,
    result: RangeVerdict,
    values: Sequence[tuple[dt.date, float, str, str]],
    rules: Sequence[tuple[float, str, str]],
    span: tuple[float, float],
    height: int,
    *,
    bars: bool,
) -> Chart:
    """Place ``values`` (date, value, css, text) on a date axis spanning the whole range, and
    ``rules`` (value, label, css) across it; ``span`` is the (low, high) of the value axis."""
    lo, hi = span
    bottom = height - 20
    step = (Chart.right - Chart.left) / ((result.end - result.start).days + 1)

    def x(date: dt.date) -> float:
        return round(Chart.left + ((date - result.start).days + 0.5) * step, 1)

    def y(value: float) -> float:
        share = 0.5 if hi == lo else (value - lo) / (hi - lo)
        return round(bottom - share * (bottom - Chart.top), 1)

    width = max(1.0, min(24.0, round(step * 0.8, 1)))
    marks = tuple(
        Mark(x(d) - width / 2, y(v), width, round(bottom - y(v), 1), c, t)
        if bars
        else Mark(x(d), y(v), 0, 0, c, t)
        for d, v, c, t in values
    )
    line = "" if bars else " ".join(f"{'L' if i else 'M'}{m.x},{m.y}" for i, m in enumerate(marks))
    # The first date, then each month (each year past ~13 months), none too close to it.
    years = (result.end - result.start).days > 400
    ticks = [(x(result.start), str(result.start) if years else f"{result.start:%b %d}")]
    for d in result.dates:
        if d.date.day == 1 and (d.date.month == 1 or not years) and x(d.date) - ticks[0][0] > 40:
            label = f"{d.date:%b}" if d.date.month != 1 else f"{d.date:%b %Y}"
            ticks.append((x(d.date), str(d.date.year) if years else label))
    placed = tuple((y(v), label, c) for v, label, c in rules)
    return Chart(title, summary, height, marks, line, placed, tuple(ticks), bars)


def _health_chart(result: RangeVerdict, config: Config) -> Chart:
    values = [
        (d.date, d.health, css(d.overall), f"{d.date}: health {_num(d.health)}, {d.overall.value}")
        for d in result.dates
        if d.health is not None
    ]
    band = config.health
    rules = [
        (100.0, "100", "tick"),
        (band.complete, f"{band.complete:g} complete", "rule-complete"),
        (band.partial, f"{band.partial:g} partial", "rule-partial"),
        (0.0, "0", "tick"),
    ]
    scored = len(values)
    summary = (
        f"Health score per date, {scored} scheduled dates; range health {_num(result.health)}."
    )
    return _chart("Health score", summary, result, values, rules, (0, 100), 190, bars=True)


def _trends(result: RangeVerdict, config: Config) -> tuple[Chart, ...]:
    """One small chart per aggregate check and per rolling-window coverage: its observed
    value per date, with thresholds."""
    charts = []
    for phase in config.phases:
        for check in phase.checks:
            if not isinstance(check, Aggregate | UnitCoverage):
                continue
            if isinstance(check, UnitCoverage) and check.window is None:
                continue
            name = check_name(check)
            values = []
            for day in result.dates:
                for v in day.phase(phase.name).verdicts:
                    if v.check != name:
                        continue
                    value = v.value
                    if value is None:  # N/A: "no rows"
                        continue
                    text = f"{day.date}: {name} {v.observed} ({v.level.value})"
                    values.append((day.date, value, css(v.level), text))
            limits = [(t, label, f"rule-{label}") for t, label in check.limits()]
            points = [v for _, v, _, _ in values] + [t for t, _, _ in limits]
            lo, hi = min(points), max(points)
            pad = (hi - lo) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
            rules = [(t, f"{t:g} {label}", c) for t, label, c in limits]
            rules += [(lo + pad, f"{lo + pad:.3g}", "tick"), (hi - pad, f"{hi - pad:.3g}", "tick")]
            last = f"latest {values[-1][1]:.3g} on {values[-1][0]}" if values else "no values"
            summary = f"{name} of {phase.name} per date ({check.direction} is better); {last}."
            title = f"{name} ({phase.name})"
            charts.append(_chart(title, summary, result, values, rules, (lo, hi), 140, bars=False))
    return tuple(charts)


def _decisions(events: Sequence[Event]) -> list[Event]:
    chosen = [e for e in events if e.kind in DECISION_KINDS or e.kind.startswith("override_")]
    return sorted(chosen, key=lambda e: e.time, reverse=True)


def build(
    result: RangeVerdict,
    events: Iterable[Event],
    *,
    config: Config,
    provenance: Provenance,
    events_error: str | None = None,
) -> ReportView:
    """The view of a report: heatmap, charts, failing checks, decisions and error signatures.

    Args:
        result: the verdicts of the range (``Guard.verify``).
        events: the event log from ``events_since(result.start, now)``; filtered here.
        config: the pipeline config (phase descriptions, health bands, aggregate checks).
        provenance: when and from what the report is made.
        events_error: why the event log could not be read, if it could not.
    """
    now = provenance.generated_at
    kept = relevant(events, result.start, result.end, now)
    phases = [p.phase for p in result.dates[0].phases] if result.dates else []
    described = {p.name: p.description for p in config.phases}
    scheduled = [d for d in result.dates if d.overall is not Overall.NA]
    counts = tuple(
        (label, sum(1 for d in result.dates if d.overall is o), css(o))
        for label, o in (
            ("complete", Overall.COMPLETE),
            ("partial", Overall.PARTIAL),
            ("failed", Overall.FAILED),
            ("not scheduled", Overall.NA),
        )
    )
    decisions = _decisions(kept)
    failing = tuple(d for d in result.dates if any(p.failing for p in d.phases))
    about: dict[dt.date, list[Event]] = {}
    for event in kept:
        if event.date is not None:
            about.setdefault(event.date, []).append(event)
    explanations = {
        d.date: explain(config, d, about.get(d.date, ()), events_error=events_error)
        for d in failing
    }
    scores = {str(k): v for k, v in config.health.scores.items()}
    legend = tuple(
        (f"{lv.value} ({scores[lv.value]:g})" if lv.value in scores else lv.value, lv)
        for lv in (Level.EXCELLENT, Level.PASS, Level.ACCEPTABLE, Level.FAIL, Level.ERROR, Level.NA)
    )
    span = str(result.start) if result.start == result.end else f"{result.start} → {result.end}"
    return ReportView(
        title=f"{config.pipeline} health report {span}",
        result=result,
        pipeline=config.pipeline,
        phases=tuple((p, described.get(p, "")) for p in phases),
        counts=(("dates", len(result.dates), ""), ("scheduled", len(scheduled), ""), *counts),
        legend=legend,
        months=_months(result, phases),
        health_chart=_health_chart(result, config),
        trends=_trends(result, config),
        failing=failing,
        decisions=tuple(decisions[:MAX_DECISIONS]),
        decisions_hidden=max(0, len(decisions) - MAX_DECISIONS),
        errors=tuple(group_errors(kept)[:MAX_ERRORS]),
        events_error=events_error,
        provenance=provenance,
        explanations=explanations,
    )


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    source = resources.files("phaseguard").joinpath("templates", "report.html.j2").read_text()
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_displayed,
    )
    env.filters.update(css=css, num=_num, glyph=lambda level: _GLYPH.get(level, ""))
    env.globals.update(
        severity_css=_SEVERITY_CSS,
        anchor=_anchor,
        chain_text=chain_text,
        detail_text=detail_text,
    )
    return env.from_string(source)


def _displayed(value: Any) -> Any:
    """Every text the page shows: control characters stripped, URL credentials masked."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return redact(clean(value, newlines=True))
    return value


def render(view: ReportView, *, refresh: int | None = None) -> str:
    """The report as one HTML page; ``refresh`` seconds adds a meta refresh (the dashboard)."""
    return _template().render(view=view, refresh=refresh)


def _windows(result: RangeVerdict) -> list[str]:
    """The rolling-window criteria (e.g. weekly coverage) on the range's last scheduled date."""
    scheduled = [d for d in result.dates if d.scheduled]
    if not scheduled:
        return []
    last = scheduled[-1]
    return [
        f"{p.phase} {v.check}: {v.observed} ({v.level.value})"
        for p in last.phases
        for v in p.verdicts
        if isinstance(v.source, UnitCoverageCheck) and v.source.window > 1
    ]


def summary_alert(result: RangeVerdict, *, pipeline: str, link: str | None = None) -> Alert:
    """The quality summary of a range (usually yesterday) as an alert with status ``report``.

    Severity follows the worst finding: ``critical`` for a failure, ``warning`` for a warning
    or a PARTIAL verdict, ``info`` otherwise. The failing checks go in ``checks``.
    """
    worst = result.worst
    severity: Severity = "info"
    if worst.is_failure or result.overall is Overall.FAILED:
        severity = "critical"
    elif worst.is_warning or result.overall is Overall.PARTIAL:
        severity = "warning"
    one_day = result.start == result.end
    span = str(result.start) if one_day else f"{result.start}..{result.end}"
    checks = [
        AlertCheck(
            f"{p.phase} {v.check}" if one_day else f"{d.date} {p.phase} {v.check}",
            v.level.value,
            v.observed,
            v.expected,
        )
        for d in result.dates
        for p in d.phases
        for v in p.failing
    ]
    failing: dict[str, list[str]] = {}
    for d in result.dates:
        for p in d.phases:
            if p.level.rank < Level.PASS.rank:
                failing.setdefault(f"{p.phase} {p.level.value}", []).extend(
                    v.check for v in p.failing
                )
    parts = [f"health {_num(result.health)}, overall {result.overall.value}"]
    parts += _windows(result)
    if failing:
        listed = "; ".join(
            f"{name} ({', '.join(dict.fromkeys(checks_))})" for name, checks_ in failing.items()
        )
        parts.append(f"below PASS: {listed}")
    elif result.overall is Overall.NA:
        parts.append("nothing scheduled")
    else:
        parts.append("every phase passes")
    if link:
        parts.append(f"full report: {link}")
    return Alert(
        title=f"{pipeline} quality {span}: {result.overall.value}, health {_num(result.health)}",
        severity=severity,
        pipeline=pipeline,
        phase=None,
        date=result.start if one_day else None,
        status="report",
        checks=tuple(checks[:MAX_ALERT_CHECKS]),
        text=". ".join(parts) + ".",
        link=link,
    )
