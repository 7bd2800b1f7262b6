"""deploy-check: warehouse objects on real DuckDB and PostgreSQL, probes against real processes
and a real local HTTP server, the GCP preset against stand-in gcloud/bq, and the CLI."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import run_cli as run
from nba_props.demo import build_demo
from phaseguard import config as config_module
from phaseguard.deployment import DeployItem, Status, normalize_type
from phaseguard.errors import ConfigError
from phaseguard.infra import Infrastructure
from phaseguard.probes import deploy_check, run_probes
from phaseguard.warehouse import connect

PIPELINE = """\
pipeline: wh
warehouse: duckdb://wh.duckdb
schedule: {table: raw.schedule, date_column: game_date, unit: game_id}
phases:
  - name: ingest
    tables:
      - {name: box, table: raw.box, date_column: game_date, unit: game_id}
      - {name: gone, table: raw.gone, date_column: game_date}
"""

INFRA = """\
infrastructure:
  schemas: [raw, nowhere]
  tables:
    - table: raw.box
      columns: {game_id: VARCHAR, game_date: DATE, pts: INTEGER, minutes: DOUBLE, big: BIGINT,
                scraped_at: TIMESTAMP, starter: BOOLEAN}
    - table: raw.typed
      columns: {n: INTEGER, absent: VARCHAR, anything: null}
"""


def seed(url: str, base_dir: Path) -> None:
    """raw.gone is never created; raw.typed has n as text and no column absent; raw.extra drifts."""
    with connect(url, base_dir=base_dir) as wh:
        wh.create_table("raw.schedule", {"game_id": "VARCHAR", "game_date": "DATE"})
        wh.create_table(
            "raw.box",
            {
                "game_id": "TEXT",
                "game_date": "DATE",
                "pts": "INTEGER",
                "minutes": "DOUBLE",
                "big": "BIGINT",
                "scraped_at": "TIMESTAMP",
                "starter": "BOOLEAN",
            },
        )
        wh.create_table("raw.typed", {"n": "VARCHAR", "anything": "DATE"})
        wh.create_table("raw.extra", {"x": "INTEGER"})


def by_key(items: list[DeployItem] | tuple[DeployItem, ...]) -> dict[tuple[str, str], DeployItem]:
    return {(i.group, i.name): i for i in items}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = (
        f"duckdb://{tmp_path / 'wh.duckdb'}"
        if request.param == "duckdb"
        else str(request.getfixturevalue("pg_url"))
    )
    seed(url, tmp_path)
    return url


# --- the warehouse -----------------------------------------------------------------------
def test_missing_table_column_and_wrong_type_are_named(warehouse_url: str, tmp_path: Path) -> None:
    config = config_module.parse(PIPELINE + INFRA)
    with connect(warehouse_url, base_dir=tmp_path) as wh:
        before = wh.queries_sent
        report = deploy_check(config, wh)
        assert wh.queries_sent - before == 2  # schemas, then tables with their columns
    items = by_key(report.items)
    assert items["schema", "raw"].status is Status.PRESENT
    assert items["schema", "nowhere"].status is Status.MISSING
    # every type spelled the other backend's way still matches (TEXT vs VARCHAR and so on)
    assert items["table", "raw.box"].status is Status.PRESENT, items["table", "raw.box"].detail
    assert items["table", "raw.schedule"].status is Status.PRESENT
    gone = items["table", "raw.gone"]
    assert (gone.status, gone.detail) == (Status.MISSING, "table does not exist")
    assert "table_name = 'gone'" in gone.how_to_check
    typed = items["table", "raw.typed"]
    assert typed.status is Status.MISSING
    assert "n is " in typed.detail  # VARCHAR (DuckDB) or CHARACTER VARYING (PostgreSQL)
    assert "expected INTEGER" in typed.detail
    assert "no column absent" in typed.detail
    assert "anything" not in typed.detail  # a null type accepts any type
    assert items["drift", "raw.extra"].status is Status.DRIFT
    assert report.count(Status.DRIFT) == 1
    assert report.exit_code == 2


def test_phase_tables_can_be_left_out(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'wh.duckdb'}"
    seed(url, tmp_path)
    config = config_module.parse(
        PIPELINE + "infrastructure: {phase_tables: false, schemas: [raw]}\n"
    )
    with connect(url) as wh:
        report = deploy_check(config, wh)
    names = {i.name for i in report.items if i.status is not Status.DRIFT}
    assert names == {"raw"}
    drift = {i.name for i in report.items if i.status is Status.DRIFT}
    assert drift == {"raw.box", "raw.extra", "raw.schedule", "raw.typed"}
    assert report.exit_code == 0  # drift alone is not a failure


@pytest.mark.parametrize(
    ("declared", "actual"),
    [
        ("VARCHAR", "character varying"),
        ("text", "VARCHAR"),
        ("INTEGER", "int4"),
        ("DOUBLE", "double precision"),
        ("float8", "DOUBLE"),
        ("TIMESTAMP", "timestamp without time zone"),
        ("BOOLEAN", "bool"),
        ("VARCHAR(20)", "VARCHAR"),
    ],
)
def test_types_compare_loosely(declared: str, actual: str) -> None:
    assert normalize_type(declared) == normalize_type(actual)


@pytest.mark.parametrize(
    ("declared", "actual"),
    [("INTEGER", "BIGINT"), ("DATE", "TIMESTAMP"), ("VARCHAR", "INTEGER"), ("DOUBLE", "REAL")],
)
def test_different_types_differ(declared: str, actual: str) -> None:
    assert normalize_type(declared) != normalize_type(actual)


# --- probes: HTTP ---------------------------------------------------------------------------
@pytest.fixture
def http_server() -> Iterator[str]:
    """A real server on 127.0.0.1: /ok 200, /missing 404, /slow answers after 5 s (or teardown)."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/slow":
                release.wait(5)
            status = {"/ok": 200, "/slow": 200}.get(self.path, 404)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the slow probe hung up long ago
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def probes_of(yaml_probes: str, **vars_: str) -> Infrastructure:
    text = PIPELINE + f"infrastructure:\n  vars: {json.dumps(vars_)}\n  probes:\n{yaml_probes}"
    infra = config_module.parse(text).infrastructure
    assert infra is not None
    return infra


def test_http_present_missing_and_timed_out(http_server: str) -> None:
    infra = probes_of(
        f"""\
    - {{kind: http, name: ok, url: "{http_server}/ok"}}
    - {{kind: http, name: missing, url: "{{base}}/missing"}}
    - {{kind: http, name: teapot, url: "{http_server}/ok", expect_status: 418}}
    - {{kind: http, name: slow, url: "{http_server}/slow", timeout_seconds: 0.5}}
    - {{kind: http, name: refused, url: "http://127.0.0.1:9/"}}
""",
        base=http_server,
    )
    started = time.monotonic()
    items = by_key(run_probes(infra.probes, infra.texts, timeout=3))
    assert time.monotonic() - started < 4
    assert items["http", "ok"].status is Status.PRESENT
    assert items["http", "missing"].detail == "HTTP 404, expected 200"
    assert items["http", "missing"].how_to_check.endswith(f"{http_server}/missing")
    assert items["http", "teapot"].detail == "HTTP 200, expected 418"
    assert items["http", "slow"].status is Status.MISSING
    assert items["http", "slow"].detail == "timed out after 0.5s"
    assert items["http", "refused"].detail.startswith("cannot connect")


# --- probes: commands and environment -------------------------------------------------------
def test_commands_exit_codes_and_a_hang_cut_at_its_timeout() -> None:
    infra = probes_of(
        """\
    - {kind: command, name: "true", argv: ["true"]}
    - {kind: command, name: "false", argv: ["false"]}
    - {kind: command, name: three, argv: [sh, -c, "exit 3"]}
    - {kind: command, name: hang, argv: [sleep, "30"], timeout_seconds: 0.5}
    - {kind: command, name: hang-child, argv: [sh, -c, "sleep 30; true"], timeout_seconds: 0.5}
    - {kind: command, name: nowhere, argv: [no-such-command-phaseguard]}
    - {kind: command, name: silent, argv: ["true"], expect_output: true}
    - {kind: command, name: says, argv: [echo, "{word}"], expect_output: true}
    - {kind: command, name: s1, argv: [sleep, "1"]}
    - {kind: command, name: s2, argv: [sleep, "1"]}
    - {kind: command, name: s3, argv: [sleep, "1"]}
    - {kind: command, name: s4, argv: [sleep, "1"]}
""",
        word="hello",
    )
    started = time.monotonic()
    listed = run_probes(infra.probes, infra.texts, timeout=5)
    assert time.monotonic() - started < 3  # in parallel: one after another takes over 5 s
    assert [i.name for i in listed] == [p.name for p in infra.probes]
    items = by_key(listed)
    assert all(items["command", f"s{n}"].status is Status.PRESENT for n in range(1, 5))
    assert items["command", "true"].status is Status.PRESENT
    assert items["command", "false"].detail == "exit 1"
    assert items["command", "three"].detail == "exit 3"
    assert items["command", "three"].how_to_check == "sh -c 'exit 3'"
    assert items["command", "hang"].detail == "timed out after 0.5s"
    assert items["command", "hang-child"].detail == "timed out after 0.5s"
    assert items["command", "nowhere"].detail == "no-such-command-phaseguard: command not found"
    assert items["command", "silent"].detail == "exit 0 but no output"
    assert items["command", "says"].status is Status.PRESENT


def test_env_probe_never_shows_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    infra = probes_of(
        """\
    - {kind: env, name: token, variable: PHASEGUARD_TEST_TOKEN}
    - {kind: env, name: empty, variable: PHASEGUARD_TEST_EMPTY}
    - {kind: env, name: unset, variable: PHASEGUARD_TEST_UNSET}
"""
    )
    monkeypatch.setenv("PHASEGUARD_TEST_TOKEN", "s3cret-value")
    monkeypatch.setenv("PHASEGUARD_TEST_EMPTY", "")
    monkeypatch.delenv("PHASEGUARD_TEST_UNSET", raising=False)
    items = by_key(run_probes(infra.probes, infra.texts))
    assert items["env", "token"].status is Status.PRESENT
    assert items["env", "empty"].status is Status.MISSING
    assert items["env", "unset"].status is Status.MISSING
    assert items["env", "unset"].how_to_check == "echo ${PHASEGUARD_TEST_UNSET:+set}"
    assert all("s3cret" not in str(item) for item in items.values())


# --- the GCP preset -------------------------------------------------------------------------
SEED_COMMANDS = [
    "gcloud scheduler jobs describe grading-readiness-monitor --location=us-central1",
    "gcloud scheduler jobs describe grading-backup-6am --location=us-central1",
    "gcloud scheduler jobs describe grading-backup-10am --location=us-central1",
    "gcloud scheduler jobs describe box-score-completeness-alert --location=us-central1",
    "gcloud scheduler jobs describe phase4-failure-alert --location=us-central1",
    "gcloud functions describe box-score-completeness-alert --gen2 --region=us-west1",
    "gcloud functions describe phase4-failure-alert --gen2 --region=us-west1",
    "gcloud functions describe grading-readiness-monitor --gen2 --region=us-west1",
    "bq show nba_raw",
    "bq show nba_analytics",
    "bq show nba_precompute",
    "bq show nba_predictions",
    "bq show nba_monitoring",
    "gcloud services list --enabled --filter=config.name=bigquery.googleapis.com --format=value(config.name)",
    "gcloud services list --enabled --filter=config.name=bigquerydatatransfer.googleapis.com --format=value(config.name)",
    "gcloud services list --enabled --filter=config.name=cloudscheduler.googleapis.com --format=value(config.name)",
    "gcloud services list --enabled --filter=config.name=cloudfunctions.googleapis.com --format=value(config.name)",
]

# The seeds' names, given to the generic preset as the NBA example gives them.
SEED_INFRA = """\
infrastructure:
  include: [gcp]
  vars:
    project: my-proj
    scheduler_location: us-central1
    scheduler_jobs: [grading-readiness-monitor, grading-backup-6am, grading-backup-10am,
                     box-score-completeness-alert, phase4-failure-alert]
    functions: [box-score-completeness-alert, phase4-failure-alert, grading-readiness-monitor]
    datasets: [nba_raw, nba_analytics, nba_precompute, nba_predictions, nba_monitoring]
"""

STAND_IN = """\
#!/bin/sh
# Records its argv as one line; grading-backup-10am is not deployed; cloudfunctions is not
# enabled (the listing prints nothing); anything run outside the project fails.
line="$(basename "$0")"
for arg in "$@"; do line="$line $arg"; done
printf '%s\\n' "$line" >> "{log}"
[ "$CLOUDSDK_CORE_PROJECT" = my-proj ] || exit 9
case "$line" in
  *grading-backup-10am*) echo "ERROR: NOT_FOUND: Job not found." >&2; exit 1 ;;
  *cloudfunctions.googleapis.com*) exit 0 ;;
  "gcloud services list"*) echo "${4#--filter=config.name=}" ;;
esac
exit 0
"""


def test_gcp_preset_runs_the_seed_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "argv.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("gcloud", "bq"):
        script = bin_dir / tool
        script.write_text(STAND_IN.replace("{log}", str(log)))
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = config_module.parse(PIPELINE + SEED_INFRA)
    infra = config.infrastructure
    assert infra is not None
    items = run_probes(infra.probes, infra.texts)
    assert sorted(log.read_text().splitlines()) == sorted(SEED_COMMANDS)
    missing = {(i.group, i.name): i for i in items if i.status is Status.MISSING}
    assert set(missing) == {
        ("scheduler", "grading-backup-10am"),
        ("api", "cloudfunctions.googleapis.com"),
    }
    assert (
        missing["scheduler", "grading-backup-10am"].detail
        == "exit 1: ERROR: NOT_FOUND: Job not found."
    )
    assert missing["scheduler", "grading-backup-10am"].how_to_check == (
        "CLOUDSDK_CORE_PROJECT=my-proj gcloud scheduler jobs describe grading-backup-10am "
        "--location=us-central1"
    )
    assert missing["api", "cloudfunctions.googleapis.com"].detail == "exit 0 but no output"
    assert len(items) == 17


def test_preset_vars_override_and_typos_are_config_errors() -> None:
    config = config_module.parse(
        PIPELINE + "infrastructure: {include: [gcp], vars: {function_region: europe-west1}}\n"
    )
    assert config.infrastructure is not None
    assert config.infrastructure.vars["function_region"] == "europe-west1"
    with pytest.raises(ConfigError, match=r"<config>:11: infrastructure.vars.scheduler_locaton: "):
        config_module.parse(
            PIPELINE + "infrastructure:\n  include: [gcp]\n  vars: {scheduler_locaton: x}\n"
        )
    with pytest.raises(ConfigError, match=r"infrastructure.include\[0\]: unknown preset 'gpc'"):
        config_module.parse(PIPELINE + "infrastructure:\n  include: [gpc]\n")


def test_include_by_path_and_probe_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "extra.yml").write_text(
        "vars: {host: example.invalid}\nprobes:\n  - {kind: command, name: a, argv: [ping, '{host}']}\n"
    )
    main_file = tmp_path / "phaseguard.yml"
    main_file.write_text(PIPELINE + "infrastructure: {include: [extra.yml]}\n")
    config, _ = config_module.load(main_file)
    assert config.infrastructure is not None
    assert config.infrastructure.probes[0].how({"host": "h", "name": "a"}) == "ping h"
    bad = "infrastructure:\n  probes:\n    - {kind: command, name: a, argv: [x, '{nope}']}\n"
    with pytest.raises(ConfigError, match=r":11: infrastructure.probes\[0\].argv\[1\]: unknown"):
        config_module.parse(PIPELINE + bad)
    typo = "infrastructure:\n  probes:\n    - {kind: http, name: a, url: 'http://x', status: 2}\n"
    with pytest.raises(ConfigError, match=r":11: infrastructure.probes\[0\].status: unknown key"):
        config_module.parse(PIPELINE + typo)


# --- the example config and the CLI ----------------------------------------------------------
def test_example_config_passes_on_the_demo_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    built = build_demo(tmp_path)
    url = f"duckdb://{built.warehouse_path.resolve()}"
    # --offline: the gcp preset's gcloud/bq probes are listed as skipped, not run.
    args = ["deploy-check", "-c", str(built.config_path), "-w", url, "--offline"]
    code, out, _ = run([*args, "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0, [i for i in data["items"] if i["status"] not in ("present", "skipped")]
    assert data["ok"] is True
    # 4 schemas, 13 tables, the teams list (a dimension); the preset's 17 probes skipped
    assert data["counts"] == {"present": 18, "missing": 0, "drift": 0, "skipped": 17}
    grades = next(i for i in data["items"] if i["name"] == "nba_predictions.prediction_grades")
    assert set(grades) == {"group", "name", "status", "detail", "how_to_check"}
    with connect(url) as wh:
        wh.create_table("nba_raw.old_scrape", {"x": "INTEGER"})
    code, out, _ = run(args, capsys)
    assert code == 0
    assert "⚠️  nba_raw.old_scrape — in schema nba_raw but not named by the config" in out
    assert "18 present, 0 missing, 1 drift, 17 skipped (offline)." in out


def test_cli_reports_missing_with_how_to_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("PHASEGUARD_WAREHOUSE", raising=False)
    seed(f"duckdb://{tmp_path / 'wh.duckdb'}", tmp_path)
    probes = "  probes:\n    - {kind: command, name: deployed, argv: ['true']}\n"
    (tmp_path / "phaseguard.yml").write_text(PIPELINE + INFRA + probes)
    code, out, _ = run(["deploy-check", "-c", str(tmp_path / "phaseguard.yml")], capsys)
    assert code == 2
    assert "❌ raw.gone — table does not exist" in out
    assert "check by hand: SELECT column_name, data_type FROM information_schema.columns" in out
    assert "✅ deployed" in out
    assert "⚠️  raw.extra" in out
    code, out, _ = run(
        ["deploy-check", "-c", str(tmp_path / "phaseguard.yml"), "-f", "json"], capsys
    )
    data = json.loads(out)
    assert (code, data["exit_code"], data["ok"]) == (2, 2, False)
    statuses = {(i["group"], i["name"]): i["status"] for i in data["items"]}
    assert statuses["table", "raw.gone"] == "missing"
    assert statuses["drift", "raw.extra"] == "drift"
    assert statuses["command", "deployed"] == "present"


def test_cli_config_and_warehouse_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "phaseguard.yml"
    config.write_text(PIPELINE + "infrastructure: {include: [nope]}\n")
    code, _, err = run(["deploy-check", "-c", str(config)], capsys)
    assert code == 3
    assert "unknown preset 'nope'" in err
    config.write_text(PIPELINE)
    code, _, err = run(
        ["deploy-check", "-c", str(config), "-w", "postgresql://u@127.0.0.1:1/db"], capsys
    )
    assert code == 4
    assert "cannot connect to warehouse" in err
