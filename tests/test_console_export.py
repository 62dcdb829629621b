"""Exports in a real browser (Debian's Chromium through Playwright) against a real ``liuhen serve``:
the evidence page's export streams one recording straight to the browser's own download; the case
page's export starts a job and opens its page, whose progress bar follows the job without a reload
by hand and offers the download when it is ready; 我的导出 lists it; the download is a verifiable
bag with the media stored. The server's media workers are off here, so the test runs the export
job itself while the page is open (the page must see it move on its own)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bagit
import pytest

from tests import test_console_browser as console_browser
from tests.conftest import write_config
from tests.test_console_browser import CHROMIUM, World, _login, _seed, _wait

browser = console_browser.browser  # the same module-scoped headless Chromium fixture

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent  # the server runs this checkout's code


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, make_clip: Any) -> Iterator[World]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    from app.runtime import open_archive
    from liuhen import config

    folder = tmp_path_factory.mktemp("console-export")
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}",
                       extra="\n[workers]\nembedded = false\npoll_seconds = 0.2\n")
    settings = config.load(cfg, environ={})
    archive = open_archive(settings)
    ids = _seed(archive, settings, make_clip)
    archive.close()
    port = _free_port()
    log = open(folder / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(cfg), "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LIUHEN_CONFIG": str(cfg), "PYTHONPATH": str(REPO)},
                            cwd=folder)
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
        yield World(base, folder, settings, ids)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _run_export_jobs(world: World) -> None:
    from api.exports import HANDLERS
    from app.runtime import open_archive
    from jobs import queue
    from jobs.worker import run_one

    archive = open_archive(world.settings, migrate=False)
    try:
        while (job := queue.claim(archive, worker="test", kinds=("export",), lease_s=30)) is not None:
            run_one(archive, job, HANDLERS, lease_s=30)
    finally:
        archive.close()


def _set_progress(world: World, export_id: int, done: int, total: int) -> None:
    """What the job writes as it goes (``api.exports``), written here at a chosen point so the
    page can be seen to follow it."""
    from jobs.models import Export
    from liuhen import db

    engine = db.make_engine(world.settings.archive.database_url)
    try:
        with db.make_sessionmaker(engine).begin() as s:
            x = s.get_one(Export, export_id)
            x.state, x.bytes_done, x.bytes_total = "running", done, total
    finally:
        engine.dispose()


def _bag_of(data: bytes, into: Path) -> zipfile.ZipFile:
    z = zipfile.ZipFile(io.BytesIO(data))
    z.extractall(into)
    (top,) = list(into.iterdir())
    bagit.Bag(str(top)).validate()
    return z


def test_the_evidence_page_streams_one_recording_to_the_browsers_download(browser: Any, world: World,
                                                                        tmp_path: Path) -> None:
    page = _login(browser, world, "investigator")
    try:
        eid = world.ids["zhangsan"]
        page.goto(f"{world.base}/evidence/{eid}")
        with page.expect_download() as dl:
            page.click("#export")
        path = dl.value.path()
        assert dl.value.suggested_filename.startswith(f"liuhen-evidence-{eid}-")
        z = _bag_of(Path(path).read_bytes(), tmp_path)
        (original,) = [i for i in z.infolist() if "/data/originals/" in i.filename]
        assert original.compress_type == zipfile.ZIP_STORED
    finally:
        page.context.close()
    assert [e.evidence_id for e in world.events(action="exported", actor="user:investigator")] == [eid]


def test_a_case_export_runs_as_a_job_whose_page_shows_progress_then_the_download(browser: Any, world: World,
                                                                               tmp_path: Path) -> None:
    page = _login(browser, world, "investigator")
    try:
        case = page.evaluate("""async () => {
            const c = await api("POST", "/api/v1/cases", {unit_code: "110101", category: "行政处罚", title: "导出"});
            const s = await api("POST", "/api/v1/cases/" + c.case_id + "/steps", {kind: "调查",
                started_at: "2026-11-23T09:29:00+08:00", ended_at: "2026-11-23T10:05:00+08:00", officers: ["000123"]});
            await api("POST", "/api/v1/cases/steps/" + s.step_id + "/links", {evidence_id: EID});
            return c.case_id; }""".replace("EID", str(world.ids["zhangsan"])))
        page.goto(f"{world.base}/cases/{case}")
        page.click("#case-export")
        page.wait_for_url(f"{world.base}/exports/*")
        export_id = int(page.url.rsplit("/", 1)[1])
        assert page.get_attribute("#export", "data-state") == "pending"
        assert page.locator("#export-download").count() == 0

        _set_progress(world, export_id, 400, 1000)  # the page follows on its own
        _wait(page, "document.getElementById('export-progress').value === 400")
        assert page.get_attribute("#export-progress", "max") == "1000"
        assert page.get_attribute("#export", "data-state") == "running"

        _run_export_jobs(world)
        page.wait_for_selector("#export-download", timeout=30_000)  # the page reloaded by itself once done
        assert page.get_attribute("#export", "data-state") == "done"
        bar = page.locator("#export-progress")
        assert bar.get_attribute("value") == bar.get_attribute("max") != "1"
        with page.expect_download() as dl:
            page.click("#export-download")
        z = _bag_of(Path(dl.value.path()).read_bytes(), tmp_path)
        assert any(i.filename.endswith("/data/case/case.json") for i in z.infolist())
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist() if i.filename.endswith(".MP4"))

        page.goto(f"{world.base}/exports")
        assert page.locator(f"#exports tr[data-export-id='{export_id}'][data-state='done']").count() == 1
    finally:
        page.context.close()
    downloads = [json.loads(e.detail) for e in world.events(action="case_downloaded")]
    assert [d["export_id"] for d in downloads] == [export_id]


def test_another_users_export_page_is_a_not_found_page(browser: Any, world: World) -> None:
    from jobs.models import Export
    from liuhen import db

    engine = db.make_engine(world.settings.archive.database_url)
    try:
        with db.make_sessionmaker(engine)() as s:
            export_id = max(x.id for x in s.query(Export))
    finally:
        engine.dispose()
    page = _login(browser, world, "records_manager")
    try:
        r = page.goto(f"{world.base}/exports/{export_id}")
        assert r is not None and r.status == 404
        assert page.locator("#export").count() == 0
        assert "没有编号为" in page.inner_text("main")
    finally:
        page.context.close()
