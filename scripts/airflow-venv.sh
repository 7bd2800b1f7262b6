#!/usr/bin/env bash
# Builds the virtualenv tests/test_airflow.py runs the example DAGs in with dag.test(): Apache
# Airflow and phaseguard (editable, from this repository).
#   scripts/airflow-venv.sh      .venv-airflow,  Airflow 3 (AIRFLOW_VENV, AIRFLOW_VERSION)
#   scripts/airflow-venv.sh 2    .venv-airflow2, Airflow 2.x, the last release (AIRFLOW2_VENV,
#                                AIRFLOW2_VERSION): the operator's 2.x imports, tested too
# Airflow has venvs of its own so that its pins (SQLAlchemy, FastAPI, Flask, ...) never hold
# back the main venv's resolve. Airflow's own per-release constraints files are not on PyPI;
# in their place scripts/airflow-constraints.txt and scripts/airflow2-constraints.txt pin what
# each Airflow resolved to on Python 3.11.
# Idempotent: a venv whose Airflow is this version and imports phaseguard's operator is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-3}" = 2 ]; then
  VENV="${AIRFLOW2_VENV:-.venv-airflow2}"
  AIRFLOW_VERSION="${AIRFLOW2_VERSION:-2.11.2}"
  PINS=scripts/airflow2-constraints.txt
else
  VENV="${AIRFLOW_VENV:-.venv-airflow}"
  AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
  PINS=scripts/airflow-constraints.txt
fi
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$AIRFLOW_VERSION" 2>/dev/null <<'PY'; then
import importlib.metadata, sys
import phaseguard.integrations.airflow  # Airflow and phaseguard both import
sys.exit(importlib.metadata.version("apache-airflow") != sys.argv[1])
PY
  exit 0
fi
CONSTRAINTS=()
if [ "$AIRFLOW_VERSION" = "$(sed -n 's/^apache-airflow==//p' "$PINS")" ]; then
  CONSTRAINTS=(-c "$PINS")
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "${CONSTRAINTS[@]}" \
  "apache-airflow==$AIRFLOW_VERSION" -e .
