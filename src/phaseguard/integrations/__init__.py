"""Integrations: phaseguard's gates where a pipeline already runs.

``cloud_functions`` (Google's Functions Framework), ``airflow`` (an operator and a sensor),
``dagster`` (asset checks). Each module imports its runtime's package only when used;
install the extra that names it.
"""
