"""Progress on a terminal: one line per bay with a bar for the file being offloaded.

Fed with the station's events. On a terminal it redraws in place; otherwise (a log, a pipe)
it prints one line when a file starts and when it is done, never a flood.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO


def bar(done: int, total: int, width: int = 24) -> str:
    frac = 1.0 if total <= 0 else min(1.0, done / total)
    full = int(frac * width)
    return "█" * full + "░" * (width - full) + f" {frac * 100:5.1f}%"


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


class BayProgress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.bays: dict[str, dict[str, Any]] = {}
        self._drawn = 0
        self._last = 0.0
        self._lock = threading.Lock()  # events come from the copying and the sending thread

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind not in ("file_started", "progress", "file_done"):
            return
        b = self.bays.setdefault(event["bay"], {"files": 0, "path": "", "done": 0, "size": 0, "t0": time.monotonic()})
        if kind == "file_started":
            b.update(path=event["path"], done=0, size=event["size"], t0=time.monotonic(), t1=None)
            if not self.tty:
                print(f"[{event['bay']}] offloading {event['path']} ({human(event['size'])})", file=self.stream)
        elif kind == "progress":
            b.update(done=event["done"], size=event["size"])
        elif kind == "file_done":
            b["files"] += 1
            b["done"] = b["size"]
            b["t1"] = time.monotonic()
            if not self.tty:
                print(f"[{event['bay']}] {event['status']}: {event['path']}", file=self.stream)
        if self.tty and (kind != "progress" or time.monotonic() - self._last > 0.1):
            self._draw()

    def _draw(self) -> None:
        self._last = time.monotonic()
        out = self.stream
        if self._drawn:
            out.write(f"\x1b[{self._drawn}F")
        for name, b in sorted(self.bays.items()):
            secs = max(1e-6, (b.get("t1") or time.monotonic()) - b["t0"])
            rate = human(b["done"] / secs) + "/s"
            path = b["path"] if len(b["path"]) <= 40 else "…" + b["path"][-39:]
            out.write(f"\x1b[2K{name:<8} {bar(b['done'], b['size'])} {rate:>11}  {b['files']} 个文件  {path}\n")
        self._drawn = len(self.bays)
        out.flush()
