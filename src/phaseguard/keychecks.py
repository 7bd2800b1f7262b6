"""Keyed checks: judging ``unique``, ``relationships``, ``accepted_values`` from a reference
list (``values_from``) and ``row_count`` by group (``group_by``).

Each reads a keyed probe of its own (:func:`phaseguard.plan.keyed_probe`): per date the
partition's rows (those ``where`` keeps), its bad rows (or, for ``row_count`` by group,
the number of groups and the smallest and largest), how many keys offend, and the
offending keys as ``key=rows`` text. A verdict names them: the first few in ``observed``,
every one the warehouse returned in ``details`` (``offending``, and ``counts`` {key: rows};
``groups`` {key: rows} for the groups outside the pass band). The bad-row kinds grade as
:mod:`phaseguard.rowchecks` does (a date with no rows is N/A). Registered through
:func:`phaseguard.checks._kinds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .checks import Prepared, _Graded
from .config import Config
from .days import Days
from .grading import _grade, _num
from .kinds import Check
from .plan import (
    BAD,
    GROUP_METRICS,
    MISSING_SHOWN,
    OFFENDERS,
    keyed_probe,
)
from .rowchecks import _RowLevelCheck, offending_items
from .rowkinds import AcceptedValues, Relationships, RowCount, Unique
from .verdicts import NA, Verdict

Evidence = tuple[int, str | None]  # offending keys, their text


def _listed(items: list[tuple[str, int]], count: int, what: tuple[str, str]) -> str:
    """'2 keys: a (3), b (2)', the first few named and the rest counted."""
    shown = ", ".join(f"{key} ({n})" for key, n in items[:MISSING_SHOWN])
    more = count - min(len(items), MISSING_SHOWN)
    return f"{count} {what[count != 1]}: {shown}" + (f" and {more} more" if more > 0 else "")


class _KeyedRowsCheck(_RowLevelCheck):
    """Bad rows read from the check's keyed probe, with the offending keys as evidence."""

    keys = ("key", "keys")  # what offends, singular and plural

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        probe = keyed_probe(check, config)
        assert probe is not None
        self.key = probe.key

    def judge(self, days: Days) -> list[Verdict]:
        rows = [int(n) for n in days.rows(self.key)]
        bad = self.bad(days)
        evidence = self.evidence(days)
        out = []
        for n, b, ev in zip(rows, bad, evidence, strict=True):
            if not n:
                out.append(Verdict(self.name, NA, self.empty, self.expected))
            else:
                out.append(self.verdict(b / n if self.pct else b, (b, n, ev)))
        return out

    def bad(self, days: Days) -> list[int]:
        return [int(n or 0) for n in days.values(self.key, BAD.key)]

    def evidence(self, days: Days) -> Sequence[Any]:
        offenders = [int(n or 0) for n in days.values(self.key, OFFENDERS.key)]
        return list(zip(offenders, days.texts(self.key), strict=True))

    def evidence_text(self, evidence: Evidence) -> str:
        return _listed(offending_items(evidence[1]), evidence[0], self.keys)

    def evidence_details(self, evidence: Evidence) -> dict[str, object]:
        if not evidence[0]:
            return {}
        items = offending_items(evidence[1])
        return {
            "offending": [key for key, _ in items],
            "offending_count": evidence[0],
            "counts": dict(items),
        }


class UniqueCheck(_KeyedRowsCheck):
    """Rows beyond the first per key (NULL keys skipped); names the duplicated keys."""

    kind = "unique"
    keys = ("key duplicated", "keys duplicated")

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Unique)
        self.what = f"duplicate rows by {'+'.join(check.columns)}"


class RelationshipsCheck(_KeyedRowsCheck):
    """Rows whose key has no parent row; names the orphan keys."""

    kind = "relationships"
    keys = ("orphan key", "orphan keys")

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Relationships)
        self.what = f"orphan rows (no {check.to.table} row)"


class AcceptedValuesFromCheck(_KeyedRowsCheck):
    """Rows whose (non-NULL) value is not in the reference list; names the values."""

    kind = "accepted_values"
    keys = ("value", "values")

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, AcceptedValues)
        assert check.values_from is not None
        self.what = f"rows whose {check.column} is not in {check.values_from.table}"


GroupSeen = tuple[float, float | None, float | None, float | None, float | None, str | None]


class GroupedRowCountCheck(_Graded):
    """Rows of each group of the partition (``group_by``) against the thresholds: the
    worst group decides, and a verdict names the groups outside the pass band."""

    kind = "row_count"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, RowCount)
        assert check.group_by
        probe = keyed_probe(check, config)
        assert probe is not None
        self.key, self.table = probe.key, check.table
        self.group_by = "+".join(check.group_by)
        self.expected = f"rows per {self.group_by}: {self.expected}"
        self.empty = f"no rows in {check.table}" + (f" where {check.where}" if check.where else "")

    def judge(self, days: Days) -> list[Verdict]:
        rows = days.rows(self.key)
        groups, smallest, largest, outside = (
            days.values(self.key, metric.key) for metric in GROUP_METRICS[1:]
        )
        texts = days.texts(self.key)
        seen = list(zip(rows, groups, smallest, largest, outside, texts, strict=True))
        return [self.verdict(self.value(one), one) for one in seen]

    def value(self, seen: GroupSeen) -> float:
        """The worst group's rows: the smallest or the largest, whichever grades worse (an
        empty partition is one group of 0 rows)."""
        low, high = seen[2] or 0, seen[3] or 0
        return float(high if _grade(high, self.tiers).rank < _grade(low, self.tiers).rank else low)

    def text(self, seen: GroupSeen) -> str:
        rows, groups, smallest, largest, outside, text = seen
        if not rows:
            return self.empty
        out = (
            f"worst {self.group_by} {_num(self.value(seen))} rows "
            f"({smallest or 0:.0f}..{largest or 0:.0f} over {groups or 0:.0f} groups)"
        )
        if outside:
            items = offending_items(text)
            out += "; " + _listed(items, int(outside), ("outside", "outside"))
        return out

    def details(self, seen: GroupSeen) -> dict[str, object]:
        out = super().details(seen)
        _, _, smallest, largest, outside, text = seen
        if outside:
            out.update(
                outside_count=int(outside),
                groups=dict(offending_items(text)),
                min=int(smallest or 0),
                max=int(largest or 0),
            )
        return out


KINDS: tuple[type[Prepared], ...] = (UniqueCheck, RelationshipsCheck)
# accepted_values with values_from, row_count with group_by: the keyed variants of a kind
VARIANTS: tuple[type[Prepared], ...] = (AcceptedValuesFromCheck, GroupedRowCountCheck)
