"""Legal review (法制审核) in the console, in a real browser: Debian's Chromium, headless, driven by
Playwright, against a real ``liuhen serve`` process (SQLite) with its media workers.

One archive for the module: unit 东城分局 (a county-level unit: a 罚款 of 1 万元 or more is a major
decision) with a handler (investigator), a qualified legal reviewer and one without 法律职业资格;
officer 张三's recording offloaded through the real station and made playable by the real media jobs,
linked to the 询问 step of a 行政处罚 case with its 立案审批表 and 询问笔录.

The story: the handler submits a 罚款 of 20,000 元; a decision step is refused while the round is
open; the unqualified reviewer is told why and gets no forms; the reviewer opens the workspace,
plays the linked recording (the proxy route records ``played``; the page says 已播放 1 次), answers
the checklist and asks for 补充材料 after a confirmation step; the handler sees the notice, the
decision is still refused, resubmits; the reviewer agrees (同意); only then is the 决定 step recorded.
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
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import write_config
from tests.docks import put

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]
PASSWORD = "正确的马电池订书钉和钥匙"
TZ = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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

    def revise_interview(self) -> None:
        """A new version of the 询问笔录, by the handler, as the archive records it (in this process)."""
        from app.runtime import open_archive
        from cases import records

        archive = open_archive(self.settings)
        try:
            records.add_form(archive, case_id=self.ids["case"], actor="user:handler", kind="询问笔录",
                             fields={**INTERVIEW, "content": "承认销售，并补充进货单据"}, record_id=self.ids["interview"])
        finally:
            archive.close()

    def rounds(self, case: str = "case") -> list[Any]:
        from liuhen import db
        from review.models import ReviewRound

        engine = db.make_engine(self.settings.archive.database_url)
        try:
            with db.make_sessionmaker(engine)() as s:
                rows = list(s.scalars(select(ReviewRound).where(ReviewRound.case_id == self.ids[case])
                                      .order_by(ReviewRound.id)))
                s.expunge_all()
                return rows
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, make_clip: Any) -> Iterator[World]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    from app.runtime import open_archive
    from liuhen import config

    folder = tmp_path_factory.mktemp("console-review")
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}", extra="[workers]\npoll_seconds = 0.2\n")
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
    from auth.models import User
    from cases import records
    from cases import service as cases
    from hashing.keys import load_or_create
    from ingest.station import Station
    from jobs.worker import run_worker
    from media.service import HANDLERS
    from review import service as review
    from review.catalogue import Proposal

    with archive.sessions.begin() as db:
        unit = accounts.add_unit(db, code="110101", name="东城分局")
        accounts.add_unit(db, code="110102", name="西城分局")
        accounts.add_user(db, archive.custody, username="handler_b", password=PASSWORD, role="investigator",
                          unit_code="110102", display_name="西城调查员", actor="test", settings=settings.auth)
        add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=unit.id, actor="test")
        for name, role in (("handler", "investigator"), ("reviewer", "legal_reviewer"),
                           ("novice", "legal_reviewer")):
            accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role=role, unit_code="110101",
                              display_name=f"{name} 用户", actor="test", settings=settings.auth)
        db.flush()
        reviewer = db.scalars(select(User).where(User.username == "reviewer")).one()
        reviewer.legal_qualification = True  # 法律职业资格 (the novice has none)
    key = load_or_create(settings.station.state_path / "station.ed25519")
    register_station(archive, station_id=settings.station.id, public_pem=key.public_pem)
    set_unit(archive, station_id=settings.station.id, unit_code="110101")
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4",
        make_clip(seconds=6.0, size="320x240", tone=440))
    station = Station(settings.station, LocalIntake(archive))
    try:
        results = station.offload_once(settings.station.dock_root)
    finally:
        station.close()
    assert [r.status for r in results] == ["archived"], [r.reason for r in results]
    run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.1, until_idle=True)

    def at(h: int, m: int, s: int = 0) -> dt.datetime:
        return dt.datetime(2026, 11, 23, h, m, s, tzinfo=TZ)

    with archive.sessions.begin() as db:
        ev = db.scalars(select(Evidence)).one()
        assert ev.playback == "ready", ev.playback_note
        case = cases.create_case(db, archive.custody, settings.cases, unit_id=ev.unit_id, unit_code="110101",
                                 category="行政处罚", title="某商店销售不合格商品案", actor="user:handler")
        for kind, start, end in (("立案", at(9, 0), at(9, 5)), ("调查", at(9, 20), at(9, 25))):
            cases.add_step(db, archive.custody, settings.cases, case=case, kind=kind, started_at=start, ended_at=end,
                           actor="user:handler", officers=["000123"])
        ask = cases.add_step(db, archive.custody, settings.cases, case=case, kind="询问", started_at=at(9, 30),
                             ended_at=at(9, 30, 5), actor="user:handler", officers=["000123"])
        cases.link(db, archive.custody, step=ask, evidence=ev, actor="user:handler")
        ids = {"case": case.id, "evidence": ev.id, "ask": ask.id}
        # a second case, submitted already (a 警告): for the refusals
        other = cases.create_case(db, archive.custody, settings.cases, unit_id=ev.unit_id, unit_code="110101",
                                  category="行政处罚", title="某餐馆卫生不达标案", actor="user:handler")
        cases.add_step(db, archive.custody, settings.cases, case=other, kind="立案", started_at=at(8, 0),
                       ended_at=at(8, 5), actor="user:handler", officers=["000123"])
        rnd = review.submit(db, archive.custody, settings, case=other, actor="user:handler",
                            proposal=Proposal(decision_kind="警告", content="对当事人予以警告", legal_basis="《食品安全法》"),
                            statement="情节轻微")
        ids |= {"other": other.id, "other_round": rnd.id}
    records.add_form(archive, case_id=ids["case"], actor="user:handler", kind="立案审批表", fields={
        "case_source": "群众举报", "facts": "销售不合格商品", "law": "《产品质量法》第四十九条", "opinion": "建议立案",
        "approver": "王局长", "approved_on": "2026-11-23"})
    ids["interview"] = records.add_form(archive, case_id=ids["case"], actor="user:handler", kind="询问笔录",
                                        fields=INTERVIEW, step_id=ids["ask"]).record_id
    return ids


INTERVIEW = {"time": "2026-11-23 09:30", "place": "某商店", "interviewer": "张三", "recorder": "张三",
             "interviewee": "店主", "content": "承认销售"}


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


def _submit(page: Any, selector: str) -> Any:
    with page.expect_navigation() as nav:
        page.click(selector)
    return nav.value


def _wait(page: Any, expression: str, timeout: float = 20.0) -> None:
    """Poll a JavaScript expression until it is true (the console's CSP refuses eval)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:g} s: {expression}")
        time.sleep(0.1)


def _decision_step(page: Any, world: World) -> Any:
    """Record the 决定 step from the case page's review block; the response of the form's POST."""
    page.goto(f"{world.base}/cases/{world.ids['case']}")
    page.select_option("#decision-kind", "决定")
    page.fill("#decision-start", "2026-11-26T10:00:00")
    page.fill("#decision-end", "2026-11-26T10:10:00")
    return _submit(page, "#decision-step-add")


def _answer_all(page: Any, answers: dict[str, tuple[str, str]], default: str = "yes") -> None:
    """Answer every element of the checklist, one form (and one page load) per element."""
    n = page.locator("#checklist tr.element").count()
    assert n == 10
    for i in range(n):
        row = page.locator(f"#element-{i}")
        element = row.get_attribute("data-element")
        value, comment = answers.get(element or "", (default, ""))
        row.locator(f"input[name=answer][value={value}]").check()
        row.locator(".answer-comment").fill(comment)
        with page.expect_navigation():
            row.locator(".answer-save").click()
        assert page.get_attribute(f"#element-{i}", "data-answer") == value, element
        assert page.inner_text("#page-done") == "已保存。"


def _decide(page: Any, outcome: str, opinion: str) -> None:
    """Choose the outcome, see the confirmation step and confirm it."""
    page.select_option("#decide-outcome", "变更")
    assert page.locator("#decide-changed").is_visible() and page.locator("#changed-content").is_visible()
    page.select_option("#decide-outcome", outcome)
    assert page.locator("#decide-changed").is_hidden()  # the changed decision's fields only for 变更
    page.fill("#decide-opinion", opinion)
    _submit(page, "#decide-submit")
    assert "结论一经作出不可更改，意见书将归档并通知承办单位" in page.inner_text("#confirm-warning")
    assert page.inner_text("#confirm-outcome") == outcome
    _submit(page, "#confirm-submit")
    assert page.get_attribute("#workspace", "data-state") == "decided"
    assert page.inner_text("#ws-outcome") == outcome
    assert "意见书已归档" in page.inner_text("#page-done")


def test_submit_review_supplement_resubmit_agree_and_only_then_decide(browser: Any, world: World) -> None:
    case_url = f"{world.base}/cases/{world.ids['case']}"
    handler = _login(browser, world, "handler")
    try:
        # the handler submits a 罚款 of 20,000 元 (major at a county-level unit: 1 万元 or more)
        handler.goto(case_url)
        assert handler.locator("#review-none").count() == 1
        handler.select_option("#rv-kind", "罚款")
        handler.fill("#rv-amount", "20000")
        handler.fill("#rv-content", "对当事人罚款人民币贰万元")
        handler.fill("#rv-basis", "《中华人民共和国产品质量法》第四十九条")
        handler.fill("#rv-discretion", "一般情节，按裁量基准中档")
        handler.fill("#rv-statement", "事实清楚，证据确凿，建议罚款")
        _submit(handler, "#rv-submit")
        assert handler.inner_text("#page-done") == "已提请法制审核。"
        assert handler.get_attribute("#review", "data-major") == "true"
        assert "较大数额罚款" in handler.inner_text("#review-major")
        rounds = handler.locator("#review-rounds tr.review-round")
        assert rounds.count() == 1 and rounds.first.get_attribute("data-state") == "submitted"
        assert handler.locator("#review-submit-form").count() == 0  # one round at a time

        # a decision while the round is open: refused, in words, and a custody event
        r = _decision_step(handler, world)
        assert r.status == 409
        assert "法制审核尚未结束" in handler.inner_text("#page-error")
        assert handler.locator("#timeline li[data-kind='决定']").count() == 0
    finally:
        handler.context.close()
    refused = world.events(action="review_gate_refused")
    assert len(refused) == 1 and refused[0].actor == "user:handler" and refused[0].outcome == "failure"
    first = world.rounds()[0]

    # a reviewer without 法律职业资格: told why, no forms, an access_denied event
    novice = _login(browser, world, "novice")
    try:
        r = novice.goto(f"{world.base}/review/rounds/{first.id}")
        assert r is not None and r.status == 403
        assert "法律职业资格" in novice.inner_text("#review-refused")
        assert novice.locator("#decide-form, form.answer-form").count() == 0
    finally:
        novice.context.close()
    denied = [e for e in world.events(action="access_denied") if e.actor == "user:novice"]
    assert len(denied) == 1 and json.loads(denied[0].detail)["permission"] == "review.decide"
    assert world.rounds()[0].state == "submitted"  # not opened by a refused reviewer

    reviewer = _login(browser, world, "reviewer")
    try:
        # the queue: soonest deadline first, with the working days left
        reviewer.click("#nav-review")
        reviewer.wait_for_load_state()
        assert reviewer.inner_text("#nav-review-queue") == "2"
        due = reviewer.eval_on_selector_all("#review-queue tr.queued td.due", "els => els.map(e => e.textContent)")
        assert due == sorted(due)  # soonest deadline first
        row = reviewer.locator(f"#review-queue tr[data-round-id='{first.id}']")
        assert "某商店销售不合格商品案" in row.inner_text() and "罚款" in row.inner_text()
        assert row.locator("td.due").inner_text() == first.due_on.isoformat()
        assert "工作日" in row.locator("td.left").inner_text()
        with reviewer.expect_navigation():
            row.locator("a.round-open").click()

        # the workspace: opening it opened the round; documents beside the recording
        assert reviewer.get_attribute("#workspace", "data-state") == "in_review"
        assert reviewer.locator("#ws-documents tr.ws-doc").count() == 2
        assert reviewer.locator("#ws-documents .doc-changed").count() == 0 and reviewer.locator("#review-changes").count() == 0
        rec = reviewer.locator(f"#ws-recordings .ws-rec[data-evidence-id='{world.ids['evidence']}']")
        assert "询问" in rec.inner_text() and "尚未播放" in rec.inner_text()
        assert rec.locator(".cov-covered").count() == 1
        # liuhen's own findings: no certificates are on record for 张三 (执法资格 不符合, with why)
        qualification = reviewer.locator("#checklist tr.element[data-element='执法资格']")
        assert qualification.get_attribute("data-prefill") == "no" and "没有登记执法证" in qualification.inner_text()
        assert reviewer.get_attribute("#checklist tr.element[data-element='文书规范齐备']", "data-prefill") == "yes"

        # play it through the proxy route: a `played` custody event, and the page counts it
        player = rec.locator("video.rv-player")
        reviewer.evaluate("p => { p.muted = true; return p.play(); }", player.element_handle())
        _wait(reviewer, "document.querySelector('video.rv-player').currentTime > 1.0")
        reviewer.reload()
        rec = reviewer.locator(f"#ws-recordings .ws-rec[data-evidence-id='{world.ids['evidence']}']")
        assert "已播放 1 次" in rec.inner_text()
        assert len([e for e in world.events(action="played", evidence_id=world.ids["evidence"])
                    if e.actor == "user:reviewer"]) == 1

        # the checklist, item by item; then 补充材料, confirmed
        _answer_all(reviewer, {"证据确凿充分合法": ("no", "缺少现场照片和抽样检验报告"),
                               "执法资格": ("no", "请补充张三的执法证")})
        _decide(reviewer, "补充材料", "请补充现场照片、抽样检验报告及执法证信息后重新提请")
    finally:
        reviewer.context.close()
    assert {e.action for e in world.events(actor="user:reviewer")} >= {"review_opened", "review_answered",
                                                                       "review_decided", "played"}

    handler = _login(browser, world, "handler")
    try:
        # the notice: a count in the top bar, at the top of the case page; read when opened
        assert handler.inner_text("#nav-review-notices") == "1"
        handler.goto(case_url)
        notice = handler.locator("#review-notices li.review-notice")
        assert notice.count() == 1 and "补充材料" in notice.inner_text()
        with handler.expect_navigation():
            notice.locator("a.notice-open").click()
        assert handler.locator("#review-notices").count() == 0 and handler.locator("#nav-review-notices").count() == 0
        row = handler.locator(f"#review-rounds tr#round-{first.id}")
        assert row.get_attribute("data-outcome") == "补充材料" and row.locator(".opinion-pdf").count() == 1
        # the opinion PDF opens as the link does: a one-time link (POST with the CSRF header), then the file
        csrf = handler.get_attribute('meta[name="csrf-token"]', "content") or ""
        link = handler.request.post(world.base + (row.locator(".opinion-pdf").get_attribute("data-link") or ""),
                                    headers={"X-CSRF-Token": csrf})
        assert link.status == 201, link.text()
        url = link.json()["url"]
        pdf = handler.request.get(url if url.startswith("http") else world.base + url)
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")
        assert "补充材料" in handler.inner_text("#decision-note")

        # still no decision
        r = _decision_step(handler, world)
        assert r.status == 409 and "补充材料" in handler.inner_text("#page-error")

        # resubmission: a new round, the old one kept
        handler.goto(case_url)
        assert "重新提请" in handler.inner_text("#review-submit-form")
        handler.select_option("#rv-kind", "罚款")
        handler.fill("#rv-amount", "20000")
        handler.fill("#rv-content", "对当事人罚款人民币贰万元")
        handler.fill("#rv-basis", "《中华人民共和国产品质量法》第四十九条")
        handler.fill("#rv-statement", "已补充现场照片和抽样检验报告")
        _submit(handler, "#rv-submit")
        assert [x.get_attribute("data-state") for x in handler.locator("#review-rounds tr.review-round").all()] == [
            "decided", "submitted"]
    finally:
        handler.context.close()
    second = world.rounds()[1]
    assert second.round_no == 2
    world.revise_interview()  # after the submission: the reviewer is told

    reviewer = _login(browser, world, "reviewer")
    try:
        reviewer.goto(f"{world.base}/review/rounds/{second.id}")
        assert reviewer.get_attribute("#workspace", "data-state") == "in_review"
        doc = reviewer.locator(f"#ws-documents tr.ws-doc[data-record-id='{world.ids['interview']}']")
        assert doc.get_attribute("data-changed") == "true" and "提请后已修改" in doc.inner_text()
        assert "提请时为第 1 版，现为第 2 版" in reviewer.inner_text("#review-changes")
        assert reviewer.locator("#ws-rounds li").count() == 2
        _answer_all(reviewer, {})
        _decide(reviewer, "同意", "事实清楚，证据确凿，程序合法，同意按拟作决定处理")
        reviewer.click("#lang-switch")  # the workspace in English too
        reviewer.wait_for_load_state()
        assert "Checklist" in reviewer.inner_text("#checklist h2") and reviewer.inner_text("#nav-review").startswith("Legal review")
        reviewer.click("#lang-switch")
        reviewer.wait_for_load_state()
    finally:
        reviewer.context.close()

    handler = _login(browser, world, "handler")
    try:
        handler.goto(case_url)
        assert "同意" in handler.inner_text("#review-notices")
        assert handler.get_attribute("#review", "data-allowed") == "true"
        r = _decision_step(handler, world)
        assert r.status == 200 and handler.inner_text("#page-done") == "决定已记录。"
        assert handler.locator("#timeline li[data-kind='决定']").count() == 1
        assert handler.locator("#page-error").count() == 0
    finally:
        handler.context.close()
    assert len(world.events(action="review_gate_refused")) == 2
    assert len(world.events(action="review_decision_recorded")) == 1


def test_refusals_are_custody_events_and_shown_in_words(browser: Any, world: World) -> None:
    rid = world.ids["other_round"]
    before = len(world.events(action="access_denied"))
    # another unit's investigator: the round does not exist for them
    other = _login(browser, world, "handler_b")
    try:
        r = other.goto(f"{world.base}/review/rounds/{rid}")
        assert r is not None and r.status == 404
        assert other.get_attribute("#error-message", "data-code") == "unknown_review_round"
    finally:
        other.context.close()
    # the handler may read the round, not answer it; nor open another unit's notice
    handler = _login(browser, world, "handler")
    try:
        handler.goto(f"{world.base}/review/rounds/{rid}")
        assert handler.locator("#decide-form, form.answer-form").count() == 0
        assert handler.get_attribute("#workspace", "data-state") == "submitted"  # a handler's look opens nothing
        csrf = handler.get_attribute('meta[name="csrf-token"]', "content")
        r = handler.request.post(f"{world.base}/review/rounds/{rid}/answer",
                                 form={"csrf": csrf, "element": "主体合法", "answer": "yes", "comment": ""})
        assert r.status == 403
        handler.goto(f"{world.base}/cases/{world.ids['other']}")
        handler.click("#lang-switch")
        handler.wait_for_load_state()
        assert handler.inner_text("#review h2") == "Legal review" and "Round 1" in handler.inner_text("#review-rounds")
        handler.click("#lang-switch")
        handler.wait_for_load_state()
    finally:
        handler.context.close()
    # a forged form (no CSRF token) from a reviewer's browser
    reviewer = _login(browser, world, "reviewer")
    try:
        r = reviewer.request.post(f"{world.base}/review/rounds/{rid}/decide",
                                  form={"csrf": "forged", "outcome": "同意", "opinion": "同意", "confirmed": "yes"})
        assert r.status == 403
    finally:
        reviewer.context.close()
    denied = world.events(action="access_denied")[before:]
    assert {(e.actor, json.loads(e.detail)["permission"]) for e in denied} == {
        ("user:handler_b", "review.view"), ("user:handler", "review.decide"), ("user:reviewer", "csrf")}
    assert world.rounds("other")[0].state == "submitted"
