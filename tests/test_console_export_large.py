"""A 300 MB export in a real browser (Debian's Chromium through Playwright) against a real
``liuhen serve`` whose own embedded worker makes the export: the user presses 导出 on a case that
holds a 300 MB recording, the export's page shows its progress bar climbing on its own while the
job streams the bag, then the download arrives, a valid bag whose media is stored byte for byte.
All the while the server's resident memory (``VmRSS`` of the ``liuhen serve`` process, sampled
from ``/proc``) stays flat: its peak stays within ``RSS_BOUND`` of what it was before the export.

The 300 MB recording is a real short H.264/AAC clip followed by an MP4 ``free`` box of zeros (an
ordinary MP4 padding box that players and ffprobe skip), so it is made in a second."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bagit
import pytest
from sqlalchemy import select

from tests import test_console_browser as console_browser
from tests.conftest import write_config
from tests.docks import put
from tests.test_console_browser import CHROMIUM, World, _login, _seed

browser = console_browser.browser  # the same module-scoped headless Chromium fixture

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent  # the server runs this checkout's code
SIZE = 300 * 1024 * 1024
RSS_BOUND = 64 * 1024 * 1024  # the server's peak resident memory, above its baseline, while exporting


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _padded(clip: Path, into: Path, size: int) -> Path:
    """``clip`` followed by one ``free`` box so that the whole file is ``size`` bytes."""
    head = clip.read_bytes()
    pad = size - len(head) - 8
    with open(into, "wb") as f:
        f.write(head)
        f.write(int(pad + 8).to_bytes(4, "big") + b"free")
        block = bytes(4 * 1024 * 1024)
        while pad > 0:
            f.write(block[:min(pad, len(block))])
            pad -= min(pad, len(block))
    return into


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, make_clip: Any) -> Iterator[tuple[World, int]]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    from app.runtime import open_archive
    from archive.intake import LocalIntake
    from archive.models import Evidence
    from ingest.station import Station
    from jobs.worker import run_worker
    from liuhen import config
    from media.service import HANDLERS

    folder = tmp_path_factory.mktemp("console-export-large")
    # (the first line lands in [station]: the server runs no station; its worker makes exports)
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}",
                       extra="embedded = false\n[workers]\nembedded = true\npoll_seconds = 0.2\n"
                             "[fixity]\nembedded = false\n[retention]\nembedded = false\n")
    settings = config.load(cfg, environ={})
    archive = open_archive(settings)
    try:
        ids = _seed(archive, settings, make_clip)
        big = _padded(make_clip(seconds=2.0, size="320x240", tone=770), folder / "big.MP4", SIZE)
        put(settings.station.dock_root, "bay4/DSJ-A001_000123_20261123120000_0009.MP4", big)
        big.unlink()
        station = Station(settings.station, LocalIntake(archive))
        try:
            (result,) = [r for r in station.offload_once(settings.station.dock_root) if r.status == "archived"]
        finally:
            station.close()
        run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.1, until_idle=True)
        with archive.sessions() as db:
            ids["big"] = db.scalars(select(Evidence.id).where(Evidence.size == SIZE)).one()
    finally:
        archive.close()
    port = _free_port()
    log = open(folder / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(cfg), "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "LIUHEN_CONFIG": str(cfg), "PYTHONPATH": str(REPO)}, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("liuhen serve did not start:\n" + (folder / "serve.log").read_text(errors="replace"))
        time.sleep(0.2)
    try:
        yield World(base, folder, settings, ids), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


_WATCH = """document.addEventListener("DOMContentLoaded", () => {
    const bar = document.getElementById("export-progress");
    if (!bar) return;
    const note = () => { const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
        seen.push([Number(bar.value), Number(bar.max)]); sessionStorage.setItem("seen", JSON.stringify(seen)); };
    note();
    new MutationObserver(note).observe(bar, {attributes: true});
});"""


class _Sampler(threading.Thread):
    """The server's VmRSS every 20 ms until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.samples = pid, 0, 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.peak = max(self.peak, _rss(self.pid))
            self.samples += 1
            time.sleep(0.02)


def test_a_300_mb_case_export_shows_progress_downloads_and_the_servers_memory_stays_flat(
        browser: Any, world: tuple[World, int], tmp_path: Path) -> None:
    w, pid = world
    page = _login(browser, w, "investigator")
    try:
        case = page.evaluate("""async () => {
            const c = await api("POST", "/api/v1/cases", {unit_code: "110101", category: "行政处罚", title: "大导出"});
            const s = await api("POST", "/api/v1/cases/" + c.case_id + "/steps", {kind: "调查",
                started_at: "2026-11-23T11:59:00+08:00", ended_at: "2026-11-23T12:05:00+08:00", officers: ["000123"]});
            await api("POST", "/api/v1/cases/steps/" + s.step_id + "/links", {evidence_id: EID});
            return c.case_id; }""".replace("EID", str(w.ids["big"])))
        # every value the export page's bar takes as the page sets it, kept across its reload
        page.context.add_init_script(_WATCH)
        page.goto(f"{w.base}/cases/{case}")
        for _ in range(3):  # settle the server's allocator on ordinary pages first
            page.reload()
        baseline = max(_rss(pid) for _ in range(5))
        sampler = _Sampler(pid)
        sampler.start()
        try:
            page.click("#case-export")
            page.wait_for_url(f"{w.base}/exports/*")
            export_id = int(page.url.rsplit("/", 1)[1])
            page.wait_for_selector("#export-download", timeout=60_000)  # reloaded by itself once done
            seen: list[list[float]] = json.loads(page.evaluate("sessionStorage.getItem('seen') || '[]'"))
            assert page.get_attribute("#export", "data-state") == "done"
            with page.expect_download(timeout=60_000) as dl:
                page.click("#export-download")
            path = tmp_path / "export.zip"
            dl.value.save_as(path)
        finally:
            sampler.halt.set()
            sampler.join()
    finally:
        page.context.close()
    print(f"server VmRSS baseline {baseline >> 20} MiB, peak {sampler.peak >> 20} MiB; the bar showed {seen}")
    assert sampler.samples > 50
    assert sampler.peak - baseline < RSS_BOUND, (baseline, sampler.peak)
    # the bar climbed while the job ran: from nothing, through values in between, to all, never back
    assert seen[0][0] == 0, seen
    values = [v for v, m in seen if m > 1]
    assert [v for v in values if 0 < v < SIZE], seen  # (here: two or three of them; the job takes seconds)
    assert values == sorted(values) and values[-1] == max(m for _, m in seen) > SIZE, seen

    assert path.stat().st_size > SIZE
    with zipfile.ZipFile(path) as z:
        (original,) = [i for i in z.infolist() if "/data/originals/" in i.filename]
        assert original.compress_type == zipfile.ZIP_STORED and original.file_size == SIZE
        z.extractall(tmp_path / "bag")
    (top,) = list((tmp_path / "bag").iterdir())
    bagit.Bag(str(top)).validate()
    downloads = [json.loads(e.detail) for e in w.events(action="case_downloaded")]
    assert [d["export_id"] for d in downloads] == [export_id]
