"""The dock tells the truth, in a real browser (Debian's Chromium through Playwright) against a real
``liuhen serve`` with its embedded station, restarted mid-test.

- assigning a recorder and 重点标记 stay visibly done through the page's 1 s refreshes and through a
  restart of the server: the page shows what is stored, the header the recorder's assignee;
- a recorder naming an officer who is in no roster is flagged, with the fix at hand;
- after the restart, a file the station archived in its earlier run reads 已归档 #N（之前已采集）
  with its evidence number, not "已归档过（内容相同）";
- a 0-byte recording is shown as an empty file with the reason, not as a success with a 0 % bar.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests import test_console_browser as console
from tests.conftest import write_config
from tests.docks import put
from tests.test_console_browser import CHROMIUM, PASSWORD, _free_port, _login, _wait

browser = console.browser  # (its fixture)

pytestmark = pytest.mark.slow


class Server:
    """``liuhen serve`` (console, API, embedded station, media workers) that can be restarted."""

    def __init__(self, folder: Path, cfg: Path, settings: Any) -> None:
        self.folder, self.cfg, self.settings = folder, cfg, settings
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        import httpx

        self.runs += 1
        log = open(self.folder / f"serve-{self.runs}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "--config", str(self.cfg), "serve", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LIUHEN_CONFIG": str(self.cfg)}, cwd=self.folder)
        log.close()
        deadline = time.monotonic() + 120  # (a busy CI machine starts it slowly)
        while True:
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("liuhen serve did not start:\n"
                            + (self.folder / f"serve-{self.runs}.log").read_text(errors="replace"))
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def evidence_of(self, file_name: str) -> Any:
        from archive.models import Evidence
        from liuhen import db

        engine = db.make_engine(self.settings.archive.database_url)
        try:
            with db.make_sessionmaker(engine)() as s:
                return s.scalar(select(Evidence).where(Evidence.file_name == file_name))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    from app.runtime import open_archive
    from archive.attribution import add_officer
    from archive.service import register_station
    from archive.stations import set_unit
    from auth import service as accounts
    from hashing.keys import load_or_create
    from liuhen import config

    folder = tmp_path_factory.mktemp("dock")
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}", extra="\n[workers]\npoll_seconds = 0.2\n")
    settings = config.load(cfg, environ={})
    archive = open_archive(settings)
    try:
        with archive.sessions.begin() as db:
            a = accounts.add_unit(db, code="110101", name="东城分局")
            add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=a.id, actor="test")
            for role in ("operator", "admin"):
                accounts.add_user(db, archive.custody, username=role, password=PASSWORD, role=role,
                                  unit_code="110101", display_name=f"{role} 用户", actor="test", settings=settings.auth)
        key = load_or_create(settings.station.state_path / "station.ed25519")
        register_station(archive, station_id=settings.station.id, public_pem=key.public_pem)
        set_unit(archive, station_id=settings.station.id, unit_code="110101")
    finally:
        archive.close()
    s = Server(folder, cfg, settings)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _bay(bay: str) -> str:
    return f".bay[data-bay='{bay}']"


def _settle(page: Any, seconds: float = 3.5) -> None:
    """Let the page refresh itself several times (it polls every second)."""
    time.sleep(seconds)


def test_assignment_and_mark_stay_visible_through_refreshes_and_a_restart_and_earlier_files_say_so(
        browser: Any, server: Server, make_clip: Any) -> None:
    name = "DSJ-C007_000999_20261123093000_0001.MP4"  # officer 000999 is in no roster
    put(server.settings.station.dock_root, f"bay7/{name}", make_clip(seconds=2.0, size="320x240", tone=500))
    bay = _bay("bay7")
    page = _login(browser, server, "operator")  # (a Server has .base, as _login needs)
    try:
        page.wait_for_selector(f"{bay} tr.file[data-status='archived']", timeout=60_000)
        eid = server.evidence_of(name).id
        assert f"已归档 #{eid}" in page.inner_text(f"{bay} tr.file td.status")

        # the unknown officer is flagged, with the fix at hand: assign the recorder
        flag = page.locator(f"{bay} .unknown-officer[data-officer-no='000999']")
        assert flag.count() == 1 and "000999 不在人员名册中" in flag.inner_text()
        assert page.get_attribute(f"{bay} .officer", "data-source") == "file"
        flag.locator("select.assign").select_option("000123")
        _wait(page, f"document.querySelector(\"{bay} .officer\").dataset.officerNo === '000123'")
        _settle(page)
        assert page.get_attribute(f"{bay} .officer", "data-source") == "assigned"
        assert "张三" in page.inner_text(f"{bay} .officer")
        assert page.eval_on_selector(f"{bay} select.assign", "s => s.value") == "000123"
        assert page.locator(f"{bay} .unknown-officer").count() == 0
        assert "000999" in page.inner_text(f"{bay} .file-officer")  # what the file names, still said

        # 重点标记: stays marked through the refreshes
        page.click(f"{bay} button.mark[data-evidence='{eid}']")
        _wait(page, f"document.querySelector(\"{bay} button.mark\").dataset.important === 'true'")
        _settle(page)
        assert page.get_attribute(f"{bay} button.mark", "data-important") == "true"
        assert "★" in page.inner_text(f"{bay} button.mark")
        assert server.evidence_of(name).important is True

        # a restart of the server (and with it the station): the stored state, and the earlier file said so
        server.stop()
        server.start()
        page.reload()
        _wait(page, f"document.querySelector(\"{bay} tr.file[data-earlier='true']\") !== null", 60)
        label = page.inner_text(f"{bay} tr.file td.status")
        assert f"已归档 #{eid}（之前已采集）" in label, label
        assert "内容相同" not in label
        _settle(page)
        assert page.get_attribute(f"{bay} .officer", "data-officer-no") == "000123"
        assert page.get_attribute(f"{bay} .officer", "data-source") == "assigned"
        assert "张三" in page.inner_text(f"{bay} .officer")
        assert page.eval_on_selector(f"{bay} select.assign", "s => s.value") == "000123"
        assert page.get_attribute(f"{bay} button.mark", "data-important") == "true"
    finally:
        page.context.close()


def test_an_empty_recording_is_shown_as_empty_with_the_reason(browser: Any, server: Server) -> None:
    name = "DSJ-D008_000123_20261123100000_0001.MP4"
    put(server.settings.station.dock_root, f"bay8/{name}", b"")
    bay = _bay("bay8")
    page = _login(browser, server, "operator")
    try:
        page.wait_for_selector(f"{bay} tr.file[data-empty='true']", timeout=60_000)
        row = page.locator(f"{bay} tr.file")
        assert row.count() == 1
        text = row.inner_text()
        assert "空文件（0 字节）" in text and "没有任何内容" in text
        assert row.locator("progress").count() == 0  # no 0 % bar as if it were a success
        eid = server.evidence_of(name).id
        assert f"#{eid}" in text  # archived as it is, to leave its trace
        _wait(page, f"document.querySelector(\"{bay}\").dataset.state === 'done'")
        assert page.get_attribute(f"{bay} progress.bay-bar", "data-value") == "100"
    finally:
        page.context.close()


def test_an_administrator_adds_an_unknown_officer_to_the_roster_from_the_dock(
        browser: Any, server: Server, make_clip: Any) -> None:
    put(server.settings.station.dock_root, "bay9/DSJ-F009_000888_20261123110000_0001.MP4",
        make_clip(seconds=1.0, size="320x240", tone=700))
    bay = _bay("bay9")
    page = _login(browser, server, "admin")  # runs docks, keeps the roster, sees no evidence
    try:
        page.wait_for_selector(f"{bay} .unknown-officer[data-officer-no='000888']", timeout=60_000)
        page.fill(f"{bay} input.officer-name", "赵六")
        page.click(f"{bay} button.add-officer")
        _wait(page, f"document.querySelector(\"{bay} .officer\").textContent.includes('赵六')")
        _settle(page)
        assert page.locator(f"{bay} .unknown-officer").count() == 0
        assert "赵六 (000888)" in page.inner_text(f"{bay} .officer")
    finally:
        page.context.close()


def test_the_station_reports_each_bays_speed_and_time_left_while_it_offloads() -> None:
    """The speed is measured over the last few seconds of copying; the time left is what the bay's
    unfinished files still hold at that speed; neither is reported once the bay is done."""
    from ingest.report import DockReporter

    class Quiet:
        def report_status(self, **_: Any) -> None:
            pass

    now = [100.0]
    r = DockReporter(Quiet(), "st", interval=3600, clock=lambda: now[0])  # type: ignore[arg-type]
    try:
        mb = 1 << 20
        r({"event": "file_seen", "bay": "b1", "path": "b1/a.mp4", "size": 10 * mb})
        r({"event": "file_seen", "bay": "b1", "path": "b1/b.mp4", "size": 10 * mb})
        r({"event": "file_started", "bay": "b1", "path": "b1/a.mp4", "size": 10 * mb})
        assert r.snapshot().bays[0].speed_bps is None  # nothing measured yet
        for second in range(1, 5):  # 2 MB a second
            now[0] = 100.0 + second
            r({"event": "progress", "bay": "b1", "path": "b1/a.mp4", "size": 10 * mb, "done": 2 * mb * second})
        bay = r.snapshot().bays[0]
        assert bay.state == "offloading"
        assert bay.speed_bps == pytest.approx(2 * mb, rel=0.01)
        assert bay.eta_s == pytest.approx((2 * mb + 10 * mb) / (2 * mb), rel=0.01)  # 2 MB of a, all of b
        for path in ("b1/a.mp4", "b1/b.mp4"):
            r({"event": "file_result", "bay": "b1", "path": path, "status": "archived", "evidence_id": 1,
               "size": 10 * mb})
        bay = r.snapshot().bays[0]
        assert bay.state == "done" and bay.speed_bps is None and bay.eta_s is None
    finally:
        r.close()
