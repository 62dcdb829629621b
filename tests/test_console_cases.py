"""Cases and evidence in the console, in a real browser (Chromium through Playwright) against a real
``liuhen serve`` — the world of ``tests/test_console_browser.py`` (units 东城分局 A and 西城分局 B,
张三's 24 s recording from 09:30:00, 王五's, 李四's in B; one user per role in A, an investigator in B).

Safe actions: closing, unlinking and reopening ask first and say what will happen; cancelling changes
nothing; closing runs the coverage check and lists its open problems (the case may still be closed,
and the closing's custody event names them); a closed case is reopened with a reason, as a custody
event. Evidence ↔ case: the evidence page lists the cases and steps its recording is linked to (of the
reader's units only) and links it to a step chosen in the case picker.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests import test_console_browser as shared
from tests.test_console_browser import PASSWORD, World, _login, _wait

world = shared.world  # the module's archive and liuhen serve, as tests/test_console_browser.py makes them
browser = shared.browser

pytestmark = pytest.mark.slow
API = "/api/v1"


@pytest.fixture
def inv(browser: Any, world: World) -> Iterator[Any]:
    page = _login(browser, world, "investigator")
    try:
        yield page
    finally:
        page.context.close()


def _call(page: Any, world: World, method: str, path: str, body: Any = None) -> Any:
    """An API call with the page's session and CSRF token (as console.js makes it)."""
    headers = {"X-CSRF-Token": page.get_attribute('meta[name="csrf-token"]', "content") or ""}
    if body is not None:
        headers["Content-Type"] = "application/json"
    r = page.request.fetch(world.base + API + path, method=method, headers=headers,
                           data=json.dumps(body) if body is not None else None)
    assert r.ok, (method, path, r.status, r.text())
    return r.json() if r.status != 204 else None


def _case(page: Any, world: World, title: str, *, unit: str = "110101", party: str | None = None,
          steps: tuple[tuple[str, str, str], ...] = (("查封扣押", "2026-11-23T09:30:10", "2026-11-23T09:30:20"),),
          officers: tuple[str, ...] = ("000123",)) -> tuple[int, list[int]]:
    c = _call(page, world, "POST", "/cases", {"unit_code": unit, "category": "行政强制", "title": title,
                                              "parties": [{"name": party}] if party else []})
    ids = [_call(page, world, "POST", f"/cases/{c['case_id']}/steps",
                 {"kind": kind, "started_at": a, "ended_at": b, "officers": list(officers)})["step_id"]
           for kind, a, b in steps]
    return c["case_id"], ids


def _detail(world: World, action: str, case_id: int) -> list[dict[str, Any]]:
    return [json.loads(e.detail) | {"_actor": e.actor} for e in world.events(action=action)
            if json.loads(e.detail).get("case_id") == case_id]


def _dialog(page: Any) -> Any:
    page.wait_for_selector("#confirm-dialog[open]")
    _wait(page, "document.getElementById('confirm-dialog').dataset.state !== 'checking'")
    return page.locator("#confirm-dialog")


def test_closing_asks_first_lists_the_open_problems_and_cancel_changes_nothing(inv: Any, world: World) -> None:
    case_id, (step,) = _case(inv, world, "结案确认 测试案")  # a 查封扣押 step with no recording: flagged
    inv.goto(f"{world.base}/cases/{case_id}")
    checks = len(_detail(world, "coverage_checked", case_id))

    inv.click("#case-close")
    dlg = _dialog(inv)
    text = dlg.inner_text()
    assert "不能再更改" in text and "恢复办理" in text  # what closing means, in words
    assert "1 个环节的问题尚未解决" in text and "仍可结案" in text
    problems = dlg.locator(".confirm-items li")
    assert problems.count() == 1 and "查封扣押" in problems.inner_text() and "2026-11-23 09:30:10" in problems.inner_text()
    assert inv.inner_text("#confirm-go") == "仍然结案"
    assert len(_detail(world, "coverage_checked", case_id)) == checks + 1  # the check the closer ran
    inv.click("#confirm-cancel")
    assert inv.locator("#confirm-dialog").count() == 0
    inv.reload()
    assert inv.get_attribute("#case", "data-status") == "open" and inv.locator("#case-close").count() == 1
    assert _detail(world, "case_closed", case_id) == []  # cancel changed nothing

    inv.click("#case-close")
    _dialog(inv)
    with inv.expect_navigation():
        inv.click("#confirm-go")
    assert inv.get_attribute("#case", "data-status") == "closed"
    assert inv.locator("#case-close").count() == 0 and inv.locator("#case-closed-at").count() == 1
    (closed,) = _detail(world, "case_closed", case_id)
    assert closed["_actor"] == "user:investigator" and closed["flagged_steps"] == [step]


def test_a_closed_case_is_reopened_with_a_reason_as_a_custody_event(inv: Any, world: World) -> None:
    case_id, _ = _case(inv, world, "恢复办理 测试案")
    _call(inv, world, "POST", f"/cases/{case_id}/close")
    inv.goto(f"{world.base}/cases/{case_id}")
    assert inv.locator("#case-reopen").count() == 1 and inv.locator("#step-form").count() == 0

    inv.click("#case-reopen")
    _dialog(inv)
    inv.click("#confirm-go")  # no reason: refused in words, the dialog stays
    assert "请填写恢复办理的理由" in inv.inner_text("#confirm-error")
    inv.click("#confirm-cancel")
    inv.reload()
    assert inv.get_attribute("#case", "data-status") == "closed" and _detail(world, "case_reopened", case_id) == []

    inv.click("#case-reopen")
    _dialog(inv)
    inv.fill("#confirm-reason", "行政复议决定撤销重作")
    with inv.expect_navigation():
        inv.click("#confirm-go")
    assert inv.get_attribute("#case", "data-status") == "open" and inv.locator("#step-form").count() == 1
    (ev,) = _detail(world, "case_reopened", case_id)
    assert ev["_actor"] == "user:investigator" and ev["reason"] == "行政复议决定撤销重作" and ev["was_closed_at"]

    # a role without cases.manage gets no button (and the API refuses it, as before)
    auditor = _login(inv.context.browser, world, "auditor")
    try:
        auditor.goto(f"{world.base}/cases/{case_id}")
        assert auditor.locator("#case-reopen, #case-close, button.unlink").count() == 0
    finally:
        auditor.context.close()


def test_unlinking_asks_first_and_cancel_keeps_the_link(inv: Any, world: World) -> None:
    ev = world.ids["zhangsan"]
    case_id, (step,) = _case(inv, world, "取消关联 测试案")
    link = _call(inv, world, "POST", f"/cases/steps/{step}/links", {"evidence_id": ev})["link_id"]
    inv.goto(f"{world.base}/cases/{case_id}")
    button = inv.locator(f"button.unlink[data-link-id='{link}']")

    button.click()
    text = _dialog(inv).inner_text()
    assert f"#{ev}" in text and "查封扣押" in text and "保管链" in text
    inv.click("#confirm-cancel")
    inv.reload()
    assert inv.locator(f"div.link[data-link-id='{link}']").count() == 1
    assert [e for e in _detail(world, "unlinked", case_id) if e["link_id"] == link] == []

    inv.locator(f"button.unlink[data-link-id='{link}']").click()
    _dialog(inv)
    with inv.expect_navigation():
        inv.click("#confirm-go")
    assert inv.locator(f"div.link[data-link-id='{link}']").count() == 0
    (gone,) = [e for e in _detail(world, "unlinked", case_id) if e["link_id"] == link]
    assert gone["_actor"] == "user:investigator" and gone["step_id"] == step


def test_the_case_page_speaks_in_names_and_beijing_time(inv: Any, world: World) -> None:
    case_id, (step,) = _case(inv, world, "名称与时间 测试案", officers=("000123", "000789"))
    inv.goto(f"{world.base}/cases/{case_id}")
    assert inv.inner_text("#case-unit-name") == "东城分局"
    officers = inv.inner_text(f".step[data-step-id='{step}'] .step-officers")
    assert "张三（000123）" in officers and "王五（000789）" in officers
    inv.locator(f".step[data-step-id='{step}'] button.suggest").click()
    suggestion = inv.locator(f".suggestions[data-step-id='{step}'] .suggestion[data-evidence-id='{world.ids['zhangsan']}']")
    suggestion.wait_for()
    assert "2026-11-23 09:30:00" in suggestion.inner_text()  # (01:30:00 in UTC)

    inv.goto(f"{world.base}/cases")
    headers = inv.locator("#case-rows thead th")
    assert all(h.strip() for h in headers.all_inner_texts())
    row = inv.locator(f"#case-rows tr[data-case-id='{case_id}']")
    assert row.locator("td").count() == headers.count() and "东城分局" in row.inner_text()


def test_a_note_asks_first_and_shows_its_author_by_name_with_the_time(inv: Any, world: World) -> None:
    ev = world.ids["wangwu"]
    inv.goto(f"{world.base}/evidence/{ev}")
    inv.fill("#note-input", "现场有围观群众")
    inv.click("#note-form button[type=submit]")
    assert "不能修改或删除" in _dialog(inv).inner_text()
    inv.click("#confirm-cancel")
    assert "现场有围观群众" not in inv.inner_text("#notes")
    inv.click("#note-form button[type=submit]")
    _dialog(inv)
    inv.click("#confirm-go")
    _wait(inv, "document.getElementById('notes').innerText.includes('现场有围观群众')")
    for _ in range(2):  # as added, and as the page shows it again
        by = inv.locator("#notes li.note").last.locator(".note-by").inner_text()
        assert by.startswith("investigator 用户（investigator） · 2026-") and "user:" not in by
        inv.reload()
    assert len([e for e in world.events(action="noted", evidence_id=ev) if e.actor == "user:investigator"]) == 1


def test_the_evidence_page_lists_its_cases_and_links_to_a_step_chosen_in_the_picker(
        inv: Any, browser: Any, world: World) -> None:
    ev = world.ids["wangwu"]
    mine, (step, later) = _case(inv, world, "某仓库查封扣押案", party="王小明", steps=(
        ("现场检查", "2026-11-23T09:59:00", "2026-11-23T10:01:00"), ("询问", "2026-11-23T11:00:00", "2026-11-23T11:30:00")))
    # a case of another unit (西城分局) that a city-level user linked the same recording to: never shown in A
    city = "city_inv"
    subprocess.run([sys.executable, "-m", "app.cli", "--config", str(world.folder / "config.toml"), "users", "add",
                    city, "--role", "investigator", "--unit", "110000"], input=f"{PASSWORD}\n{PASSWORD}\n",
                   text=True, check=True, capture_output=True, cwd=world.folder)
    c = _login(browser, world, city)
    try:
        foreign, (fstep,) = _case(c, world, "西城 王小明案", unit="110102", party="王小明")
        _call(c, world, "POST", f"/cases/steps/{fstep}/links", {"evidence_id": ev, "start_s": 0.5, "end_s": 1.5})
    finally:
        c.context.close()

    inv.goto(f"{world.base}/evidence/{ev}")
    assert inv.locator(f"#ev-cases tr[data-case-id='{foreign}']").count() == 0
    assert "西城" not in inv.inner_text("#ev-cases")
    inv.click("#link-to-case")
    inv.wait_for_selector("#case-picker[open]")
    inv.fill("#pick-q", "王小明")  # a party's name: sealed in the database, found all the same
    inv.click("#pick-find")
    _wait(inv, "document.getElementById('case-picker').dataset.state === 'found' && "
               "document.getElementById('case-picker').dataset.q === '王小明'")
    assert inv.locator(".pick-case").count() == 1  # only A's case: B's is not the user's
    assert inv.locator(f".pick-case[data-case-id='{mine}'] .pick-step").count() == 2
    inv.locator(f".pick-step[data-step-id='{step}'] button.pick-choose").click()
    what = inv.inner_text("#pick-what")
    assert "某仓库查封扣押案" in what and "现场检查" in what and "2026-11-23 09:59:00" in what
    inv.click("#pick-back")  # choose again: nothing was linked
    assert _detail(world, "linked", mine) == []
    inv.locator(f".pick-step[data-step-id='{step}'] button.pick-choose").click()
    with inv.expect_navigation():
        inv.click("#pick-go")

    row = inv.locator(f"#ev-cases tr[data-case-id='{mine}']")
    assert row.count() == 1 and row.get_attribute("data-step-id") == str(step)
    assert row.locator(f"a[href='/cases/{mine}']").count() == 1 and "现场检查" in row.inner_text()
    assert "整段录像" in row.inner_text() and "investigator 用户" in row.inner_text()
    (linked,) = _detail(world, "linked", mine)
    assert linked["_actor"] == "user:investigator" and linked["step_id"] == step

    # the API behind it: the same list, of the reader's units only; the picker finds parties only for
    # readers entitled to their data (the auditor sees parties masked, so a name finds nothing)
    got = _call(inv, world, "GET", f"/evidence/{ev}/cases")
    assert [(r["case_id"], r["step_id"]) for r in got] == [(mine, step)] and got[0]["unit_name"] == "东城分局"
    auditor = _login(browser, world, "auditor")
    try:
        assert _call(auditor, world, "GET", "/cases/steps?q=" + "王小明") == []
        by_number = _call(auditor, world, "GET", "/cases/steps?q=" + "某仓库")
        assert [x["case_id"] for x in by_number] == [mine] and by_number[0]["parties"] == ["王**"]
    finally:
        auditor.context.close()
    assert later  # (the second step was offered too)
