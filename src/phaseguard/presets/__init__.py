"""Packaged infrastructure presets: ``include: [NAME]`` loads ``NAME.yml`` from here."""
