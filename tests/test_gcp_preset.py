"""The generic ``gcp`` preset: the names come from the config's list vars (``for_each``), the
preset holds only the probes' shape; the NBA example lists its own names; bad input is one
line naming file:line and key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from conftest import run_cli
from phaseguard import config as config_module
from phaseguard.errors import ConfigError
from phaseguard.infra import CommandProbe
from test_deploy_check import PIPELINE, SEED_COMMANDS

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nba_props" / "phaseguard.yml"
DEFAULT_APIS = [
    "bigquery.googleapis.com",
    "bigquerydatatransfer.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudfunctions.googleapis.com",
]


def probes_of(text: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """(group, name, argv as one line, env) of every probe the config's section expands to."""
    infra = config_module.parse(PIPELINE + text).infrastructure
    assert infra is not None
    out = []
    for probe in infra.probes:
        assert isinstance(probe, CommandProbe)
        variables = probe.variables(infra.texts)
        argv = " ".join(probe.command(variables))
        out.append((probe.heading, probe.name, argv, probe.environment(variables)))
    return out


def test_one_probe_per_name_of_each_list() -> None:
    listed = probes_of(
        "infrastructure:\n"
        "  include: [gcp]\n"
        "  vars:\n"
        "    project: acme\n"
        "    function_region: europe-west1\n"
        "    scheduler_jobs: [nightly-load, morning-report]\n"
        "    functions: [load-trigger]\n"
        "    datasets: [raw, 2024]\n"  # a number reads as a name
        "    apis: [bigquery.googleapis.com]\n"
    )
    env = {"CLOUDSDK_CORE_PROJECT": "acme"}
    assert listed == [
        ("scheduler", "nightly-load", "gcloud scheduler jobs describe nightly-load --location=us-central1", env),
        ("scheduler", "morning-report", "gcloud scheduler jobs describe morning-report --location=us-central1", env),
        ("function", "load-trigger", "gcloud functions describe load-trigger --gen2 --region=europe-west1", env),
        ("dataset", "raw", "bq show raw", env),
        ("dataset", "2024", "bq show 2024", env),
        ("api", "bigquery.googleapis.com", "gcloud services list --enabled --filter=config.name=bigquery.googleapis.com --format=value(config.name)", env),
    ]  # fmt: skip


def test_defaults_are_the_four_apis_and_no_names() -> None:
    listed = probes_of("infrastructure: {include: [gcp]}\n")
    assert [(group, name) for group, name, _, _ in listed] == [("api", a) for a in DEFAULT_APIS]
    assert all(env == {} for _, _, _, env in listed)  # empty project: the active gcloud one
    assert probes_of("infrastructure: {include: [gcp], vars: {apis: []}}\n") == []


def test_the_example_probes_what_the_seed_script_did() -> None:
    config, _ = config_module.load(EXAMPLE)
    infra = config.infrastructure
    assert infra is not None
    shown = [p.how(p.variables({**infra.texts, "project": ""})) for p in infra.probes]
    assert shown == [
        c.replace("--format=value(config.name)", "'--format=value(config.name)'")
        for c in SEED_COMMANDS
    ]
    assert [p.heading for p in infra.probes] == ["scheduler"] * 5 + ["function"] * 3 + [
        "dataset"
    ] * 5 + ["api"] * 4
    assert all(isinstance(p, CommandProbe) and p.env == {"CLOUDSDK_CORE_PROJECT": "{project}"} for p in infra.probes)  # fmt: skip


def test_for_each_in_the_users_own_probes_and_in_an_included_file(tmp_path: Path) -> None:
    own = probes_of(
        "infrastructure:\n"
        "  vars: {hosts: [a.example, b.example]}\n"
        "  probes:\n"
        "    - {kind: command, group: dns, for_each: hosts, argv: [host, '{name}']}\n"
    )
    assert [(g, n, a) for g, n, a, _ in own] == [
        ("dns", "a.example", "host a.example"),
        ("dns", "b.example", "host b.example"),
    ]
    (tmp_path / "dns.yml").write_text(
        "vars: {hosts: []}\nprobes:\n  - {kind: command, group: dns, for_each: hosts, argv: [host, '{name}']}\n"
    )
    main_file = tmp_path / "phaseguard.yml"
    main_file.write_text(PIPELINE + "infrastructure: {include: [dns.yml], vars: {hosts: [c]}}\n")
    config, _ = config_module.load(main_file)
    assert config.infrastructure is not None
    assert [p.name for p in config.infrastructure.probes] == ["c"]


def test_the_library_presets_name_nothing_of_the_nba_example() -> None:
    files = [f for f in resources.files("phaseguard.presets").iterdir() if f.is_file()]
    assert any(f.name == "gcp.yml" for f in files)
    for file in files:
        text = file.read_text(encoding="utf-8").lower()
        for word in ("nba", "grading-", "phase4-", "box-score"):
            assert word not in text, f"{file.name} names {word!r}"


GCP = "infrastructure:\n  include: [gcp]\n  vars:\n"
BAD = [
    ("list var as text", GCP + "    datasets: raw\n",
     "<config>:12: infrastructure.vars.datasets: var 'datasets' is a list of names, e.g. [a, b], not 'raw'"),
    ("text var as list", GCP + "    project: [a, b]\n",
     "<config>:12: infrastructure.vars.project: var 'project' is text, not a list"),
    ("unknown var", GCP + "    dataset: [raw]\n",
     "<config>:12: infrastructure.vars.dataset: var 'dataset' is used by no probe (did you mean 'datasets'?)"),
    ("a name twice", GCP + "    datasets: [raw, a, raw]\n",
     "<config>:12: infrastructure.vars.datasets[2]: var 'datasets' names 'raw' twice"),
    ("a mapping", GCP + "    datasets: {raw: 1}\n",
     "<config>:12: infrastructure.vars.datasets: a var is text or a list of names, not {'raw': 1}"),
    ("a list of lists", GCP + "    datasets: [[raw]]\n",
     "<config>:12: infrastructure.vars.datasets: a list var holds names (non-empty text), not ['raw']"),
    ("an empty name", GCP + "    datasets: ['']\n",
     "<config>:12: infrastructure.vars.datasets: a list var holds names (non-empty text), not ''"),
    ("a list var in a template",
     "infrastructure:\n  include: [gcp]\n  probes:\n    - {kind: command, name: x, argv: [bq, ls, '{datasets}']}\n",
     "<config>:12: infrastructure.probes[0].argv[2]: {datasets} is a list var: give it as for_each: datasets, and each of its names is {name}"),
    ("for_each on no var",
     "infrastructure:\n  include: [gcp]\n  probes:\n    - {kind: command, for_each: topics, argv: [gcloud, '{name}']}\n",
     "<config>:12: infrastructure.probes[0].for_each: var 'topics' is not declared (list vars: apis, datasets, functions, scheduler_jobs)"),
    ("for_each on a text var",
     "infrastructure:\n  include: [gcp]\n  probes:\n    - {kind: command, for_each: project, argv: [gcloud, '{name}']}\n",
     "<config>:12: infrastructure.probes[0].for_each: var 'project' is text, not a list of names (list vars: apis, datasets, functions, scheduler_jobs)"),
    ("for_each and a name",
     "infrastructure:\n  vars: {hosts: [a]}\n  probes:\n    - {kind: command, name: x, for_each: hosts, argv: [host, '{name}']}\n",
     "<config>:12: infrastructure.probes[0].name: a for_each probe is named by the items of hosts; drop name"),
    ("neither for_each nor a name",
     "infrastructure:\n  probes:\n    - {kind: command, argv: [host]}\n",
     "<config>:11: infrastructure.probes[0].name: a probe needs a name (or for_each: a list var of names)"),
    ("a name given by a list and by a probe",
     GCP + "    datasets: [raw]\n  probes:\n    - {kind: command, group: dataset, name: raw, argv: [bq, show, raw]}\n",
     "<config>:14: infrastructure.probes[0]: probe dataset raw is declared twice"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_naming_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_module.parse(PIPELINE + text)
    assert str(info.value) == message


def test_a_copied_preset_naming_a_missing_var_names_its_own_line(tmp_path: Path) -> None:
    preset = resources.files("phaseguard.presets").joinpath("gcp.yml").read_text(encoding="utf-8")
    copied = preset.replace("for_each: datasets", "for_each: dataset")
    assert copied != preset
    (tmp_path / "gcp.yml").write_text(copied)
    line = next(i for i, text in enumerate(copied.splitlines(), 1) if "for_each: dataset," in text)
    main_file = tmp_path / "phaseguard.yml"
    main_file.write_text(PIPELINE + "infrastructure: {include: [gcp.yml]}\n")
    with pytest.raises(ConfigError) as info:
        config_module.load(main_file)
    assert str(info.value) == (
        f"{tmp_path / 'gcp.yml'}:{line}: probes[2].for_each: var 'dataset' is not declared "
        "(list vars: apis, datasets, functions, scheduler_jobs)"
    )


def test_the_cli_says_it_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASEGUARD_NO_CONFIG_CACHE", "1")
    file = tmp_path / "phaseguard.yml"
    file.write_text(PIPELINE + GCP + "    scheduler_jobs: nightly-load\n")
    code, out, err = run_cli(["deploy-check", "-c", str(file), "--offline"], capsys)
    assert (code, out) == (3, "")
    assert err.strip().splitlines() == [
        f"error: {file}:12: infrastructure.vars.scheduler_jobs: "
        "var 'scheduler_jobs' is a list of names, e.g. [a, b], not 'nightly-load'"
    ]
