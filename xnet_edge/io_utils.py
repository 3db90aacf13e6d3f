"""Small file helpers: outputs appear whole or not at all.

Every output is first written to a *staging* path beside its destination, named
``.<name>.<token>.xnet-staging``, and renamed into place only when complete. The
writing process holds an exclusive ``flock`` on ``<staging>.lock`` while it works, so
a later run can tell the leftovers of a killed run (lock free) from the work of a
live one (lock held) and removes only the former — and only entries with this naming
pattern for the same destination. Folders that a failed write had to create are
removed again, so a failure leaves no empty output folders either.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

from .errors import OutputError

try:  # POSIX advisory locks; without them stale staging entries are never removed
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

STAGING_SUFFIX = ".xnet-staging"
LOCK_SUFFIX = ".lock"


def current_umask() -> int:
    """The process umask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_mode(path: Path, is_dir: bool) -> None:
    # Staging entries are created private; give outputs the usual umask-based modes so
    # another account (e.g. a robot's service user) can read them.
    os.chmod(path, (0o777 if is_dir else 0o666) & ~current_umask())


def describe_os_error(exc: OSError, path: Optional[str | os.PathLike] = None) -> str:
    """``"<path>: <cause>"`` for an OSError (its own file name when ``path`` is None)."""
    where = path if path is not None else (exc.filename if exc.filename is not None else "")
    cause = exc.strerror or str(exc) or type(exc).__name__
    return f"{where}: {cause}" if where != "" else cause


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _staging_entries(parent: Path) -> list[Path]:
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    entries = {n[:-len(LOCK_SUFFIX)] if n.endswith(LOCK_SUFFIX) else n for n in names if n.startswith(".")
               and (n.endswith(STAGING_SUFFIX) or n.endswith(STAGING_SUFFIX + LOCK_SUFFIX))}
    return [parent / n for n in sorted(entries)]


def clean_stale_staging(folder: str | os.PathLike) -> list[Path]:
    """Remove what killed runs left in ``folder`` while writing outputs; work of live runs is kept.

    Only entries named ``.<name>.<token>.xnet-staging`` (and their lock files) are
    considered, and only those whose lock no process holds.

    Returns:
        The staging paths removed.
    """
    if fcntl is None:
        return []
    removed = []
    for entry in _staging_entries(Path(folder)):
        lock = entry.with_name(entry.name + LOCK_SUFFIX)
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:  # its owner died before taking the lock or after giving it up
            fd = None
        except OSError:
            continue
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:  # held: a live run is writing it
                    continue
            _remove(entry)
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            removed.append(entry)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


# Errors that only writing causes; a copy into the staging entry may name its source instead.
_OUTPUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)

_last_scan: dict[str, float] = {}
_SCAN_INTERVAL_S = 30.0


def _scan_due(folder: Path) -> bool:
    # Files are often written by the thousand into one folder (infer): scan it for
    # leftovers once per interval, not on every write.
    key, now = str(folder.absolute()), time.monotonic()
    if now - _last_scan.get(key, -_SCAN_INTERVAL_S) < _SCAN_INTERVAL_S:
        return False
    _last_scan[key] = now
    return True


def _missing_parents(path: Path) -> list[Path]:
    missing = []
    for parent in path.absolute().parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


class _Staging:
    """One staging entry beside ``dest`` and the lock that marks it as in use."""

    def __init__(self, dest: Path, is_dir: bool):
        self.dest = dest
        self.is_dir = is_dir
        self.created = _missing_parents(dest)
        self._fd: Optional[int] = None
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.path = dest.with_name(f".{dest.name}.{token}{STAGING_SUFFIX}")
        self.lock = self.path.with_name(self.path.name + LOCK_SUFFIX)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if is_dir or _scan_due(dest.parent):
                clean_stale_staging(dest.parent)
            # The lock file appears under its name already locked, so a cleaner never sees it free.
            self._fd, fresh = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".xnet-lock-new", dir=dest.parent)
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            os.rename(fresh, self.lock)
            if is_dir:
                self.path.mkdir(mode=0o700)
            else:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except BaseException:
            self.close(failed=True)
            raise

    def publish(self, merge: bool = False) -> None:
        """Move the finished staging entry onto ``dest``."""
        _publish_mode(self.path, self.is_dir)
        if not self.is_dir or not self.dest.exists():
            os.replace(self.path, self.dest)
        elif merge:
            for item in sorted(self.path.iterdir()):
                target = self.dest / item.name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                os.replace(item, target)
        elif not _exchange(self.path, self.dest):
            # No atomic swap here: the old folder moves aside first (a short window
            # in which dest is missing).
            old = self.dest.with_name(f".{self.dest.name}.{os.getpid()}-old-{secrets.token_hex(4)}{STAGING_SUFFIX}")
            os.replace(self.dest, old)
            os.replace(self.path, self.dest)
            _remove(old)
        # After an exchange the previous content sits at the staging path; close() removes it.

    def close(self, failed: bool) -> None:
        """Remove the staging entry (and, on failure, the folders created for it); release the lock."""
        _remove(self.path)
        with contextlib.suppress(FileNotFoundError):
            self.lock.unlink()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if failed:
            for folder in self.created:  # deepest first; stop at the first one that is not empty
                try:
                    folder.rmdir()
                except OSError:
                    break


@contextlib.contextmanager
def _staged(dest: str | os.PathLike, is_dir: bool, merge: bool = False) -> Iterator[Path]:
    dest = Path(dest)
    try:
        staging = _Staging(dest, is_dir)
    except OSError as exc:
        raise OutputError(f"cannot write {describe_os_error(exc, dest)}") from None
    failed = True
    try:
        yield staging.path
        staging.publish(merge)
        failed = False
    except OSError as exc:
        # Errors on the staging entry (disk full, read-only, ...) are this output's errors;
        # others (e.g. reading an input) keep their own path.
        names = [str(n) for n in (exc.filename, getattr(exc, "filename2", None)) if n is not None]
        if not names or any(n.startswith(str(staging.path)) or n == str(dest) for n in names) \
                or exc.errno in _OUTPUT_ERRNOS:
            raise OutputError(f"cannot write {describe_os_error(exc, dest)}") from None
        raise
    finally:
        staging.close(failed)


def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging file path beside ``dest``; rename it onto ``dest`` on success.

    On an exception the staging file (and any folder created for it) is removed and
    ``dest`` is untouched. Stale staging files of killed runs for ``dest`` are removed.

    Raises:
        OutputError: the output cannot be written (read-only, full disk, no permission);
            the message names ``dest`` and the cause.
    """
    return _staged(dest, is_dir=False)


def atomic_dir(dest: str | os.PathLike, merge: bool = False) -> Iterator[Path]:
    """Yield a staging folder beside ``dest``; move it onto ``dest`` on success.

    Args:
        dest: the folder to produce; it is created only when the work succeeds.
        merge: move the staged files into an existing ``dest`` (replacing files of the
            same name, keeping the others) instead of replacing the whole folder.

    An existing ``dest`` folder is replaced only once the new one is complete (atomically
    where the system can swap two folders).

    Raises:
        OutputError: as :func:`atomic_path`.
    """
    return _staged(dest, is_dir=True, merge=merge)


def check_writable(dest: str | os.PathLike, flag: str = "output", is_dir: bool = False) -> Path:
    """Fail fast when ``dest`` cannot be written, before any long work.

    Creates and removes a probe file in the nearest existing folder, which catches
    read-only file systems and missing permissions (also for root).

    Args:
        dest: the file or folder that will be written.
        flag: how to name it in messages (``"--json"``).
        is_dir: ``dest`` is a folder (an existing file there is refused), else a file
            (an existing folder there is refused).

    Returns:
        ``dest`` as a Path.

    Raises:
        OutputError: the path or the folder it goes in cannot be written.
    """
    dest = Path(dest)
    if is_dir and dest.exists() and not dest.is_dir():
        raise OutputError(f"{flag} {dest}: exists and is not a folder")
    if not is_dir and dest.is_dir():
        raise OutputError(f"{flag} {dest}: is a folder; give a file name")
    folder = dest if is_dir and dest.is_dir() else next(
        (p for p in dest.absolute().parents if p.exists()), Path("/"))
    if not folder.is_dir():
        raise OutputError(f"{flag} {dest}: {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(prefix=".xnet-write-probe.", dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"{flag} {dest}: cannot write in {describe_os_error(exc, folder)}") from None
    return dest


def write_bytes_atomic(dest: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``dest`` through a staging file and rename."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(dest: str | os.PathLike, obj, indent: int = 2) -> None:
    """Write ``obj`` as JSON (sorted keys, trailing newline) atomically."""
    write_bytes_atomic(dest, (json.dumps(obj, indent=indent, sort_keys=True) + "\n").encode())


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
