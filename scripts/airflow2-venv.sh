#!/usr/bin/env bash
# Builds .venv-airflow2: a virtualenv holding Apache Airflow 2.x (the last release, 2.11) and
# phaseguard (editable, from this repository), in which tests/test_airflow.py runs the same DAG
# scenarios as in .venv-airflow (Airflow 3), so that the operator's Airflow 2.x imports are
# tested for real. Its own venv, as for Airflow 3, so that Airflow's pins (SQLAlchemy 1.4,
# Flask, ...) never hold back the main venv's resolve. Airflow's own per-release constraints
# file is not on PyPI; in its place scripts/airflow2-constraints.txt pins what this Airflow
# resolved to on Python 3.11.
# Idempotent: a venv whose Airflow is this version and imports phaseguard's operator is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AIRFLOW2_VENV:-.venv-airflow2}"
AIRFLOW_VERSION="${AIRFLOW2_VERSION:-2.11.2}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$AIRFLOW_VERSION" 2>/dev/null <<'PY'; then
import importlib.metadata, sys
import phaseguard.integrations.airflow  # Airflow and phaseguard both import
sys.exit(importlib.metadata.version("apache-airflow") != sys.argv[1])
PY
  exit 0
fi
CONSTRAINTS=()
if [ "$AIRFLOW_VERSION" = "$(sed -n 's/^apache-airflow==//p' scripts/airflow2-constraints.txt)" ]; then
  CONSTRAINTS=(-c scripts/airflow2-constraints.txt)
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "${CONSTRAINTS[@]}" \
  "apache-airflow==$AIRFLOW_VERSION" -e .
