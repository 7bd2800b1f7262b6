"""Redaction: what phaseguard does to text before anyone sees it.

Three concerns, one function each, used by every output (terminal, report, dashboard, events,
alerts, JSON):

- ``redact``: URL credentials masked. The password of a URL's userinfo (a password may hold
  ``@``, ``:`` or ``/``: the userinfo ends at the LAST ``@`` of the authority) and the value of
  every secret-looking ``name=value`` (``password``, ``token``, ``key``, ``api_key``,
  ``secret``, ``sig``...), in a URL's query or in free text such as a driver's error message.
- ``clean``: control characters removed from user-given text (ANSI escape sequences, C0/C1
  controls, bidirectional overrides), so a reason cannot repaint or rewrite a terminal.
- ``slack_escape``: ``&``, ``<`` and ``>`` escaped, as Slack's mrkdwn requires, so a reason
  cannot ``<!channel>`` or hide a link.
"""

from __future__ import annotations

import re

MASK = "***"

# The names whose values are secrets, anywhere in a name (``X-Amz-Signature``, ``sslpassword``,
# ``client_secret``, ``private_key``): masking one value too many is harmless.
_SECRET_NAME = (
    r"[\w.\-]*(?:pass(?:word)?|pwd|token|key|secret|sig(?:nature)?|auth|credential|session)[\w.\-]*"
)
# The value runs to the next separator; a trailing ':' '.' or ')' is the sentence's, not its.
_SECRET_PAIR = re.compile(rf"(?i)(?<![\w.\-])({_SECRET_NAME})(=)([^&\s'\"<>,;]*[^&\s'\"<>,;:.)\]])")
# scheme://userinfo@host...: the userinfo runs to the last '@' before the end of the word.
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)(\S+)")
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erase
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[@-_]?"  # any other escape
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, rest = match.group(1), match.group(2)
    at = rest.rfind("@")
    if at < 0:
        return scheme + rest
    userinfo, after = rest[:at], rest[at:]
    user, colon, _password = userinfo.partition(":")
    if colon and "/" not in user and "?" not in user:
        return f"{scheme}{user}:{MASK}{after}"
    if not colon and not any(c in userinfo for c in "/?#"):
        return f"{scheme}{MASK}{after}"  # a bare token as the userinfo
    return scheme + rest


def redact(text: str) -> str:
    """``text`` with every URL credential and secret-looking ``name=value`` masked.

    Args:
        text: a URL, or any text that may hold URLs or connection strings (an error message).

    Returns:
        The text with passwords in userinfo and the values of secret query parameters (and
        ``password=...``-style pairs in free text) replaced by ``***``.
    """
    if not text:
        return text
    text = _URL.sub(_mask_userinfo, text)
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}={MASK}", text)


def clean(text: str, *, newlines: bool = False) -> str:
    """``text`` without ANSI escape sequences and control characters, fit to display.

    Args:
        text: user-given text (an override reason, a name, a message).
        newlines: keep line breaks and tabs; otherwise each becomes a space.
    """
    if not text:
        return text
    text = _ANSI.sub("", text)
    if newlines:
        return _CONTROL.sub("", text.replace("\r\n", "\n"))
    return _CONTROL_LINE.sub(
        lambda m: " " if m.group(0) in "\n\t\r" else "", text.replace("\r\n", "\n")
    )


def shown(text: str) -> str:
    """``text`` as every display shows it: cleaned, then redacted."""
    return redact(clean(text))


def slack_escape(text: str) -> str:
    """``text`` as Slack mrkdwn shows it literally: ``&``, ``<`` and ``>`` escaped.

    Slack parses ``<!channel>``, ``<@U123>`` and ``<https://x|label>`` in message text; escaped,
    they are shown as typed instead of pinging a channel or hiding a link.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["MASK", "clean", "redact", "shown", "slack_escape"]
