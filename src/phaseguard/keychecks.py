"""Keyed checks: judging ``unique``, ``relationships``, ``accepted_values`` and ``row_count``.

Each reads a keyed probe of its own (:func:`phaseguard.plan.keyed_probe`): per date the
partition's rows, its bad rows (or, for ``row_count`` by group, the number of groups and
the smallest and largest), how many keys offend, and the offending keys as text. A
verdict below PASS names them: the first few in ``observed``, every one the warehouse
returned in ``details`` (``offending`` and ``counts`` {key: rows}; ``groups`` {key: rows}
for a group outside its band). Registered in :data:`phaseguard.checks._KINDS`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .checks import Days, Prepared, _grade, _Graded, _num, _pct, tier_text
from .config import Config
from .kinds import (
    AcceptedValues,
    BadRows,
    Between,
    Check,
    Relationships,
    RowCount,
    Thresholds,
    Unique,
)
from .plan import (
    BAD,
    GROUP_METRICS,
    ITEM_SEPARATOR,
    MISSING_SHOWN,
    OFFENDERS,
    keyed_probe,
)
from .verdicts import NA, Verdict

_ITEM = re.compile(rf"(.*?)=([0-9]+)(?:{re.escape(ITEM_SEPARATOR)}|$)", re.DOTALL)
Seen = tuple[float, float, int, str | None]  # rows, bad rows, offending keys, their text


def offending_items(text: str | None) -> list[tuple[str, int]]:
    """The ``key=rows`` items of a keyed probe's text, in key order."""
    if not text:
        return []
    return sorted((m.group(1), int(m.group(2))) for m in _ITEM.finditer(text))


def _budgets(check: Thresholds, pct: bool) -> str:
    """A bad-row check's tiers as budgets: '<= 0 excellent, <= 5 acceptable'."""
    parts = []
    for label, tier in (
        ("excellent", check.excellent),
        ("pass", check.pass_),
        ("acceptable", check.acceptable),
    ):
        if isinstance(tier, Between) and tier.between[0] == 0:
            parts.append(f"{tier_text(tier.between[1], '<=', pct)} {label}")
        elif tier is not None:
            parts.append(f"{tier_text(tier, '<', pct)} {label}")
    text = ", ".join(parts)
    return text + ("; beyond: a warning (severity: warn)" if check.severity == "warn" else "")


class _BadRowsCheck(_Graded):
    """Bad rows of a partition against budgets (a count, or a share of its rows); a date
    whose partition is empty is N/A (rows_exist and coverage say that it is empty)."""

    noun = "bad rows"
    keys = ("key", "keys")  # what offends, singular and plural

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        assert isinstance(check, BadRows)
        self.pct = check.measure == "share"
        super().__init__(check, config, phase_tables)
        probe = keyed_probe(check, config)
        assert probe is not None
        self.key, self.table = probe.key, check.table
        self.expected = _budgets(check, self.pct)
        self.last_tier = self.last_tier.replace("between 0 and ", "<= ")

    def judge(self, days: Days) -> list[Verdict]:
        rows = days.rows(self.key)
        bad = days.values(self.key, BAD.key)
        offenders = days.values(self.key, OFFENDERS.key)
        texts = days.texts(self.key)
        empty = Verdict(self.name, NA, f"no rows in {self.table}", self.expected)
        out = []
        for n, b, o, text in zip(rows, bad, offenders, texts, strict=True):
            if not n:
                out.append(empty)
                continue
            seen: Seen = (n, b or 0, int(o or 0), text)
            out.append(self.verdict(self.value(seen), seen))
        return out

    def value(self, seen: Seen) -> float:
        rows, bad, _, _ = seen
        return bad / rows if self.pct else bad

    def text(self, seen: Seen) -> str:
        rows, bad, offenders, text = seen
        share = f" ({_pct(bad / rows)} of {rows:.0f})" if self.pct else f" of {rows:.0f}"
        out = f"{bad:.0f} {self.noun}{share}"
        items = offending_items(text)
        if offenders:
            shown = ", ".join(f"{key} ({n})" for key, n in items[:MISSING_SHOWN])
            more = offenders - min(len(items), MISSING_SHOWN)
            out += f"; {offenders} {self.keys[offenders != 1]}: {shown}" + (
                f" and {more} more" if more else ""
            )
        return out

    def details(self, seen: Seen) -> dict[str, object]:
        rows, bad, offenders, text = seen
        out = super().details(seen)
        if bad:
            items = offending_items(text)
            out.update(
                bad=int(bad),
                rows=int(rows),
                offending_count=offenders,
                offending=[key for key, _ in items],
                counts=dict(items),
            )
        return out


class UniqueCheck(_BadRowsCheck):
    """Rows beyond the first per key (NULL keys skipped); names the duplicated keys."""

    kind = "unique"
    noun = "duplicate rows"
    keys = ("key duplicated", "keys duplicated")

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Unique)
        self.noun = f"duplicate rows by {'+'.join(check.columns)}"


class RelationshipsCheck(_BadRowsCheck):
    """Rows whose key has no parent row; names the orphan keys."""

    kind = "relationships"
    noun = "orphan rows"
    keys = ("orphan key", "orphan keys")

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Relationships)
        self.noun = f"orphan rows (no {check.to.table} row)"


class AcceptedValuesCheck(_BadRowsCheck):
    """Rows whose (non-NULL) value is not accepted; names the offending values."""

    kind = "accepted_values"
    noun = "rows with a value not accepted"
    keys = ("value", "values")

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, AcceptedValues)
        self.noun = f"rows with a {check.column} not accepted"


class RowCountCheck(_Graded):
    """Rows of the partition against thresholds; with ``group_by``, the rows of each group,
    where the worst group decides and a verdict names the groups outside the pass band."""

    kind = "row_count"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, RowCount)
        self.table = check.table
        probe = keyed_probe(check, config)
        self.key = probe.key if probe is not None else ""
        self.group_by = "+".join(check.group_by or ())
        if self.group_by:
            self.expected = f"rows per {self.group_by}: {self.expected}"

    def judge(self, days: Days) -> list[Verdict]:
        if not self.key:
            counts = days.rows(self.table)
            return self.verdicts(counts, [(n, 0, n, n, 0, None) for n in counts])
        rows = days.rows(self.key)
        groups, smallest, largest, outside = (
            days.values(self.key, metric.key) for metric in GROUP_METRICS[1:]
        )
        texts = days.texts(self.key)
        out = []
        for seen in zip(rows, groups, smallest, largest, outside, texts, strict=True):
            out.append(self.verdict(self.value(seen), seen))
        return out

    def value(self, seen: tuple[Any, ...]) -> float:
        """The worst group's rows: the smallest or the largest, whichever grades worse."""
        _, _, smallest, largest, _, _ = seen
        low, high = smallest or 0, largest or 0
        if _grade(high, self.tiers).rank < _grade(low, self.tiers).rank:
            return float(high)
        return float(low)

    def text(self, seen: tuple[Any, ...]) -> str:
        rows, groups, smallest, largest, outside, text = seen
        if not self.key:
            return f"{rows:.0f} rows"
        if not rows:
            return f"no rows in {self.table}"
        out = (
            f"worst {self.group_by} {_num(self.value(seen))} rows "
            f"({smallest:.0f}..{largest:.0f} over {groups:.0f} groups)"
        )
        if outside:
            items = offending_items(text)
            shown = ", ".join(f"{key} ({n})" for key, n in items[:MISSING_SHOWN])
            more = int(outside) - min(len(items), MISSING_SHOWN)
            out += f"; {outside:.0f} outside: {shown}" + (f" and {more} more" if more else "")
        return out

    def details(self, seen: tuple[Any, ...]) -> dict[str, object]:
        out = super().details(seen)
        _, _, smallest, largest, outside, text = seen
        if self.key and outside:
            out.update(
                outside_count=int(outside),
                groups=dict(offending_items(text)),
                min=int(smallest or 0),
                max=int(largest or 0),
            )
        return out


KEYED_CHECKS: tuple[type[Prepared], ...] = (
    UniqueCheck,
    RelationshipsCheck,
    AcceptedValuesCheck,
    RowCountCheck,
)
