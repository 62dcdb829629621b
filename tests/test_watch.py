"""``liuhen station watch``: recorders docked while the station runs are offloaded as they come."""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from tests.docks import put


def test_watch_offloads_recorders_docked_while_it_runs(settings, make_clip):
    dock = settings.station.dock_root
    dock.mkdir(parents=True)
    p = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(settings.config_path),
                          "station", "watch", str(dock), "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        a = put(dock, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
        b = put(dock, "bay2/DCIM/VID_0001.MP4", make_clip(tone=880))
        os.mkfifo(dock / "bay2" / "DCIM" / "junk.MP4")
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in p.stdout], daemon=True).start()
        rows: list[dict] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(rows) < 3:
            try:
                rows.append(json.loads(lines.get(timeout=1)))
            except queue.Empty:
                assert p.poll() is None, p.stderr.read()
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    got = {r["path"]: r for r in rows}
    assert got["bay1/DSJ-A001_000123_20261123093000_0001.MP4"]["status"] == "archived"
    assert got["bay1/DSJ-A001_000123_20261123093000_0001.MP4"]["sha256"] == a.sha256
    assert got["bay2/DCIM/VID_0001.MP4"]["sha256"] == b.sha256
    assert got["bay2/DCIM/junk.MP4"]["status"] == "refused"


class _TimedIntake:
    """The real in-process intake; notes when each submit (the archive's intake: store and
    commit) runs, and takes a little longer, so a copy that overlaps it can be seen."""

    def __init__(self, archive) -> None:
        from archive.intake import LocalIntake

        self.inner = LocalIntake(archive)
        self.sends: list[tuple[float, float]] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def submit(self, **kw):
        t0 = time.monotonic()
        time.sleep(0.4)
        try:
            return self.inner.submit(**kw)
        finally:
            self.sends.append((t0, time.monotonic()))


def _overlapped(intake: _TimedIntake, started: list[float]) -> bool:
    return any(a < t < b for t in started for a, b in intake.sends)


def _three_clips(dock, make_clip) -> None:
    for i in range(3):
        put(dock, f"bay1/DSJ-A001_000123_2026112309{i}000_000{i}.MP4", make_clip(tone=440 + 110 * i))


def _one_pipeline(settings):
    """One file copied at a time (``[station] parallel = 1``), so that a copy overlapping a send is
    the loop's own overlap, not two pipelines starting together (tests/test_offload_pipeline.py
    covers those)."""
    return dataclasses.replace(settings, station=dataclasses.replace(settings.station, parallel=1))


def test_ingest_once_copies_the_next_file_while_the_last_is_sent(settings, archive, make_clip):
    from ingest.station import Station

    settings = _one_pipeline(settings)
    _three_clips(settings.station.dock_root, make_clip)
    intake = _TimedIntake(archive)
    started: list[float] = []
    station = Station(settings.station, intake,
                      listener=lambda e: started.append(time.monotonic()) if e["event"] == "file_started" else None)
    try:
        results = station.offload_once(settings.station.dock_root)
    finally:
        station.close()
    assert [r.status for r in results] == ["archived"] * 3
    assert _overlapped(intake, started)


def test_watch_copies_the_next_file_while_the_last_is_sent(settings, archive, make_clip):
    from ingest.watch import watch

    settings = _one_pipeline(settings)
    dock = settings.station.dock_root
    _three_clips(dock, make_clip)
    intake = _TimedIntake(archive)
    started: list[float] = []
    answers: queue.Queue = queue.Queue()
    stop = threading.Event()
    t = threading.Thread(target=watch, args=(settings, intake, dock), daemon=True, kwargs=dict(
        stop=stop, on_result=answers.put,
        listener=lambda e: started.append(time.monotonic()) if e["event"] == "file_started" else None))
    t.start()
    try:
        got = [answers.get(timeout=60) for _ in range(3)]
    finally:
        stop.set()
        t.join(timeout=30)
    assert not t.is_alive()
    assert [r.status for r in got] == ["archived"] * 3
    assert _overlapped(intake, started)
