"""The plain forms of ``smoke`` and ``verify``, read without building typer's parameters.

typer (0.29) coerces every parameter of the command it runs through a pydantic
TypeAdapter that it builds anew each time the program starts: ~25 ms of CPU before a
season smoke test sends its one query, more than the query takes. The plain forms are
read here instead, from the command's own declarations (its ``typer.Argument`` and
``typer.Option`` annotations), and call the same command function with the values typer
would give it: positional arguments; options given as ``--name VALUE``, ``--name=VALUE``
or ``-n VALUE``; an option's ``envvar`` when it is not given; flags. Anything else goes to
typer unchanged, which owns every error message and ``--help``: an unknown, repeated or
short-joined option, ``--``, a value that starts with ``-``, too few or too many
arguments, and a command whose parameters use anything beyond str, Path, flags and
repeatable str options.
"""

import errno
import inspect
import os
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.models import ArgumentInfo, OptionInfo, ParameterInfo

COMMANDS = ("smoke", "verify")
"""The commands read here: the ones a scheduler or a CI job runs on every start."""

# ParameterInfo fields that change only how --help shows a parameter, not its value.
_SHOWN = frozenset(
    [
        "default",
        "param_decls",
        "envvar",
        "help",
        "hidden",
        "show_default",
        "show_envvar",
        "rich_help_panel",
        "metavar",
    ]
)
_PLAIN: dict[type[ParameterInfo], dict[str, Any]] = {
    kind: {k: v for k, v in vars(kind()).items() if k not in _SHOWN}
    for kind in (OptionInfo, ArgumentInfo)
}


class _Param:
    """One parameter of a command as the fast path reads it."""

    def __init__(self, name: str, info: ParameterInfo, kind: type, default: Any) -> None:
        self.name = name
        self.kind = kind  # str, Path, bool (a flag) or list (a repeatable option)
        self.default = default
        self.envvar = info.envvar if isinstance(info.envvar, str) else None
        # In Annotated, Option's first positional argument is its first name (typer.utils).
        first = (info.default,) if info.default is not ... else ()
        self.decls = (*first, *(info.param_decls or ()))


def _params(callback: Callable[..., Any]) -> tuple[list[_Param], dict[str, _Param]] | None:
    """(arguments in order, options by every name) if every parameter is plain, else None."""
    arguments: list[_Param] = []
    options: dict[str, _Param] = {}
    for name, parameter in inspect.signature(callback).parameters.items():
        annotation = parameter.annotation
        if typing.get_origin(annotation) is not typing.Annotated:
            return None
        kind, *extras = typing.get_args(annotation)
        infos = [e for e in extras if isinstance(e, ParameterInfo)]
        if len(infos) != 1 or type(infos[0]) not in _PLAIN:
            return None
        info = infos[0]
        plain = {k: v for k, v in vars(info).items() if k not in _SHOWN}
        if plain != _PLAIN[type(info)] or not isinstance(info.envvar, str | None):
            return None
        if isinstance(kind, types.UnionType) and len(typing.get_args(kind)) == 2:
            kind = next(k for k in typing.get_args(kind) if k is not type(None))
        if kind == list[str]:
            kind = list  # a repeatable option: every value, in order
        default = parameter.default
        if kind not in (str, Path, bool, list) or (kind is list and default is not None):
            return None
        param = _Param(name, info, kind, default)
        if isinstance(info, ArgumentInfo):
            if kind is bool or param.decls or param.envvar:
                return None
            arguments.append(param)
            continue
        flag_names_ok = all(
            d.startswith("-") and "/" not in d and "=" not in d for d in param.decls
        )
        if not param.decls or not flag_names_ok or default is inspect.Parameter.empty:
            return None
        if (kind is bool and default is not False) or (kind in (bool, list) and param.envvar):
            return None
        for decl in param.decls:
            options[decl] = param
    return arguments, options


def parse(args: list[str]) -> Callable[[], Any] | None:
    """The command ``args`` run, ready to call, if they are a plain form of one of COMMANDS."""
    if not args or args[0] not in COMMANDS or "_PHASEGUARD_COMPLETE" in os.environ:
        return None
    from .app import app

    callback = next(
        (
            c.callback
            for c in app.registered_commands
            if c.callback and (c.name or c.callback.__name__.replace("_", "-")) == args[0]
        ),
        None,
    )
    read = _params(callback) if callback is not None else None
    if callback is None or read is None:
        return None
    arguments, options = read
    values: dict[str, Any] = {}
    positional: list[str] = []
    rest = iter(args[1:])
    for token in rest:
        if not token.startswith("-"):
            positional.append(token)
            continue
        name, joined, value = token.partition("=")
        param = options.get(name)
        if param is None or (joined and not name.startswith("--")):
            return None
        if param.name in values and param.kind is not list:
            return None  # typer takes the last of a repeated option; leave that to it
        if param.kind is bool:
            if joined:
                return None
            values[param.name] = True
            continue
        if not joined:
            value = next(rest, "-")
        if value.startswith("-"):
            return None
        if param.kind is list:
            values.setdefault(param.name, []).append(value)
        else:
            values[param.name] = value
    required = [a for a in arguments if a.default is inspect.Parameter.empty]
    if not len(required) <= len(positional) <= len(arguments):
        return None
    values.update((a.name, text) for a, text in zip(arguments, positional, strict=False))
    for param in {id(p): p for p in options.values()}.values():
        if param.name not in values and param.envvar and os.environ.get(param.envvar):
            values[param.name] = os.environ[param.envvar]
    paths = {p.name for p in [*arguments, *options.values()] if p.kind is Path}
    kwargs = {n: Path(v) if n in paths and isinstance(v, str) else v for n, v in values.items()}
    return lambda: _invoke(callback, kwargs)


def _invoke(callback: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Call the command as typer's ``main(standalone_mode=False)`` would: its return value,
    or the code of the ``typer.Exit`` it raised; the same handling of EOF, Ctrl-C, EPIPE."""
    try:
        try:
            return callback(**kwargs)
        except EOFError as exc:
            sys.stderr.write("\n")
            raise typer.Abort() from exc
        except KeyboardInterrupt as exc:
            raise typer.Exit(130) from exc
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            from typer._click.utils import PacifyFlushWrapper

            sys.stdout = PacifyFlushWrapper(sys.stdout)
            sys.stderr = PacifyFlushWrapper(sys.stderr)
            sys.exit(1)
    except typer.Exit as exc:
        return exc.exit_code
