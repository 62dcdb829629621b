"""``liuhen station watch``: the long-running station, offloading recorders as they are docked.

watchdog reports changes under the dock root; a bay with changes is rescanned at once, and every
bay every ``rescan_seconds`` anyway (USB mounts do not always deliver events). The loop itself is
the station's one loop (``Station.watch``, the same as ``liuhen ingest --once`` runs once): files
are offloaded once stable, copied while the previous one is sent, a recorder unplugged mid-copy
is resumed when it comes back, and a full disk makes the station wait and try again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ingest.station import FULL_RETRY_SECONDS, FileResult, Listener, Station
from ingest.wire import Intake
from liuhen.config import Settings


class _Dirty(FileSystemEventHandler):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bays: set[str] = set()
        self.lock = threading.Lock()

    def on_any_event(self, event: FileSystemEvent) -> None:
        path = Path(str(event.src_path))
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return
        if rel.parts:
            with self.lock:
                self.bays.add(rel.parts[0])

    def take(self) -> set[str]:
        with self.lock:
            out, self.bays = self.bays, set()
        return out


def watch(settings: Settings, intake: Intake, dock_root: Path, *, stop: threading.Event,
          listener: Listener | None = None, on_result: Callable[[FileResult], None] | None = None,
          rescan_seconds: float = 10.0, full_retry_seconds: float = FULL_RETRY_SECONDS) -> None:
    station = Station(settings.station, intake, listener=listener)
    dirty = _Dirty(dock_root.resolve())
    observer = Observer()
    observer.schedule(dirty, str(dock_root), recursive=True)
    observer.start()
    try:
        station.watch(dock_root, stop=stop, on_result=on_result or (lambda r: None), changed=dirty.take,
                      rescan_seconds=rescan_seconds, full_retry_seconds=full_retry_seconds)
    finally:
        observer.stop()
        observer.join(timeout=5)
        station.close()
