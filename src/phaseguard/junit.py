"""JUnit XML: the verdicts of ``smoke``/``verify`` as the test report CI systems show.

The shape (the JUnit XML that Jenkins, GitLab, GitHub Actions' test reporters and Azure
Pipelines read):

- one ``<testsuite>`` per phase, one ``<testcase>`` per (date, check) in it, with
  ``classname`` the phase and ``name`` ``"check [date]"``;
- FAIL is a ``<failure>``, ERROR an ``<error>``: the ``message`` is the observed value and
  the expected one, the text adds the check's details (missing units, ...) as JSON;
- N/A (nothing scheduled, no rows to grade) is ``<skipped>`` with the reason;
- ACCEPTABLE (a warning) passes: the case holds, its ``<system-out>`` says ``WARNING:`` and
  what crossed which limit; EXCELLENT and PASS pass;
- one more suite, ``overall verdict`` (no phase can be so named: no spaces in names), holds one
  case per date with the date's verdict, so the report agrees with the exit code: a FAILED
  date is a ``<failure>`` even when it failed on health alone (warnings below PARTIAL's bar),
  PARTIAL passes with a warning, a date with nothing scheduled is skipped.

The exit code is the command's own, whatever the report says. Text from the warehouse (unit
keys, values) is cleaned of what XML 1.0 cannot hold and of credentials (``redact.shown``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from .redact import clean, redact
from .verdicts import (
    ACCEPTABLE,
    ERROR,
    FAIL,
    NA,
    DateVerdict,
    Overall,
    RangeVerdict,
    Verdict,
    exit_code,
)

OVERALL_SUITE = "overall verdict"
# What XML 1.0 cannot carry even escaped: C0 controls but tab/newline/CR, surrogates, U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: object, *, lines: bool = False) -> str:
    """``value`` fit for XML 1.0 and for display: one line unless ``lines``, no secrets."""
    return _NOT_XML.sub("", redact(clean(str(value), newlines=lines)))


class _Suite:
    """One ``<testsuite>`` being filled, with its counts."""

    def __init__(self, name: str) -> None:
        self.element = ET.Element("testsuite", name=_text(name))
        self.counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(self, classname: str, name: str) -> ET.Element:
        self.counts["tests"] += 1
        return ET.SubElement(self.element, "testcase", classname=_text(classname), name=_text(name))

    def outcome(self, case: ET.Element, tag: str, message: str, text: str = "") -> None:
        """Mark ``case`` failed (``failure``), errored (``error``) or ``skipped``."""
        self.counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[tag]] += 1
        element = ET.SubElement(case, tag, message=_text(message))
        if tag != "skipped":
            element.set("type", {"failure": FAIL.value, "error": ERROR.value}[tag])
        if text:
            element.text = _text(text, lines=True)

    def close(self) -> ET.Element:
        for key, count in self.counts.items():
            self.element.set(key, str(count))
        return self.element


def _check_case(suite: _Suite, phase: str, day: DateVerdict, verdict: Verdict) -> None:
    case = suite.case(phase, f"{verdict.check} [{day.date}]")
    said = f"{verdict.observed} — expected {verdict.expected}"
    if verdict.level is FAIL or verdict.level is ERROR:
        lines = [
            f"{verdict.level.value}: {verdict.check} on {day.date}",
            f"observed: {verdict.observed}",
            f"expected: {verdict.expected}",
        ]
        if verdict.details:
            lines.append("details: " + json.dumps(verdict.details, default=str, sort_keys=True))
        suite.outcome(case, "failure" if verdict.level is FAIL else "error", said, "\n".join(lines))
    elif verdict.level is NA:
        suite.outcome(case, "skipped", verdict.observed or "N/A")
    elif verdict.level is ACCEPTABLE:
        ET.SubElement(case, "system-out").text = _text(f"WARNING: {verdict.check}: {said}")


def _date_case(suite: _Suite, day: DateVerdict, mode: str) -> None:
    case = suite.case(OVERALL_SUITE, f"overall [{day.date}]")
    health = "" if day.health is None else f", health {day.health:g}"
    said = f"{day.overall.value}{health}"
    if mode == "smoke" and day.overall is not Overall.NA:
        said = {Overall.COMPLETE: "PASS", Overall.PARTIAL: "WARN"}.get(day.overall, "FAIL")
    below = [f"{p.phase}: {v.check} {v.level.value}" for p in day.phases for v in p.failing]
    if day.overall is Overall.FAILED:
        suite.outcome(case, "failure", said, "\n".join(below) or said)
    elif day.overall is Overall.NA:
        suite.outcome(case, "skipped", "nothing scheduled")
    elif day.overall is Overall.PARTIAL:
        ET.SubElement(case, "system-out").text = _text(
            "\n".join([f"WARNING: {said}", *below]), lines=True
        )


def to_junit(result: RangeVerdict, *, name: str = "phaseguard") -> str:
    """``result`` as a JUnit XML document (UTF-8 text with its XML declaration)."""
    phases: Sequence[str] = [p.phase for p in result.dates[0].phases] if result.dates else []
    suites = {phase: _Suite(phase) for phase in phases}
    overall = _Suite(OVERALL_SUITE)
    for day in result.dates:
        for phase in day.phases:
            for verdict in phase.verdicts:
                suite = suites.setdefault(phase.phase, _Suite(phase.phase))
                _check_case(suite, phase.phase, day, verdict)
        _date_case(overall, day, result.mode)
    span = str(result.start) if result.start == result.end else f"{result.start}..{result.end}"
    root = ET.Element("testsuites", name=_text(f"{name} {result.mode} {span}"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in [*suites.values(), overall]:
        root.append(suite.close())
        for key, count in suite.counts.items():
            totals[key] += count
    for key, count in totals.items():
        root.set(key, str(count))
    properties = ET.Element("properties")
    for key, value in (
        ("overall", result.overall.value),
        ("health", "" if result.health is None else f"{result.health:g}"),
        ("exit_code", str(exit_code(result))),
    ):
        ET.SubElement(properties, "property", name=key, value=value)
    overall.element.insert(0, properties)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


__all__ = ["OVERALL_SUITE", "to_junit"]
