"""Selection: the checks a command runs when ``--phase``, ``--check`` or ``--tag`` narrow it.

A check is selected when it matches every kind of filter given, and any value of each:
``--phase ingest --tag nightly --tag pii`` is phase ingest's checks tagged nightly or pii.
A check carries its own tags and its phase's; its name is the one ``criteria`` shows
(:func:`phaseguard.checks.check_name`). A name the config does not know is an error with the
name it probably meant, and so is a selection that leaves nothing to run: a typo must never
turn into a green run of nothing. Gates never select: a gate always runs its full criteria.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .checks import check_name
from .config import Config
from .errors import UsageError
from .kinds import Check


@dataclass(frozen=True)
class Selected:
    """A group of checks judged together: a phase (or a gate's upstream) and its tables."""

    name: str
    tables: list[str]
    checks: list[Check]


@dataclass(frozen=True)
class Selection:
    """The filters of one command: phase names, check names, tags (empty: no filter)."""

    phases: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.phases or self.checks or self.tags)

    def describe(self) -> str:
        """The selection as it was given on the command line: ``--phase a --tag x``."""
        given = (("--phase", self.phases), ("--check", self.checks), ("--tag", self.tags))
        return " ".join(f"{flag} {value}" for flag, values in given for value in values)


def select(
    config: Config,
    groups: Sequence[Selected],
    selection: Selection,
    *,
    every: Sequence[Selected],
    command: str = "verify",
) -> list[Selected]:
    """The checks of ``groups`` that ``selection`` selects; groups left empty are dropped.

    ``every`` is every check a selection may name (what ``verify`` runs): a name unknown
    there is a UsageError with a did-you-mean, and so is a selection that selects nothing in
    ``groups`` (the checks ``command`` runs), naming the flags given.
    """
    if not selection:
        return list(groups)
    _known("phase", selection.phases, [g.name for g in every])
    _known("check", selection.checks, [check_name(c) for g in every for c in g.checks])
    _known("tag", selection.tags, _all_tags(config, every))
    out = _filter(config, groups, selection)
    if not out:
        why = "no check matches all of them"
        if _filter(config, every, selection):
            why = f"{command} runs none of the checks they match (only verify runs them)"
        raise UsageError(f"{selection.describe()} selects no check: {why}")
    return out


def narrowed(config: Config, groups: Sequence[Selected]) -> Config:
    """``config`` with only the phases and checks of ``groups``: what a report of a selection
    draws (its trend charts, its phase list); the rest of the config is unchanged."""
    kept = {g.name: {check_name(c) for c in g.checks} for g in groups}
    phases = [
        p.model_copy(update={"checks": [c for c in p.checks if check_name(c) in kept[p.name]]})
        for p in config.phases
        if p.name in kept
    ]
    return config.model_copy(update={"phases": phases})


def _filter(config: Config, groups: Sequence[Selected], selection: Selection) -> list[Selected]:
    out = []
    for group in groups:
        phase_tags = _phase_tags(config, group.name)
        kept = [c for c in group.checks if _matches(selection, group.name, c, phase_tags)]
        if kept:
            out.append(Selected(group.name, group.tables, kept))
    return out


def _matches(selection: Selection, phase: str, check: Check, phase_tags: Iterable[str]) -> bool:
    if selection.phases and phase not in selection.phases:
        return False
    if selection.checks and check_name(check) not in selection.checks:
        return False
    return not selection.tags or any(tag in selection.tags for tag in (*phase_tags, *check.tags))


def _phase_tags(config: Config, name: str) -> tuple[str, ...]:
    try:
        return config.phase(name).tags
    except KeyError:  # a group that is not a phase (a gate's upstream) has no tags of its own
        return ()


def _all_tags(config: Config, every: Sequence[Selected]) -> list[str]:
    tags = [t for p in config.phases for t in p.tags]
    tags += [t for g in every for c in g.checks for t in c.tags]
    return sorted(set(tags))


def _known(what: str, given: Iterable[str], known: Sequence[str]) -> None:
    """Every name in ``given`` is one of ``known``, else one line with the likely one."""
    names = list(dict.fromkeys(known))
    for name in given:
        if name in names:
            continue
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean {close[0]!r}?"
        elif not names:
            hint = "no phase or check has tags" if what == "tag" else f"there is no {what}"
        else:
            listed = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
            hint = f"{what}s: {listed}"
        raise UsageError(f"unknown {what} {name!r} ({hint})")


__all__ = ["Selected", "Selection", "narrowed", "select"]
