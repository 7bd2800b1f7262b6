"""The NBA props worked example: one synthetic season with seeded faults, and its config.

``season.py`` writes the SQL that builds a DuckDB warehouse for the 2025-26 regular season
(phases 2 to 6 of the props pipeline), with the incidents from the team's action plan injected
on known dates: its tables are in ``schema.py``, its calendar and games in ``schedule.py``,
its rows in ``season_sql.py`` and its incidents in ``faults.py``; ``phaseguard.yml`` is the
config that guards it.
"""
