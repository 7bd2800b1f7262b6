#!/usr/bin/env bash
# Builds .venv-dagster: a virtualenv holding Dagster (PyPI), phaseguard itself and its worked
# example examples/nba_props (both editable: the example's Dagster assets call its steps),
# which tests/test_dagster.py runs as a subprocess. Dagster has its own venv so that its pins
# never hold back the main venv's resolve (issue 15). Idempotent: a built venv is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DAGSTER_VENV:-.venv-dagster}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import dagster, phaseguard.integrations.dagster, nba_props.steps" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[dagster]" -e examples/nba_props
