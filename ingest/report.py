"""The station's report of its bays to the archive, for the console's dock dashboard.

``DockReporter`` is a station listener: it keeps, per bay, the recorder seen there and every file
of the current docking with its progress and final answer, and a background thread sends the
picture through ``intake.report_status`` at most every ``interval`` seconds when it changed. A
bay found empty starts a new docking. While a bay offloads, the report carries its speed (bytes read
off the recorder a second, over the last ``SPEED_WINDOW`` seconds) and the time its files have left
at that speed. A report that cannot be delivered is simply replaced by
the next one: files are accounted for by the ledger, not by reports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, cast

from ingest.wire import ATTENTION, FINAL, MAX_FILES, BayReport, FileState, Intake, StationReport

log = logging.getLogger("liuhen.station.report")
SPEED_WINDOW = 5.0  # seconds of progress the speed is measured over


class DockReporter:
    def __init__(self, intake: Intake, station_id: str, *, interval: float = 0.5,
                 chain: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.intake = intake
        self.station_id = station_id
        self.interval = interval
        self.chain = chain
        self.clock = clock
        self._bays: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dock-report", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ station events

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._handle(event)
        self._dirty.set()
        if self.chain is not None:
            self.chain(event)

    def _bay(self, name: str) -> dict[str, Any]:
        return self._bays.setdefault(name, {"device_id": None, "officer_no": None, "files": {}, "moved": 0,
                                            "samples": deque()})

    def _handle(self, e: dict[str, Any]) -> None:
        kind = e["event"]
        if kind == "bays":  # one scan of the dock: which bays hold files now
            for name, count in e["bays"].items():
                b = self._bay(name)
                if count == 0:
                    b.update(device_id=None, officer_no=None, files={}, moved=0, samples=deque())
            for name in list(self._bays):
                if name not in e["bays"]:
                    del self._bays[name]
            return
        b = self._bay(e["bay"])
        files: dict[str, dict[str, Any]] = b["files"]
        path = cast(str, e.get("path"))  # every event below names its file
        if kind == "file_seen":
            f = files.get(path)
            if f is None or f["status"] in FINAL and f.get("size") != e.get("size"):
                files[path] = {"path": path, "size": e.get("size"), "done": 0, "status": "waiting"}
        elif kind == "file_started":
            files[path] = {**files.get(path, {}), "path": path, "size": e["size"], "done": 0, "status": "copying"}
        elif kind == "progress":
            f = files.setdefault(path, {"path": path, "size": e["size"]})
            b["moved"] += max(0, e["done"] - (f.get("done") or 0))  # bytes read off the recorder
            b["samples"].append((self.clock(), b["moved"]))
            f.update(done=e["done"], size=e["size"], status="copying" if e["done"] < e["size"] else "sending")
        elif kind == "file_result":
            f = files.setdefault(path, {"path": path})
            f.update(status=e["status"], reason=e.get("reason"), reason_code=e.get("reason_code"),
                     evidence_id=e.get("evidence_id"),
                     sha256=e.get("sha256"), size=e.get("size") if e.get("size") is not None else f.get("size"),
                     earlier=bool(e.get("earlier")))
            f["done"] = f.get("size") or 0
            if e.get("device_id"):
                b["device_id"] = e["device_id"]
            if e.get("officer_id"):
                b["officer_no"] = e["officer_id"]
        if e.get("device_id") and not b["device_id"]:
            b["device_id"] = e["device_id"]
        if e.get("officer_id") and not b["officer_no"]:
            b["officer_no"] = e["officer_id"]

    def snapshot(self) -> StationReport:
        with self._lock:
            bays = []
            for name, b in sorted(self._bays.items()):
                files = list(b["files"].values())[-MAX_FILES:]
                statuses = [f["status"] for f in files]
                state: Literal["empty", "waiting", "offloading", "done", "attention"]
                if not files:
                    state = "empty"
                elif any(s in ("copying", "sending") for s in statuses):
                    state = "offloading"
                elif any(s == "waiting" for s in statuses):
                    state = "waiting"
                elif any(s in ATTENTION for s in statuses):
                    state = "attention"
                else:
                    state = "done"
                speed, eta = self._speed(b, files) if state == "offloading" else (None, None)
                bays.append(BayReport(bay=name, state=state, device_id=b["device_id"], officer_no=b["officer_no"],
                                      files=[FileState(**f) for f in files], speed_bps=speed, eta_s=eta))
        return StationReport(station_id=self.station_id, bays=bays)

    def _speed(self, b: dict[str, Any], files: list[dict[str, Any]]) -> tuple[float | None, float | None]:
        """Bytes a second over the last ``SPEED_WINDOW`` seconds, and the seconds the bay's unfinished
        files have left at that speed; (None, None) until half a second of progress is known."""
        samples: deque[tuple[float, int]] = b["samples"]
        now = self.clock()
        while len(samples) > 1 and samples[1][0] < now - SPEED_WINDOW:
            samples.popleft()  # (the one just before the window stays: it is where the window starts)
        if not samples:
            return None, None
        t0, moved0 = samples[0]
        span = now - t0
        if span < 0.5:
            return None, None
        speed = (b["moved"] - moved0) / span
        left = sum(max(0, (f.get("size") or 0) - (f.get("done") or 0)) for f in files
                   if f["status"] in ("waiting", "copying"))
        return speed, (left / speed if speed > 0 else None)

    # ------------------------------------------------------------------ sending

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(timeout=5.0)  # also re-send now and then: the archive shows silence as offline
            if self._stop.is_set():
                break
            self._dirty.clear()
            self.flush()
            self._stop.wait(self.interval)

    def flush(self) -> None:
        try:
            self.intake.report_status(station_id=self.station_id, report=self.snapshot())
        except Exception as e:  # noqa: BLE001 - a lost report is replaced by the next; files are safe
            log.debug("dock report not delivered: %s", e)

    def close(self) -> None:
        self._stop.set()
        self._dirty.set()
        self._thread.join(timeout=5)
        self.flush()
