"""YAML text to plain data, remembering the line of every key and ``${ENV}`` interpolation.

Only plain, UTF-8 YAML of bounded size is read (``read_text``, ``load_yaml``), so that a
config can never hang, exhaust memory or crash the tool: it is refused on one line instead.

pydantic reports an error by its location (``("phases", 2, "checks", 0, "kind")``); this
module keeps a map from such locations to line numbers, so that every config error can
name the file, the line and the key.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    import yaml

Loc = tuple[str | int, ...]


@functools.cache
def _scalars() -> yaml.SafeLoader:
    """One loader turns scalar nodes into values (int, bool, null, ...): building one per
    node cost more than parsing the whole file. Made on first use, as ``yaml`` is imported:
    a config taken from ``configcache`` needs neither (~15 ms)."""
    import yaml

    return yaml.SafeLoader("")


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)
_MERGE = "tag:yaml.org,2002:merge"
_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)
MAX_BYTES = 2 * 1024 * 1024
"""The largest config (or include) read: a starter config for 1,000 tables is ~150 KiB."""
MAX_NODES = 100_000
"""The most values a config may expand to with its aliases: a bomb stops here, at once."""
MAX_CHARS = 4 * MAX_BYTES
"""The most characters of text a config may expand to with its aliases."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and lists (the format itself needs 6)."""


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

    def error(self, message: str, loc: Loc, *, line: int | None = None) -> ConfigError:
        """A ConfigError naming this file, the line (of ``loc``) and ``loc`` as a dotted key."""
        key = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in loc)
        return ConfigError(
            message, file=self.file, line=line or self.line_of(loc), key=key.replace(".[", "[")
        )


def read_text(path: Path, *, allow_pipe: bool = False) -> str:
    """The UTF-8 text of a config file: a regular file (or, if allowed, a pipe) of MAX_BYTES at most.

    A device (``/dev/zero``), a directory or an oversized file is refused before it is read
    to the end; a file in another encoding (Latin-1, UTF-16, binary) is refused naming the
    line of its first bad byte. A UTF-8 byte-order mark is allowed.

    Raises:
        ConfigError: any of those, naming the file (and the line when there is one).
        OSError: the file cannot be opened (not found, no permission): the caller says so.
    """
    file = str(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISFIFO(mode) and allow_pipe:
            os.set_blocking(fd, True)
        elif not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise ConfigError(f"{kind}: a config must be a regular YAML file", file=file)
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ConfigError(f"larger than {MAX_BYTES // 1024 // 1024} MiB: not a config", file=file)
    return decode(data, file)


def decode(data: bytes, file: str) -> str:
    """``data`` as UTF-8 text, or a ConfigError naming the file and the line of the bad byte."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ConfigError(f"the file is {name}: save it as UTF-8", file=file, line=1)
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise ConfigError(
            "a NUL byte: the file is binary or UTF-16, not UTF-8 text", file=file, line=line
        )
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark is harmless
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"byte 0x{data[exc.start]:02x} is not UTF-8 (Latin-1 or another encoding?): "
            "save the file as UTF-8",
            file=file,
            line=line,
        ) from None


def load_yaml(text: str, file: str) -> Source:
    """Parse ``text`` into a :class:`Source`; YAML syntax errors become ConfigError.

    Only plain YAML is read: an unknown tag (``!foo``, ``!!python/object``), an alias that
    contains itself, nesting deeper than MAX_DEPTH or more than MAX_NODES values once
    aliases are expanded (an alias bomb) are errors. Merge keys (``<<: *base``) merge.
    """
    import yaml

    if len(text) > MAX_BYTES:
        raise ConfigError(f"larger than {MAX_BYTES // 1024 // 1024} MiB: not a config", file=file)
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"YAML syntax error: {exc.problem or exc}", file=file, line=line) from exc
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text[: exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError(
            f"YAML syntax error: character U+{char:04X} is not allowed ({exc.reason})",
            file=file,
            line=line,
        ) from exc
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ConfigError(f"YAML syntax error: {reason}", file=file) from exc
    source = Source(file=file, data=None)
    if node is None:
        raise ConfigError("the config file is empty", file=file, line=1)
    source.data = _Converter(source).convert(node, ())
    return source


class _Converter:
    """Nodes to plain data, counting every value made and refusing what is not plain YAML."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.made = 0
        self.chars = 0
        self.open: set[int] = set()  # the nodes being converted: an alias to one is a loop

    def fail(self, message: str, node: yaml.Node, loc: Loc) -> ConfigError:
        return self.source.error(message, loc, line=node.start_mark.line + 1)

    def convert(self, node: yaml.Node, loc: Loc) -> Any:
        import yaml

        self.made += 1
        if self.made > MAX_NODES:
            raise self.fail(
                f"more than {MAX_NODES} values once aliases are expanded (an alias bomb?)",
                node,
                loc,
            )
        if len(loc) > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels", node, loc)
        if node.tag not in _PLAIN_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise self.fail(f"unknown YAML tag {tag!r}: a config is plain YAML", node, loc)
        if id(node) in self.open:
            raise self.fail("an alias refers to the value that contains it (a loop)", node, loc)
        self.source.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            self.chars += len(node.value)
            if self.chars > MAX_CHARS:
                raise self.fail(
                    f"more than {MAX_CHARS} characters once aliases are expanded (an alias bomb?)",
                    node,
                    loc,
                )
            value = _scalars().construct_object(node, deep=True)
            if isinstance(value, str):
                value = _interpolate(value, loc, self.source)
            return value
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, loc)
            return [self.convert(item, (*loc, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        import yaml

        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.merge(value_node, loc, merged)
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                raise self.fail("a key must be a plain name", key_node, loc)
            key = str(key_node.value)
            if key in out:
                raise self.fail("duplicate key", key_node, (*loc, key))
            self.source.lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = self.convert(value_node, (*loc, key))
        # YAML merge keys: the mapping's own keys win over merged ones.
        return {**{k: v for k, v in merged.items() if k not in out}, **out}

    def merge(self, value_node: yaml.Node, loc: Loc, merged: dict[str, Any]) -> None:
        """``<<: *base`` or ``<<: [*a, *b]``: earlier mappings win over later ones."""
        import yaml

        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for part in sources:
            if not isinstance(part, yaml.MappingNode):
                raise self.fail("a merge key (<<) takes a mapping or a list of them", part, loc)
            for key, value in self.convert(part, loc).items():
                merged.setdefault(key, value)


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
