"""phaseguard: gates, retries, smoke tests and success criteria for date-partitioned pipelines.

The public API is re-exported here; no logic lives in this file.
"""

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
from .retry import retry as retry
from .verdicts import Level as Level
from .verdicts import Overall as Overall

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
