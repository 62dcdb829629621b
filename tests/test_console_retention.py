"""The records manager's console (档案管理) in a real browser: Debian's Chromium, headless, driven by
Playwright, against a real ``liuhen serve`` process (SQLite) with its media workers.

One archive for the module: unit 东城分局 with two records managers, an investigator and an auditor
(and 西城分局 with an investigator of its own); recordings of 张三 recorded in 2020 (long past the
180 days of 未分类), offloaded through the real station and made playable by the real media jobs.
The archive's own disposal run is off (``embedded = false``): the test runs it, as the archive
would (``retention.disposal.run`` with a system actor), with no grace period (``grace_days = 0``).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import write_config
from tests.docks import put

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]
PASSWORD = "正确的马电池订书钉和钥匙"
SYSTEM = "system:retention-test"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    def __init__(self, base: str, folder: Path, settings: Any, ids: dict[str, int]) -> None:
        self.base, self.folder, self.settings, self.ids = base, folder, settings, ids

    def events(self, **where: Any) -> list[Any]:
        from hashing.models import CustodyEvent

        with self.session() as s:
            q = select(CustodyEvent)
            for k, v in where.items():
                q = q.where(getattr(CustodyEvent, k) == v)
            return list(s.scalars(q.order_by(CustodyEvent.seq)))

    def session(self) -> Any:
        from liuhen import db

        engine = db.make_engine(self.settings.archive.database_url)
        maker = db.make_sessionmaker(engine)

        class _S:
            def __enter__(self) -> Any:
                self.s = maker()
                return self.s

            def __exit__(self, *exc: Any) -> None:
                self.s.close()
                engine.dispose()

        return _S()

    def run_disposal(self, now: dt.datetime | None = None) -> Any:
        """The archive's disposal run, in this process, as the archive itself would run it."""
        from app.runtime import open_archive
        from retention import disposal

        archive = open_archive(self.settings)
        try:
            return disposal.run(archive, actor=SYSTEM, now=now)
        finally:
            archive.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, make_clip: Any) -> Iterator[World]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    from app.runtime import open_archive
    from liuhen import config

    folder = tmp_path_factory.mktemp("console-retention")
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}",
                       extra="[workers]\npoll_seconds = 0.2\n\n[retention]\ngrace_days = 0\nembedded = false\n")
    settings = config.load(cfg, environ={})
    archive = open_archive(settings)
    try:
        ids = _seed(archive, settings, make_clip)
    finally:
        archive.close()

    port = _free_port()
    log = open(folder / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(cfg), "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LIUHEN_CONFIG": str(cfg)},
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


def _seed(archive: Any, settings: Any, make_clip: Any) -> dict[str, int]:
    import threading

    from archive.attribution import add_officer
    from archive.intake import LocalIntake
    from archive.models import Evidence
    from archive.service import register_station
    from archive.stations import set_unit
    from auth import service as accounts
    from hashing.keys import load_or_create
    from ingest.station import Station
    from jobs.worker import run_worker
    from media.service import HANDLERS
    from retention import service as retention

    with archive.sessions.begin() as db:
        a = accounts.add_unit(db, code="110101", name="东城分局")
        accounts.add_unit(db, code="110102", name="西城分局")
        add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=a.id, actor="test")
        for name, role, unit in (("rm_zhang", "records_manager", "110101"), ("rm_li", "records_manager", "110101"),
                                 ("investigator", "investigator", "110101"), ("auditor", "auditor", "110101"),
                                 ("investigator_b", "investigator", "110102")):
            accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role=role, unit_code=unit,
                              display_name=f"{name} 用户", actor="test", settings=settings.auth)
    key = load_or_create(settings.station.state_path / "station.ed25519")
    register_station(archive, station_id=settings.station.id, public_pem=key.public_pem)
    set_unit(archive, station_id=settings.station.id, unit_code="110101")
    dock = settings.station.dock_root
    # recorded in January 2020: far past 未分类's 180 days
    put(dock, "bay1/DSJ-A001_000123_20200101093000_0001.MP4", make_clip(seconds=2.0, size="320x240", tone=440))
    put(dock, "bay2/DSJ-A001_000123_20200101100000_0002.MP4", make_clip(seconds=2.0, size="320x240", tone=660))
    station = Station(settings.station, LocalIntake(archive))
    try:
        results = station.offload_once(dock)
    finally:
        station.close()
    assert [r.status for r in results] == ["archived", "archived"], [r.reason for r in results]
    run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.1, until_idle=True)
    with archive.sessions() as db:
        rows = {e.file_name[:-9]: e for e in db.scalars(select(Evidence))}
        first, second = rows["DSJ-A001_000123_20200101093000"], rows["DSJ-A001_000123_20200101100000"]
        assert second.playback == "ready", second.playback_note
        ids = {"first": first.id, "second": second.id}
    # the second is kept for ever for now: the first disposal run leaves it alone
    with archive.sessions.begin() as db:
        retention.set_class(db, archive.custody, settings.retention, evidence_id=ids["second"],
                            class_name="permanent", actor="user:rm_zhang", reason="待定")
    return ids


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _login(browser: Any, world: World, user: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = ctx.new_page()
    page.goto(f"{world.base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_load_state()
    return page


def _submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def _pending_ids(page: Any) -> set[int]:
    return {int(x) for x in page.eval_on_selector_all("#pending tr.disposal",
                                                      "els => els.map(e => e.dataset.evidenceId)")}


def test_auditor_reads_the_rules_and_report_but_has_no_actions_and_a_forged_post_is_refused(
        browser: Any, world: World) -> None:
    page = _login(browser, world, "auditor")
    try:
        page.click("#nav-retention")
        page.wait_for_load_state()
        assert page.url.endswith("/retention")
        classes = page.locator("#rules-classes")
        assert "未分类" in classes.inner_text() and "180" in classes.inner_text() and "永久" in classes.inner_text()
        assert "六个月" in page.inner_text("tr[data-class='unclassified'] .source")
        assert page.inner_text("#grace-days").startswith("0 ")
        assert "第二人" in page.inner_text("#two-person")
        assert page.locator("#rules-categories tr[data-category]").count() >= 1
        kept = page.eval_on_selector_all("#report-kept tr[data-class]", "els => els.map(e => +e.dataset.count)")
        assert sum(kept) == 2
        page.goto(f"{world.base}/retention/holds")
        assert page.locator("#hold-form").count() == 0
        page.goto(f"{world.base}/retention/pending")
        assert page.locator("button.approve, button.restore").count() == 0
        page.goto(f"{world.base}/evidence/{world.ids['first']}")
        assert page.locator("#retention").count() == 1 and page.locator("#class-form").count() == 0
        csrf = page.get_attribute('meta[name="csrf-token"]', "content")
        before = len(world.events(action="access_denied"))
        r = page.request.post(f"{world.base}/retention/holds", form={
            "csrf": csrf, "scope_kind": "evidence", "evidence_ids": str(world.ids["first"]), "reason": "试图保全"})
        assert r.status == 403
        r = page.request.post(f"{world.base}/evidence/{world.ids['first']}/retention/class",
                              form={"csrf": csrf, "class_name": "permanent", "reason": "试图更改"})
        assert r.status == 403
    finally:
        page.context.close()
    denied = world.events(action="access_denied")[before:]
    assert {(e.actor, e.outcome) for e in denied} == {("user:auditor", "denied")}
    assert {"retention.hold", "retention.classify"} <= {__import__("json").loads(e.detail)["permission"]
                                                       for e in denied}
