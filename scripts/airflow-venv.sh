#!/usr/bin/env bash
# Builds .venv-airflow: a virtualenv holding Apache Airflow and phaseguard (editable, from this
# repository) that tests/test_airflow.py runs the example DAGs in with dag.test(). Airflow has
# its own venv so that its pins (SQLAlchemy, FastAPI, ...) never hold back the main venv's
# resolve. Airflow's own per-release constraints file is not on PyPI; in its place
# scripts/airflow-constraints.txt pins what this Airflow resolved to on Python 3.11.
# Idempotent: a venv whose Airflow is this version and imports phaseguard's operator is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AIRFLOW_VENV:-.venv-airflow}"
AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$AIRFLOW_VERSION" 2>/dev/null <<'PY'; then
import importlib.metadata, sys
import phaseguard.integrations.airflow  # Airflow and phaseguard both import
sys.exit(importlib.metadata.version("apache-airflow") != sys.argv[1])
PY
  exit 0
fi
CONSTRAINTS=()
if [ "$AIRFLOW_VERSION" = "$(sed -n 's/^apache-airflow==//p' scripts/airflow-constraints.txt)" ]; then
  CONSTRAINTS=(-c scripts/airflow-constraints.txt)
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "${CONSTRAINTS[@]}" \
  "apache-airflow==$AIRFLOW_VERSION" -e .
