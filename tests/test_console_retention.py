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
import json
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
                                 ("investigator_b", "investigator", "110102"), ("rm_b", "records_manager", "110102")):
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
        assert "公安机关现场执法视音频记录工作规定" in page.inner_text("tr[data-class='unclassified'] .source")
        assert page.inner_text("#grace-days").startswith("0 ")
        assert "第二人" in page.inner_text("#two-person")
        assert page.locator("#rules-categories tr[data-category]").count() >= 1
        kept = page.eval_on_selector_all("#report-kept tr[data-class]", "els => els.map(e => +e.dataset.count)")
        assert sum(kept) == 2
        page.click("#lang-switch")  # every word in both languages
        page.wait_for_load_state()
        assert page.inner_text("#nav-retention") == "Records" and page.inner_text("#rnav-pending") == "Pending disposal"
        assert "Grace period" in page.inner_text("#rules-more")
        page.click("#lang-switch")
        page.wait_for_load_state()
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
        r = page.request.post(f"{world.base}/retention/pending/1/approve", form={"csrf": "forged"})
        assert r.status == 403
    finally:
        page.context.close()
    denied = world.events(action="access_denied")[before:]
    assert {(e.actor, e.outcome) for e in denied} == {("user:auditor", "denied")}
    assert {json.loads(e.detail)["permission"] for e in denied} == {"retention.hold", "retention.classify", "csrf"}


def test_records_manager_holds_releases_restores_approves_and_an_investigator_sees_the_evidence_destroyed(
        browser: Any, world: World) -> None:
    first, second = world.ids["first"], world.ids["second"]
    rm = _login(browser, world, "rm_zhang")
    try:
        # a hold on the first, with a reason: the evidence page says 保全中
        rm.click("#nav-retention")
        rm.wait_for_load_state()
        rm.click("#rnav-holds")
        rm.wait_for_load_state()
        rm.select_option("#hold-scope", "evidence")
        rm.fill("#hold-evidence", str(first))
        rm.fill("#hold-reason", "当事人申请行政复议")
        _submit(rm, "#hold-place")
        assert "/retention/holds/" in rm.url and rm.get_attribute("#hold", "data-state") == "active"
        hold_id = int(rm.get_attribute("#hold", "data-hold-id") or 0)
        assert rm.locator(f"#hold-items tr[data-evidence-id='{first}']").count() == 1
        rm.goto(f"{world.base}/evidence/{first}")
        assert rm.get_attribute("#retain-until", "data-keep") == "held"
        assert "保全中" in rm.inner_text("#retain-until")
        assert rm.locator(f"#ret-holds li[data-hold-id='{hold_id}']").count() == 1

        # another unit's records manager: the hold and the evidence do not exist for them
        other = _login(browser, world, "rm_b")
        try:
            before = len(world.events(action="access_denied"))
            other.goto(f"{world.base}/retention/holds/{hold_id}")
            assert other.get_attribute("#error-message", "data-code") == "unknown_hold"
            assert other.locator(f"#holds tr[data-hold-id='{hold_id}']").count() == 0
            csrf = other.get_attribute('meta[name="csrf-token"]', "content")
            r = other.request.post(f"{world.base}/retention/holds/{hold_id}/release",
                                   form={"csrf": csrf, "reason": "越权解除"})
            assert r.status == 404
            r = other.request.post(f"{world.base}/retention/holds", form={
                "csrf": csrf, "scope_kind": "evidence", "evidence_ids": str(first), "reason": "越权保全"})
            assert r.status == 404 and "无权查看" in r.text()
            nowhere = other.request.post(f"{world.base}/retention/holds", form={
                "csrf": csrf, "scope_kind": "evidence", "evidence_ids": "999999", "reason": "不存在"})
            assert nowhere.status == 404 and "无权查看" in nowhere.text()
            other.goto(f"{world.base}/retention/holds")
            assert other.locator(f"#holds tr[data-hold-id='{hold_id}']").count() == 0
        finally:
            other.context.close()
        denied = [e for e in world.events(action="access_denied")[before:] if e.actor == "user:rm_b"]
        assert len(denied) == 3 and any(e.evidence_id == first for e in denied)

        # released with a reason: the page shows its 保存至 date (long past: recorded in 2020)
        rm.goto(f"{world.base}/retention/holds/{hold_id}")
        rm.fill("#release-reason", "复议已终结")
        _submit(rm, "#release-submit")
        assert rm.get_attribute("#hold", "data-state") == "released"
        assert "复议已终结" in rm.inner_text("#hold-release-reason")
        assert {a: rm.locator(f"#hold-history li[data-action='{a}']").count() for a in ("hold_placed", "hold_released")
                } == {"hold_placed": 1, "hold_released": 1}
        rm.goto(f"{world.base}/retention/holds?state=released")
        assert rm.locator(f"#holds tr[data-hold-id='{hold_id}']").count() == 1
        rm.goto(f"{world.base}/evidence/{first}")
        assert rm.get_attribute("#retain-until", "data-keep") == "until"
        assert "保存至 2020-06-29" in rm.inner_text("#retain-until")  # 2020-01-01 09:30 + 180 days

        # the disposal run schedules it: it appears in 待销毁, and is restored with a reason
        assert world.run_disposal()["scheduled"] == 1
        rm.goto(f"{world.base}/retention/pending")
        assert _pending_ids(rm) == {first}
        row = rm.locator(f"#pending tr[data-evidence-id='{first}']")
        row.locator(".restore-reason").fill("仍需作为证据使用")
        with rm.expect_navigation():
            row.locator("button.restore").click()
        assert _pending_ids(rm) == set()
        rm.goto(f"{world.base}/evidence/{first}")
        assert rm.get_attribute("#disposal-state", "data-state") == "restored"
        assert "仍需作为证据使用" in rm.inner_text("#disposal-state")

        # the second becomes due: the records manager takes it off 永久 (class change, with a reason)
        rm.goto(f"{world.base}/evidence/{second}")
        assert rm.get_attribute("#retain-until", "data-keep") == "permanent"
        rm.select_option("#class-select", "")
        rm.fill("#class-reason", "无需永久保存")
        _submit(rm, "#class-submit")
        assert rm.get_attribute("#retain-until", "data-keep") == "until"
        assert rm.get_attribute("#ret-class", "data-class") == "unclassified"
    finally:
        pass

    inv = _login(browser, world, "investigator")
    try:
        assert inv.locator("#nav-retention").count() == 0  # no retention.view: no 档案管理
        inv.goto(f"{world.base}/retention/pending")
        assert inv.get_attribute("#error-message", "data-code") == "forbidden"
        inv.goto(f"{world.base}/evidence/{second}")
        inv.wait_for_selector("#player")
        assert inv.locator("#destroyed").count() == 0
        assert world.run_disposal()["scheduled"] == 1
        inv.reload()
        assert inv.get_attribute("#disposal-state", "data-state") == "pending"
        assert "待销毁" in inv.inner_text("#disposal-state")

        # two people sign: the first records manager approves, and cannot approve again (the page says so)
        rm.goto(f"{world.base}/retention/pending")
        assert _pending_ids(rm) == {second}
        disposal_id = int(rm.get_attribute(f"#pending tr[data-evidence-id='{second}']", "data-disposal-id") or 0)
        other = _login(browser, world, "rm_b")  # another unit: the disposal does not exist for them
        try:
            other.goto(f"{world.base}/retention/pending")
            assert _pending_ids(other) == set()
            csrf = other.get_attribute('meta[name="csrf-token"]', "content")
            for action, form in (("approve", {}), ("restore", {"reason": "越权恢复"})):
                r = other.request.post(f"{world.base}/retention/pending/{disposal_id}/{action}",
                                       form={"csrf": csrf, **form})
                assert r.status == 404 and "unknown_disposal" in r.text(), action
        finally:
            other.context.close()
        with rm.expect_navigation():
            rm.locator(f"#pending tr[data-evidence-id='{second}'] button.approve").click()
        row = rm.locator(f"#pending tr[data-evidence-id='{second}']")
        assert "rm_zhang" in row.locator(".approvals").inner_text() and row.get_attribute("data-approved") == "false"
        assert "另一人" in row.locator(".not-yours").inner_text()
        with rm.expect_navigation():
            row.locator("button.approve").click()
        assert "已批准过" in rm.inner_text("#error-message")
        run = world.run_disposal()
        assert run["destroyed_evidence"] == [] and run["waiting_approval"] == 1  # one signature is not enough

        rm2 = _login(browser, world, "rm_li")
        try:
            rm2.goto(f"{world.base}/retention/pending")
            with rm2.expect_navigation():
                rm2.locator(f"#pending tr[data-evidence-id='{second}'] button.approve").click()
            assert rm2.get_attribute(f"#pending tr[data-evidence-id='{second}']", "data-approved") == "true"
        finally:
            rm2.context.close()

        # after the grace period (none here) the run destroys it: 销毁记录 lists it
        assert world.run_disposal()["destroyed_evidence"] == [second]
        rm.goto(f"{world.base}/retention/destroyed")
        row = rm.locator(f"#destroyed-log tr[data-evidence-id='{second}']")
        assert row.get_attribute("data-state") == "destroyed"
        text = row.inner_text()
        with world.session() as s:
            from archive.models import Evidence

            sha = s.get(Evidence, second).sha256
        assert sha in text and "system:retention-test" in text and "rm_zhang" in text and "rm_li" in text
        rm.goto(f"{world.base}/retention/pending")
        assert _pending_ids(rm) == set()

        # the investigator's page: no player any more, the tombstone
        inv.reload()
        assert inv.locator("#player").count() == 0
        assert "原始文件已于" in inv.inner_text("#destroyed") and "销毁" in inv.inner_text("#destroyed")
        assert inv.get_attribute("#disposal-state", "data-state") == "destroyed"
        assert "已销毁" in inv.inner_text("#disposal-state")
        assert inv.inner_text("#sha256") == sha
        assert "张三" in inv.inner_text("#m-officer")
        assert inv.locator("#custody li[data-action='destroyed']").count() == 1
        assert inv.locator("#download").count() == 0
    finally:
        inv.context.close()
        rm.context.close()

    acts = [(e.actor, e.action) for e in world.events()]
    for expected in (("user:rm_zhang", "disposal_restored"), ("user:rm_zhang", "disposal_approved"),
                     ("user:rm_li", "disposal_approved"), ("user:rm_zhang", "retention_class_set")):
        assert expected in acts, expected


def test_a_search_is_held_from_the_search_page(browser: Any, world: World) -> None:
    """保全这些结果: the search page's button places a hold on what the search finds (what is
    destroyed already is not held), and the evidence page says 保全中."""
    first = world.ids["first"]
    rm = _login(browser, world, "rm_zhang")
    try:
        rm.goto(f"{world.base}/search?officer=000123")
        assert rm.locator(".result").count() >= 1
        _submit(rm, "#hold-results")
        assert "000123" in rm.inner_text("#hold-search")
        rm.fill("#hold-reason", "信访调查")
        _submit(rm, "#hold-place")
        assert "search" in rm.inner_text("#hold-scope") or "检索" in rm.inner_text("#hold-scope")
        held = {int(x) for x in rm.eval_on_selector_all("#hold-items tr[data-evidence-id]",
                                                        "els => els.map(e => e.dataset.evidenceId)")}
        assert first in held and world.ids["second"] not in held
        assert rm.inner_text("#hold-skipped").startswith("1 ")  # the destroyed one: nothing left to hold
        hold_id = int(rm.get_attribute("#hold", "data-hold-id") or 0)
        rm.goto(f"{world.base}/evidence/{first}")
        assert rm.get_attribute("#retain-until", "data-keep") == "held"
        assert rm.locator(f"#ret-holds li[data-hold-id='{hold_id}']").count() == 1
    finally:
        rm.context.close()
    placed = world.events(action="hold_placed")
    assert placed and placed[-1].actor == "user:rm_zhang"
    assert '"scope_kind": "search"' in placed[-1].detail or '"scope_kind":"search"' in placed[-1].detail
