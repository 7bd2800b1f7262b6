"""YAML text to plain data, remembering the line of every key and ``${ENV}`` interpolation.

pydantic reports an error by its location (``("phases", 2, "checks", 0, "kind")``); this
module keeps a map from such locations to line numbers, so that every config error can
name the file, the line and the key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConfigError

Loc = tuple[str | int, ...]

# One loader turns scalar nodes into values (int, bool, null, ...); building one per node
# cost more than parsing the whole file.
_SCALARS = yaml.SafeLoader("")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Source:
    """Parsed YAML with the line (1-based) of each location in it."""

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """The line of ``loc`` or of its nearest ancestor that has one."""
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())

    def error(self, message: str, loc: Loc) -> ConfigError:
        """A ConfigError naming this file, the line of ``loc`` and ``loc`` as a dotted key."""
        key = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in loc)
        return ConfigError(
            message, file=self.file, line=self.line_of(loc), key=key.replace(".[", "[")
        )


def load_yaml(text: str, file: str) -> Source:
    """Parse ``text`` into a :class:`Source`; YAML syntax errors become ConfigError."""
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"YAML syntax error: {exc.problem or exc}", file=file, line=line) from exc
    source = Source(file=file, data=None)
    if node is None:
        raise ConfigError("the config file is empty", file=file, line=1)
    source.data = _convert(node, (), source)
    return source


def _convert(node: yaml.Node, loc: Loc, source: Source) -> Any:
    source.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in out:
                raise ConfigError(
                    "duplicate key", file=source.file, line=key_node.start_mark.line + 1, key=key
                )
            source.lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, (*loc, key), source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*loc, i), source) for i, item in enumerate(node.value)]
    value = _SCALARS.construct_object(node, deep=True)
    if isinstance(value, str):
        value = _interpolate(value, loc, source)
    return value


def _interpolate(value: str, loc: Loc, source: Source) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise source.error(
            f"environment variable {name} is not set (write ${{{name}:-default}} for a default)",
            loc,
        )

    return _ENV.sub(replace, value)
