"""Sinks: where alerts go (Slack, a JSON webhook, Apprise, stderr), as config models.

Sink URLs are secrets: they come from the environment and are masked in every ``repr``.
This module holds only the pydantic models, so loading a config stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "warning", "critical"]


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret in it replaced by ``***`` (longest secrets first)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class _SinkBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str | None = None
    min_severity: Severity = "warning"

    @property
    def label(self) -> str:
        """How events and messages name this sink: ``kind`` or ``kind:name``, never the URL."""
        kind: str = getattr(self, "kind")  # noqa: B009 - every subclass has the tag
        return f"{kind}:{self.name}" if self.name else kind

    @property
    def key(self) -> str:
        """How a pending alert finds its sink again: its name, never its URL.

        A rotated URL (a new Slack webhook for the same channel) is the same sink, so the
        alerts kept for it are still sent; ``Notifier`` numbers repeated unnamed kinds.
        """
        return self.label

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            if key == "url":
                yield key, "***"
            elif key == "headers" and isinstance(value, dict):
                yield key, dict.fromkeys(value, "***")
            else:
                yield key, value


class SlackSink(_SinkBase):
    """Slack incoming webhook; posts Block Kit messages."""

    kind: Literal["slack"] = "slack"
    url: str


class WebhookSink(_SinkBase):
    """Any HTTP endpoint; posts the alert as JSON, with extra headers (e.g. a token)."""

    kind: Literal["webhook"] = "webhook"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)


class AppriseSink(_SinkBase):
    """Any service Apprise knows (needs the ``apprise`` extra); ``url`` is an Apprise URL."""

    kind: Literal["apprise"] = "apprise"
    url: str


class StderrSink(_SinkBase):
    """One line per alert on standard error."""

    kind: Literal["stderr"] = "stderr"
    min_severity: Severity = "info"


AnySink = SlackSink | WebhookSink | AppriseSink | StderrSink
Sink = Annotated[AnySink, Field(discriminator="kind")]
"""A sink in the config, chosen by its ``kind``."""
