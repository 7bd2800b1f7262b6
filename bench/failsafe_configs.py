"""A corpus of malformed configs and inputs, each run through the real CLI (issue #13 item 11).

Every case is written to a fresh directory and run as ``python -m phaseguard.cli`` in its own
process, with a timeout and a 1 GiB memory limit. A case passes when phaseguard refuses it
with exactly one line on stderr, naming the file and the line (``FILE:LINE: key: reason``)
where the case has one, with the documented exit code (3; 2 for ``gate``), no traceback and
no hang. A few valid configs (a merge key, a UTF-8 byte-order mark, anchors under ``x-``
keys) must be accepted. Run it::

    python bench/failsafe_configs.py [--jobs 2] [--timeout 20] [--only inputs]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BASE = """\
pipeline: mini
warehouse: duckdb://mini.duckdb
schedule: {table: raw.schedule, date_column: game_date, unit: game_id}
phases:
  - name: ingest
    tables:
      - {name: box, table: raw.box, date_column: game_date, unit: game_id}
    checks:
      - {kind: rows_exist}
      - {kind: unit_coverage, table: box, excellent: 0.9, acceptable: 0.7}
  - name: process
    depends_on: [ingest]
    tables:
      - {name: A, table: proc.a, date_column: d, critical: true}
      - {name: B, table: proc.b, date_column: d}
      - {name: C, table: proc.c, date_column: d}
    checks:
      - {kind: quorum, min_present: 2}
  - name: predict
    depends_on: [process]
    tables:
      - {name: preds, table: out.preds, date_column: game_date}
      - {name: grades, table: out.grades, date_column: game_date}
    checks:
      - {kind: distinct_count, table: preds, column: system_id, pass: 2}
      - {kind: ratio, numerator: grades, denominator: preds, excellent: 0.95, pass: 0.8}
      - {kind: aggregate, table: grades, expr: "AVG(ABS(predicted - actual))", direction: lower, excellent: 6, acceptable: 8}
gates:
  - phase: process
  - phase: predict
    checks:
      - {kind: quorum, tables: [A, B, C], min_present: 2}
"""
SMOKE = ["smoke", "2026-01-01"]
GATE = ["gate", "predict", "--date", "2026-01-01"]
MEMORY = 1 << 30


@dataclass(frozen=True)
class Case:
    """One malformed input: the config's bytes, other files, the command and what must happen."""

    name: str
    config: bytes
    args: list[str] = field(default_factory=lambda: list(SMOKE))
    files: dict[str, bytes] = field(default_factory=dict)
    code: int = 3
    line: bool = True  # the error names FILE:LINE
    valid: bool = False  # a control: must be accepted
    owner: str = "inputs"  # which part of issue #13 makes it pass


@dataclass(frozen=True)
class Result:
    """What the CLI did with a case."""

    name: str
    owner: str
    code: int | None
    stderr: str
    seconds: float
    problem: str  # empty when the case passed

    @property
    def ok(self) -> bool:
        return not self.problem


def _sub(old: str, new: str, text: str = BASE) -> bytes:
    assert old in text, old
    return text.replace(old, new, 1).encode()


def _add(extra: str) -> bytes:
    return (BASE + extra).encode()


def _bomb(width: int, levels: int, leaf: str = "lol") -> str:
    lines = [f"x-a0: &a0 [{', '.join([leaf] * width)}]"]
    lines += [f"x-a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def corpus() -> list[Case]:
    """Every case, in a fixed order."""
    cases: list[Case] = []
    add = cases.append

    # --- encodings and bytes ------------------------------------------------------------------
    add(Case("utf-16 with BOM", BASE.encode("utf-16")))
    add(Case("utf-16-be with BOM", b"\xfe\xff" + BASE.encode("utf-16-be")))
    add(Case("utf-16-le without BOM", BASE.encode("utf-16-le")))
    add(Case("utf-32", BASE.encode("utf-32")))
    add(Case("latin-1 é", _sub("pipeline: mini", "pipeline: café").decode().encode("latin-1")))
    add(Case("cp1252 quotes", _sub("pipeline: mini", "pipeline: ‘mini’").decode().encode("cp1252")))
    add(Case("invalid utf-8 late", BASE.encode() + b"# \xc3\x28\n"))
    add(Case("lone continuation byte", b"pipeline: \x80\n" + BASE.encode()))
    add(Case("binary garbage", bytes(range(256)) * 4))
    add(Case("NUL in a value", _sub("pipeline: mini", "pipeline: mi\x00ni")))
    add(Case("an ELF header", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64))
    add(Case("gzip bytes", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 40))
    add(Case("bell character", _sub("pipeline: mini", "pipeline: mi\x07ni")))
    add(Case("escape character", _sub("pipeline: mini", "pipeline: mi\x1bni")))

    # --- YAML syntax ----------------------------------------------------------------------------
    add(Case("tab indentation", _sub("  - name: ingest", "\t- name: ingest")))
    add(Case("unclosed flow mapping", _sub("unit: game_id}\n", "unit: game_id\n")))
    add(Case("unclosed quote", _sub('expr: "AVG', 'expr: "AVG(').replace(b'actual))"', b"x")))
    add(Case("bad indentation", _sub("    depends_on: [ingest]", "      depends_on: [ingest]")))
    add(Case("duplicate key", _add("pipeline: again\n")))
    add(Case("duplicate nested key", _sub("name: ingest\n", "name: ingest\n    name: again\n")))
    add(Case("top-level list", b"- pipeline: mini\n"))
    add(Case("top-level scalar", b"just a string\n"))
    add(Case("empty file", b""))
    add(Case("only comments", b"# nothing here\n# at all\n"))
    add(Case("two documents", BASE.encode() + b"---\n" + BASE.encode()))
    add(Case("flow nesting 2000 deep", b"pipeline: " + b"[" * 2000 + b"]" * 2000 + b"\n"))
    deep = "".join(f"{'  ' * i}k{i}:\n" for i in range(100)) + "  " * 100 + "v: 1\n"
    add(Case("block nesting 100 deep", _add("x-deep:\n" + "  " + deep.replace("\n", "\n  "))))
    add(Case("undefined alias", _sub("pipeline: mini", "pipeline: *nowhere")))
    add(Case("colon in plain scalar", _sub("pipeline: mini", "pipeline: a: b")))
    add(Case("key without value at top", _add("stray\n")))

    # --- tags -----------------------------------------------------------------------------------
    add(Case("unknown local tag", _sub("pipeline: mini", "pipeline: !secret mini")))
    add(Case("python object tag", _sub("pipeline: mini", "pipeline: !!python/object:os.system x")))
    add(Case("python name tag", _sub("pipeline: mini", "pipeline: !!python/name:os.system ''")))
    add(Case("binary tag", _sub("pipeline: mini", "pipeline: !!binary aGVsbG8=")))
    add(Case("set tag", _sub("gates:\n", "gates: !!set\n")))
    add(Case("omap tag", _sub("schedule: {", "schedule: !!omap {")))
    add(Case("tag on a sequence", _sub("depends_on: [ingest]", "depends_on: !list [ingest]")))

    # --- aliases and merge keys -------------------------------------------------------------------
    add(Case("self-referencing list", _add("x-loop: &x [*x]\n")))
    add(Case("self-referencing mapping", _add("x-loop: &x {a: *x}\n")))
    add(Case("self-merging mapping", _add("x-loop: &x {<<: *x}\n")))
    add(Case("alias bomb 10^9", (_bomb(10, 8) + BASE).encode()))
    add(Case("alias bomb of long strings", (_bomb(4, 6, "x" * 100_000) + BASE).encode()))
    add(
        Case(
            "alias bomb in an include",
            _add("infrastructure: {include: [bomb.yml]}\n"),
            files={"bomb.yml": _bomb(10, 8).encode()},
        )
    )
    add(
        Case(
            "merge of a scalar", _sub("{name: A, table: proc.a,", "{<<: 1, name: A, table: proc.a,")
        )
    )
    add(
        Case(
            "merged key that is unknown",
            b"x-t: &t {date_column: d, colour: red}\n"
            + _sub("{name: A, table: proc.a, date_column: d,", "{<<: *t, name: A, table: proc.a,"),
        )
    )
    add(
        Case(
            "anchors in an unknown top-level key",
            b"defaults: &d {date_column: d}\n" + BASE.encode(),
        )
    )

    # --- unknown keys (typos) ---------------------------------------------------------------------
    typos = [
        ("pipeline: mini", "pipelin: mini"),
        ("warehouse: duckdb", "warehous: duckdb"),
        ("schedule: {table", "schedul: {table"),
        (
            "{table: raw.schedule, date_column: game_date, unit: game_id}",
            "{table: raw.schedule, date_colum: game_date, unit: game_id}",
        ),
        ("phases:\n", "phase:\n"),
        ("  - name: ingest", "  - nam: ingest"),
        ("    tables:\n      - {name: box", "    table:\n      - {name: box"),
        (
            "{name: box, table: raw.box, date_column: game_date,",
            "{name: box, table: raw.box, date_colum: game_date,",
        ),
        ("date_column: d, critical: true}", "date_column: d, critcal: true}"),
        (
            "date_column: game_date, unit: game_id}\n    checks",
            "date_column: game_date, units: game_id}\n    checks",
        ),
        ("    checks:\n      - {kind: rows_exist}", "    check:\n      - {kind: rows_exist}"),
        ("{kind: quorum, min_present: 2}", "{kind: quorum, min_presnt: 2}"),
        ("table: box, excellent: 0.9", "table: box, excellant: 0.9"),
        ("direction: lower", "directon: lower"),
        ("depends_on: [ingest]", "depend_on: [ingest]"),
        ("  - phase: process", "  - phse: process"),
        ("column: system_id, pass: 2}", "column: system_id, passs: 2}"),
        ("numerator: grades", "numerater: grades"),
    ]
    for old, new in typos:
        add(Case(f"typo {new.split(':')[0].strip(' -{')[:20]}", _sub(old, new)))
    add(
        Case(
            "typo in a gate key",
            _sub("  - phase: predict\n", "  - phase: predict\n    block_onn: [FAIL]\n"),
        )
    )
    add(
        Case(
            "typo on_warehouse_error",
            _sub("  - phase: process\n", "  - {phase: process, on_warehouse_eror: open}\n"),
        )
    )
    add(Case("typo in a sink", _add("sinks:\n  - {kind: stderr, min_severty: warning}\n")))
    add(Case("typo in health", _add("health: {complet: 80}\n")))
    add(Case("typo in infrastructure", _add("infrastructure: {includ: [gcp]}\n")))
    add(
        Case(
            "typo in a step",
            _sub("  - name: predict\n", "  - name: predict\n    step: {comand: x}\n"),
        )
    )
    add(Case("unknown check kind", _sub("{kind: rows_exist}", "{kind: rows_exits}")))
    add(Case("unknown sink kind", _add("sinks:\n  - {kind: pager, url: x}\n")))

    # --- wrong types ---------------------------------------------------------------------------------
    types = [
        ("pipeline: mini", "pipeline: [a, b]"),
        ("phases:\n", "phases: {}\nx-old:\n"),
        ("    tables:\n      - {name: box", "    tables: box\n    x-t:\n      - {name: box"),
        ("min_present: 2}", "min_present: three}"),
        ("min_present: 2}", "min_present: 0}"),
        ("critical: true}", "critical: maybe}"),
        ("depends_on: [ingest]", "depends_on: {a: 1}"),
        ("table: box, excellent: 0.9", "table: box, excellent: high"),
        ("direction: lower", "direction: sideways"),
        ("  - phase: process\n", "  - {phase: process, block_on: [WARN]}\n"),
        ("  - phase: process\n", "  - {phase: process, on_warehouse_error: maybe}\n"),
        (
            "schedule: {table: raw.schedule, date_column: game_date, unit: game_id}",
            "schedule: raw.schedule",
        ),
        ("{name: box, table: raw.box,", "{name: box, table: 'raw.box; DROP TABLE x',"),
        ("{name: box, table: raw.box,", "{name: 'b x', table: raw.box,"),
        ("column: system_id,", "column: 'system_id) OR (1=1',"),
        ("pipeline: mini", "pipeline: 2026-01-01"),
        ("pipeline: mini", "pipeline: ~"),
        ("warehouse: duckdb://mini.duckdb", "warehouse: oracle://db"),
        ("warehouse: duckdb://mini.duckdb", "warehouse: 42"),
    ]
    for old, new in types:
        add(Case(f"wrong type {new.strip()[:28]}", _sub(old, new)))
    add(
        Case(
            "step timeout not a number",
            _sub(
                "  - name: predict\n",
                "  - name: predict\n    step: {command: x, timeout_seconds: soon}\n",
            ),
        )
    )
    add(
        Case(
            "freshness negative age",
            _sub(
                "{kind: rows_exist}",
                "{kind: freshness, table: box, column: game_date, max_age_hours: -1}",
            ),
        )
    )
    add(
        Case(
            "step with call and command",
            _sub("  - name: predict\n", "  - name: predict\n    step: {command: x, call: 'a:b'}\n"),
        )
    )
    add(
        Case(
            "thresholds missing",
            _sub("table: box, excellent: 0.9, acceptable: 0.7}", "table: box}"),
        )
    )

    # --- references ---------------------------------------------------------------------------------
    refs = [
        ("depends_on: [ingest]", "depends_on: [ingets]"),
        ("{kind: quorum, min_present: 2}", "{kind: quorum, tables: [A, Z], min_present: 1}"),
        ("  - name: process\n", "  - name: ingest\n"),
        ("{name: B, table: proc.b", "{name: A, table: proc.b"),
        ("  - name: ingest\n", "  - name: ingest\n    depends_on: [predict]\n"),
        ("  - phase: process\n", "  - phase: proces\n"),
        ("  - phase: process\n", "  - {phase: process, upstream: [nothing]}\n"),
        ("numerator: grades", "numerator: gradez"),
    ]
    for old, new in refs:
        add(Case(f"reference {new.strip()[:28]}", _sub(old, new)))
    add(Case("partial_phases unknown", _add("health: {partial_phases: [nope]}\n")))

    # --- item 11, the parts of this change -------------------------------------------------------------
    add(
        Case(
            "events unknown scheme",
            _sub("pipeline: mini\n", "pipeline: mini\nevents: mysql://db/x\n"),
        )
    )
    add(
        Case(
            "events a bare path",
            _sub("pipeline: mini\n", "pipeline: mini\nevents: /var/events.db\n"),
        )
    )
    add(Case("events empty", _sub("pipeline: mini\n", "pipeline: mini\nevents: ''\n")))
    add(
        Case(
            "gate checks empty", _sub("  - phase: process\n", "  - {phase: process, checks: []}\n")
        )
    )
    add(
        Case(
            "gate block_on empty",
            _sub("  - phase: process\n", "  - {phase: process, block_on: []}\n"),
        )
    )
    add(Case("gate on a phase with no upstream", _add("  - phase: ingest\n")))
    add(Case("gate upstream empty, no depends_on", _add("  - {phase: ingest, upstream: []}\n")))
    add(Case("gate no upstream, in gate", _add("  - phase: ingest\n"), args=list(GATE), code=2))
    add(Case("env var not set", _sub("pipeline: mini", "pipeline: ${PHASEGUARD_BENCH_UNSET_VAR}")))

    # --- item 11, the parts of the thresholds change (another branch) ----------------------------------
    others = [
        (
            "table: box, excellent: 0.9, acceptable: 0.7}",
            "table: box, excellent: 0.7, acceptable: 0.9}",
        ),
        ("table: box, excellent: 0.9, acceptable: 0.7}", "table: box, excellent: .nan}"),
        ("table: box, excellent: 0.9, acceptable: 0.7}", "table: box, pass: .inf}"),
        ("{kind: quorum, min_present: 2}", "{kind: quorum, min_present: 4}"),
        (
            "{kind: quorum, tables: [A, B, C], min_present: 2}",
            "{kind: quorum, tables: [A, B], min_present: 2, required: [C]}",
        ),
        ('expr: "AVG(ABS(predicted - actual))"', 'expr: "predicted - actual"'),
        ('expr: "AVG(ABS(predicted - actual))"', 'expr: "AVG(x) FROM y; DROP TABLE t"'),
    ]
    for old, new in others:
        add(Case(f"other {new.strip()[:30]}", _sub(old, new), owner="thresholds"))
    add(
        Case(
            "other health complete < partial",
            _add("health: {complete: 50, partial: 99}\n"),
            owner="thresholds",
        )
    )
    add(
        Case(
            "other health score > 100", _add("health: {scores: {PASS: 150}}\n"), owner="thresholds"
        )
    )

    # --- files ------------------------------------------------------------------------------------------
    add(Case("include /dev/zero", _add("infrastructure: {include: [/dev/zero]}\n")))
    add(Case("include /dev/urandom", _add("infrastructure: {include: [/dev/urandom]}\n")))
    add(
        Case(
            "include a directory", _add("infrastructure: {include: [sub]}\n"), files={"sub/x": b""}
        )
    )
    add(Case("include a missing file", _add("infrastructure: {include: [gone.yml]}\n")))
    add(
        Case(
            "include a latin-1 file",
            _add("infrastructure: {include: [l1.yml]}\n"),
            files={"l1.yml": "schemas: [café]\n".encode("latin-1")},
        )
    )
    add(
        Case(
            "include a 3 MiB file",
            _add("infrastructure: {include: [big.yml]}\n"),
            files={"big.yml": b"# " + b"x" * (3 << 20) + b"\n"},
        )
    )
    add(Case("include an unknown preset", _add("infrastructure: {include: [nosuch]}\n")))
    add(
        Case(
            "include with a typo inside",
            _add("infrastructure: {include: [t.yml]}\n"),
            files={"t.yml": b"schemas: [a]\nprobs: []\n"},
        )
    )
    add(
        Case(
            "include that includes",
            _add("infrastructure: {include: [i.yml]}\n"),
            files={"i.yml": b"include: [gcp]\n"},
        )
    )
    add(
        Case(
            "gcp list var given as text",
            _add("infrastructure: {include: [gcp], vars: {datasets: raw}}\n"),
        )
    )
    add(
        Case(
            "for_each on an undeclared var",
            _add(
                "infrastructure:\n  probes:\n"
                "    - {kind: env, group: x, for_each: nosuch, variable: X}\n"
            ),
        )
    )
    add(
        Case(
            "a list var inside a template",
            _add(
                "infrastructure:\n  vars: {names: [a, b]}\n  probes:\n"
                "    - {kind: command, name: n, argv: [echo, '{names}']}\n"
            ),
        )
    )
    add(Case("config of 3 MiB", BASE.encode() + b"# " + b"x" * (3 << 20) + b"\n", line=False))
    add(Case("config is /dev/zero", b"", args=[*SMOKE, "-c", "/dev/zero"], line=False))
    add(Case("config is a directory", b"", args=[*SMOKE, "-c", "."], line=False))
    add(Case("config missing", b"", args=[*SMOKE, "-c", "nope.yml"], line=False))

    # --- dates and durations on the command line ----------------------------------------------------------
    for text in (
        "20260101",
        "2026-W01-1",
        "2026-001",
        "9999-12-31",
        "0001-01-01",
        "2026-02-30",
        "２０２６-01-01",
        "2026-1-1",
    ):
        add(Case(f"smoke date {text}", BASE.encode(), args=["smoke", text], line=False))
    for text in ("9999-12-31", "20260101"):
        add(
            Case(
                f"gate date {text}",
                BASE.encode(),
                args=["gate", "predict", "--date", text],
                code=2,
                line=False,
            )
        )
    for text in ("9999999d", "99999999999999999999999999s", "0h", "soon"):
        add(
            Case(
                f"override expires {text[:12]}",
                BASE.encode(),
                line=False,
                args=[
                    "override",
                    "predict",
                    "--date",
                    "2026-01-01",
                    "--reason",
                    "r",
                    "--by",
                    "me",
                    "--expires",
                    text,
                ],
            )
        )
    add(
        Case(
            "events since 10^20 days",
            BASE.encode(),
            args=["events", "--since", "99999999999999999999d"],
            line=False,
        )
    )
    add(
        Case(
            "verify reversed range",
            BASE.encode(),
            args=["verify", "2026-02-01", "2026-01-01"],
            line=False,
        )
    )
    add(
        Case(
            "verify 20 years",
            BASE.encode(),
            args=["verify", "2000-01-01", "2020-01-01"],
            line=False,
        )
    )

    # --- valid controls: must be accepted -----------------------------------------------------------------
    add(Case("valid: the base config", BASE.encode(), valid=True))
    add(Case("valid: a UTF-8 byte-order mark", b"\xef\xbb\xbf" + BASE.encode(), valid=True))
    add(
        Case(
            "valid: merge keys from x- anchors",
            b"x-t: &t {date_column: d}\n"
            + _sub("{name: A, table: proc.a, date_column: d,", "{<<: *t, name: A, table: proc.a,"),
            valid=True,
        )
    )
    add(
        Case(
            "valid: a merge list, own keys win",
            b"x-a: &a {date_column: zz}\nx-b: &b {date_column: d, critical: false}\n"
            + _sub(
                "{name: A, table: proc.a, date_column: d, critical: true}",
                "{<<: [*b, *a], name: A, table: proc.a, critical: true}",
            ),
            valid=True,
        )
    )
    add(
        Case(
            "valid: an anchor reused",
            _sub(
                "{name: A, table: proc.a, date_column: d, critical: true}",
                "&a {name: A, table: proc.a, date_column: d, critical: true}",
            ),
            valid=True,
        )
    )
    return cases


_LINE = re.compile(r"\S+:\d+: ")


def check(case: Case, code: int | None, stderr: str) -> str:
    """Why the CLI's answer to ``case`` is wrong; empty when it is right."""
    if code is None:
        return "hang (timeout)"
    if "Traceback" in stderr:
        return "traceback"
    lines = [line for line in stderr.splitlines() if line.strip()]
    if case.valid:
        return "" if code in (0, 1, 2) and not lines else f"refused (exit {code}): {stderr.strip()}"
    if code in (0, 1) or (code == 2 and case.code != 2):
        return f"accepted (exit {code})"
    if code != case.code:
        return f"exit {code}, expected {case.code}: {stderr.strip()[:200]}"
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr"
    if case.line and not _LINE.search(lines[0]):
        return f"no FILE:LINE: {lines[0][:200]}"
    return ""


def _seed(directory: Path) -> None:
    """The base config's tables, one healthy date (2026-01-01), through the warehouse door."""
    from phaseguard.warehouse import connect

    with connect(f"duckdb://{directory / 'mini.duckdb'}", base_dir=directory) as wh:
        wh.create_table("raw.schedule", {"game_id": "VARCHAR", "game_date": "DATE"})
        wh.create_table("raw.box", {"game_id": "VARCHAR", "game_date": "DATE"})
        for table in ("proc.a", "proc.b", "proc.c"):
            wh.create_table(table, {"d": "DATE"})
        wh.create_table("out.preds", {"game_date": "DATE", "system_id": "VARCHAR"})
        wh.create_table(
            "out.grades", {"game_date": "DATE", "predicted": "DOUBLE", "actual": "DOUBLE"}
        )
        import datetime as dt

        day = dt.date(2026, 1, 1)
        wh.insert_rows("raw.schedule", ["game_id", "game_date"], [("g1", day)])
        wh.insert_rows("raw.box", ["game_id", "game_date"], [("g1", day)])
        for table in ("proc.a", "proc.b", "proc.c"):
            wh.insert_rows(table, ["d"], [(day,)])
        wh.insert_rows("out.preds", ["game_date", "system_id"], [(day, "s1"), (day, "s2")])
        wh.insert_rows("out.grades", ["game_date", "predicted", "actual"], [(day, 1.0, 2.0)])


def _limit() -> None:  # pragma: no cover - runs in the child process
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_one(case: Case, directory: Path, timeout: float) -> Result:
    """Write ``case`` into ``directory`` (seeded already) and run it through the CLI."""
    (directory / "phaseguard.yml").write_bytes(case.config)
    for name, data in case.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    env = {**os.environ, "COLUMNS": "200", "PHASEGUARD_CACHE_DIR": str(directory / ".cache")}
    env.pop("PHASEGUARD_WAREHOUSE", None)
    env.pop("PHASEGUARD_CONFIG", None)
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "phaseguard.cli", *case.args],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            preexec_fn=_limit,
            check=False,
        )
        code, stderr = done.returncode, done.stderr
    except subprocess.TimeoutExpired:
        code, stderr = None, ""
    seconds = time.monotonic() - started
    return Result(case.name, case.owner, code, stderr, seconds, check(case, code, stderr))


def run_all(cases: list[Case], root: Path, *, timeout: float = 20, jobs: int = 2) -> list[Result]:
    """Run ``cases`` (each in a directory of its own under ``root``), ``jobs`` at a time."""
    seeded = root / "seed"
    seeded.mkdir(parents=True, exist_ok=True)
    _seed(seeded)
    data = (seeded / "mini.duckdb").read_bytes()

    def one(item: tuple[int, Case]) -> Result:
        index, case = item
        directory = root / f"case{index:03d}"
        directory.mkdir()
        (directory / "mini.duckdb").write_bytes(data)
        return run_one(case, directory, timeout)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, enumerate(cases)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--only", help="only the cases of this owner (inputs, thresholds)")
    args = parser.parse_args()
    cases = [c for c in corpus() if args.only in (None, c.owner)]
    with tempfile.TemporaryDirectory(prefix="phaseguard-failsafe-") as tmp:
        started = time.monotonic()
        results = run_all(cases, Path(tmp), timeout=args.timeout, jobs=args.jobs)
        wall = time.monotonic() - started
    by_case = dict(zip((c.name for c in cases), cases, strict=True))
    malformed = [r for r in results if not by_case[r.name].valid]
    controls = [r for r in results if by_case[r.name].valid]
    with_line = [r for r in malformed if r.ok and by_case[r.name].line]
    tracebacks = sum(r.problem == "traceback" for r in results)
    hangs = sum(r.code is None for r in results)
    accepted = [r for r in malformed if r.problem.startswith("accepted")]
    print(
        f"{len(malformed)} malformed inputs ({sum(c.line for c in cases if not c.valid)} configs"
        f" with a line to name) through `python -m phaseguard.cli`, {args.jobs} at a time:"
    )
    print(f"  refused on one line with the documented exit code: {sum(r.ok for r in malformed)}")
    print(f"  of those naming FILE:LINE:                          {len(with_line)}")
    print(f"  tracebacks:                                         {tracebacks}")
    print(f"  hangs (> {args.timeout:g} s):                                  {hangs}")
    print(f"  accepted that should be refused:                    {len(accepted)}")
    print(
        f"  valid controls accepted:                            {sum(r.ok for r in controls)}/{len(controls)}"
    )
    slowest = max(results, key=lambda r: r.seconds)
    print(f"  slowest case: {slowest.seconds:.2f} s ({slowest.name}); wall {wall:.1f} s")
    for owner in sorted({r.owner for r in results}):
        mine = [r for r in results if r.owner == owner]
        print(f"  owner {owner}: {sum(r.ok for r in mine)}/{len(mine)} pass")
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"FAIL [{r.owner}] {r.name}: {r.problem}")
    return 1 if any(r.owner == "inputs" for r in failed) else 0


if __name__ == "__main__":
    sys.exit(main())
