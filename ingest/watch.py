"""``liuhen station watch``: the long-running station, offloading recorders as they are docked.

watchdog reports changes under the dock root; a bay with changes is rescanned, and every bay is
rescanned every ``rescan_seconds`` anyway (USB mounts do not always deliver events). Files are
offloaded once stable; a recorder unplugged mid-copy is resumed when it comes back.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ingest.wire import Intake
from ingest.scan import Refusal, list_bays, scan_bay
from ingest.wire import StoreFull
from ingest.errors import StagingFull
from ingest.station import FileResult, Listener, Station
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
          rescan_seconds: float = 10.0) -> None:
    on_result = on_result or (lambda r: None)
    station = Station(settings.station, intake, listener=listener)
    dirty = _Dirty(dock_root.resolve())
    observer = Observer()
    observer.schedule(dirty, str(dock_root), recursive=True)
    observer.start()
    seen: dict[tuple[str, bytes], tuple[int, int, float]] = {}
    answered: dict[tuple[str, bytes], tuple[int, int]] = {}
    last_full = 0.0
    try:
        for r in station.recover():
            on_result(r)
        while not stop.is_set():
            now = time.monotonic()
            bays = dirty.take()
            full = now - last_full > rescan_seconds or bool(seen)
            if full:
                last_full = now
            counts: dict[str, int] = {}
            for bay, bay_path in list_bays(dock_root):
                if not full and bay not in bays:
                    continue
                items = list(scan_bay(bay, bay_path))
                counts[bay] = len(items)
                for item in items:
                    ident = (item.bay, item.rel)
                    if isinstance(item, Refusal):
                        if ident not in answered:
                            answered[ident] = (-1, -1)
                            on_result(station.refusal_result(item))
                        continue
                    sig = (item.size, item.mtime_ns)
                    if answered.get(ident) == sig:
                        continue
                    prev = seen.get(ident)
                    if prev is None or prev[:2] != sig:
                        if prev is None:
                            station.seen(item)
                        seen[ident] = (*sig, now)
                        continue
                    if now - prev[2] < settings.station.stable_seconds:
                        continue
                    del seen[ident]
                    try:
                        r = station.offload_file(item)
                    except (StagingFull, StoreFull) as e:
                        on_result(station.emit(FileResult(item.bay, f"{item.bay}/{item.display}", "refused",
                                                          reason=e.diagnostics())))
                        stop.wait(30)
                        continue
                    if r is None:
                        answered[ident] = sig
                        continue
                    if r.status != "interrupted":
                        answered[ident] = sig
                    on_result(r)
            if full:
                station.listener({"event": "bays", "bays": counts})
            stop.wait(settings.station.poll_seconds)
    finally:
        observer.stop()
        observer.join(timeout=5)
        station.close()
