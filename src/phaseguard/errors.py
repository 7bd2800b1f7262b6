"""Every error phaseguard raises, and the exit code the CLI gives each.

Exit codes (``EXIT_CODES``; the README and ``phaseguard --help`` show the same table).
Only 0 and 1 mean "go": every error, expected or not, exits 2 or above, and ``gate``
exits 2 (blocked) on any error at all.

The hierarchy::

    PhaseguardError                 exit 3 unless a child says otherwise
    ├── ConfigError                 a broken config file (file, line, key)
    ├── UsageError                  bad command-line input: a bad date, range, duration, id
    ├── WarehouseError              the warehouse could not answer (exit 4); transient
    │   ├── UnknownObjectError      a table or column the config names is not there (exit 4)
    │   └── WarehouseBusyError      another process held its lock past the wait (exit 4)
    ├── StoreError                  the event store could not be read or written
    ├── GateBlocked                 a gate refused a (phase, date); carries its decision (exit 2)
    ├── RetryExhausted              every attempt failed; carries the last error (exit 2)
    ├── RetryBudgetExceeded         retries would exceed the budget; fail fast (exit 2)
    └── InternalError               an unexpected exception: a bug in phaseguard (exit 5)

Whether an error is worth retrying is a property of the error (``transient``), decided
here and nowhere else (the idea of dlt's ``TransientException``).
"""

from __future__ import annotations

from typing import Any

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "go: COMPLETE or nothing scheduled (a gate: open)"),
    (1, "go: PARTIAL, or warnings (a gate: open with warnings, or on an override)"),
    (2, "stop: FAILED (a gate: blocked, on any error too)"),
    (3, "stop: config or usage error (one line: what and where)"),
    (4, "stop: warehouse error (down, busy, missing table or column)"),
    (5, "stop: internal error, a bug (--debug shows the traceback)"),
    (130, "stop: interrupted"),
    (141, "stop: the output's reader went away (a closed pipe, e.g. | head; a gate: 2)"),
)
INTERNAL_EXIT = 5
CLOSED_PIPE_EXIT = 141  # 128 + SIGPIPE, as Unix tools end


class PhaseguardError(Exception):
    """Root of every error phaseguard raises on purpose."""

    exit_code: int = 3
    transient: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(PhaseguardError):
    """A config file that cannot be used: names the file, the line and the key."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, key: str = ""
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.reason = message
        where = file or "<config>"
        if line is not None:
            where = f"{where}:{line}"
        if key:
            where = f"{where}: {key}"
        super().__init__(f"{where}: {message}")


class UsageError(PhaseguardError):
    """Bad input on the command line or to the API: a date, a range, a name, a duration."""


class WarehouseError(PhaseguardError):
    """The warehouse could not run a query: down, refused, timed out or failed the SQL."""

    exit_code = 4
    transient = True
    # What went wrong, in words a gate's decision puts before the message.
    label = "unreachable"
    problem = "the warehouse could not be reached"

    def __init__(self, message: str, *, url: str = "", sql: str = "") -> None:
        self.url = url
        self.sql = sql
        super().__init__(message)


class UnknownObjectError(WarehouseError):
    """A table, schema or column that the config names does not exist in the warehouse."""

    transient = False
    label = "missing"
    problem = "something it reads is missing from the warehouse"


class WarehouseBusyError(WarehouseError):
    """Another process held the warehouse's lock for longer than the lock wait allows."""

    label = "busy"
    problem = "the warehouse is busy (locked by another process)"


class StoreError(PhaseguardError):
    """The event store could not be opened, read or written."""

    transient = True


class GateBlocked(PhaseguardError):
    """A gate refused to let a phase run for a date; ``decision`` says why."""

    exit_code = 2

    def __init__(self, message: str, *, decision: Any) -> None:
        self.decision = decision
        super().__init__(message)


class RetryExhausted(PhaseguardError):
    """Every attempt of a retried call failed; ``last_error`` is the final one."""

    exit_code = 2

    def __init__(self, message: str, *, attempts: int, last_error: BaseException | None) -> None:
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(message)


class RetryBudgetExceeded(PhaseguardError):
    """Retrying now would push retries past the budget, so the call fails fast."""

    exit_code = 2

    def __init__(self, message: str, *, last_error: BaseException | None = None) -> None:
        self.last_error = last_error
        super().__init__(message)


class InternalError(PhaseguardError):
    """An exception phaseguard did not expect: a bug. It never means "go" (exit 5)."""

    exit_code = INTERNAL_EXIT

    def __init__(self, error: BaseException) -> None:
        self.error = error
        text = " ".join(str(error).split())[:300]
        name = type(error).__name__
        super().__init__(
            f"internal error (a bug in phaseguard): {name}: {text}"
            if text
            else f"internal error (a bug in phaseguard): {name}"
        )
