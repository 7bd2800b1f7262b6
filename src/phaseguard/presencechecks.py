"""Presence checks: whether a date's data is there (``rows_exist``, ``quorum``) and new
(``freshness``).

None is graded on thresholds: ``rows_exist`` and ``freshness`` hold (at their best) or not;
a ``quorum`` counts the tables present against its minimum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .checks import Prepared
from .config import Config
from .days import Days
from .grading import _num, _rank
from .kinds import Check, Freshness, Quorum, RowsExist
from .plan import Metric
from .verdicts import ACCEPTABLE, PASS, Verdict


class RowsExistCheck(Prepared):
    """FAIL if any named table has no rows for the date; else EXCELLENT.

    A check that can only hold or not is at its best when it holds: it never keeps a
    phase below EXCELLENT (a phase takes the worst level of its checks).
    """

    kind = "rows_exist"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, RowsExist)
        self.any_of = check.any_of is not None
        self.tables = tuple(check.any_of or check.tables or phase_tables)
        if self.any_of:
            self.expected = "rows in any of " + ", ".join(self.tables)
        else:
            self.expected = "rows in " + ("every table" if len(self.tables) > 1 else self.tables[0])

    def judge(self, days: Days) -> list[Verdict]:
        name, expected, top, beyond = self.name, self.expected, self.top, self.beyond
        columns = zip(*[days.rows(key) for key in self.tables], strict=True)
        if self.any_of:
            return [
                Verdict(name, top if any(counts) else beyond, counts, expected, False, self)
                for counts in columns
            ]
        return [
            Verdict(name, beyond if 0 in counts else top, counts, expected, False, self)
            for counts in columns
        ]

    def _warns(self, seen: tuple[float, ...]) -> bool:
        """Whether ``seen`` fails the check and the check only warns (severity: warn)."""
        failed = not any(seen) if self.any_of else 0 in seen
        return failed and self.beyond is ACCEPTABLE

    def observed(self, seen: tuple[float, ...]) -> str:
        text = ", ".join(f"{key}={n:.0f}" for key, n in zip(self.tables, seen, strict=True))
        return f"{text} (a warning: severity warn)" if self._warns(seen) else text

    def details(self, seen: tuple[float, ...]) -> dict[str, object]:
        out: dict[str, object] = {
            "empty": [key for key, n in zip(self.tables, seen, strict=True) if n == 0]
        }
        if self._warns(seen):
            out["warning"] = f"not {self.expected}"
        return out


class QuorumCheck(Prepared):
    """At least ``min_present`` tables have rows and every required one does (the breaker).

    All present EXCELLENT; met with more than ``min_present`` PASS; met at exactly
    ``min_present`` ACCEPTABLE; fewer, or a required one missing, FAIL.
    """

    kind = "quorum"
    graded = True

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Quorum)
        self.tables = tuple(check.tables or phase_tables)
        self.required = tuple(
            check.required
            if check.required is not None
            else [k for k in self.tables if config.table(k).critical]
        )
        # A required table outside the quorum's own tables is never present: always FAIL.
        self.required_at = tuple(
            self.tables.index(k) if k in self.tables else -1 for k in self.required
        )
        self.min_present = check.min_present
        self.expected = f">= {check.min_present}/{len(self.tables)}"
        if self.required:
            self.expected += f" incl. {', '.join(self.required)}"

    def judge(self, days: Days) -> list[Verdict]:
        columns = [days.rows(key) for key in self.tables]
        return [self._one(counts) for counts in zip(*columns, strict=True)]

    def _one(self, counts: tuple[float, ...]) -> Verdict:
        present = len(counts) - counts.count(0)
        if present < self.min_present or any(i < 0 or not counts[i] for i in self.required_at):
            level = self.beyond  # FAIL, or a warning with severity: warn
        elif present == len(counts):
            level = self.top
        elif present == self.min_present:
            level = ACCEPTABLE  # met at its minimum: the seeds' early-season bootstrap
        else:
            level = min(PASS, self.top, key=_rank)
        return Verdict(self.name, level, counts, self.expected, True, self)

    def observed(self, seen: tuple[float, ...]) -> str:
        present, missing, missing_required = self._split(seen)
        text = f"{len(present)}/{len(self.tables)} present"
        if missing and len(present) == self.min_present:
            text += " (the minimum)"
        if missing:
            text += f"; missing {', '.join(missing)}"
        if missing_required:
            text += f" (required: {', '.join(missing_required)})"
        if self.beyond is ACCEPTABLE and self._short(seen):
            text += f", short of {self.expected} (a warning)"
        return text

    def _short(self, seen: tuple[float, ...]) -> bool:
        """Whether the quorum is not met (too few present, or a required one missing)."""
        _, _, missing_required = self._split(seen)
        return self.value(seen) < self.min_present or bool(missing_required)

    def details(self, seen: tuple[float, ...]) -> dict[str, object]:
        present, missing, missing_required = self._split(seen)
        out: dict[str, object] = {
            "present": present,
            "missing": missing,
            "missing_required": missing_required,
        }
        if self.beyond is ACCEPTABLE and self._short(seen):
            out["warning"] = f"short of {self.expected}"
        return out

    def value(self, seen: tuple[float, ...]) -> float:
        return float(len(seen) - seen.count(0))  # tables present

    def _split(self, seen: tuple[float, ...]) -> tuple[list[str], list[str], list[str]]:
        """(present, missing, required but missing) table keys."""
        present = [key for key, n in zip(self.tables, seen, strict=True) if n]
        missing = [key for key in self.tables if key not in present]
        return present, missing, [key for key in self.required if key not in present]


class FreshnessCheck(Prepared):
    """The newest timestamp in the partition is at most ``max_age_hours`` old."""

    kind = "freshness"

    def __init__(self, check: Check, config: Config, phase_tables: Sequence[str]) -> None:
        super().__init__(check, config, phase_tables)
        assert isinstance(check, Freshness)
        self.table = check.table
        self.metric = Metric("max_epoch", check.column, where=check.where or "").key
        self.max_age_hours = check.max_age_hours
        self.expected = f"newest {check.column} within {_num(check.max_age_hours)}h"
        if check.where:
            self.expected += f" where {check.where}"
        self.warning = " (a warning: severity warn)" if self.beyond is ACCEPTABLE else ""

    def judge(self, days: Days) -> list[Verdict]:
        return [self._one(epoch, days.now) for epoch in days.values(self.table, self.metric)]

    def _one(self, epoch: float | None, now: dt.datetime) -> Verdict:
        if epoch is None:
            return Verdict(self.name, self.beyond, "no rows" + self.warning, self.expected)
        newest = dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)
        age = (now - newest).total_seconds() / 3600
        if age <= self.max_age_hours:  # holds: at its best
            return Verdict(self.name, self.top, f"{_num(age)}h old", self.expected)
        return Verdict(self.name, self.beyond, f"{_num(age)}h old{self.warning}", self.expected)


KINDS: tuple[type[Prepared], ...] = (RowsExistCheck, QuorumCheck, FreshnessCheck)
