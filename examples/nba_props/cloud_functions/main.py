"""The seeds' two gate functions, phase3_to_phase4 and phase4_to_phase5, as phaseguard gates.

Deploy each target with a Pub/Sub trigger (the message's JSON carries ``game_date``)::

    gcloud functions deploy phase4_gate --gen2 --runtime python312 --trigger-topic phase3-done \
        --entry-point phase4_gate --set-env-vars PHASEGUARD_CONFIG=phaseguard.yml,\
PHASEGUARD_WAREHOUSE=bigquery://nba-props-platform

with ``phaseguard.yml`` beside this file. Locally::

    functions-framework --source main.py --target phase4_gate --port 8080

An open gate publishes the message on to the next phase's topic when NEXT_TOPIC_PHASE4 /
NEXT_TOPIC_PHASE5 is set; a blocked one is recorded and alerted, and the message is
acknowledged (no endless redelivery). ``*_http`` are the same gates behind plain HTTP
(``POST {"date": "2026-01-20"}``: 200 open, 409 blocked).
"""

import os

from phaseguard.integrations.cloud_functions import gate_function

phase4_gate = gate_function("phase4", publish_to=os.environ.get("NEXT_TOPIC_PHASE4") or None)
phase5_gate = gate_function("phase5", publish_to=os.environ.get("NEXT_TOPIC_PHASE5") or None)
phase4_gate_http = gate_function("phase4", name="phase4_gate_http", signature="http")
phase5_gate_http = gate_function("phase5", name="phase5_gate_http", signature="http")
