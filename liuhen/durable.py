"""Making writes durable: fsync a file or folder, write a small file all the way to disk.

A rename or a new file is durable only once its folder is fsynced too; every stage that must
survive a crash (staging, the store, uploads, exports) goes through these two functions.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path | str) -> None:
    """fsync a file or a folder (a folder's fsync makes the names in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` (created or truncated) and fsync it before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes, mode: int = 0o400) -> None:
    """Create ``path`` (never replacing a file already there: FileExistsError), write ``data``, fsync
    the file and its folder before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_path(path.parent)
