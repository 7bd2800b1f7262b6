"""Grading: a check's thresholds as tiers, the level a value earns, and the thresholds as text.

A check's ``excellent``/``pass``/``acceptable`` thresholds become :func:`tiers` (closed
ranges, best level first); :func:`grade` gives the best tier a value is in. :func:`describe`
writes the thresholds back exactly as the config has them, for ``expected`` and
``phaseguard criteria``.
"""

from __future__ import annotations

import math

from .kindbase import Between, Thresholds
from .verdicts import ACCEPTABLE, EXCELLENT, FAIL, PASS, Level

Tier = tuple[Level, float, float]  # (level, lo, hi): the tier holds when lo <= value <= hi


def tiers(t: Thresholds) -> tuple[Tier, ...]:
    """The thresholds that are set, best level first, each as the closed range it accepts.

    Higher is better: ``value >= t``. Lower is better: ``value < t`` (the range ends just
    below t). A band ``{between: [lo, hi]}``: ``lo <= value <= hi`` in either direction.
    """
    lower = t.direction == "lower"
    out: list[Tier] = []
    for level, tier in ((EXCELLENT, t.excellent), (PASS, t.pass_), (ACCEPTABLE, t.acceptable)):
        if tier is None:
            continue
        if isinstance(tier, Between):
            out.append((level, *tier.between))
        elif lower and t.at_most:  # a bad-row count: at most t
            out.append((level, -math.inf, tier))
        elif lower:
            out.append((level, -math.inf, math.nextafter(tier, -math.inf)))
        else:
            out.append((level, tier, math.inf))
    return tuple(out)


def grade(value: float, t: Thresholds) -> Level:
    """The traffic light for ``value``: the best tier it is in; FAIL (or, with
    ``severity: warn``, ACCEPTABLE) when it is in none."""
    return _grade(value, tiers(t), ACCEPTABLE if t.severity == "warn" else FAIL)


def _grade(value: float, tiers: tuple[Tier, ...], beyond: Level = FAIL) -> Level:
    for level, lo, hi in tiers:
        if lo <= value <= hi:
            return level
    return beyond


def threshold_text(value: float, pct: bool = False) -> str:
    """A threshold exactly as written in the config (0.001, 1.001, 0.999 stay themselves);
    ``pct`` shows a share as a percentage without rounding (0.999 is 99.9%)."""
    from decimal import Decimal  # only verify and criteria print thresholds: smoke never does

    if pct:
        text = format((Decimal(repr(float(value))) * 100).normalize(), "f")
        return f"{text}%"
    return (
        format(Decimal(repr(float(value))).normalize(), "f") if abs(value) < 1e15 else repr(value)
    )


def tier_text(tier: float | Between, op: str, pct: bool = False) -> str:
    """One tier as text: '>= 90%', '< 8', 'between 10 and 30'."""
    if isinstance(tier, Between):
        lo, hi = (threshold_text(v, pct) for v in tier.between)
        return f"between {lo} and {hi}"
    return f"{op} {threshold_text(tier, pct)}"


def describe(t: Thresholds, pct: bool = False) -> str:
    """Thresholds as text, each as written, e.g. '>= 90% excellent, >= 70% acceptable'."""
    op = _op(t)
    parts = [
        f"{tier_text(tier, op, pct)} {label}"
        for label, tier in (
            ("excellent", t.excellent),
            ("pass", t.pass_),
            ("acceptable", t.acceptable),
        )
        if tier is not None
    ]
    text = ", ".join(parts)
    if text and t.severity == "warn":
        text += "; beyond: a warning (severity: warn)"
    return text


def _op(t: Thresholds) -> str:
    """How a one-sided tier compares: '>=' (higher is better), '<', or '<=' (at most)."""
    if t.direction != "lower":
        return ">="
    return "<=" if t.at_most else "<"


def _rank(level: Level) -> int:
    return level.rank


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
