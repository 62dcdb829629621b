"""The publishers' console (行政执法公示) in a real browser: Debian's Chromium, headless, driven by
Playwright, against a real ``liuhen serve`` process (SQLite).

One archive: unit 东城分局 with its handler (investigator) and publisher (legal reviewer), unit 西城分局
with its own publisher; a 行政处罚 case of 东城分局 against 某某贸易有限公司 and 王小明 (a natural
person, with his resident ID on the case), not major; an older decision of the same unit whose draft
is overdue; a decision of 西城分局.

The story: the handler records the 决定书 on the case page, its facts holding 王小明's resident ID
number (a valid check character), his mobile number and his name; the handler sees the draft but may
not publish it. The publisher opens 公示: the counts (one overdue), the draft per unit with where it
stands; the filter; the draft as it will be public with every mask highlighted and none of the clear
data on the page; masks more by hand; publishes (a stale second tab's publish is refused in words,
notice_state). An anonymous browser (no cookies) finds the notice on the public site by the
organisation's name and opens it: no ID, no mobile, no name. The publisher withdraws it with the
reason; a new anonymous browser sees 已撤回 and the reason. 西城分局's publisher neither lists it nor
opens it (404, like a notice that does not exist). Each act is the service's custody event.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import write_config
from tests.console_server import serving
from tests.test_pii import make_id

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "正确的马电池订书钉和钥匙"
TZ = ZoneInfo("Asia/Shanghai")
ORG = "某某贸易有限公司"
PERSON = "王小明"
ID = make_id("110101", dt.date(1985, 6, 15), "047")  # a valid resident ID (GB 11643 check character)
MOBILE = "13912345678"
FACTS = (f"当事人{ORG}的店员{PERSON}（公民身份号码{ID}，手机{MOBILE}）于店内销售超过保质期的食品，"
         "经现场检查查实。")
REASON = "行政处罚决定已被复议机关依法撤销"
pytestmark = pytest.mark.slow


class World:
    def __init__(self, base: str, settings: Any, ids: dict[str, int]) -> None:
        self.base, self.settings, self.ids = base, settings, ids

    def _session(self) -> Any:
        from liuhen import db

        engine = db.make_engine(self.settings.archive.database_url)
        return engine, db.make_sessionmaker(engine)()

    def events(self, **where: Any) -> list[Any]:
        from hashing.models import CustodyEvent

        engine, s = self._session()
        try:
            q = select(CustodyEvent)
            for k, v in where.items():
                q = q.where(getattr(CustodyEvent, k) == v)
            rows = list(s.scalars(q.order_by(CustodyEvent.seq)))
            s.expunge_all()
            return rows
        finally:
            s.close()
            engine.dispose()

    def notices(self, case: str) -> list[Any]:
        from publication.models import Notice

        engine, s = self._session()
        try:
            rows = list(s.scalars(select(Notice).where(Notice.case_id == self.ids[case]).order_by(Notice.id)))
            s.expunge_all()
            return rows
        finally:
            s.close()
            engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    from app.runtime import open_archive
    from liuhen import config

    folder = tmp_path_factory.mktemp("console-publication")
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}")
    settings = config.load(cfg, environ={})
    archive = open_archive(settings)
    try:
        ids = _seed(archive, settings)
    finally:
        archive.close()

    with serving(cfg, folder) as base:
        yield World(base, settings, ids)


def _seed(archive: Any, settings: Any) -> dict[str, int]:
    from auth import service as accounts
    from cases import records
    from cases import service as cases
    from cases.service import PartyIn

    with archive.sessions.begin() as db:
        east = accounts.add_unit(db, code="110101", name="东城分局")
        west = accounts.add_unit(db, code="110102", name="西城分局")
        for name, role, unit in (("handler", "investigator", "110101"), ("publisher", "legal_reviewer", "110101"),
                                 ("publisher_b", "legal_reviewer", "110102"), ("handler_b", "investigator", "110102")):
            accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role=role, unit_code=unit,
                              display_name=f"{name} 用户", actor="test", settings=settings.auth)
        db.flush()
        ids: dict[str, int] = {}
        for key, unit, code, title in (("case", east, "110101", f"{ORG}销售过期食品案"),
                                       ("old", east, "110101", "某超市价格违法案"),
                                       ("west", west, "110102", "某饭店卫生不达标案")):
            c = cases.create_case(db, archive.custody, settings.cases, unit_id=unit.id, unit_code=code,
                                  category="行政处罚", title=title, actor="user:handler",
                                  parties=[PartyIn(name=ORG, kind="organisation"),
                                           PartyIn(name=PERSON, kind="person", id_number=ID)],
                                  data_key=archive.data_key)
            ids[key] = c.id
    decision = {"party": ORG, "facts": "销售超过保质期的食品", "law": "《中华人民共和国食品安全法》第一百二十四条",
                "decision": "予以警告", "remedy": "可在六十日内申请行政复议", "decision_kind": "警告"}
    # an older decision: its draft is long overdue (seven working days from 2 March 2026: 11 March)
    records.add_form(archive, case_id=ids["old"], actor="user:handler", kind="决定书",
                     fields={**decision, "party": "某超市", "decided_on": "2026-03-02"})
    records.add_form(archive, case_id=ids["west"], actor="user:handler_b", kind="决定书",
                     fields={**decision, "party": "某饭店", "decided_on": "2026-11-20"})
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


def _anonymous(browser: Any) -> Any:
    """A browser with no cookie and nothing cached: the public."""
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    return ctx.new_page()


def _submit(page: Any, selector: str) -> Any:
    with page.expect_navigation() as nav:
        page.click(selector)
    return nav.value


def _clear_data_absent(html: str) -> None:
    for secret in (ID, ID[:6] + ID[6:14], MOBILE, MOBILE[3:], PERSON):
        assert secret not in html, secret


def test_record_see_masks_publish_find_withdraw(browser: Any, world: World) -> None:
    from publication import service

    # the handler records the 决定书 on the case page (not a major case: no legal review needed)
    handler = _login(browser, world, "handler")
    try:
        handler.goto(f"{world.base}/cases/{world.ids['case']}")
        assert handler.get_attribute("#review", "data-allowed") == "true"
        handler.select_option("#decision-record-kind", "警告")
        handler.fill("#decision-record-party", f"{ORG}、{PERSON}")
        handler.fill("#decision-record-facts", FACTS)
        handler.fill("#decision-record-law", "《中华人民共和国食品安全法》第一百二十四条")
        handler.fill("#decision-record-content", "对当事人予以警告，责令改正")
        handler.fill("#decision-record-remedy", "可在六十日内申请行政复议")
        today = dt.datetime.now(TZ).date()
        handler.fill("#decision-record-date", today.isoformat())
        r = _submit(handler, "#decision-record-add")
        assert r.status == 200 and handler.inner_text("#page-done") == "决定已记录。"
        # the handler sees the draft, and may not publish it
        handler.click("#nav-publication")
        handler.wait_for_load_state()
        row = handler.locator(f"tr.pub-notice:has(a.case-link[href='/cases/{world.ids['case']}'])")
        assert row.count() == 1
        with handler.expect_navigation():
            row.locator("a.notice-open").click()
        assert handler.locator("#mask-form, #publish-form, #withdraw-form").count() == 0
        assert handler.locator("#pub-read-only").count() == 1
    finally:
        handler.context.close()
    [drafted] = world.notices("case")
    assert drafted.state == "draft"
    expected = service.status(drafted, today)  # due, or deadline_unknown in a year the calendar lacks
    old = world.notices("old")[0]

    publisher = _login(browser, world, "publisher")
    try:
        # 公示: the counts at the top, the notices per unit, where each stands
        publisher.click("#nav-publication")
        publisher.wait_for_load_state()
        assert publisher.get_attribute("#count-overdue", "data-count") == "1"
        assert publisher.get_attribute(f"#count-{expected}", "data-count") == "1"
        assert publisher.get_attribute("#count-late", "data-count") == "0"
        assert [u.get_attribute("data-unit") for u in publisher.locator("section.pub-unit").all()] == ["110101"]
        row = publisher.locator(f"tr.pub-notice[data-notice-id='{drafted.id}']")
        assert row.get_attribute("data-status") == expected
        assert row.locator("td.party").inner_text() == f"{ORG}、王某"
        late = publisher.locator(f"tr.pub-notice[data-notice-id='{old.id}']")
        assert late.get_attribute("data-status") == "overdue" and "逾期未公示" in late.inner_text()
        assert late.locator("td.due").inner_text() == "2026-03-11"
        # the filter: only the overdue one
        publisher.select_option("#pub-status", "overdue")
        _submit(publisher, "#pub-filter-go")
        assert [x.get_attribute("data-notice-id") for x in publisher.locator("tr.pub-notice").all()] == [str(old.id)]
        publisher.goto(f"{world.base}/publication")

        # one notice: as it will be public, every mask highlighted, none of the clear data on the page
        with publisher.expect_navigation():
            publisher.locator(f"tr.pub-notice[data-notice-id='{drafted.id}'] a.notice-open").click()
        assert publisher.get_attribute("#notice", "data-state") == "draft"
        marks = publisher.locator("#notice-preview mark.mask")
        kinds = [m.get_attribute("data-kind") for m in marks.all()]
        assert {"id_number", "mobile", "name"} <= set(kinds), kinds
        facts = publisher.locator("dd.pub-field[data-field='facts']")
        assert facts.locator("mark.mask[data-kind='id_number']").get_attribute("title") == "身份证号码"
        assert facts.locator("mark.mask[data-kind='id_number']").inner_text() == ID[:6] + "********" + ID[-4:]
        assert facts.locator("mark.mask[data-kind='mobile']").inner_text() == "139****5678"
        assert facts.locator("mark.mask[data-kind='name']").first.inner_text() == "王某"
        # every span of the stored masks is a <mark>, and the marks are exactly those spans' text
        masks = service.masks_of(drafted)
        assert marks.count() == sum(len(v) for v in masks.values())
        assert [m.inner_text() for m in facts.locator("mark.mask").all()] == [
            drafted.facts[s:e] for s, e, _ in sorted(masks["facts"])]
        assert ORG in facts.inner_text()
        legend = publisher.inner_text("#mask-legend")
        assert "身份证号码" in legend and "手机号码" in legend and "自然人姓名" in legend
        _clear_data_absent(publisher.content())

        # mask more, by hand; a text not in the draft is refused in words
        publisher.select_option("#mask-field", "facts")
        publisher.fill("#mask-text", "不在草稿中的文字")
        r = _submit(publisher, "#mask-go")
        assert r.status == 400 and "要遮盖的文字不在该字段中" in publisher.inner_text("#page-error")
        publisher.select_option("#mask-field", "facts")
        publisher.fill("#mask-text", "店员")
        r = _submit(publisher, "#mask-go")
        assert r.status == 200 and publisher.inner_text("#page-done") == "已遮盖。"
        hand = publisher.locator("dd.pub-field[data-field='facts'] mark.mask[data-kind='hand']")
        assert hand.count() == 1 and hand.inner_text() == "**" and hand.get_attribute("title") == "人工遮盖"
        assert "店员" not in publisher.inner_text("#notice-preview")

        # a second tab, opened now, goes stale once the first publishes
        stale = publisher.context.new_page()
        stale.goto(f"{world.base}/publication/{drafted.id}")
        r = _submit(publisher, "#publish-go")
        assert r.status == 200 and publisher.inner_text("#page-done") == "已发布。"
        assert publisher.get_attribute("#notice", "data-state") == "published"
        assert publisher.locator("#publish-form, #mask-form").count() == 0
        public_no = drafted.public_no
        assert publisher.get_attribute("#public-link", "href") == f"/public/notices/{public_no}"
        r = _submit(stale, "#publish-go")
        assert r.status == 409
        assert stale.get_attribute("#page-error", "data-code") == "notice_state"
        assert "不能发布" in stale.inner_text("#page-error")
        stale.close()
    finally:
        publisher.context.close()

    # the public: no sign-in, finds it by the organisation's name, no personal data on the page
    anon = _anonymous(browser)
    try:
        anon.goto(f"{world.base}/public/notices")
        anon.fill("#q", "某某贸易")
        _submit(anon, "form.search button")
        link = anon.locator(f"a[href='/public/notices/{public_no}']")
        assert link.count() == 1 and "某某贸易" in anon.inner_text("main")
        _clear_data_absent(anon.content())
        with anon.expect_navigation():
            link.click()
        html = anon.content()
        _clear_data_absent(html)
        assert ORG in html and "王某" in html and "139****5678" in html and "店员" not in html
        assert "撤回" not in anon.inner_text("main")
        assert anon.context.cookies() == []
    finally:
        anon.context.close()

    # withdrawn, with its reason
    publisher = _login(browser, world, "publisher")
    try:
        publisher.goto(f"{world.base}/publication/{drafted.id}")
        publisher.fill("#withdraw-reason", REASON)
        r = _submit(publisher, "#withdraw-go")
        assert r.status == 200 and publisher.inner_text("#page-done") == "已撤回。"
        assert publisher.get_attribute("#notice", "data-status") == "withdrawn"
        assert publisher.inner_text("#notice-reason") == REASON
        publisher.goto(f"{world.base}/publication?status=withdrawn")
        assert publisher.locator(f"tr.pub-notice[data-notice-id='{drafted.id}']").count() == 1
    finally:
        publisher.context.close()
    anon = _anonymous(browser)
    try:
        anon.goto(f"{world.base}/public/notices?q=某某贸易")
        row = anon.locator("tbody tr", has=anon.locator(f"a[href='/public/notices/{public_no}']"))
        assert "已撤回" in row.inner_text()
        anon.goto(f"{world.base}/public/notices/{public_no}")
        status = anon.inner_text("p.withdrawn")
        assert "本公示已于" in status and "撤回" in status and REASON in status
        _clear_data_absent(anon.content())
    finally:
        anon.context.close()

    # each act is the service's custody event, by whoever did it
    acts = [(e.action, e.actor) for e in world.events() if e.action.startswith("notice_")
            and json.loads(e.detail or "{}").get("notice_id") == drafted.id]
    assert acts == [("notice_drafted", "user:handler"), ("notice_masked", "user:publisher"),
                    ("notice_published", "user:publisher"), ("notice_withdrawn", "user:publisher")], acts


def test_another_units_notice_answers_like_a_missing_one(browser: Any, world: World) -> None:
    [west] = world.notices("west")
    [east_old] = world.notices("old")
    before = len(world.events(action="access_denied"))
    other = _login(browser, world, "publisher_b")
    try:
        other.goto(f"{world.base}/publication")
        listed = {x.get_attribute("data-notice-id") for x in other.locator("tr.pub-notice").all()}
        assert str(west.id) in listed and str(east_old.id) not in listed
        r = other.goto(f"{world.base}/publication/{east_old.id}")
        assert r is not None and r.status == 404
        assert other.get_attribute("#error-message", "data-code") == "unknown_notice"
        foreign = other.inner_text("#error-message").replace(str(east_old.id), "N")
        r = other.goto(f"{world.base}/publication/987654321")
        assert r is not None and r.status == 404
        assert other.inner_text("#error-message").replace("987654321", "N") == foreign
        # a forged publish of the other unit's draft: 404 too, nothing published
        csrf = other.get_attribute('meta[name="csrf-token"]', "content")
        resp = other.request.post(f"{world.base}/publication/{east_old.id}/publish", form={"csrf": csrf or ""})
        assert resp.status == 404
    finally:
        other.context.close()
    assert world.notices("old")[0].state == "draft"
    denied = world.events(action="access_denied")[before:]
    assert [e.actor for e in denied] == ["user:publisher_b", "user:publisher_b"]


def test_the_pages_in_english(browser: Any, world: World) -> None:
    [old] = world.notices("old")
    publisher = _login(browser, world, "publisher")
    try:
        publisher.goto(f"{world.base}/publication/{old.id}")
        publisher.click("#lang-switch")
        publisher.wait_for_load_state()
        assert publisher.inner_text("#nav-publication") == "Publication"
        assert publisher.inner_text("#notice-status") == "overdue"
        assert "Publish" in publisher.inner_text("#publish h2")
        publisher.goto(f"{world.base}/publication")
        assert "Overdue" in publisher.inner_text("#count-overdue")
        publisher.click("#lang-switch")
        publisher.wait_for_load_state()
    finally:
        publisher.context.close()
