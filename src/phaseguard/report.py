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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import jinja2

from .alerts import Alert, AlertCheck, Severity
from .checks import check_name
from .config import Aggregate, Config
from .events import Event, group_errors
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
    return Provenance(now, config_path, warehouse_url, events_location, version)


@dataclass(frozen=True)
class Cell:
    """One heatmap cell: a phase's level for one date, with its checks as text."""

    date: dt.date
    phase: str
    status: str
    css: str
    glyph: str
    text: str
    anchor: str | None


@dataclass(frozen=True)
class Day:
    """One date column of the heatmap: its number, weekday, overall verdict and health."""

    date: dt.date
    overall: str
    css: str
    text: str


@dataclass(frozen=True)
class Month:
    """The heatmap of one calendar month: one row of cells per phase."""

    label: str
    days: tuple[Day, ...]
    rows: tuple[tuple[str, tuple[Cell, ...]], ...]


@dataclass(frozen=True)
class Mark:
    """A bar or a dot of a chart, in SVG user units."""

    x: float
    y: float
    w: float
    h: float
    css: str
    text: str


@dataclass(frozen=True)
class Rule:
    """A horizontal line across a chart (a threshold or a y tick) with its label."""

    y: float
    label: str
    css: str


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart: plot box, bars or dots, the line through them, rules and ticks."""

    title: str
    summary: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    marks: tuple[Mark, ...]
    line: str
    rules: tuple[Rule, ...]
    xticks: tuple[tuple[float, str], ...]
    bars: bool


@dataclass(frozen=True)
class CheckRow:
    """One check below PASS on a failing date."""

    phase: str
    check: str
    status: str
    css: str
    observed: str
    expected: str


@dataclass(frozen=True)
class FailingDate:
    """A date where some phase is below PASS, with the checks that put it there."""

    date: dt.date
    anchor: str
    overall: str
    css: str
    health: float | None
    rows: tuple[CheckRow, ...]


@dataclass(frozen=True)
class EventRow:
    """A gate decision or override event as a table row."""

    time: str
    kind: str
    severity: str
    css: str
    phase: str
    date: str
    message: str


@dataclass(frozen=True)
class ErrorRow:
    """One error signature from the event log."""

    count: int
    signature: str
    first_seen: str
    last_seen: str
    dates: str
    kinds: str


@dataclass(frozen=True)
class ReportView:
    """Everything the template shows, already formatted."""

    title: str
    pipeline: str
    start: dt.date
    end: dt.date
    overall: str
    overall_css: str
    health: str
    counts: tuple[tuple[str, int, str], ...]
    phases: tuple[tuple[str, str], ...]
    months: tuple[Month, ...]
    health_chart: Chart
    trends: tuple[Chart, ...]
    failing: tuple[FailingDate, ...]
    decisions: tuple[EventRow, ...]
    decisions_hidden: int
    errors: tuple[ErrorRow, ...]
    events_error: str | None
    provenance: Provenance
    legend: tuple[tuple[str, str], ...]


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


def _cell_text(day: DateVerdict, phase: str) -> tuple[Level, str]:
    verdict = day.phase(phase)
    lines = [f"{day.date} {phase}: {verdict.level.value}"]
    if day.scheduled == 0 and verdict.level is Level.NA:
        lines.append("nothing scheduled")
    lines += [
        f"{v.check}: {v.level.value}, observed {v.observed}, expected {v.expected}"
        for v in verdict.verdicts
    ]
    return verdict.level, "\n".join(lines)


def _anchor(date: dt.date) -> str:
    return f"d-{date.isoformat()}"


def _months(result: RangeVerdict, phases: Sequence[str]) -> tuple[Month, ...]:
    groups: dict[tuple[int, int], list[DateVerdict]] = {}
    for day in result.dates:
        groups.setdefault((day.date.year, day.date.month), []).append(day)
    months = []
    for days in groups.values():
        heads = tuple(
            Day(
                d.date,
                d.overall.value,
                css(d.overall),
                f"{d.date:%a} {d.date}: {d.overall.value}, {d.scheduled} scheduled, "
                f"health {_num(d.health)}",
            )
            for d in days
        )
        rows = []
        for phase in phases:
            cells = []
            for d in days:
                level, text = _cell_text(d, phase)
                below = level.rank < Level.PASS.rank
                cells.append(
                    Cell(d.date, phase, level.value, css(level), _GLYPH.get(level, ""), text,
                         _anchor(d.date) if below else None)
                )  # fmt: skip
            rows.append((phase, tuple(cells)))
        months.append(Month(f"{days[0].date:%B %Y}", heads, tuple(rows)))
    return tuple(months)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}".removesuffix(".0")


_W, _LEFT, _RIGHT, _TOP = 760, 40, 10, 10


def _chart(
    title: str,
    summary: str,
    result: RangeVerdict,
    values: Sequence[tuple[dt.date, float, str, str]],
    *,
    lo: float,
    hi: float,
    rules: Sequence[tuple[float, str, str]],
    height: int,
    bars: bool,
) -> Chart:
    """Place ``values`` (date, value, css, text) on a date axis spanning the whole range."""
    bottom = height - 20
    span = (result.end - result.start).days + 1
    step = (_W - _LEFT - _RIGHT) / span

    def x(date: dt.date) -> float:
        return round(_LEFT + ((date - result.start).days + 0.5) * step, 1)

    def y(value: float) -> float:
        share = 0.5 if hi == lo else (value - lo) / (hi - lo)
        return round(bottom - share * (bottom - _TOP), 1)

    width = max(1.0, round(step * 0.8, 1))
    marks = tuple(
        Mark(x(d) - width / 2, y(v), width, round(bottom - y(v), 1), c, t)
        if bars
        else Mark(x(d), y(v), 0, 0, c, t)
        for d, v, c, t in values
    )
    line = "" if bars else " ".join(f"{'L' if i else 'M'}{m.x},{m.y}" for i, m in enumerate(marks))
    ticks = tuple(
        (x(d.date), f"{d.date:%b}" if d.date.month != 1 else f"{d.date:%b %Y}")
        for d in result.dates
        if d.date.day == 1 or d.date == result.start
    )
    return Chart(
        title, summary, _W, height, _LEFT, _W - _RIGHT, _TOP, bottom, marks, line,
        tuple(Rule(y(v), label, c) for v, label, c in rules), ticks, bars,
    )  # fmt: skip


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
    return _chart("Health score", summary, result, values, lo=0, hi=100, rules=rules,
                  height=190, bars=True)  # fmt: skip


def _trends(result: RangeVerdict, config: Config) -> tuple[Chart, ...]:
    """One small chart per aggregate check: its observed value per date, with thresholds."""
    charts = []
    for phase in config.phases:
        for check in phase.checks:
            if not isinstance(check, Aggregate):
                continue
            name = check_name(check)
            values = []
            for day in result.dates:
                for v in day.phase(phase.name).verdicts:
                    if v.check != name:
                        continue
                    try:
                        value = float(v.observed)
                    except ValueError:  # N/A: "no rows"
                        continue
                    text = f"{day.date}: {name} {v.observed} ({v.level.value})"
                    values.append((day.date, value, css(v.level), text))
            limits = [
                (t, label, f"rule-{label}")
                for t, label in (
                    (check.excellent, "excellent"),
                    (check.pass_, "pass"),
                    (check.acceptable, "acceptable"),
                )
                if t is not None
            ]
            points = [v for _, v, _, _ in values] + [t for t, _, _ in limits]
            lo, hi = min(points), max(points)
            pad = (hi - lo) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
            rules = [(t, f"{t:g} {label}", c) for t, label, c in limits]
            rules += [(lo + pad, f"{lo + pad:.3g}", "tick"), (hi - pad, f"{hi - pad:.3g}", "tick")]
            last = f"latest {values[-1][1]:g} on {values[-1][0]}" if values else "no values"
            summary = f"{name} of {phase.name} per date ({check.direction} is better); {last}."
            charts.append(
                _chart(f"{name} ({phase.name})", summary, result, values, lo=lo, hi=hi,
                       rules=rules, height=140, bars=False)
            )  # fmt: skip
    return tuple(charts)


def _failing(result: RangeVerdict) -> tuple[FailingDate, ...]:
    found = []
    for day in result.dates:
        rows = tuple(
            CheckRow(p.phase, v.check, v.level.value, css(v.level), v.observed, v.expected)
            for p in day.phases
            for v in p.failing
        )
        if rows:
            found.append(
                FailingDate(
                    day.date, _anchor(day.date), day.overall.value, css(day.overall), day.health,
                    rows,
                )
            )  # fmt: skip
    return tuple(found)


def _decisions(events: Sequence[Event]) -> list[EventRow]:
    chosen = [e for e in events if e.kind in DECISION_KINDS or e.kind.startswith("override_")]
    chosen.sort(key=lambda e: e.time, reverse=True)
    return [
        EventRow(
            f"{e.time.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M}",
            e.kind,
            e.severity,
            _SEVERITY_CSS.get(e.severity, "s-pass"),
            e.phase or "",
            str(e.date or ""),
            e.message,
        )
        for e in chosen
    ]


def _errors(events: Sequence[Event]) -> tuple[ErrorRow, ...]:
    rows = []
    for g in group_errors(events)[:MAX_ERRORS]:
        dates = ", ".join(str(d) for d in g.dates[:5]) + (" …" if len(g.dates) > 5 else "")
        rows.append(
            ErrorRow(
                g.count, g.signature, f"{g.first_seen:%Y-%m-%d %H:%M}",
                f"{g.last_seen:%Y-%m-%d %H:%M}", dates, ", ".join(g.kinds),
            )
        )  # fmt: skip
    return tuple(rows)


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
    scores: dict[str, float] = dict(config.health.scores)
    legend = tuple(
        (f"{lv.value} ({scores[lv.value]:g})" if lv.value in scores else lv.value, css(lv))
        for lv in (Level.EXCELLENT, Level.PASS, Level.ACCEPTABLE, Level.FAIL, Level.ERROR, Level.NA)
    )
    span = str(result.start) if result.start == result.end else f"{result.start} → {result.end}"
    return ReportView(
        title=f"{config.pipeline} health report {span}",
        pipeline=config.pipeline,
        start=result.start,
        end=result.end,
        overall=result.overall.value,
        overall_css=css(result.overall),
        health=_num(result.health),
        counts=(("dates", len(result.dates), ""), ("scheduled", len(scheduled), ""), *counts),
        phases=tuple((p, described.get(p, "")) for p in phases),
        months=_months(result, phases),
        health_chart=_health_chart(result, config),
        trends=_trends(result, config),
        failing=_failing(result),
        decisions=tuple(decisions[:MAX_DECISIONS]),
        decisions_hidden=max(0, len(decisions) - MAX_DECISIONS),
        errors=_errors(kept),
        events_error=events_error,
        provenance=provenance,
        legend=legend,
    )


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    source = resources.files("phaseguard").joinpath("templates", "report.html.j2").read_text()
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return env.from_string(source)


def render(view: ReportView, *, refresh: int | None = None) -> str:
    """The report as one HTML page; ``refresh`` seconds adds a meta refresh (the dashboard)."""
    return _template().render(view=view, refresh=refresh)


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
