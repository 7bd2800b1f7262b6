"""``python -m phaseguard.cli``."""

from . import main

main()
