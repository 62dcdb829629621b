"""The search page in a real browser (Debian's Chromium through Playwright, a real ``liuhen serve``):
list and grid views, quick ranges in the station's day, partial recorder ids, recordings without
a recording time found by their archive time, sorting, case and tag filters, and the bulk bar
(tag, link to a case step, mark important) reporting per recording. The world: tests/search_world.py.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.search_world import TZ, SearchWorld, search_world
from tests.test_console_browser import _login as _login_world
from tests.test_console_browser import _wait, browser

pytestmark = pytest.mark.slow
__all__ = ["browser", "search_world"]  # (the fixtures this module uses)


def _login(b: Any, w: SearchWorld, user: str) -> Any:
    page = _login_world(b, w, user)  # (it reads only .base from the world)
    page.set_viewport_size({"width": 1440, "height": 900})
    return page


def _shown(page: Any) -> list[int]:
    return [int(x) for x in page.eval_on_selector_all("#results .result", "els => els.map(e => e.dataset.evidenceId)")]


def _go(page: Any, w: SearchWorld, query: str = "") -> None:
    page.goto(f"{w.base}/search{query}")
    page.wait_for_load_state()


def test_grid_and_list_views_show_the_same_results_and_the_view_is_kept_across_filters(
        browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    page = _login(browser, w, "investigator")
    try:
        _go(page, w)
        grid = _shown(page)
        assert set(grid) == set(w.ids.values())
        assert page.locator("ul.results#results").count() == 1
        page.click("#view-list")
        page.wait_for_load_state()
        assert page.locator("table.results-list#results").count() == 1
        assert _shown(page) == grid
        heads = page.inner_text("table.results-list thead")
        assert "时长" in heads and "执法记录仪编号" in heads
        page.fill("#device", "A001")  # a filter keeps the list view
        page.click("#search-submit")
        page.wait_for_load_state()
        assert page.locator("table.results-list#results").count() == 1
    finally:
        page.context.close()


def test_quick_ranges_start_at_the_station_midnight(browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    ids = w.ids
    page = _login(browser, w, "investigator")
    try:
        _go(page, w)
        today = dt.datetime.now(TZ).date()
        page.click("#range-today")
        page.wait_for_load_state()
        assert page.input_value("#start") == f"{today.isoformat()}T00:00"
        assert set(_shown(page)) == {ids["today"], ids["untimed"]}
        page.click("#range-7d")
        page.wait_for_load_state()
        assert page.input_value("#start") == f"{(today - dt.timedelta(days=6)).isoformat()}T00:00"
        assert set(_shown(page)) == {ids["today"], ids["days3"], ids["untimed"]}
        page.click("#range-month")
        page.wait_for_load_state()
        assert page.input_value("#start") == f"{today.replace(day=1).isoformat()}T00:00"
        found = set(_shown(page))
        assert {ids["today"], ids["untimed"]} <= found and ids["days40"] not in found
        assert "归档时间" in page.inner_text("#time-basis")
    finally:
        page.context.close()


def test_a_partial_recorder_id_finds_every_recorder_that_contains_it(browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    page = _login(browser, w, "investigator")
    try:
        _go(page, w)
        page.fill("#device", "A001")
        page.click("#search-submit")
        page.wait_for_load_state()
        assert set(_shown(page)) == {w.ids["today"], w.ids["days3"]}  # DSJ-A001 and DSJ-A0012
        page.fill("#device", "c003")  # (any case)
        page.click("#search-submit")
        page.wait_for_load_state()
        assert set(_shown(page)) == {w.ids["untimed"]}
    finally:
        page.context.close()
    searched = [e for e in w.events(action="searched") if e.actor == "user:investigator"]
    assert any(json.loads(e.detail)["query"].get("device") == "A001" for e in searched)


def test_a_recording_without_a_recording_time_is_found_by_its_archive_time_and_says_so(
        browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    page = _login(browser, w, "investigator")
    try:
        _go(page, w, "?range=today&view=list")
        row = page.locator(f".result[data-evidence-id='{w.ids['untimed']}'] .when")
        assert row.get_attribute("data-time") == "archived"
        assert "无录制时间，归档于" in row.inner_text()
        timed = page.locator(f".result[data-evidence-id='{w.ids['today']}'] .when")
        assert timed.get_attribute("data-time") == "recorded"
        # a range forty days back: the recording of then, not the one archived today
        then = dt.datetime.now(TZ) - dt.timedelta(days=40)
        page.fill("#start", (then - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("#end", (then + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
        page.click("#search-submit")
        page.wait_for_load_state()
        assert _shown(page) == [w.ids["days40"]]
    finally:
        page.context.close()


def test_results_sort_by_officer_and_by_recording_time(browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    ids = w.ids
    page = _login(browser, w, "investigator")
    try:
        _go(page, w)
        assert _shown(page)[:3] == [ids["today"], ids["days3"], ids["days40"]]  # newest recording first
        page.select_option("#sort", "officer")
        page.click("#search-submit")
        page.wait_for_load_state()
        order = _shown(page)
        assert set(order[:2]) == {ids["today"], ids["days40"]}  # 000123 (张三) before 000789 (王五)
        assert set(order[2:]) == {ids["days3"], ids["untimed"]}
    finally:
        page.context.close()


def test_bulk_tag_reports_each_recording_and_the_tag_filter_finds_them(browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    page = _login(browser, w, "investigator")
    try:
        _go(page, w)
        assert page.locator("#bulk-important").count() == 0  # (重点标记 is the dock operator's)
        assert page.is_disabled("#bulk-tag")
        page.check("#pick-all")
        assert page.get_attribute("#picked-count", "data-n") == "4"
        page.fill("#bulk-tag-input", "夜班巡查")
        page.click("#bulk-tag")
        _wait(page, "document.getElementById('bulk-report').dataset.finished === '1'")
        outcomes = page.eval_on_selector_all("#bulk-report li[data-evidence-id]",
                                             "els => els.map(e => [+e.dataset.evidenceId, e.dataset.outcome])")
        assert sorted(outcomes) == sorted([i, "done"] for i in w.ids.values())
        assert "完成 4 条" in page.inner_text("#bulk-report")
        assert "夜班巡查" in page.inner_text(f".result[data-evidence-id='{w.ids['today']}'] .tags")
        for i in w.ids.values():
            assert "夜班巡查" in w.tags(i)
        # a tag the API refuses (longer than 64 characters): refused for each, with the reason
        page.fill("#bulk-tag-input", "长" * 70)
        page.click("#bulk-tag")
        _wait(page, "document.getElementById('bulk-report').dataset.finished === '1'"
                    " && document.querySelectorAll('#bulk-report li[data-outcome=refused]').length === 4")
        assert "未完成" in page.inner_text("#bulk-report")
        _go(page, w, "?tag=夜班巡查")
        assert set(_shown(page)) == set(w.ids.values())
    finally:
        page.context.close()
    tagged = [e for e in w.events(action="tagged") if e.actor == "user:investigator"]
    assert {e.evidence_id for e in tagged} >= set(w.ids.values())


def test_bulk_link_to_a_case_step_through_the_picker_then_the_case_filter_finds_them(
        browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    page = _login(browser, w, "investigator")
    try:
        _go(page, w, "?view=list")
        for name in ("today", "days3"):
            page.check(f".result[data-evidence-id='{w.ids[name]}'] input.pick")
        assert page.get_attribute("#picked-count", "data-n") == "2"
        page.click("#bulk-link")
        page.wait_for_selector("#case-picker[open]")  # the shared case picker (console.js openCasePicker)
        page.fill("#pick-q", "夜市")
        page.click("#pick-find")
        _wait(page, "document.getElementById('case-picker').dataset.state === 'found' && "
                    "document.getElementById('case-picker').dataset.q === '夜市'")
        page.click(f".pick-case[data-case-id='{w.case_id}'] .pick-step[data-step-id='{w.step_id}'] button.pick-choose")
        assert "2" in page.inner_text("#pick-what")  # it says how many recordings will be linked, and where
        page.click("#pick-go")
        _wait(page, "document.getElementById('bulk-report').dataset.finished === '1'")
        outcomes = dict(page.eval_on_selector_all("#bulk-report li[data-evidence-id]",
                                                  "els => els.map(e => [+e.dataset.evidenceId, e.dataset.outcome])"))
        assert outcomes == {w.ids["today"]: "done", w.ids["days3"]: "done"}
        assert w.linked(w.step_id) == {w.ids["today"], w.ids["days3"]}
        page.fill("#case", "夜市")
        page.click("#search-submit")
        page.wait_for_load_state()
        assert set(_shown(page)) == {w.ids["today"], w.ids["days3"]}
    finally:
        page.context.close()
    linked = [e for e in w.events(action="linked") if e.actor == "user:investigator"]
    assert {e.evidence_id for e in linked} == {w.ids["today"], w.ids["days3"]}


def test_the_operator_marks_selected_recordings_important(browser: Any, search_world: SearchWorld) -> None:
    w = search_world
    page = _login(browser, w, "operator")
    try:
        _go(page, w)
        assert page.locator("#bulk-link").count() == 0  # (no cases for the operator)
        page.check(f".result[data-evidence-id='{w.ids['untimed']}'] input.pick")
        page.click("#bulk-important")
        _wait(page, "document.getElementById('bulk-report').dataset.finished === '1'")
        assert page.get_attribute(f"#bulk-report li[data-evidence-id='{w.ids['untimed']}']", "data-outcome") == "done"
        _go(page, w, "?important=1")
        assert _shown(page) == [w.ids["untimed"]]
    finally:
        page.context.close()
    assert [e.actor for e in w.events(action="marked_important", evidence_id=w.ids["untimed"])] == ["user:operator"]
