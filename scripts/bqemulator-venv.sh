#!/usr/bin/env bash
# Builds .venv-bq: a virtualenv holding the BigQuery emulator (PyPI bqemulator 1.4.0) that
# tests/test_bigquery.py starts as a subprocess. It has its own venv because bqemulator pins
# sqlglot<30.12 while phaseguard needs sqlglot 30.x newer than that. numpy is listed by hand:
# the emulator imports it without declaring it. Idempotent: a built venv is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BQEMULATOR_VENV:-.venv-bq}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import bqemulator, numpy" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "bqemulator==1.4.0" "numpy>=1.26"
