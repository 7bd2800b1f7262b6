"""Selection: tags on checks and phases, --phase/--check/--tag on smoke, verify and report.

On the mini pipeline in a real DuckDB file and a real PostgreSQL database: a selection
narrows the verdicts and the one statement (it reads only the selected checks' tables), an
unknown name is one line with the name it probably meant, and a selection of nothing is an
error, never a green run of nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import D1, D2, D4, MINI_CONFIG
from conftest import run_cli as run
from phaseguard import config as config_module
from phaseguard import load
from phaseguard.assess import assess, phase_checks
from phaseguard.checks import check_name
from phaseguard.errors import ConfigError, UsageError
from phaseguard.plan import build_plan
from phaseguard.selection import Selection
from phaseguard.verdicts import Level, RangeVerdict


def _tagged(text: str) -> str:
    """The mini config with tags: ingest [raw], predict [model]; coverage and MAE nightly."""
    swaps = (
        ("  - name: ingest\n", "  - name: ingest\n    tags: [raw]\n"),
        ("  - name: predict\n", "  - name: predict\n    tags: [model]\n"),
        ("excellent: 0.9, acceptable: 0.7}", "excellent: 0.9, acceptable: 0.7, tags: [nightly]}"),
        ("excellent: 6, acceptable: 8}", "excellent: 6, acceptable: 8, tags: [nightly, mae]}"),
    )
    for old, new in swaps:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


TAGGED = _tagged(MINI_CONFIG)


@pytest.fixture
def tagged(mini: tuple[Path, str]) -> tuple[Path, str]:
    config, url = mini
    config.write_text(TAGGED)
    return config, url


@pytest.fixture(autouse=True)
def _no_env_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def _checks(result: RangeVerdict) -> dict[str, list[str]]:
    """The checks judged per phase, on the first scheduled date."""
    day = next(d for d in result.dates if d.scheduled)
    return {p.phase: [v.check for v in p.verdicts] for p in day.phases}


# --- tags in the config ------------------------------------------------------------------


def test_tags_on_phases_and_on_every_kind_of_check() -> None:
    config = config_module.parse(TAGGED, "p.yml")
    assert config.phase("ingest").tags == ("raw",)
    assert config.phase("process").tags == ()
    coverage, mae = config.phase("ingest").checks[1], config.phase("predict").checks[2]
    assert coverage.tags == ("nightly",)
    assert mae.tags == ("nightly", "mae")
    # Every kind takes tags, whatever it measures.
    kinds = "\n".join(
        f"      - {{kind: {kind}, tags: [k]{extra}}}"
        for kind, extra in (
            ("rows_exist", ""),
            ("quorum", ", min_present: 1"),
            ("freshness", ", table: t, column: c, max_age_hours: 1"),
            ("rows_per_unit", ", table: t, pass: 1"),
        )
    )
    text = (
        "pipeline: p\nschedule: {table: s.s, date_column: d, unit: u}\nphases:\n"
        "  - name: a\n    tables:\n      - {name: t, table: s.t, date_column: d}\n"
        f"    checks:\n{kinds}\n"
    )
    assert [c.tags for c in config_module.parse(text).phases[0].checks] == [("k",)] * 4


@pytest.mark.parametrize(
    ("old", "new", "where", "says"),
    [
        ("tags: [raw]", 'tags: [raw, "two words"]', "p.yml:6: phases[0].tags[1]", "identifier"),
        ("tags: [raw]", "tags: raw", "p.yml:6: phases[0].tags", "a list of names"),
        ("tags: [nightly]", "tags: [nightly, nightly]", "phases[0].checks[1].tags[1]", "twice"),
        ("tags: [nightly, mae]", "tags: [nightly, 3]", "phases[2].checks[2].tags[1]", "a name"),
    ],
)
def test_a_bad_tag_names_file_line_and_key(old: str, new: str, where: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_module.parse(TAGGED.replace(old, new, 1), "p.yml")
    assert where in info.value.message
    assert says in info.value.message


def test_tags_on_a_gates_checks_are_refused() -> None:
    """A gate always runs its full criteria: a tag there would quietly select nothing."""
    text = TAGGED.replace(
        "{kind: quorum, tables: [A, B, C], min_present: 2}",
        "{kind: quorum, tables: [A, B, C], min_present: 2, tags: [nightly]}",
    )
    with pytest.raises(ConfigError) as info:
        config_module.parse(text, "p.yml")
    assert "gates[1].checks[0].tags: a gate always runs all its checks" in info.value.message


# --- selection against real warehouses ---------------------------------------------------


def test_a_phase_selection_reads_only_its_tables(mini: tuple[Path, str]) -> None:
    config, url = mini
    with load(config, warehouse=url) as guard:
        warehouse = guard.warehouse
        before = warehouse.queries_sent
        result = assess(guard.config, warehouse, D1, D4, selection=Selection(phases=("process",)))
        assert warehouse.queries_sent - before == 1
        sql = warehouse.last_sql
        everything = guard.verify(D1, D4)
    assert _checks(result) == {"process": ["quorum"]}
    assert len(_checks(everything)) == 3
    for table in ('"proc"."a"', '"proc"."b"', '"proc"."c"', '"raw"."schedule"'):
        assert table in sql
    for table in ('"raw"."box"', '"out"."preds"', '"out"."grades"'):
        assert table not in sql
    by_date = {d.date: d for d in result.dates}
    assert by_date[D2].phase("process").level is Level.ACCEPTABLE
    assert by_date[D4].phase("process").level is Level.FAIL


def test_the_python_api_takes_a_selection(tagged: tuple[Path, str]) -> None:
    config, url = tagged
    with load(config, warehouse=url) as guard:
        verified = guard.verify(D1, D4, selection=Selection(tags=("mae",)))
        smoked = guard.smoke(D1, D4, selection=Selection(phases=("process",)))
    assert {p.phase for d in verified.dates for p in d.phases} == {"predict"}
    assert {v.check for d in verified.dates for p in d.phases for v in p.verdicts} == {
        "aggregate(grades)"
    }
    assert _checks(smoked) == {"process": ["quorum"]}


def test_a_selection_plans_only_its_checks(tagged: tuple[Path, str]) -> None:
    config, _ = tagged
    loaded, _ = config_module.load(config)
    chosen = phase_checks(loaded, "verify", selection=Selection(tags=("mae",)))
    plan = build_plan(loaded, [(c, g.tables) for g in chosen for c in g.checks], D1, D4)
    probes = {p.key for p in plan.probes} - {"__schedule__", "__schedule_horizon__"}
    assert probes == {"grades"}
    full = phase_checks(loaded, "verify")
    plan = build_plan(loaded, [(c, g.tables) for g in full for c in g.checks], D1, D4)
    assert len(plan.probes) > 6


def test_a_check_has_its_own_tags_and_its_phases(tagged: tuple[Path, str]) -> None:
    config, url = tagged
    with load(config, warehouse=url) as guard:
        nightly = assess(
            guard.config, guard.warehouse, D1, D4, selection=Selection(tags=("nightly",))
        )
        raw = assess(guard.config, guard.warehouse, D1, D4, selection=Selection(tags=("raw",)))
        both = assess(
            guard.config, guard.warehouse, D1, D4, selection=Selection(tags=("raw", "model"))
        )
    assert _checks(nightly) == {"ingest": ["unit_coverage(box)"], "predict": ["aggregate(grades)"]}
    assert _checks(raw) == {"ingest": ["rows_exist", "unit_coverage(box)"]}  # the phase's tag
    assert list(_checks(both)) == ["ingest", "predict"]  # any of the values of one flag
    assert len(_checks(both)["predict"]) == 4


def test_flags_of_different_kinds_must_all_match(tagged: tuple[Path, str]) -> None:
    config, url = tagged
    with load(config, warehouse=url) as guard:
        narrowed = assess(
            guard.config,
            guard.warehouse,
            D1,
            D4,
            selection=Selection(phases=("predict",), tags=("nightly",)),
        )
        named = assess(
            guard.config,
            guard.warehouse,
            D1,
            D4,
            selection=Selection(checks=("ratio(grades/preds)", "quorum")),
        )
    assert _checks(narrowed) == {"predict": ["aggregate(grades)"]}
    assert _checks(named) == {"process": ["quorum"], "predict": ["ratio(grades/preds)"]}
    ratio = {v.check: v for v in {d.date: d for d in named.dates}[D4].phase("predict").verdicts}
    assert ratio["ratio(grades/preds)"].level is Level.FAIL


def test_smoke_selects_among_what_smoke_runs(mini: tuple[Path, str]) -> None:
    config, url = mini
    with load(config, warehouse=url) as guard:
        result = assess(
            guard.config, guard.warehouse, D1, D4, mode="smoke", selection=Selection(("predict",))
        )
        with pytest.raises(UsageError, match="smoke runs none of the checks"):
            assess(
                guard.config,
                guard.warehouse,
                D1,
                D4,
                mode="smoke",
                selection=Selection(checks=("aggregate(grades)",)),
            )
    assert _checks(result) == {"predict": ["rows_exist"]}  # smoke's own, over its tables


def test_selection_names_are_the_names_criteria_shows(mini: tuple[Path, str]) -> None:
    config, _ = mini
    loaded, _ = config_module.load(config)
    names = [check_name(c) for g in phase_checks(loaded, "verify") for c in g.checks]
    for name in names:
        assert phase_checks(loaded, "verify", selection=Selection(checks=(name,)))


# --- the command line --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--phase", "predct"], "unknown phase 'predct' (did you mean 'predict'?)"),
        (["--check", "ratio(grades/pred)"], "did you mean 'ratio(grades/preds)'?"),
        (["--tag", "nightlly"], "unknown tag 'nightlly' (did you mean 'nightly'?)"),
        (["--tag", "zzz"], "unknown tag 'zzz' (tags: mae, model, nightly, raw)"),
        (["--phase", "process", "--tag", "model"], "selects no check: no check matches all"),
    ],
)
@pytest.mark.parametrize("command", ["smoke", "verify", "report"])
def test_an_unknown_name_or_an_empty_selection_is_one_line_and_exit_3(
    tagged: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    command: str,
    flags: list[str],
    says: str,
) -> None:
    config, url = tagged
    args = [command, "2026-01-01", "2026-01-04", "-c", str(config), "-w", url, *flags]
    if command == "report":
        args += ["-o", str(config.parent / "r.html")]
    code, out, err = run(args, capsys)
    assert code == 3  # a usage error (README's table), never a verdict
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""
    assert not (config.parent / "r.html").exists()


def test_verify_of_a_selection_is_judged_on_it_alone(
    mini: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = mini
    base = ["verify", "2026-01-01", "2026-01-04", "-c", str(config), "-w", url]
    code, out, _ = run([*base, "--phase", "ingest", "--check", "rows_exist"], capsys)
    assert code == 0  # every date has box rows: the coverage FAIL on D2 is not selected
    assert "selected: --phase ingest --check rows_exist (gates are not affected)" in out
    assert "process" not in out
    assert "predict" not in out
    code, out, _ = run([*base, "--phase", "predict"], capsys)
    assert code == 2
    assert "ratio(grades/preds)" in out
    assert "ingest" not in out


def test_dry_run_shows_the_narrowed_statement(
    mini: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = mini
    base = ["verify", "2026-01-01", "-c", str(config), "-w", url, "--dry-run"]
    code, out, _ = run([*base, "--check", "aggregate(grades)"], capsys)
    assert code == 0
    assert '"out"."grades"' in out
    assert '"proc"."a"' not in out
    assert '"raw"."box"' not in out


def test_report_of_a_selection(mini: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    config, url = mini
    output = config.parent / "report.html"
    args = ["report", "2026-01-01", "2026-01-04", "-c", str(config), "-w", url, "-o", str(output)]
    code, _, _ = run([*args, "--phase", "predict"], capsys)
    assert code == 0
    html = output.read_text()
    assert "predict" in html
    assert "aggregate(grades)" in html
    assert "ingest" not in html
    assert "quorum" not in html
    run(args, capsys)
    assert "ingest" in output.read_text()


def test_help_says_gates_are_not_affected(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("smoke", "verify", "report"):
        code, out, _ = run([command, "--help"], capsys)
        assert code == 0
        text = " ".join(out.replace("│", " ").split())
        assert "--tag" in text
        assert "--check" in text
        assert "--phase" in text
        assert "Gates are not affected: a gate always runs its full criteria" in text
