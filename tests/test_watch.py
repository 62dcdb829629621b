"""``liuhen station watch``: recorders docked while the station runs are offloaded as they come."""

from __future__ import annotations

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
