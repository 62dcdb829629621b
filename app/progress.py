"""Progress on a terminal, drawn with rich: the bays of an offload, the media jobs, a verification.

On a terminal each view redraws in place (``rich.progress`` / ``rich.live``) until it is closed.
Otherwise (a log, a pipe, the tests) nothing is redrawn: ``BayProgress`` prints one line when a
file starts and one when it is done, never a flood, and the other views print nothing.
Lines written to standard output for a person (``liuhen jobs``) use the plain-text ``bar``.
rich is imported only where something is drawn: ``--json`` and piped runs do not load it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.live import Live
    from rich.progress import Progress, TaskID


def bar(done: int, total: int, width: int = 24) -> str:
    """A bar as plain text, for lines that go to a log or a listing: ``████░░░░  50.0%``."""
    frac = 1.0 if total <= 0 else min(1.0, done / total)
    full = int(frac * width)
    return "█" * full + "░" * (width - full) + f" {frac * 100:5.1f}%"


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def _drawing(stream: TextIO) -> dict[str, Any]:
    """How a live view draws on ``stream``, and lets rich print what others write meanwhile above
    it, not through it: standard error when that is where the view is drawn, standard output only
    when it is a terminal too (piped output, ``--json`` lines, must stay on standard output)."""
    from rich.console import Console

    return {"console": Console(file=stream, highlight=False), "redirect_stderr": stream is sys.stderr,
            "redirect_stdout": stream is not sys.stdout and sys.stdout.isatty()}


def _short(path: str, n: int = 40) -> str:
    return path if len(path) <= n else "…" + path[-(n - 1):]


def _bays(stream: TextIO) -> Progress:
    """A bar per bay, in the bays' name order (as a station numbers them), whatever order they woke in."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TransferSpeedColumn

    class _Bays(Progress):
        def get_renderables(self) -> Iterator[Any]:
            yield self.make_tasks_table(sorted(self.tasks, key=lambda t: t.fields["bay"]))

    return _Bays(TextColumn("{task.fields[bay]:<8}"), BarColumn(bar_width=24), TaskProgressColumn(),
                 TransferSpeedColumn(), TextColumn("{task.fields[files]} 个文件"), TextColumn("{task.fields[path]}"),
                 refresh_per_second=10, **_drawing(stream))


class BayProgress:
    """A station listener: one line per bay with a bar for the file being offloaded.

    Fed with the station's events (``file_started``, ``progress``, ``file_done``) from the copying
    and the sending threads. Call ``close`` when the offload ends, to leave the last picture on
    the terminal and give it back its cursor.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._files: dict[str, int] = {}
        self._started = False
        self._progress: Progress | None = None
        if self.tty:
            self._progress = _bays(self.stream)

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind not in ("file_started", "progress", "file_done"):
            return
        bay = event["bay"]
        self._files.setdefault(bay, 0)
        if kind == "file_started":
            if self._progress is None:
                print(f"[{bay}] offloading {event['path']} ({human(event['size'])})", file=self.stream)
                return
            self._task(bay, event["size"])
            self._progress.reset(self._tasks[bay], total=event["size"], completed=0,  # (fields are replaced)
                                 bay=bay, files=self._files[bay], path=_short(event["path"]))
        elif kind == "progress":
            if self._progress is not None:
                self._task(bay, event["size"])
                self._progress.update(self._tasks[bay], completed=event["done"], total=event["size"])
        elif kind == "file_done":
            self._files[bay] += 1
            if self._progress is None:
                print(f"[{bay}] {event['status']}: {event['path']}", file=self.stream)
                return
            self._task(bay, 0)
            task = self._progress.tasks[self._tasks[bay]]
            self._progress.update(self._tasks[bay], completed=task.total or 0, files=self._files[bay])

    def _task(self, bay: str, size: int) -> None:
        assert self._progress is not None
        if bay not in self._tasks:
            self._tasks[bay] = self._progress.add_task(bay, total=size, bay=bay, files=self._files[bay], path="")
        if not self._started:
            self._progress.start()
            self._started = True

    def close(self) -> None:
        with self._lock:
            if self._progress is not None and self._started:
                self._progress.stop()
                self._started = False


class JobsBoard:
    """``liuhen jobs --wait`` on a terminal: the running jobs with their bars, and how many are left."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._live: Live | None = None
        if self.stream.isatty():
            from rich.live import Live
            from rich.text import Text

            self._live = Live(Text(""), auto_refresh=False, **_drawing(self.stream))
            self._live.start()

    def show(self, running: list[dict[str, Any]], active: int) -> None:
        if self._live is None:
            return
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1))
        for r in running:
            grid.add_row(f"#{r['job_id']:<5}", f"{r['kind']:<7}",
                         ProgressBar(total=1000, completed=int(r["progress"] * 1000), width=24),
                         f"{r['progress'] * 100:5.1f}%", r["file_name"][:40])
        self._live.update(Group(grid, Text(f"{active} 个任务进行中 job(s) pending or running")), refresh=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


@contextmanager
def counting(label: str, *, show: bool = True, stream: TextIO | None = None) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(i, n)`` callback that draws ``label`` with a bar and i/n on a terminal (when
    ``show``), and does nothing elsewhere."""
    out = stream or sys.stderr
    if not (show and out.isatty()):
        yield lambda i, n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn

    with Progress(TextColumn(label), BarColumn(bar_width=24), TaskProgressColumn(), MofNCompleteColumn(),
                  **_drawing(out)) as p:
        task = p.add_task(label, total=None)
        yield lambda i, n: p.update(task, completed=i, total=n)
