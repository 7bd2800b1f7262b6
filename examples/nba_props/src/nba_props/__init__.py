"""The NBA props worked example: one synthetic season with seeded faults, and its config.

``season.py`` writes the SQL that builds a DuckDB warehouse for the 2025-26 regular season
(phases 2 to 6 of the props pipeline), with the incidents from the team's action plan injected
on known dates: its tables are in ``schema.py``, its calendar and games in ``schedule.py``,
its rows in ``season_sql.py`` and its incidents in ``faults.py``; ``phaseguard.yml`` (at the
project's root, ``examples/nba_props/``; see ``demo.CONFIG``) is the config that guards it.

A project of its own beside the library (``pip install -e examples/nba_props``), so that
``pip install phaseguard`` carries no NBA code; ``phaseguard demo`` imports it by name.
"""
