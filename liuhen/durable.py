"""Making writes durable and private: fsync a file or folder, write a small file all the way to
disk, create folders and files only the service's own account can read.

A rename or a new file is durable only once its folder is fsynced too; every stage that must
survive a crash (staging, the store, uploads, exports) goes through these functions.

Least privilege on disk: liuhen's folders are 0700 and its files 0600 (originals and derived
files 0400), so no other local account reads footage, password hashes or personal data. The
roof sets ``PRIVATE_UMASK`` at startup (``private_umask``) for whatever a library creates
(SQLite's WAL and SHM, temp files); the places that create our own files give modes explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> int:
    """Make everything this process creates from now on owner-only; returns the previous umask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path | str) -> Path:
    """``mkdir -p`` where every folder created is 0700 (folders already there are left as they are)."""
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # (mkdir's mode is masked by the umask; this one is not)
    return path


def private_file(path: Path | str) -> Path:
    """Create ``path`` empty and 0600 if it is not there yet (e.g. before a database opens it, so
    that SQLite gives its WAL and SHM files the same mode)."""
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def fsync_path(path: Path | str) -> None:
    """fsync a file or a folder (a folder's fsync makes the names in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` (created or truncated) and fsync it before returning."""
    _write_synced(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), data)


def write_new(path: Path, data: bytes, mode: int = 0o400) -> None:
    """Create ``path`` (never replacing a file already there: FileExistsError), write ``data``, fsync
    the file and its folder before returning."""
    _write_synced(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), data)
    fsync_path(path.parent)


def _write_synced(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the open file ``fd``, fsync it and close it."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
