"""The command line: the only package that draws the terminal.

Exit codes (``phaseguard.errors.EXIT_CODES``, shown by ``--help`` and in the README); only
0 and 1 mean "go", and ``gate`` exits 2 on any error:
    0  COMPLETE or nothing scheduled (a gate: open)
    1  PARTIAL, or warnings (a gate: open with warnings)
    2  FAILED (a gate: blocked)
    3  config or usage error
    4  warehouse error
    5  internal error (a bug)

The command modules do not use ``from __future__ import annotations``: typer reads the
annotations of every command each time the program starts, and annotations evaluated at
definition cost nothing there, while strings are compiled and evaluated anew (~7 ms).
"""

from . import check_cmds as check_cmds
from . import explain_cmd as explain_cmd
from . import gate_cmds as gate_cmds
from . import init_cmds as init_cmds
from . import report_cmds as report_cmds
from . import run_cmds as run_cmds
from .app import app as app
from .app import main as main
from .app import run as run

__all__ = ["app", "main", "run"]
