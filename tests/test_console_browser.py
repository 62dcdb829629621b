"""The console in a real browser: Debian's Chromium, headless, driven by Playwright (no browser
download), against a real ``liuhen serve`` process with its embedded station and media workers.

One archive for the module (SQLite): units 市局 > 东城分局 (A) and 西城分局 (B), officers 张三 and
王五 in A and 李四 in B, recordings of each offloaded through the real station and made playable
by the real media jobs, and one user per role in A plus an investigator in B.
"""

from __future__ import annotations

import dataclasses
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
PASSWORD = "正确的马电池订书钉和钥匙"  # 12 characters: enough for an administrator too
ROLES = ("operator", "investigator", "legal_reviewer", "records_manager", "auditor", "admin")
# the landing page and the menu each role gets (from auth.policy)
LANDING = {"operator": "/dock", "investigator": "/search", "legal_reviewer": "/search",
           "records_manager": "/search", "auditor": "/search", "admin": "/dock"}
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
        from liuhen import db

        engine = db.make_engine(self.settings.archive.database_url)
        try:
            with db.make_sessionmaker(engine)() as s:
                q = select(CustodyEvent)
                for k, v in where.items():
                    q = q.where(getattr(CustodyEvent, k) == v)
                return list(s.scalars(q.order_by(CustodyEvent.seq)))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, make_clip: Any) -> Iterator[World]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    from app.runtime import open_archive
    from liuhen import config

    folder = tmp_path_factory.mktemp("console")
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}",
                       # (reads capped at 3 MB/s: an offload of the three 720p clips spans several of the page's 1 s polls)
                       extra="chunk_mb = 1\nread_limit_mb_s = 3\n\n[workers]\npoll_seconds = 0.2\n\n"
                       # a throttled name waits 10 minutes here, so that a slow browser cannot outwait it
                       "[auth]\nthrottle_base_s = 600\n")
    settings = config.load(cfg, environ={})
    archive = open_archive(settings)
    ids = _seed(archive, settings, make_clip)
    archive.close()

    port = _free_port()
    env = {**os.environ, "LIUHEN_CONFIG": str(cfg)}
    log = open(folder / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(cfg), "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
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

    with archive.sessions.begin() as db:
        accounts.add_unit(db, code="110000", name="市公安局")
        a = accounts.add_unit(db, code="110101", name="东城分局", parent_code="110000")
        b = accounts.add_unit(db, code="110102", name="西城分局", parent_code="110000")
        add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=a.id, actor="test")
        add_officer(db, archive.custody, officer_no="000789", name="王五", unit_id=a.id, actor="test")
        add_officer(db, archive.custody, officer_no="000456", name="李四", unit_id=b.id, actor="test")
        for role in ROLES:
            accounts.add_user(db, archive.custody, username=role, password=PASSWORD, role=role, unit_code="110101",
                              display_name=f"{role} 用户", actor="test", settings=settings.auth)
        accounts.add_user(db, archive.custody, username="investigator_b", password=PASSWORD, role="investigator",
                          unit_code="110102", display_name="西城调查员", actor="test",
                          settings=settings.auth)
        for name in ("forgetful", "idler"):
            accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role="investigator",
                              unit_code="110101", actor="test", settings=settings.auth)
    key = load_or_create(settings.station.state_path / "station.ed25519")
    register_station(archive, station_id=settings.station.id, public_pem=key.public_pem)
    set_unit(archive, station_id=settings.station.id, unit_code="110101")

    dock = settings.station.dock_root
    put(dock, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip(seconds=24.0, size="320x240", tone=440))
    put(dock, "bay2/DSJ-B002_000789_20261123100000_0001.MP4", make_clip(seconds=2.0, size="320x240", tone=550))
    station = Station(settings.station, LocalIntake(archive))
    try:
        results = station.offload_once(dock)
    finally:
        station.close()
    # 李四's recorder docks at B's own station (footage belongs to the unit tree of the station that
    # offloads it: at A's station, B's officer's recording would stay A's, flagged for review; issue #10)
    in_b = dataclasses.replace(settings.station, id="st-b0", dock_root=settings.station.dock_root.parent / "dock-b0",
                               state_path=settings.station.state_path.parent / "station-b0")
    put(in_b.dock_root, "bay3/DSJ-X009_000456_20261123110000_0001.MP4",
        make_clip(seconds=2.0, size="320x240", tone=660))
    station = Station(in_b, LocalIntake(archive))
    try:
        station.register()
        set_unit(archive, station_id=in_b.id, unit_code="110102")
        results += station.offload_once(in_b.dock_root)
    finally:
        station.close()
    assert {r.status for r in results} == {"archived"} and len(results) == 3, results
    run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.1, until_idle=True)
    with archive.sessions() as db:
        rows = {e.officer_id: e for e in db.scalars(select(Evidence))}
        assert rows["000123"].playback == "ready", rows["000123"].playback_note
        return {"zhangsan": rows["000123"].id, "wangwu": rows["000789"].id, "lisi": rows["000456"].id}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _wait(page: Any, expression: str, timeout: float = 20.0) -> None:
    """Poll a JavaScript expression until it is true (Playwright's wait_for_function evaluates
    strings with eval, which the console's Content-Security-Policy rightly refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:g} s: {expression}")
        time.sleep(0.1)


def _login(browser: Any, world: World, user: str, password: str = PASSWORD) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(f"{world.base}/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_load_state()
    return page


def test_every_role_signs_in_lands_on_its_page_and_sees_only_its_menu(browser: Any, world: World) -> None:
    from auth import policy

    for role in ROLES:
        page = _login(browser, world, role)
        try:
            assert page.url.endswith(LANDING[role]), (role, page.url)
            assert f"{role} 用户" in page.inner_text("#whoami")
            for action, link in (("dock.view", "#nav-dock"), ("evidence.search", "#nav-search"),
                                 ("jobs.view", "#nav-jobs"), ("audit.view", "#nav-audit")):
                assert (page.locator(link).count() == 1) == policy.allowed(role, action), (role, link)
        finally:
            page.context.close()


def test_a_wrong_password_is_refused_in_words_and_leaves_a_custody_event(browser: Any, world: World) -> None:
    page = _login(browser, world, "auditor", "not-the-password")
    try:
        assert page.url.startswith(f"{world.base}/login")
        assert "用户名或密码错误" in page.inner_text("#login-error")
    finally:
        page.context.close()
    assert any(e.actor == "user:auditor" for e in world.events(action="sign_in_failed"))


def test_operator_sees_the_dock_progress_move_during_an_offload(browser: Any, world: World, make_clip: Any) -> None:
    page = _login(browser, world, "operator")
    try:
        page.wait_for_selector(".station[data-station='st-test']")
        page.evaluate("window.__noReload = true")
        clips = [make_clip(seconds=6.0, size="1280x720", tone=300 + 100 * i) for i in range(3)]
        assert all(c.stat().st_size > 2 << 20 for c in clips)
        for i, c in enumerate(clips):
            put(world.settings.station.dock_root, f"bay5/DSJ-E005_000123_2026112312000{i}_000{i + 1}.MP4", c)
        bay = ".bay[data-bay='bay5']"
        file_values: set[float] = set()
        bay_values: list[float] = []
        states: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if page.locator(bay).count():
                states.append(page.get_attribute(bay, "data-state") or "")
                v = float(page.get_attribute(f"{bay} progress.bay-bar", "data-value") or 0)
                if not bay_values or bay_values[-1] != v:
                    bay_values.append(v)
                for fv in page.eval_on_selector_all(f"{bay} progress.file-bar",
                                                    "els => els.map(e => parseFloat(e.dataset.value))"):
                    file_values.add(fv)
                if states[-1] == "done":
                    break
            time.sleep(0.1)
        assert states and states[-1] == "done", (states[-5:], bay_values)
        assert any(0 < v < 100 for v in file_values), f"no file was seen part-way: {sorted(file_values)}"
        assert len([v for v in bay_values if 0 < v < 100]) >= 2, f"the bay's bar did not move: {bay_values}"
        assert bay_values[-1] == 100.0
        statuses = page.eval_on_selector_all(f"{bay} tr.file", "els => els.map(e => e.dataset.status)")
        assert statuses == ["archived"] * 3
        assert "DSJ-E005" in page.inner_text(bay) and "张三" in page.inner_text(bay)
        assert page.evaluate("window.__noReload") is True  # live updates, no reload
    finally:
        page.context.close()


def test_investigator_searches_in_chinese_and_plays_the_proxy(browser: Any, world: World) -> None:
    page = _login(browser, world, "investigator")
    try:
        page.fill("#q", "张三")
        page.click("#search-submit")
        page.wait_for_load_state()
        found = {int(x) for x in page.eval_on_selector_all(".result", "els => els.map(e => e.dataset.evidenceId)")}
        assert world.ids["zhangsan"] in found
        assert world.ids["wangwu"] not in found and world.ids["lisi"] not in found
        poster = page.locator(f".result[data-evidence-id='{world.ids['zhangsan']}'] img.poster")
        assert poster.evaluate("img => img.complete && img.naturalWidth > 0")

        page.click(f".result[data-evidence-id='{world.ids['zhangsan']}'] a.name")
        page.wait_for_selector("#player")
        assert "张三" in page.inner_text("#m-officer") and "h264" in page.inner_text("#m-codec")
        _wait(page, "document.getElementById('scrub').dataset.cues > 0")
        page.evaluate("p => { p.muted = true; return p.play(); }", page.locator("#player").element_handle())
        _wait(page, "document.getElementById('player').currentTime > 1.0", 20)
        assert page.evaluate("document.getElementById('player').error") is None
        page.evaluate("document.getElementById('player').currentTime = 15")  # a seek: a range request
        _wait(page, "document.getElementById('player').currentTime > 15.2", 20)
        assert page.evaluate("document.getElementById('player').error") is None
    finally:
        page.context.close()
    played = [e for e in world.events(action="played", evidence_id=world.ids["zhangsan"])
              if e.actor == "user:investigator"]
    assert len(played) >= 1
    assert any(e.actor == "user:investigator" for e in world.events(action="searched"))


def test_legal_reviewer_verifies_now_and_reads_the_custody_history(browser: Any, world: World) -> None:
    page = _login(browser, world, "legal_reviewer")
    try:
        page.goto(f"{world.base}/evidence/{world.ids['zhangsan']}")
        assert page.locator("#custody li[data-action='offloaded']").count() == 1
        assert page.locator("#download").count() == 1 and page.locator("#export").count() == 1
        page.click("#verify-now")
        _wait(page, "document.getElementById('verify-result').dataset.outcome")
        assert page.get_attribute("#verify-result", "data-outcome") == "success"
        assert "校验通过" in page.inner_text("#verify-result")
        assert "有效" in page.inner_text("#signature-status")
    finally:
        page.context.close()
    assert any(e.actor == "user:legal_reviewer" and e.outcome == "success"
               for e in world.events(action="verified", evidence_id=world.ids["zhangsan"]))


def test_the_download_button_fetches_the_original_once_through_a_one_time_link(browser: Any, world: World) -> None:
    """The button asks for a link (POST with the CSRF header) and opens it: the file arrives bit for
    bit with one ``downloaded`` event; opening the same link again gets nothing and records nothing."""
    import hashlib

    page = _login(browser, world, "legal_reviewer")
    eid = world.ids["wangwu"]
    before = len(world.events(action="downloaded", evidence_id=eid))
    try:
        page.goto(f"{world.base}/evidence/{eid}")
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url) if "/api/v1/links/" in r.url else None)
        with page.expect_download() as info:
            page.click("#download")
        path = info.value.path()
        got = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        (link,) = seen
        again = page.request.get(link)
        assert again.status == 404 and again.json()["code"] == "link_gone"
        plain = page.request.get(f"{world.base}/api/v1/evidence/{eid}/original")  # a bare GET with the cookie
        assert plain.status == 403
    finally:
        page.context.close()
    events = world.events(action="downloaded", evidence_id=eid)
    assert len(events) == before + 1 and events[-1].actor == "user:legal_reviewer"
    assert events[-1].object_sha256 == got  # the bytes that arrived are the archived original


def test_each_role_is_refused_what_it_may_not_see_and_every_refusal_is_logged(browser: Any, world: World) -> None:
    ev = world.ids["zhangsan"]
    before = len(world.events(action="access_denied"))

    page = _login(browser, world, "auditor")  # metadata yes, media no
    try:
        page.goto(f"{world.base}/evidence/{ev}")
        assert page.locator("#no-play").count() == 1 and page.locator("#player").count() == 0
        assert page.locator("#download").count() == 0
        r = page.request.get(f"{world.base}/api/v1/evidence/{ev}/media/proxy")
        assert r.status == 403 and r.json()["code"] == "forbidden"
        page.goto(f"{world.base}/dock")
        assert page.get_attribute("#error-message", "data-code") == "forbidden"
    finally:
        page.context.close()

    page = _login(browser, world, "admin")  # manages, never watches
    try:
        page.goto(f"{world.base}/evidence/{ev}")
        assert page.get_attribute("#error-message", "data-code") == "forbidden"
        assert "系统管理员" in page.inner_text("#error-message")
    finally:
        page.context.close()

    page = _login(browser, world, "investigator_b")  # another unit's footage does not exist for them
    try:
        page.goto(f"{world.base}/evidence/{ev}")
        assert page.get_attribute("#error-message", "data-code") == "not_found"
        page.goto(f"{world.base}/search?q=张三")
        assert page.locator(".result").count() == 0
        page.goto(f"{world.base}/search")
        shown = {int(x) for x in page.eval_on_selector_all(".result", "els => els.map(e => e.dataset.evidenceId)")}
        assert shown == {world.ids["lisi"]}
    finally:
        page.context.close()

    page = _login(browser, world, "operator")
    try:
        page.goto(f"{world.base}/audit")
        assert page.get_attribute("#error-message", "data-code") == "forbidden"
    finally:
        page.context.close()

    denied = world.events(action="access_denied")[before:]
    by = {(e.actor, e.evidence_id) for e in denied}
    assert ("user:auditor", None) in by  # media role refusal and the dock page
    assert ("user:admin", None) in by
    assert ("user:investigator_b", ev) in by  # the foreign unit's evidence, named in the log
    assert ("user:operator", None) in by
    assert all(e.outcome == "denied" for e in denied)


def test_auditor_sees_the_refusals_in_the_audit_view(browser: Any, world: World) -> None:
    page = _login(browser, world, "auditor")
    try:
        page.goto(f"{world.base}/audit?outcome=denied")
        actions = set(page.eval_on_selector_all("#audit-rows tbody tr", "els => els.map(e => e.dataset.action)"))
        assert actions and actions <= {"access_denied", "sign_in_failed"}
        page.goto(f"{world.base}/audit?action=played")
        actors = set(page.eval_on_selector_all("#audit-rows tbody tr", "els => els.map(e => e.dataset.actor)"))
        assert "user:investigator" in actors
    finally:
        page.context.close()


def test_the_console_switches_to_english_and_back(browser: Any, world: World) -> None:
    page = _login(browser, world, "investigator")
    try:
        assert page.inner_text("#nav-search") == "检索"
        page.click("#lang-switch")
        page.wait_for_load_state()
        assert page.inner_text("#nav-search") == "Search" and page.url.endswith("/search")
        page.click("#lang-switch")
        page.wait_for_load_state()
        assert page.inner_text("#nav-search") == "检索"
    finally:
        page.context.close()


def test_five_wrong_passwords_throttle_the_name_with_the_same_answer_as_a_wrong_password(
        browser: Any, world: World) -> None:
    texts = []
    for attempt in range(5):
        page = _login(browser, world, "forgetful", f"wrong-{attempt}")
        texts.append(page.inner_text("#login-error"))
        page.context.close()
    page = _login(browser, world, "forgetful")  # the right password, while throttled: the same answer
    try:
        assert page.url.startswith(f"{world.base}/login")
        texts.append(page.inner_text("#login-error"))
    finally:
        page.context.close()
    assert len(set(texts)) == 1 and "用户名或密码错误" in texts[0] and "锁定" not in texts[0], texts


def test_an_idle_session_ends_and_the_console_asks_to_sign_in_again(browser: Any, world: World) -> None:
    import datetime as dt

    from sqlalchemy import update

    from auth.models import Session as LoginSession
    from auth.models import User
    from liuhen import db

    page = _login(browser, world, "idler")
    try:
        assert page.url.endswith("/search")
        engine = db.make_engine(world.settings.archive.database_url)
        try:
            with db.make_sessionmaker(engine).begin() as s:
                uid = s.scalar(select(User.id).where(User.username == "idler"))
                s.execute(update(LoginSession).where(LoginSession.user_id == uid)
                          .values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)))
        finally:
            engine.dispose()
        page.goto(f"{world.base}/search?q=张三")
        assert "/login" in page.url and "next=" in page.url
        assert "会话已结束" in page.inner_text("#login-error")
        r = page.request.get(f"{world.base}/api/v1/me")
        assert r.status == 401
    finally:
        page.context.close()


def test_investigator_builds_a_case_timeline_and_jumps_from_a_document_to_its_recording(
        browser: Any, world: World, tmp_path: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = ctx.new_page()
    try:
        page.goto(f"{world.base}/login")
        page.fill("#username", "investigator")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_load_state()
        page.click("#nav-cases")
        page.click("#new-case summary")
        page.select_option("#case-unit", "110101")
        page.select_option("#case-category", "行政强制")
        page.fill("#case-title", "某仓库查封扣押案")
        page.fill("#case-party", "某某贸易有限公司")
        with page.expect_navigation():
            page.click("#case-create")
        number = page.inner_text("#case-number")
        assert number.startswith("110101-") and number.endswith("-000001")

        def add_step(kind: str, start: str, end: str) -> None:
            page.select_option("#step-kind", kind)
            page.fill("#step-start", start)
            page.fill("#step-end", end)
            page.select_option("#step-officers", ["000123"])
            with page.expect_navigation():
                page.click("#step-add")

        # 张三's recording runs 09:30:00 – 09:30:24 (local time): the seizure is inside it; the
        # inspection began a minute earlier, when nothing was recording
        add_step("查封扣押", "2026-11-23T09:30:10", "2026-11-23T09:30:20")
        add_step("现场检查", "2026-11-23T09:29:00", "2026-11-23T09:30:20")
        seizure = page.locator(".step[data-kind='查封扣押']")
        inspection = page.locator(".step[data-kind='现场检查']")
        assert seizure.get_attribute("data-status") == "missing" and seizure.get_attribute("data-flagged") == "true"

        for kind in ("查封扣押", "现场检查"):
            step = page.locator(f".step[data-kind='{kind}']")
            step.locator("button.suggest").click()
            with page.expect_navigation():
                step.locator(f".suggestion[data-evidence-id='{world.ids['zhangsan']}'] button").click()
        seizure = page.locator(".step[data-kind='查封扣押']")
        inspection = page.locator(".step[data-kind='现场检查']")
        assert seizure.get_attribute("data-status") == "covered" and seizure.get_attribute("data-flagged") == "false"
        assert inspection.get_attribute("data-status") == "gaps"  # an AV step: reported, not flagged
        assert "2026-11-23 09:29:00 至 2026-11-23 09:30:00" in inspection.inner_text()
        assert page.get_attribute("#coverage-summary", "data-flagged") == "0"

        pdf = tmp_path / "查封扣押决定书.pdf"
        pdf.write_bytes(b"%PDF-1.4\n% liuhen test\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
        page.fill("#record-kind", "查封扣押决定书")
        page.select_option("#record-step", seizure.get_attribute("data-step-id"))
        page.set_input_files("#record-file", str(pdf))
        with page.expect_navigation():
            page.click("#record-upload")
        doc = page.locator(".step[data-kind='查封扣押'] .doc")
        assert "查封扣押决定书" in doc.inner_text() and doc.locator("a.version").count() == 1
        # the version's button asks for a one-time link (as console.js does) and the link gives the bytes once
        csrf = page.get_attribute('meta[name="csrf-token"]', "content")
        made = page.request.post(world.base + doc.locator("a.version").get_attribute("data-link"),
                                 headers={"X-CSRF-Token": csrf})
        assert made.status == 201
        r = page.request.get(world.base + made.json()["url"])
        assert r.status == 200 and r.body() == pdf.read_bytes()
        assert page.request.get(world.base + made.json()["url"]).status == 404

        doc.locator("a.to-recording").click()
        page.wait_for_selector("#player")
        assert page.url.endswith("?t=10.0")  # the moment the seizure began, 10 s into the recording
        # nothing of the recording is read before play is pressed (issue #14): it then plays from there
        assert "00:10" in page.inner_text("#play-note")
        page.click("#play-start")
        _wait(page, "document.getElementById('evidence').dataset.seekedTo !== undefined")
        assert abs(page.evaluate("document.getElementById('player').currentTime") - 10.0) < 0.5
        assert page.evaluate("document.getElementById('player').error") is None
    finally:
        ctx.close()
    acts = {e.action for e in world.events() if e.actor == "user:investigator"}
    assert {"case_opened", "step_added", "linked", "record_added", "case_viewed"} <= acts
