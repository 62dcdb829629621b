"""Walking a dock: bays, their files, and what must never be opened.

Paths are handled as raw bytes from start to end, so that GBK names written by Chinese
recorders are kept exactly. Symbolic links, FIFOs, sockets and device files are never opened
(a FIFO would hang a reader, a link could point anywhere); anything that resolves outside its
bay is refused. Each refusal names the file, the reason and what to do.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.wire import display_path


@dataclass(frozen=True)
class Candidate:
    bay: str
    bay_path: bytes
    rel: bytes  # path inside the bay, b"/"-separated, raw bytes
    size: int
    mtime_ns: int
    changed_ns: int = 0  # last change of content or metadata: max(mtime, ctime); ctime cannot be set back

    @property
    def abs(self) -> bytes:
        return os.path.join(self.bay_path, self.rel)

    @property
    def display(self) -> str:
        return display_path(self.rel)[0]


@dataclass(frozen=True)
class Refusal:
    bay: str
    rel: bytes
    reason: str
    action: str
    code: str = "refused"  # the reason as a stable code: folder_unreadable | symlink | outside_bay | not_a_file

    @property
    def display(self) -> str:
        return display_path(self.rel)[0]


def list_bays(dock_root: Path) -> list[tuple[str, bytes]]:
    """The bays of a dock: its sub-folders (a docked recorder's mounted files), by name."""
    root = os.fsencode(dock_root)
    bays = []
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return []
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            bays.append((display_path(e.name)[0], e.path))
    return sorted(bays)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "not a regular file"


def scan_bay(bay: str, bay_path: bytes) -> Iterator[Candidate | Refusal]:
    real_bay = os.path.realpath(bay_path)
    stack: list[bytes] = [b""]
    while stack:
        rel_dir = stack.pop()
        here = os.path.join(bay_path, rel_dir) if rel_dir else bay_path
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except FileNotFoundError:
            return  # the recorder was unplugged: what is left is found when it returns
        except PermissionError:
            yield Refusal(bay, rel_dir, "the folder cannot be read (permission denied)",
                          "Check the recorder's file system on another computer; its files stay on the recorder.",
                          "folder_unreadable")
            continue
        for e in entries:
            rel = os.path.join(rel_dir, e.name) if rel_dir else e.name
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while we looked (e.g. recorder's own temp file)
            if stat.S_ISLNK(st.st_mode):
                yield Refusal(bay, rel, "it is a symbolic link; links are never followed",
                              "If it points at evidence, copy the real file onto the recorder and dock it again.", "symlink")
            elif stat.S_ISDIR(st.st_mode):
                stack.append(rel)
            elif stat.S_ISREG(st.st_mode):
                real = os.path.realpath(e.path)
                if not real.startswith(real_bay + b"/"):
                    yield Refusal(bay, rel, "it resolves to a place outside its bay",
                                  "Dock the recorder directly; do not mount other folders inside a bay.", "outside_bay")
                else:
                    yield Candidate(bay, bay_path, rel, st.st_size, st.st_mtime_ns,
                                    max(st.st_mtime_ns, st.st_ctime_ns))
            else:
                yield Refusal(bay, rel, f"it is {_kind(st.st_mode)}, not a recording; it was not opened",
                              "Nothing to do for evidence; remove it from the recorder if it should not be there.", "not_a_file")
