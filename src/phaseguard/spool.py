"""The spool: a private file where the event store's writes wait while the store is down.

A spool holds what other users must neither read nor plant (override and alert events, the
alerts still to send), so it is opened as nobody else can arrange it:

- in a directory owned by the user with mode 0700 (created so; a looser one of the user's is
  tightened), the file itself 0600;
- never through a symbolic link (``O_NOFOLLOW`` on the file, ``lstat`` on the directory): a
  link planted at the spool's path is refused, not followed, so its target is never written
  or truncated;
- a file or directory owned by another user is refused and said so on stderr, never read.

Its first home is beside the store; when that directory cannot be written, the user's own
state directory (``$PHASEGUARD_SPOOL_DIR``, else ``$XDG_STATE_HOME/phaseguard/spool``, else
``~/.local/state/phaseguard/spool``), never a shared temp directory another user can
pre-create.

Each line is one write waiting: an event row as a JSON list, or a pending alert as
``{"pending": [...]}``. ``drain`` hands them to the store and empties the file; the SQL that
stores them is ``store``'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .records import PendingAlert

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafeSpool(OSError):
    """A spool path that is not the user's own private file (the reason is the message)."""


def user_spool_dir() -> Path:
    """The user's own spool directory, used when the store's directory cannot be written."""
    given = os.environ.get("PHASEGUARD_SPOOL_DIR")
    if given:
        return Path(given)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "phaseguard" / "spool"


def user_spool_path(identity: str) -> Path:
    """The spool, in the user's own spool directory, of the store named ``identity``."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return user_spool_dir() / f"{digest}.jsonl"


def _uid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _check_owner(path: Path, st: os.stat_result, what: str) -> None:
    uid = _uid()
    if uid is not None and st.st_uid != uid:
        raise UnsafeSpool(f"{what} {path} is owned by uid {st.st_uid}, not by you (uid {uid})")


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner, the user, can enter (created 0700 if missing).

    Raises:
        UnsafeSpool: it is a symbolic link, not a directory, or someone else's.
        OSError: it cannot be created.
    """
    with contextlib.suppress(FileExistsError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700)
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeSpool(f"spool directory {path} is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeSpool(f"spool directory {path} is not a directory")
    _check_owner(path, st, "spool directory")
    if _uid() is not None and st.st_mode & 0o077:
        os.chmod(path, 0o700)  # the user's own, left readable: make it private
    return path


@contextlib.contextmanager
def open_private(path: Path, *, create: bool) -> Iterator[IO[str]]:
    """The spool file at ``path`` opened for reading and appending, locked exclusively.

    Args:
        path: the spool file; its directory is made private first (``private_dir``).
        create: create the file (0600) if missing; otherwise a missing file raises
            ``FileNotFoundError``.

    Raises:
        UnsafeSpool: the file is a symbolic link, not a regular file, has other links, or is
            someone else's.
        OSError: it cannot be opened.
    """
    private_dir(path.parent)
    flags = os.O_RDWR | os.O_APPEND | _NOFOLLOW | _CLOEXEC | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if path.is_symlink():
            raise UnsafeSpool(f"spool file {path} is a symbolic link") from exc
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeSpool(f"spool file {path} is not a regular file")
        _check_owner(path, st, "spool file")
        if st.st_nlink > 1:
            raise UnsafeSpool(f"spool file {path} has other hard links")
        if _uid() is not None and st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        file = os.fdopen(fd, "r+", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise
    with file, _locked(file):
        yield file


def refuse(exc: UnsafeSpool) -> None:
    """Say on stderr that a spool was refused, and why (it is never read nor written)."""
    print(f"phaseguard: refusing the spool: {exc}", file=sys.stderr, flush=True)


def spool_line(paths: Sequence[Path], line: str) -> None:
    """Append ``line`` to the first of the spools ``paths`` that can be written; never raises.

    A spool that is not the user's own private file is refused (said on stderr) and the next
    is tried; with none left, the line goes to stderr, the operator's terminal.
    """
    for path in paths:
        try:
            with open_private(path, create=True) as spool:
                spool.write(line + "\n")
            return
        except UnsafeSpool as exc:
            refuse(exc)
        except OSError:
            continue
    # Nowhere left to keep it: the last resort is the operator's terminal.
    print(f"phaseguard: event store and spool unwritable, event: {line}", file=sys.stderr)


def pending_line(row: PendingAlert) -> str:
    """How a pending alert waits in the spool (an event row is its JSON list)."""
    return json.dumps({"pending": list(row)})


def drain(
    paths: Sequence[Path], insert: Callable[[list[tuple[Any, ...]], list[PendingAlert]], None]
) -> int:
    """Hand what waits in the spools ``paths`` to ``insert``, then empty each spool.

    ``insert`` stores the spooled event rows and pending alerts, and raises if the store is
    still down.

    A spool that is not the user's own private file is refused (said on stderr), never read.
    A spool is emptied only once ``insert`` has returned: what it raises leaves it as it was.

    Returns:
        How many spooled lines were read.
    """
    count = 0
    for path in paths:
        if not os.path.lexists(path):
            continue
        try:
            count += _drain_one(path, insert)
        except UnsafeSpool as exc:
            refuse(exc)
        except FileNotFoundError:
            continue
    return count


def _drain_one(
    path: Path, insert: Callable[[list[tuple[Any, ...]], list[PendingAlert]], None]
) -> int:
    # Imported here: the config cache uses this module's private files and starts up lean.
    from .records import PendingAlert

    with open_private(path, create=False) as spool:
        events, pending = [], []
        for line in spool.read().splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                # A line cut short by a crash mid-write; it cannot be recovered.
                continue
            if isinstance(data, dict) and isinstance(data.get("pending"), list):
                pending.append(PendingAlert(*data["pending"]))
            elif isinstance(data, list):
                events.append(tuple(data))
        insert(events, pending)
        spool.truncate(0)
        return len(events) + len(pending)


@contextlib.contextmanager
def _locked(file: IO[str]) -> Iterator[None]:
    """Hold an exclusive lock, so spool appends and flushes do not interleave."""
    if sys.platform == "win32":  # pragma: no cover - no flock; the spool is best effort there
        yield
        return
    import fcntl

    fcntl.flock(file.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)


__all__ = [
    "UnsafeSpool",
    "drain",
    "open_private",
    "pending_line",
    "private_dir",
    "refuse",
    "spool_line",
    "user_spool_path",
]
