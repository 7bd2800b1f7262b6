"""Config parsing: good files load, broken ones name file, line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import MINI_CONFIG
from phaseguard.config import load, parse
from phaseguard.errors import ConfigError

EXAMPLE = Path(__file__).parents[1] / "examples" / "nba_props" / "phaseguard.yml"


def test_example_config_loads_with_the_seeds_thresholds() -> None:
    config, _ = load(EXAMPLE)
    assert [p.name for p in config.phases] == ["phase2", "phase3", "phase4", "phase5", "phase6"]
    quorum = config.phase("phase4").checks[0]
    assert quorum.kind == "quorum"
    assert quorum.min_present == 3
    assert quorum.required == ["PDC", "MLFS"]
    assert {t.name for t in config.phase("phase4").tables} == {"PDC", "PSZA", "PCF", "TDZA", "MLFS"}
    assert config.table("PDC").date_column == "cache_date"
    assert [g.phase for g in config.gates] == ["phase3", "phase4", "phase5"]


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text, "p.yml")
    return info.value


def test_yaml_syntax_error_names_the_line() -> None:
    error = _error("pipeline: x\nschedule: [unclosed\n")
    assert error.file == "p.yml"
    assert error.line == 2 or error.line == 3
    assert "YAML syntax error" in str(error)


def test_unknown_key_names_line_and_key() -> None:
    text = MINI_CONFIG.replace(
        "    depends_on: [ingest]\n", "    depends_on: [ingest]\n    colour: red\n"
    )
    error = _error(text)
    assert error.key == "phases[1].colour"
    assert error.line == MINI_CONFIG.splitlines().index("    depends_on: [ingest]") + 2
    assert "unknown key" in str(error)


def test_wrong_type_in_a_check_names_the_key_without_the_union_tag() -> None:
    text = MINI_CONFIG.replace(
        "{kind: quorum, min_present: 2}", "{kind: quorum, min_present: lots}"
    )
    error = _error(text)
    assert error.key == "phases[1].checks[0].min_present"
    assert "integer" in str(error)


def test_unknown_check_kind() -> None:
    error = _error(
        MINI_CONFIG.replace("kind: quorum, min_present: 2", "kind: quorom, min_present: 2")
    )
    assert "phases[1].checks[0]" in str(error)
    assert "quorom" in str(error) or "tag" in str(error)


def test_unknown_phase_in_a_dependency() -> None:
    error = _error(MINI_CONFIG.replace("depends_on: [process]", "depends_on: [proces]"))
    assert "unknown phase 'proces'" in str(error)
    assert error.key == "phases[2].depends_on[0]"
    assert error.line is not None


def test_dependency_cycle() -> None:
    text = MINI_CONFIG.replace(
        "  - name: ingest\n", "  - name: ingest\n    depends_on: [predict]\n"
    )
    error = _error(text)
    assert "dependency cycle" in str(error)
    assert "ingest" in str(error)


@pytest.mark.parametrize("name", ['raw."box"', "raw.box; DROP TABLE x", "raw.box'--"])
def test_table_names_with_quotes_or_semicolons_are_refused(name: str) -> None:
    error = _error(MINI_CONFIG.replace("table: raw.box,", f"table: {json.dumps(name)},"))
    assert "not a table name" in str(error)
    assert error.key == "phases[0].tables[0].table"


def test_unknown_table_in_a_check() -> None:
    error = _error(MINI_CONFIG.replace("numerator: grades", "numerator: gradez"))
    assert "unknown table 'gradez'" in str(error)


def test_env_interpolation_with_default_and_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_WH", "duckdb://x.duckdb")
    config = parse(MINI_CONFIG.replace("duckdb://mini.duckdb", "${PG_WH}"))
    assert config.warehouse == "duckdb://x.duckdb"
    config = parse(
        MINI_CONFIG.replace("duckdb://mini.duckdb", "${NOPE_NOT_SET:-duckdb://d.duckdb}")
    )
    assert config.warehouse == "duckdb://d.duckdb"
    error = _error(MINI_CONFIG.replace("duckdb://mini.duckdb", "${NOPE_NOT_SET}"))
    assert "NOPE_NOT_SET is not set" in str(error)
    assert error.key == "warehouse"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.yml")


def test_config_is_frozen() -> None:
    config = parse(MINI_CONFIG)
    with pytest.raises(Exception, match="frozen"):
        config.pipeline = "other"  # type: ignore[misc]
