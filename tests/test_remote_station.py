"""A remote docking station, as deployed: its own config, the archive's `liuhen serve` over HTTP.

While the archive is down, the station stages and queues everything (nothing is lost, nothing
released); once the archive is back, the queue drains and every file is archived exactly once.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import write_config
from tests.docks import BAY3_BINDING, build_multi_bay_dock


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def liuhen(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), *args],
                          capture_output=True, text=True, timeout=300)


def test_remote_station_queues_while_archive_is_down_then_delivers_exactly_once(database_url, tmp_path, make_clip):
    archive_cfg = write_config(tmp_path / "archive", database_url)
    enrol = liuhen(archive_cfg, "stations", "add", "st-remote", "--json")
    assert enrol.returncode == 0, enrol.stderr
    token = json.loads(enrol.stdout)["token"]

    port = _free_port()
    station_cfg = write_config(tmp_path / "station", "sqlite:///unused.db", BAY3_BINDING)
    station_cfg.write_text(station_cfg.read_text().replace(
        'id = "st-test"', f'id = "st-remote"\narchive_url = "http://127.0.0.1:{port}"\ntoken = "{token}"'))
    files = build_multi_bay_dock(tmp_path / "station" / "dock", make_clip)

    down = liuhen(station_cfg, "ingest", "--once", "--json")
    rows = [json.loads(x) for x in down.stdout.splitlines()]
    assert down.returncode == 3
    assert {r["status"] for r in rows} == {"queued"}
    assert all("cannot be reached" in r["reason"] and "kept on the station" in r["reason"] for r in rows)
    staged = [p for p in (tmp_path / "station" / "var" / "station" / "staging").iterdir() if p.name != "partial"]
    assert len(staged) == len(files)  # every file copied, hashed, signed and kept, ready to send

    server = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(archive_cfg), "serve",
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        up = liuhen(station_cfg, "ingest", "--once", "--json")
        assert up.returncode == 0, up.stderr
        rows = [json.loads(x) for x in up.stdout.splitlines()]
        assert len(rows) == len(files)
        assert {r["sha256"] for r in rows} == {f.sha256 for f in files}
        assert sorted(r["status"] for r in rows).count("duplicate") == 1  # the same clip from two recorders

        again = liuhen(station_cfg, "ingest", "--once", "--json")
        assert {json.loads(x)["status"] for x in again.stdout.splitlines()} == {"duplicate"}
    finally:
        server.terminate()
        server.wait(timeout=20)

    verify = liuhen(archive_cfg, "verify", "--json")
    report = json.loads(verify.stdout)
    assert verify.returncode == 0 and report["ok"], report
    assert report["originals_checked"] == len({f.sha256 for f in files})
    assert report["signatures_checked"] == len(files)  # one sighting per recorder file, none twice
    staged = [p for p in (tmp_path / "station" / "var" / "station" / "staging").iterdir() if p.name != "partial"]
    assert staged == []
