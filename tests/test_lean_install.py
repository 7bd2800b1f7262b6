"""#15 item 5, a lean install: ``pip install phaseguard`` carries what every user needs.

The wheel is built from this checkout as a user's ``pip install`` would build it; its
requirements (outside an extra) name no NBA, PostgreSQL, cloud or orchestrator package, and it
holds no NBA code: the worked example is a project of its own (``examples/nba_props``), which
``phaseguard demo`` asks for by name. A fresh virtualenv with that wheel installed (pip
resolving the core dependencies for real) imports phaseguard, smoke-tests a DuckDB warehouse
and answers a postgresql:// URL or ``demo`` with one line naming what to install.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from phaseguard.cli import main
from phaseguard.errors import ConfigError
from phaseguard.store import open_store
from phaseguard.warehouse import connect

ROOT = Path(__file__).parents[1]
# Packages only an extra (or the worked example's own project) may bring.
EXTRA_ONLY = (
    "balldontlie",
    "psycopg",
    "google-",
    "pyspark",
    "apprise",
    "functions-framework",
    "apache-airflow",
    "dagster",
)
DAY = dt.date(2026, 1, 1)
CONFIG = """\
pipeline: lean
warehouse: duckdb://lean.duckdb
schedule: {table: raw.schedule, date_column: game_date, unit: game_id}
phases:
  - name: ingest
    tables:
      - {name: box, table: raw.box, date_column: game_date, unit: game_id}
    checks:
      - {kind: rows_exist}
      - {kind: unit_coverage, table: box, excellent: 0.9, acceptable: 0.7}
"""
# Run by the fresh venv's Python, so the file is written by the DuckDB that venv resolved.
SEED = """\
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE SCHEMA raw")
con.execute("CREATE TABLE raw.schedule (game_id VARCHAR, game_date DATE)")
con.execute("INSERT INTO raw.schedule VALUES ('g1', DATE '2026-01-01'), ('g2', DATE '2026-01-01')")
con.execute("CREATE TABLE raw.box AS SELECT * FROM raw.schedule")
"""


def extra_only(requirement: str) -> bool:
    """The requirement names a package that only an extra may bring."""
    name = requirement.split(";")[0].strip().lower().replace("_", "-")
    return name.startswith(EXTRA_ONLY)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """phaseguard's wheel, built from this checkout (pip fetches the build backend)."""
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return next(out.glob("phaseguard-*.whl"))


def test_wheel_requires_no_extra_only_package_and_holds_no_nba_code(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        sources = {n: archive.read(n).decode() for n in names if n.endswith(".py")}
    requires = metadata.get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    assert core, requires
    assert [r for r in core if extra_only(r)] == []
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"postgres", "bigquery", "spark", "apprise", "cloudfunctions", "airflow"} <= extras
    assert any(r.startswith("psycopg") and "extra == 'postgres'" in r for r in requires)
    assert not any(r.startswith("balldontlie") for r in requires)  # the example's own project
    assert [n for n in names if "nba" in n.lower()] == []
    importers = [
        name
        for name, text in sources.items()
        if any(
            line.lstrip().startswith(("import balldontlie", "from balldontlie", "import nba"))
            for line in text.splitlines()
        )
    ]
    assert importers == []


def test_demo_without_the_example_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in sys.modules if n == "nba_props" or n.startswith("nba_props.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "nba_props", None)  # as if never installed
    monkeypatch.setitem(sys.modules, "phaseguard.nba", None)  # the old place, inside the library
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--dir", str(tmp_path / "demo"), "--verify-only"])
    assert exit_info.value.code == 3  # a usage error (README's exit codes)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "pip install -e examples/nba_props" in err
    assert not (tmp_path / "demo").exists()


def test_postgres_without_psycopg_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    url = "postgresql://phaseguard@127.0.0.1:9/db"
    with pytest.raises(ConfigError, match=r"pip install 'phaseguard\[postgres\]'") as warehouse:
        connect(url)
    assert warehouse.value.key == "warehouse"
    with pytest.raises(ConfigError, match=r"pip install 'phaseguard\[postgres\]'") as store:
        open_store(url, default_path=tmp_path / "events.sqlite")
    assert store.value.key == "events"


@pytest.mark.slow
def test_fresh_venv_installs_the_core_alone_and_runs(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, bin_dir = env_dir / "bin" / "python", env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PHASEGUARD_CACHE_DIR"] = str(tmp_path / "cache")

    def run(*args: str | Path, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=600,
            check=False,
        )

    installed = run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel)
    assert installed.returncode == 0, installed.stderr[-3000:]
    listed = run(python, "-m", "pip", "list", "--format=json")
    packages = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert "phaseguard" in packages
    assert sorted(p for p in packages if p.startswith(EXTRA_ONLY)) == []
    # The installed distribution's own requirements, as importlib.metadata reads them.
    requires = run(
        python,
        "-c",
        "import importlib.metadata as m, json; print(json.dumps(m.requires('phaseguard')))",
    )
    core = [r for r in json.loads(requires.stdout) if "extra ==" not in r]
    assert core
    assert [r for r in core if extra_only(r)] == []

    imported = run(python, "-c", "import phaseguard, sys; print(phaseguard.__file__)")
    assert imported.returncode == 0, imported.stderr
    assert str(env_dir) in imported.stdout  # the wheel, not this checkout
    helped = run(bin_dir / "phaseguard", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "smoke" in helped.stdout

    (tmp_path / "phaseguard.yml").write_text(CONFIG)
    seeded = run(python, "-c", SEED, tmp_path / "lean.duckdb")
    assert seeded.returncode == 0, seeded.stderr
    smoked = run(bin_dir / "phaseguard", "smoke", DAY.isoformat(), "--format", "json")
    assert smoked.returncode == 0, smoked.stdout + smoked.stderr
    assert "ingest" in smoked.stdout

    postgres = run(
        bin_dir / "phaseguard", "smoke", DAY.isoformat(), "-w", "postgresql://u@127.0.0.1:9/db"
    )
    assert postgres.returncode == 3, postgres.stdout + postgres.stderr
    assert len(postgres.stderr.strip().splitlines()) == 1, postgres.stderr
    assert "pip install 'phaseguard[postgres]'" in postgres.stderr

    demo = run(bin_dir / "phaseguard", "demo", "--dir", tmp_path / "demo")
    assert demo.returncode == 3, demo.stdout + demo.stderr
    assert len(demo.stderr.strip().splitlines()) == 1, demo.stderr
    assert "pip install -e examples/nba_props" in demo.stderr
