"""phaseguard: gates, retries, smoke tests and success criteria for date-partitioned pipelines.

The public API is re-exported here; no logic lives in this file. Each name is imported
on first use (PEP 562), so ``import phaseguard`` and a command that needs little of it
(``phaseguard smoke``) do not pay for the config models, the warehouse or the store up
front. ``retry`` is imported at once: it is also a submodule's name, and importing the
submodule first would leave ``phaseguard.retry`` the module instead of the decorator.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .retry import retry as retry

if TYPE_CHECKING:
    from .backoff import RetryPolicy as RetryPolicy
    from .budget import RetryBudget as RetryBudget
    from .errors import ConfigError as ConfigError
    from .errors import GateBlocked as GateBlocked
    from .errors import PhaseguardError as PhaseguardError
    from .errors import RetryBudgetExceeded as RetryBudgetExceeded
    from .errors import RetryExhausted as RetryExhausted
    from .errors import UsageError as UsageError
    from .errors import WarehouseError as WarehouseError
    from .guard import Guard as Guard
    from .guard import load as load
    from .verdicts import Level as Level
    from .verdicts import Overall as Overall

_FROM = {
    "ConfigError": "errors",
    "GateBlocked": "errors",
    "Guard": "guard",
    "Level": "verdicts",
    "Overall": "verdicts",
    "PhaseguardError": "errors",
    "RetryBudget": "budget",
    "RetryBudgetExceeded": "errors",
    "RetryExhausted": "errors",
    "RetryPolicy": "backoff",
    "UsageError": "errors",
    "WarehouseError": "errors",
    "load": "guard",
}

__all__ = [
    "ConfigError",
    "GateBlocked",
    "Guard",
    "Level",
    "Overall",
    "PhaseguardError",
    "RetryBudget",
    "RetryBudgetExceeded",
    "RetryExhausted",
    "RetryPolicy",
    "UsageError",
    "WarehouseError",
    "load",
    "retry",
]


def __getattr__(name: str) -> Any:
    if name not in _FROM:
        raise AttributeError(f"module 'phaseguard' has no attribute {name!r}")
    value = getattr(import_module(f".{_FROM[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
