"""An on-disk cache of rendered measurement SQL, keyed by what the SQL depends on.

A command's statement depends only on the plan's probes, the dialect, what the driver's
table metadata says of the probes' tables (BigQuery: partitioning, TIMESTAMP or DATETIME
date columns; the caller puts that in the key) and the versions of phaseguard and sqlglot
that rendered it (dates are bound parameters, never in the text).
Keeping it on disk lets a fresh process run a smoke test without importing sqlglot. The
cache is an optimisation only: any failure to read or write it is ignored.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

# Bump when the SQL phaseguard renders changes for the same plan.
RENDERING = "11"


def cache_dir() -> Path:
    """``$PHASEGUARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/phaseguard/sql``, else ``~/.cache``."""
    explicit = os.environ.get("PHASEGUARD_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "phaseguard" / "sql"


def _path(key: str) -> Path:
    digest = hashlib.sha256(f"{RENDERING}|{_sqlglot_version()}|{key}".encode()).hexdigest()
    return cache_dir() / f"{digest[:32]}.sql"


def _sqlglot_version() -> str:
    """sqlglot's version, read from its metadata file without importing sqlglot."""
    import importlib.util

    spec = importlib.util.find_spec("sqlglot")
    if spec is None or not spec.origin:
        return "none"
    version_file = Path(spec.origin).with_name("_version.py")
    try:
        return hashlib.sha256(version_file.read_bytes()).hexdigest()[:12]
    except OSError:
        return "unknown"


def load_sql(key: str) -> str | None:
    """The cached statement for ``key``, or None."""
    if os.environ.get("PHASEGUARD_NO_SQL_CACHE"):
        return None
    try:
        return _path(key).read_text(encoding="utf-8")
    except OSError:
        return None


def store_sql(key: str, sql: str) -> None:
    """Keep ``sql`` for ``key`` (atomically: a reader never sees half a file)."""
    if os.environ.get("PHASEGUARD_NO_SQL_CACHE"):
        return
    try:
        path = _path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(sql)
        os.replace(tmp, path)
    except OSError:
        return
