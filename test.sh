#!/usr/bin/env bash
# Installs what the tests need (PostgreSQL server binaries, Chromium, a JVM, the Python deps,
# the BigQuery emulator's venv) and runs the whole suite: ruff, mypy --strict, pytest. The
# tests start their own throwaway PostgreSQL cluster, BigQuery emulator and Spark session on
# 127.0.0.1; nothing here needs a running service.
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
# The report and dashboard tests open pages in a real headless Chromium (Debian's).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The Spark tests run pyspark local[2] on a JVM.
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# The worked example (examples/nba_props) is a project of its own; the tests use it.
.venv/bin/python -m pip install -q --disable-pip-version-check \
  -e '.[dev,bigquery,spark,cloudfunctions]' -e examples/nba_props
# The BigQuery emulator (PyPI bqemulator) lives in its own venv: its pins clash with ours.
./scripts/bqemulator-venv.sh
# Airflow and Dagster run the integration tests in venvs of their own, for the same reason.
./scripts/airflow-venv.sh
./scripts/airflow-venv.sh 2  # Airflow 2.x: the operator's 2.x imports, tested too
./scripts/dagster-venv.sh

.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/mypy
.venv/bin/pytest "$@"
