"""Integrations: phaseguard's gates where a pipeline already runs (Cloud Functions, ...).

Each module imports its runtime's package only when used; install the extra that names it.
"""
