"""A lean start-up: what a command loads before its one query, and the config cache behind it.

Timings live in bench/startup_bench.py; these tests hold what makes them: which modules a
new process loads, that no config model builds a validator when the config is cached,
that the cache is read again whenever what it was built from changes, and that the app
typer builds for the one command run prints what the whole app prints.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MINI_CONFIG, seed_mini
from phaseguard import config as config_module
from phaseguard import configcache
from phaseguard.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"
# The module: the package exports its typer app under the same name.
app_module = importlib.import_module("phaseguard.cli.app")

# Run as ``python -m phaseguard.cli``; at exit, print what start-up should not have
# loaded and the config models whose validators were built.
_REPORT_AT_EXIT = """
import atexit, runpy, sys
def report():
    import pydantic
    loaded = sorted({"yaml", "sqlglot"} & set(sys.modules))
    todo, models = [pydantic.BaseModel], []
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("phaseguard.") and sub.__pydantic_complete__:
                models.append(sub.__name__)
    print("loaded:", loaded, "built:", sorted(set(models)), file=sys.stderr)
atexit.register(report)
runpy.run_module("phaseguard.cli", run_name="__main__", alter_sys=True)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The mini config and its DuckDB warehouse, the cwd; caches of its own."""
    (tmp_path / "phaseguard.yml").write_text(MINI_CONFIG)
    seed_mini(f"duckdb://{tmp_path / 'mini.duckdb'}", tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in ("PHASEGUARD_WAREHOUSE", "PHASEGUARD_CONFIG", "PHASEGUARD_NO_CONFIG_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PHASEGUARD_NO_SQL_CACHE", raising=False)
    monkeypatch.setenv("PHASEGUARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), *sys.path]), **extra}


def test_import_phaseguard_loads_nothing_heavy_until_asked() -> None:
    """``import phaseguard`` loads no config model, warehouse, YAML or terminal library;
    every public name is still there on first use."""
    script = (
        "import sys, phaseguard\n"
        "heavy = {'pydantic', 'yaml', 'duckdb', 'sqlglot', 'typer', 'rich'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "print(callable(phaseguard.retry), phaseguard.load.__module__, phaseguard.Guard.__name__)\n"
        "print(sorted(set(phaseguard.__all__) - set(dir(phaseguard))))\n"
        "print([n for n in phaseguard.__all__ if getattr(phaseguard, n) is None])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_env(), check=True
    )
    assert done.stdout.splitlines() == ["[]", "True phaseguard.guard Guard", "[]", "[]"]


def test_a_cached_smoke_builds_no_validator_and_loads_no_yaml_or_sqlglot(project: Path) -> None:
    """The first run parses the config (YAML, validators) and renders the SQL; a new
    process after it takes both from the caches: no YAML, no sqlglot, not one config
    model's validator built, and the same output."""
    cmd = [sys.executable, "-c", _REPORT_AT_EXIT, "smoke", "2026-01-01", "2026-01-04"]
    env = _env(PHASEGUARD_CACHE_DIR=str(project / "cache"))
    runs = [subprocess.run(cmd, capture_output=True, text=True, env=env) for _ in range(2)]
    assert [r.returncode for r in runs] == [2, 2]
    assert runs[0].stdout == runs[1].stdout
    assert "3 scheduled: 1 pass, 1 with warnings, 1 fail" in runs[1].stdout
    first, second = (r.stderr.splitlines()[-1] for r in runs)
    assert first.startswith("loaded: ['sqlglot', 'yaml'] built: [")
    assert "'Config'" in first  # parsing built the validators
    assert second == "loaded: [] built: []"


@pytest.mark.parametrize(
    "args",
    [
        ["smoke", "2026-01-01", "2026-01-04"],
        ["verify", "2026-01-01", "2026-01-04", "--format=json", "--phase", "process"],
        ["smoke", "2026-13-01"],
        ["smoke", "2026-01-01", "--bogus"],
        ["smoke", "2026-01-01", "-c", "gone.yml"],
        ["verify", "2026-01-01", "--check", "nope"],
        ["criteria"],
        ["smok", "2026-01-01"],
        ["smoke", "--help"],
        ["--version"],
    ],
)
def test_a_command_run_alone_prints_what_the_whole_app_prints(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    """typer builds only the command being run; its output and exit code are the same."""
    seen = []
    for whole in (False, True):
        if whole:
            monkeypatch.setattr(app_module, "_command_app", lambda args: app_module.app)
        with pytest.raises(SystemExit) as info:
            main(args)
        seen.append((info.value.code, *capsys.readouterr()))
    assert seen[0] == seen[1]


def test_only_the_command_run_is_built() -> None:
    def names(args: list[str]) -> list[str]:
        return [i.callback.__name__ for i in app_module._command_app(args).registered_commands]

    assert names(["smoke", "2026-01-01", "-c", "x.yml"]) == ["smoke"]
    assert names(["deploy-check"]) == ["deploy_check"]
    everything = names([])
    assert len(everything) > 10
    for args in (["smoke", "-h"], ["--help"], ["smok"], ["--version", "smoke"]):
        assert names(args) == everything


class _Parses:
    """Counts the parses ``configcache.load`` falls back to."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = config_module.load

        def counted(path: str | Path) -> tuple[config_module.Config, Path]:
            self.count += 1
            return real(path)

        monkeypatch.setattr(config_module, "load", counted)


def test_an_edited_config_is_read_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parses = _Parses(monkeypatch)
    file = project / "phaseguard.yml"
    assert configcache.load(file)[0].pipeline == "mini"
    assert configcache.load(file)[0].pipeline == "mini"
    assert parses.count == 1  # the second came from the cache
    file.write_text(MINI_CONFIG.replace("pipeline: mini", "pipeline: edited"))
    assert configcache.load(file)[0].pipeline == "edited"
    assert parses.count == 2
    file.write_text(MINI_CONFIG)  # back as it was: its entry is still good
    assert configcache.load(file)[0].pipeline == "mini"
    assert parses.count == 2


def test_an_edited_include_is_read_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parses = _Parses(monkeypatch)
    file = project / "phaseguard.yml"
    file.write_text(MINI_CONFIG + "infrastructure: {include: [extra.yml]}\n")
    include = project / "extra.yml"
    include.write_text("schemas: [raw]\n")
    assert configcache.load(file)[0].infrastructure.schemas == ["raw"]
    assert configcache.load(file)[0].infrastructure.schemas == ["raw"]
    assert parses.count == 1
    include.write_text("schemas: [raw, out]\n")
    assert configcache.load(file)[0].infrastructure.schemas == ["raw", "out"]
    assert parses.count == 2


def test_a_variable_that_is_set_is_never_written_to_the_cache(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config reading a set ``${VAR}`` is parsed every time and leaves no trace on disk
    (its value may be a secret); set after it was cached, the variable is seen at once."""
    parses = _Parses(monkeypatch)
    file = project / "phaseguard.yml"
    file.write_text(
        MINI_CONFIG + 'sinks:\n  - {kind: webhook, url: "${STARTUP_TEST_HOOK:-http://x.test/}"}\n'
    )
    assert configcache.load(file)[0].sinks[0].url == "http://x.test/"
    assert configcache.load(file)[0].sinks[0].url == "http://x.test/"
    assert parses.count == 1
    monkeypatch.setenv("STARTUP_TEST_HOOK", "https://hooks.test/s3cr3t-token")
    for _ in range(2):
        assert configcache.load(file)[0].sinks[0].url.endswith("s3cr3t-token")
    assert parses.count == 3
    stored = b"".join(p.read_bytes() for p in (project / "cache").rglob("*") if p.is_file())
    assert stored
    assert b"s3cr3t" not in stored


def test_an_upgrade_of_phaseguard_rebuilds_the_cached_config(project: Path, tmp_path: Path) -> None:
    """A new phaseguard (here: a copy of the package with one module changed) never takes
    the models an older one pickled."""
    copy = tmp_path / "site" / "phaseguard"
    shutil.copytree(SRC / "phaseguard", copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = (
        "import sys; from phaseguard.configcache import load\n"
        "print(load('phaseguard.yml')[0].pipeline, 'yaml' in sys.modules)\n"
    )
    env = {**_env(PHASEGUARD_CACHE_DIR=str(project / "cache")), "PYTHONPATH": str(copy.parent)}

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        return done.stdout.strip()

    assert [run(), run()] == ["mini True", "mini False"]  # parsed, then cached
    # One character of a docstring, same size, same time: as a reproducible wheel of the
    # next version may differ from the last.
    kinds = copy / "kinds.py"
    text, times = kinds.read_text(), kinds.stat()
    at = text.index('"""') + 3
    kinds.write_text(text[:at] + ("X" if text[at] != "X" else "Y") + text[at + 1 :])
    os.utime(kinds, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert kinds.stat().st_size == times.st_size
    assert [run(), run()] == ["mini True", "mini False"]


def test_an_entry_others_can_write_is_not_trusted(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pickle runs code when loaded: an entry someone else could have written is parsed
    over, never unpickled; the cache's directory is the user's alone."""
    parses = _Parses(monkeypatch)
    file = project / "phaseguard.yml"
    configcache.load(file)
    (entry,) = (project / "cache" / "config").iterdir()
    assert (project / "cache" / "config").stat().st_mode & 0o777 == 0o700
    assert entry.stat().st_mode & 0o777 == 0o600
    entry.chmod(0o666)
    assert configcache.load(file)[0].pipeline == "mini"
    assert parses.count == 2
