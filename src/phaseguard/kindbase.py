"""What every check kind shares: its base (name, tags, severity, ``where:``) and the
traffic-light thresholds (tiers, direction, ``between``) of the kinds that grade a number.

The kinds themselves are in :mod:`phaseguard.kinds` (and :mod:`phaseguard.rowkinds`,
:mod:`phaseguard.learnedkinds`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from .errors import ConfigError
from .infra import LocatedError
from .model import Model, _ident


def _tags(value: Any) -> Any:
    """Tags are a list of plain identifiers (``[nightly, pii]``), each named by its index."""
    if not isinstance(value, list | tuple):
        raise LocatedError(f"tags is a list of names, e.g. [nightly], not {value!r}", ())
    for i, tag in enumerate(value):
        if not isinstance(tag, str):
            raise LocatedError(f"a tag is a name, not {tag!r}", (i,))
        try:
            _ident(tag)
        except ValueError as exc:
            raise LocatedError(f"tag {exc}", (i,)) from None
        if tag in value[:i]:
            raise LocatedError(f"tag {tag!r} is given twice", (i,))
    return value


class CheckBase(Model):
    """What every check kind accepts, whatever it measures.

    ``severity: warn``: a check that would FAIL gives a warning (ACCEPTABLE) instead,
    naming the limit it crossed, and never fails.
    """

    name: str | None = None
    tags: tuple[str, ...] = Field((), description="labels for --tag; a check also has its phase's")
    severity: Literal["fail", "warn"] = Field(
        "fail", description="warn: beyond the last tier is a warning, never FAIL"
    )
    _v_tags = field_validator("tags", mode="before")(_tags)


def _condition(value: str | None) -> str | None:
    """A ``where:`` filter: one boolean SQL expression over the table's columns, checked
    against the scalar allow-list (said as a ValueError, so the error names file and line)."""
    if value is None:
        return None
    from .warehouse.expressions import validate_condition

    try:
        validate_condition(value)
    except ConfigError as exc:
        raise ValueError(exc.reason) from None
    return value


def _aggregate(value: str) -> str:
    """An aggregate expression checked against the allow-list (said as a ValueError)."""
    from .warehouse.expressions import validate_aggregate

    try:
        validate_aggregate(value)
    except ConfigError as exc:
        raise ValueError(exc.reason) from None
    return value


WHERE_DESCRIPTION = "only rows where this boolean SQL holds, e.g. minutes > 0"


class Between(Model):
    """A two-sided tier: the value lies in [lo, hi], whatever the direction (``{between: [10, 30]}``)."""

    between: tuple[float, float]


Tier = float | Between


def _bounds(tier: Tier, lower: bool) -> tuple[float, float]:
    """The values a tier accepts, as (lo, hi); one-sided tiers are open towards better."""
    if isinstance(tier, Between):
        return tier.between
    return (-math.inf, tier) if lower else (tier, math.inf)


class Thresholds(CheckBase):
    """Traffic-light thresholds: higher is better (value >= t) unless direction is lower (<).

    A tier is a number, or ``{between: [lo, hi]}`` for a band (e.g. rows per game within the
    expected 10-30). Each tier must sit inside the next worse one (excellent inside pass
    inside acceptable). Below the last tier is FAIL, unless ``severity: warn``: then it is
    a warning (ACCEPTABLE) that names the limit it crossed, and the check never fails.
    """

    excellent: Tier | None = None
    pass_: Tier | None = Field(None, alias="pass")
    acceptable: Tier | None = None
    direction: Literal["higher", "lower"] = "higher"
    # Lower-is-better tiers are strict (value < t) unless a kind counts bad rows: there
    # ``pass: 0`` means at most 0 (value <= t).
    at_most: ClassVar[bool] = False

    @field_validator("excellent", "pass_", "acceptable", mode="before")
    @classmethod
    def _tier_shape(cls, value: Any) -> Any:
        """A number or {between: [lo, hi]}, said plainly (not pydantic's union errors)."""
        if value is None or isinstance(value, Between):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if isinstance(value, dict) and set(value) == {"between"}:
            band = value["between"]
            if (
                isinstance(band, list | tuple)
                and len(band) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in band)
            ):
                return value
            raise LocatedError("a band is {between: [lo, hi]}: two numbers", ())
        raise LocatedError(
            f"a threshold is a number or a band {{between: [lo, hi]}}, not {value!r}", ()
        )

    @model_validator(mode="after")
    def _valid_tiers(self) -> Thresholds:
        set_ = [
            (key, tier)
            for key, tier in (
                ("excellent", self.excellent),
                ("pass", self.pass_),
                ("acceptable", self.acceptable),
            )
            if tier is not None
        ]
        if not set_:
            raise LocatedError("give at least one of excellent, pass, acceptable", ())
        lower = self.direction == "lower"
        for key, tier in set_:
            ends = tier.between if isinstance(tier, Between) else (tier,)
            if not all(math.isfinite(v) for v in ends):
                raise LocatedError(f"a threshold must be a finite number, not {tier!r}", (key,))
            if isinstance(tier, Between) and tier.between[0] > tier.between[1]:
                raise LocatedError(
                    f"between [{_g(tier.between[0])}, {_g(tier.between[1])}] is reversed "
                    "(give [lo, hi])",
                    (key, "between"),
                )
        for (better, b_tier), (worse, w_tier) in itertools.pairwise(set_):
            (b_lo, b_hi), (w_lo, w_hi) = _bounds(b_tier, lower), _bounds(w_tier, lower)
            if b_lo >= w_lo and b_hi <= w_hi:
                continue
            if isinstance(b_tier, Between) or isinstance(w_tier, Between):
                why = f"{better}'s band must lie inside {worse}'s"
            elif lower:
                why = "lower is better, so excellent <= pass <= acceptable"
            else:
                why = "higher is better, so excellent >= pass >= acceptable"
            raise LocatedError(
                f"thresholds out of order: {better} {_tier_text(b_tier)}, "
                f"{worse} {_tier_text(w_tier)} ({why})",
                (better,),
            )
        return self

    def limits(self) -> list[tuple[float, str]]:
        """Every threshold value with its tier's name, for charts: a band gives both ends."""
        out: list[tuple[float, str]] = []
        for label, tier in (
            ("excellent", self.excellent),
            ("pass", self.pass_),
            ("acceptable", self.acceptable),
        ):
            if isinstance(tier, Between):
                out += [(tier.between[0], label), (tier.between[1], label)]
            elif tier is not None:
                out.append((tier, label))
        return out


def _g(value: float) -> str:
    """A threshold as written: repr keeps every digit (0.001, 1.001), no rounding."""
    return repr(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _tier_text(tier: Tier) -> str:
    if isinstance(tier, Between):
        return f"between [{_g(tier.between[0])}, {_g(tier.between[1])}]"
    return _g(tier)
