"""``python -m phaseguard.cli``."""

from . import run

run()
