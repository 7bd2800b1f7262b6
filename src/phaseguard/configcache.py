"""An on-disk cache of validated configs: a command's start-up skips YAML and validation.

A config is kept as the frozen models it validated to (a pickle), keyed by the file's
resolved path and bytes. An entry is used only while everything those models were built
from is as it was:

- the bytes of every file ``infrastructure.include`` names (presets ride with the code);
- the text of phaseguard's own modules and presets, and the versions of pydantic and
  Python (an upgrade, or an edit of a source tree, rebuilds);
- the environment variables the config's text names: a config that reads a ``${VAR}``
  set in the environment is never cached, because its value may be a secret (a sink's
  webhook URL) and the cache holds none. ``${VAR:-default}`` with VAR unset is cached,
  and setting VAR later is a miss.

The models defer building their validators to first use (``model.Model``), so a process
that takes its config from here builds none. The cache is an optimisation only: any
failure to read or write it falls back to parsing; ``PHASEGUARD_NO_CONFIG_CACHE=1`` turns
it off. Entries live in a directory only the user can enter, and an entry is unpickled only
when it is the user's own file that no one else can write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spool import private_dir

if TYPE_CHECKING:
    from .config import Config

# Bump when what an entry holds changes shape.
FORMAT = "1"
MAX_BYTES = 2 * 1024 * 1024  # yamlsource.MAX_BYTES: a larger file is refused by parsing
_ENV_NAME = re.compile(rb"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """``$PHASEGUARD_CACHE_DIR/config``, else ``$XDG_CACHE_HOME/phaseguard/config``, else ``~/.cache``."""
    explicit = os.environ.get("PHASEGUARD_CACHE_DIR")
    if explicit:
        return Path(explicit) / "config"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "phaseguard" / "config"


def load(path: str | Path) -> tuple[Config, Path]:
    """``config.load(path)``: from the cache when nothing the config depends on changed."""
    file = Path(path)
    data = _regular_bytes(file)
    if data is None or os.environ.get("PHASEGUARD_NO_CONFIG_CACHE"):
        return _parse(file)
    try:
        entry = _entry_path(file.resolve(), data)
    except (OSError, RuntimeError):  # an unresolvable path (a symlink loop): parse says why
        return _parse(file)
    cached = _read(entry)
    if cached is not None:
        return cached
    config, base_dir = _parse(file)
    if _regular_bytes(file) == data:  # not edited while it was parsed
        _write(entry, file, data, config, base_dir)
    return config, base_dir


def _parse(file: Path) -> tuple[Config, Path]:
    from .config import load as parse_file

    return parse_file(file)


def _regular_bytes(file: Path) -> bytes | None:
    """The bytes of ``file`` if it is a regular file parsing would read whole, else None."""
    try:
        info = os.stat(file)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None  # a pipe, a device, a huge file: parsing reads it (or refuses it)
        return file.read_bytes()
    except OSError:
        return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry_path(resolved: Path, data: bytes) -> Path:
    key = f"{FORMAT}|{resolved}|{_digest(data)}"
    return cache_dir() / f"{_digest(key.encode())[:32]}.pickle"


def code_stamp() -> str:
    """What the pickled models depend on besides the config: the text of phaseguard's
    modules and presets (not their times: a reproducible wheel dates every file alike),
    pydantic's and pydantic-core's versions, Python's."""
    import pydantic
    import pydantic_core

    stamp = hashlib.sha256(f"{FORMAT}|{sys.version}|{pydantic.VERSION}".encode())
    stamp.update(pydantic_core.__version__.encode())
    for folder in (_PACKAGE, _PACKAGE / "presets"):
        with os.scandir(folder) as entries:
            for item in sorted(entries, key=lambda e: e.name):
                if item.is_file() and item.name.endswith((".py", ".yml", ".yaml")):
                    stamp.update(f"\0{folder.name}/{item.name}\0".encode())
                    stamp.update(Path(item.path).read_bytes())
    return stamp.hexdigest()


def _include_paths(data: bytes, file: Path, base_dir: Path) -> list[Path]:
    """The files the config's ``infrastructure.include`` may name (as ``infra.read_include``
    resolves a name that is not a preset's). Parsed again here: only a miss pays for it."""
    from .yamlsource import decode, load_yaml

    source = load_yaml(decode(data, str(file)), str(file))
    infra = source.data.get("infrastructure") if isinstance(source.data, dict) else None
    names = infra.get("include") if isinstance(infra, dict) else None
    if not isinstance(names, list):
        return []
    return [Path(n) if Path(n).is_absolute() else base_dir / n for n in names if isinstance(n, str)]


def _file_digest(path: Path) -> str | None:
    try:
        return _digest(path.read_bytes())
    except OSError:
        return None


def _write(entry: Path, file: Path, data: bytes, config: Config, base_dir: Path) -> None:
    """Keep ``config`` for its file's bytes; not when it read a variable that is set."""
    try:
        # Includes are named relative to the config's directory as given (not resolved),
        # as ``infra.read_include`` reads them; kept absolute, so the cwd cannot move them.
        where = file.absolute().parent
        files = {str(p): _file_digest(p) for p in _include_paths(data, file, where)}
        texts = [data, *(Path(p).read_bytes() for p, d in files.items() if d is not None)]
        names = sorted({m.decode() for text in texts for m in _ENV_NAME.findall(text)})
        if any(name in os.environ for name in names):
            return  # its value may be a secret: never written to disk
        header = {"stamp": code_stamp(), "env": names, "files": files}
        body = pickle.dumps((config, base_dir), protocol=pickle.HIGHEST_PROTOCOL)
        private_dir(entry.parent)  # 0700, the user's own, not a link
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump((header, body), handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except Exception:  # an optimisation only: a config that will not cache is parsed
        return


def _read(entry: Path) -> tuple[Config, Path] | None:
    """The cached (config, base_dir) if the entry is there and still holds; else None."""
    try:
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            if not _trusted(os.fstat(fd)):
                return None
            header, body = pickle.load(handle)  # builtins only: imports nothing
        if not _holds(header):
            return None
        config, base_dir = pickle.loads(body)
    except Exception:  # a torn, foreign or stale entry is a miss
        return None
    from .config import Config

    if not isinstance(config, Config) or not isinstance(base_dir, Path):
        return None
    return config, base_dir


def _trusted(st: os.stat_result) -> bool:
    """Whether an entry may be unpickled: a regular file of the user's that no one else
    can write (a pickle runs code: one planted in a shared cache directory must not)."""
    uid = os.geteuid() if hasattr(os, "geteuid") else st.st_uid
    return stat.S_ISREG(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o022


def _holds(header: Any) -> bool:
    if any(name in os.environ for name in header["env"]):
        return False
    if any(_file_digest(Path(p)) != digest for p, digest in header["files"].items()):
        return False
    return bool(header["stamp"] == code_stamp())
