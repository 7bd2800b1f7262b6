"""Messages: what an alert says, and how each sink shows it.

An ``Alert`` is one message about one incident (plain data); this module turns it into the
generic webhook's JSON, a Slack Block Kit message and the stderr sink's line. Every text of
an alert may hold user-given text (an override's reason): ``sanitized`` strips control
characters and masks URL credentials, and the Slack form escapes ``&``, ``<`` and ``>`` so
a reason cannot ping ``<!channel>`` or disguise a link.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .redact import redact, shown, slack_escape

Severity = Literal["info", "warning", "critical"]
Status = Literal["opened", "changed", "resolved", "report"]

_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


@dataclass(frozen=True)
class AlertCheck:
    """One failing check as an alert shows it (all strings, already formatted)."""

    name: str
    level: str
    observed: str
    expected: str


@dataclass(frozen=True)
class Alert:
    """One message about one incident.

    Attributes:
        title: the headline, e.g. ``Phase 4 BLOCKED for 2026-01-18``.
        severity: ``info``, ``warning`` or ``critical``; decides which sinks get it.
        pipeline: the pipeline's name.
        phase: the phase concerned, if any.
        date: the partition date concerned, if any.
        status: ``opened``, ``changed``, ``resolved`` or ``report``.
        checks: the failing checks.
        text: a plain one-line summary (the fallback text of chat messages).
        link: where to read more, if anywhere.
    """

    title: str
    severity: Severity
    pipeline: str
    phase: str | None
    date: dt.date | None
    status: Status
    checks: tuple[AlertCheck, ...] = ()
    text: str = ""
    link: str | None = None


def alert_to_json(alert: Alert) -> dict[str, Any]:
    """The alert as JSON-ready data (the generic webhook's body); dates in ISO form."""
    data = dataclasses.asdict(alert)
    data["date"] = alert.date.isoformat() if alert.date else None
    data["checks"] = [dataclasses.asdict(c) for c in alert.checks]
    return data


def alert_from_json(data: dict[str, Any]) -> Alert:
    """The inverse of ``alert_to_json``."""
    fields = dict(data)
    fields["date"] = dt.date.fromisoformat(data["date"]) if data.get("date") else None
    fields["checks"] = tuple(AlertCheck(**c) for c in data.get("checks", ()))
    return Alert(**fields)


def sanitized(alert: Alert) -> Alert:
    """``alert`` fit to show anywhere: control characters stripped, URL credentials masked.

    Every text of an alert may hold user-given text (an override's reason, a name), which
    must neither drive a terminal (ANSI escapes) nor leak a password.
    """

    def fix(text: str) -> str:
        return shown(text)

    return dataclasses.replace(
        alert,
        title=fix(alert.title),
        pipeline=fix(alert.pipeline),
        phase=fix(alert.phase) if alert.phase else alert.phase,
        text=fix(alert.text),
        link=redact(alert.link) if alert.link else alert.link,
        checks=tuple(
            AlertCheck(fix(c.name), fix(c.level), fix(c.observed), fix(c.expected))
            for c in alert.checks
        ),
    )


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The Slack Block Kit message for ``alert``: header, fields, failing checks, fallback.

    Every text is escaped for Slack (``&``, ``<``, ``>``), so user-given text such as an
    override's reason cannot mention ``<!channel>`` or disguise a link.
    """
    alert = sanitized(alert)
    esc = slack_escape
    emoji = ":white_check_mark:" if alert.status == "resolved" else _EMOJI[alert.severity]
    fields = [
        ("Pipeline", esc(alert.pipeline) or "-"),
        ("Phase", esc(alert.phase or "") or "-"),
        ("Date", alert.date.isoformat() if alert.date else "-"),
        ("Severity", _severity_label(alert)),
    ]
    # Slack limits: header text 150 characters, section text 3000.
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": f"{emoji} {esc(alert.title)}"[:150],
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
    ]
    if alert.checks:
        lines = [
            f"*{esc(c.name)}*: observed {esc(c.observed)}, expected {esc(c.expected)}"
            for c in alert.checks
        ]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(lines, 3000)}})
    if alert.link:
        link = alert.link.replace("|", "%7C")
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{esc(link)}|details>"}]}
        )
    return {"text": esc(alert.text or alert.title), "blocks": blocks}


def _severity_label(alert: Alert) -> str:
    if alert.status == "resolved":
        return f"resolved (was {alert.severity})"
    return f"{alert.severity} ({alert.status})"


def _clip(lines: Sequence[str], limit: int) -> str:
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 2] + " …"


def stderr_line(alert: Alert) -> str:
    """The one line the stderr sink writes: ``RESOLVED`` for an all-clear, else the severity.

    The text is not repeated when it starts with the title (``phase5 BLOCKED for ...: why``).
    """
    alert = sanitized(alert)
    where = " ".join(p for p in (alert.pipeline, alert.phase, str(alert.date or "")) if p)
    head = "RESOLVED" if alert.status == "resolved" else f"{alert.severity.upper()} {alert.status}"
    text = alert.text
    if text.startswith(alert.title):
        text = text[len(alert.title) :].lstrip(" :—-")
    return f"phaseguard {head}: {alert.title} [{where}] {text}".rstrip()
