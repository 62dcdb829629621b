"""The audit page in a real browser (Debian's Chromium through Playwright, a real ``liuhen serve``):
actions in the reader's language, actor search by part of a name or an account, a time range and
quick ranges, details folded (command lines behind a second fold), CSV export of the filtered rows
(UTF-8 with a BOM, an ``audit_exported`` custody event), "verify the chain now" (a
``custody_log_verified`` event), and the page fitting 1440 px. The world: tests/search_world.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest

from console.i18n import translator
from tests.search_world import TZ, SearchWorld, search_world
from tests.test_console_browser import _login as _login_world
from tests.test_console_browser import _wait, browser

pytestmark = pytest.mark.slow
__all__ = ["browser", "search_world"]  # (the fixtures this module uses)


def _login(b: Any, w: SearchWorld, user: str) -> Any:
    page = _login_world(b, w, user)
    page.set_viewport_size({"width": 1440, "height": 900})
    return page


def _rows(page: Any) -> list[dict[str, Any]]:
    return page.eval_on_selector_all("#audit-rows tbody tr", "els => els.map(e => ({actor: e.dataset.actor, "
                                     "seq: +e.dataset.seq, action: e.dataset.action, label: e.querySelector('td.action').textContent, "
                                     "when: e.children[1].textContent}))")


@pytest.fixture(scope="module")
def searched_by_diaocha(browser: Any, search_world: SearchWorld) -> None:
    """张伟 (account diaocha) signs in and searches: events to find by his name or account."""
    page = _login(browser, search_world, "diaocha")
    try:
        page.goto(f"{search_world.base}/search?device=A001")
        page.wait_for_load_state()
    finally:
        page.context.close()


def test_the_actor_is_found_by_part_of_the_name_or_the_account_and_actions_are_in_words(
        browser: Any, search_world: SearchWorld, searched_by_diaocha: None) -> None:
    w = search_world
    zh = translator("zh")
    page = _login(browser, w, "auditor")
    try:
        for who in ("张", "diaocha", "DiaoCha"):
            page.goto(f"{w.base}/audit")
            page.fill("#who", who)
            page.click("#audit-submit")
            page.wait_for_load_state()
            rows = _rows(page)
            assert rows and {r["actor"] for r in rows} == {"user:diaocha"}, who
            assert {r["action"] for r in rows} >= {"signed_in", "searched"}
            assert "张伟" in page.inner_text("#audit-rows tbody td.actor")
            for r in rows:  # each action named through the catalogue (action.CODE)
                assert r["label"] == zh("action." + r["action"])
    finally:
        page.context.close()


def test_a_time_range_and_the_quick_ranges_bound_the_rows(browser: Any, search_world: SearchWorld,
                                                          searched_by_diaocha: None) -> None:
    w = search_world
    page = _login(browser, w, "auditor")
    try:
        page.goto(f"{w.base}/audit")
        page.click("#range-today")
        page.wait_for_load_state()
        today = dt.datetime.now(TZ).date().isoformat()
        assert page.input_value("#start") == f"{today}T00:00"
        rows = _rows(page)
        assert rows and all(r["when"].startswith(today) for r in rows)
        tomorrow = (dt.datetime.now(TZ) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        page.fill("#start", tomorrow)
        page.click("#audit-submit")
        page.wait_for_load_state()
        assert _rows(page) == [] and page.locator("#no-rows").count() == 1
    finally:
        page.context.close()


def test_details_are_folded_command_lines_twice_and_the_page_fits_1440_px(browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    page = _login(browser, w, "auditor")
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=60)  # the served media workers probe the recordings
        while True:
            page.goto(f"{w.base}/audit?action=probed")
            page.wait_for_load_state()
            if page.locator("details.command").count() or dt.datetime.now() > deadline:
                break
            page.wait_for_timeout(1000)
        cmd = page.locator("details.command").first
        assert cmd.count() == 1, "no probed event with a command line"
        assert not cmd.evaluate("d => d.open") and not cmd.locator("pre").is_visible()
        outer = page.locator("details.event-detail").first
        outer.locator("summary").first.click()
        assert outer.evaluate("d => d.open")
        cmd.locator("summary").click()
        assert "ffprobe" in cmd.locator("pre").inner_text()
        for path in ("/audit?action=probed", "/audit"):
            page.goto(w.base + path)
            page.wait_for_load_state()
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1440, (path, width)
    finally:
        page.context.close()


def test_the_filtered_rows_download_as_csv_for_excel_and_the_export_is_recorded(
        browser: Any, search_world: SearchWorld, searched_by_diaocha: None) -> None:
    w = search_world
    page = _login(browser, w, "auditor")
    try:
        page.goto(f"{w.base}/audit?who=diaocha")
        page.wait_for_load_state()
        shown = _rows(page)
        with page.expect_download() as got:
            page.click("#audit-export")
        raw = open(got.value.path(), "rb").read()
    finally:
        page.context.close()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))
    head, body = table[0], table[1:]
    assert head[:4] == ["序号", "时间（本站时区）", "操作人账号", "操作人姓名"]
    assert body and {r[2] for r in body} == {"user:diaocha"} and {r[3] for r in body} == {"张伟"}
    assert [int(r[0]) for r in body] == [r["seq"] for r in shown]  # the same rows, newest first
    assert {r[5] for r in body} >= {"signed_in", "searched"}
    exported = [e for e in w.events(action="audit_exported") if e.actor == "user:auditor"]
    said = json.loads(exported[-1].detail) if exported else {}
    assert said["rows"] == len(body) and said["filters"]["who"] == "diaocha"


def test_the_verify_button_checks_the_chain_and_says_so(browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    before = len(w.events(action="custody_log_verified"))
    page = _login(browser, w, "auditor")
    try:
        page.goto(f"{w.base}/audit")
        page.click("#verify-chain")
        _wait(page, "document.getElementById('chain-result').dataset.ok !== undefined")
        assert page.get_attribute("#chain-result", "data-ok") == "true"
        assert "保管链完整" in page.inner_text("#chain-result")
    finally:
        page.context.close()
    checks = w.events(action="custody_log_verified")
    assert len(checks) == before + 1 and checks[-1].actor == "user:auditor" and checks[-1].outcome == "success"
