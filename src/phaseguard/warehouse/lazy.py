"""Modules imported on first attribute access, to keep start-up light.

``sqlglot`` and ``exp`` (``sqlglot.expressions``) are the warehouse package's SQL builder:
a smoke test whose SQL is cached (``sqlcache``) never imports sqlglot at all.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class LazyModule:
    """Stands in for a module until one of its attributes is asked for."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


if TYPE_CHECKING:
    import sqlglot as sqlglot
    import sqlglot.expressions as exp
else:
    sqlglot = LazyModule("sqlglot")
    exp = LazyModule("sqlglot.expressions")

__all__ = ["LazyModule", "exp", "sqlglot"]
