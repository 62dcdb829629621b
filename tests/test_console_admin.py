"""Administration (系统管理) in the console, in a real browser: Debian's Chromium, headless, driven by
Playwright, against a real ``liuhen serve`` process (SQLite).

One archive for the module: the city unit 110000 with districts 东城 (110101) and 西城 (110102); the
city's administrator (``admin``), 西城's administrator (``admin_b``), a records manager and an
investigator in 东城. Each test does what an administrator does on a screen — add a user, change
their role and units, reset, unlock, disable, issue and revoke a token, add and rename a unit, keep
the roster, assign a recorder, enrol a station and rotate or withdraw its token — and checks what
the archive then does (a sign-in, an API call, a station's token at the intake door) and the custody
event each left, with its actor. Refusals: a role without the permission, another unit's user or
station (answered like a missing one), a form without its CSRF token; each an ``access_denied`` event.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import write_config
from tests.test_console_browser import CHROMIUM, _free_port, _login, browser  # noqa: F401 (the browser fixture)

ROOT = Path(__file__).resolve().parents[1]  # the server runs this checkout's code, not an installed copy
PASSWORD = "正确的马电池订书钉和钥匙"
API = "/api/v1"
pytestmark = pytest.mark.slow


class World:
    def __init__(self, base: str, settings: Any) -> None:
        self.base, self.settings = base, settings

    def events(self, action: str) -> list[Any]:
        from hashing.models import CustodyEvent
        from liuhen import db

        engine = db.make_engine(self.settings.archive.database_url)
        try:
            with db.make_sessionmaker(engine)() as s:
                rows = list(s.scalars(select(CustodyEvent).where(CustodyEvent.action == action)
                                      .order_by(CustodyEvent.seq)))
                s.expunge_all()
                return rows
        finally:
            engine.dispose()

    def last(self, action: str) -> dict[str, Any]:
        rows = self.events(action)
        assert rows, f"no {action} event"
        return {"actor": rows[-1].actor, **json.loads(rows[-1].detail)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    from app.runtime import open_archive
    from archive.attribution import add_officer
    from auth import service as accounts
    from liuhen import config
    from roster import service as roster

    folder = tmp_path_factory.mktemp("admin")
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}",
                       extra="[auth]\nthrottle_base_s = 600\nrefusal_delay_s = 0\n")
    settings = config.load(cfg, environ={})
    archive = open_archive(settings)
    with archive.sessions.begin() as db:
        accounts.add_unit(db, code="110000", name="市公安局")
        a = accounts.add_unit(db, code="110101", name="东城分局", parent_code="110000")
        accounts.add_unit(db, code="110102", name="西城分局", parent_code="110000")
        add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=a.id, actor="test")
        for name, role, unit, display in (("admin", "admin", "110000", "系统管理员"),
                                          ("admin_b", "admin", "110102", "西城管理员"),
                                          ("dangan", "records_manager", "110101", "档案管理员 吴九"),
                                          ("diaocha", "investigator", "110101", "调查员 孙七"),
                                          ("forgetful", "investigator", "110101", "健忘的人"),
                                          # (another issues a token only for an account that sees no evidence)
                                          ("leaver", "admin", "110101", "离职的人")):
            accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role=role, unit_code=unit,
                              display_name=display, actor="test", settings=settings.auth)
        roster.note_docked(db, device_id="DSJ-A001", station_id="st-test", bay="bay1")
    from archive.stations import add_station, set_unit

    add_station(archive, station_id="st-test")
    set_unit(archive, station_id="st-test", unit_code="110101")
    archive.close()

    port = _free_port()
    log = open(folder / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(cfg), "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LIUHEN_CONFIG": str(cfg), "PYTHONPATH": str(ROOT)},
                            cwd=folder)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}{API}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("liuhen serve did not start:\n" + (folder / "serve.log").read_text(errors="replace"))
        time.sleep(0.2)
    try:
        yield World(base, settings)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _done(page: Any) -> str:
    return str(page.inner_text("#admin-done"))


def _confirm(page: Any, says: str) -> None:
    """The confirmation page says what will happen; only its button does it."""
    assert page.url.endswith(("/disable", "/revoke", "/token")), page.url
    assert says in page.inner_text("#confirm-what"), page.inner_text("#confirm-what")
    page.click("#confirm-yes")
    page.wait_for_load_state()


def test_the_administrator_finds_administration_in_the_menu_and_the_role_once_in_the_top_bar(
        browser: Any, world: World) -> None:  # noqa: F811
    page = _login(browser, world, "admin")
    assert page.inner_text("#whoami").count("系统管理员") == 1  # display name 系统管理员, role 系统管理员: once
    page.click("#nav-admin")
    page.wait_for_load_state()
    assert page.url.endswith("/admin/users")
    assert [a.inner_text() for a in page.query_selector_all("#admin-sections a")] == [
        "用户", "单位", "执法人员", "执法记录仪", "采集站"]
    names = [r.get_attribute("data-username") for r in page.query_selector_all("#users tr.user")]
    assert {"admin", "admin_b", "dangan", "diaocha"} <= set(names)
    page.context.close()
    rm = _login(browser, world, "dangan")  # a records manager keeps the roster, nothing else of it
    assert "档案管理员" in rm.inner_text("#whoami") and rm.inner_text("#whoami").count("档案管理员") == 1
    rm.click("#nav-admin")
    rm.wait_for_load_state()
    assert rm.url.endswith("/admin/officers")
    assert [a.inner_text() for a in rm.query_selector_all("#admin-sections a")] == ["执法人员"]
    rm.context.close()


def test_an_added_user_must_choose_their_own_password_and_role_and_units_change_with_an_event(
        browser: Any, world: World) -> None:  # noqa: F811
    page = _login(browser, world, "admin")
    page.goto(f"{world.base}/admin/users")
    page.fill("#add-username", "xinren")
    page.fill("#add-display-name", "新人 钱一")
    page.fill("#add-password", "新人的初始密码足够长的")
    page.select_option("#add-role", "investigator")
    page.select_option("#add-unit", "110101")
    page.click("#add-submit")
    page.wait_for_load_state()
    assert page.url.endswith("/admin/users/xinren?done=added") and "已添加" in _done(page)
    assert page.inner_text("#user-role") == "调查人员" and page.inner_text("#user-unit") == "110101"
    assert page.query_selector("#state-must-change") is not None
    added = world.last("user_added")
    assert added["actor"] == "user:admin" and added["role"] == "investigator" and added["unit"] == "110101"

    page.select_option("#change-role", "records_manager")
    page.select_option("#change-grants", ["110102"])
    page.click("#change-submit")
    page.wait_for_load_state()
    assert "已保存" in _done(page)
    assert page.inner_text("#user-role") == "档案管理员" and page.inner_text("#user-grants") == "110102"
    changed = world.last("user_changed")
    assert changed["actor"] == "user:admin" and changed["username"] == "xinren"
    assert changed["changes"]["role"] == ["investigator", "records_manager"]
    assert changed["changes"]["grants"] == [[], ["110102"]]
    page.context.close()

    first = _login(browser, world, "xinren", "新人的初始密码足够长的")  # the first password opens nothing
    assert "/login" in first.url and first.query_selector("#new-password") is not None
    first.context.close()


def test_reset_and_unlock_work_as_the_page_says(browser: Any, world: World) -> None:  # noqa: F811
    for _ in range(6):  # the name is throttled (600 s here)
        _login(browser, world, "forgetful", "错误的密码一二三四五六").context.close()
    page = _login(browser, world, "admin")
    page.goto(f"{world.base}/admin/users/forgetful")
    assert page.query_selector("#state-locked") is not None
    page.click("#unlock")
    page.wait_for_load_state()
    assert "已解除" in _done(page) and page.query_selector("#state-locked") is None
    assert world.last("user_unlocked") == {**world.last("user_unlocked"), "actor": "user:admin",
                                           "username": "forgetful"}
    ok = _login(browser, world, "forgetful")
    assert "/login" not in ok.url
    ok.context.close()

    page.fill("#reset-password", "管理员给的临时密码很长")
    page.click("#reset-submit")
    page.wait_for_load_state()
    assert "下次登录时须设置新密码" in _done(page) and page.query_selector("#state-must-change") is not None
    assert world.last("password_reset")["actor"] == "user:admin"
    again = _login(browser, world, "forgetful", "管理员给的临时密码很长")
    assert "/login" in again.url and again.query_selector("#new-password") is not None  # must choose a new one
    again.context.close()
    page.context.close()


def test_disabling_asks_first_and_then_the_user_can_neither_sign_in_nor_use_a_token(
        browser: Any, world: World) -> None:  # noqa: F811
    page = _login(browser, world, "admin")
    page.goto(f"{world.base}/admin/users/leaver")
    page.fill("#token-name", "案件系统对接")
    page.click("#token-issue")
    page.wait_for_load_state()
    token = page.inner_text("#token-value").strip()
    assert token.startswith("lh_") and "无法再次查看" in page.inner_text("#token-once")
    assert world.last("api_token_issued") == {**world.last("api_token_issued"), "actor": "user:admin",
                                              "username": "leaver", "name": "案件系统对接"}
    assert token not in json.dumps(world.last("api_token_issued"))
    assert httpx.get(f"{world.base}{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page.click("#token-back")
    page.wait_for_load_state()
    assert token not in page.content()  # shown once, never again
    assert page.query_selector("#tokens tr.token[data-name='案件系统对接'][data-state='live']") is not None

    before = len(world.events("user_disabled"))
    page.click("#disable")
    page.wait_for_load_state()
    assert len(world.events("user_disabled")) == before  # asking is not doing
    _confirm(page, "不能再登录")
    assert "已停用" in _done(page) and page.query_selector("#state-disabled") is not None
    assert world.last("user_disabled")["actor"] == "user:admin"
    assert httpx.get(f"{world.base}{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    gone = _login(browser, world, "leaver")
    assert "/login" in gone.url
    gone.context.close()

    page.click("#enable")
    page.wait_for_load_state()
    assert "已启用" in _done(page)
    assert httpx.get(f"{world.base}{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page.click("#tokens tr.token[data-name='案件系统对接'] button.revoke")
    page.wait_for_load_state()
    _confirm(page, "不可撤销")
    assert "已吊销" in _done(page)
    assert page.query_selector("#tokens tr.token[data-name='案件系统对接'][data-state='revoked']") is not None
    assert world.last("api_token_revoked") == {**world.last("api_token_revoked"), "actor": "user:admin",
                                               "count": 1}
    assert httpx.get(f"{world.base}{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    page.context.close()


def test_units_are_added_and_renamed(browser: Any, world: World) -> None:  # noqa: F811
    page = _login(browser, world, "admin")
    page.goto(f"{world.base}/admin/units")
    page.fill("#unit-code", "110101-JT")
    page.fill("#unit-name", "东城交警大队")
    page.select_option("#unit-parent", "110101")
    page.click("#unit-add-submit")
    page.wait_for_load_state()
    assert "已添加" in _done(page)
    row = page.query_selector("#units tr.unit[data-code='110101-JT']")
    assert row is not None and "110101" in row.inner_text()
    assert world.last("unit_added") == {**world.last("unit_added"), "actor": "user:admin", "unit": "110101-JT",
                                        "parent": "110101"}
    row.query_selector("input[name=name]").fill("东城分局交通警察大队")
    row.query_selector("button.rename").click()
    page.wait_for_load_state()
    assert "已更名" in _done(page)
    assert page.inner_text("#units tr.unit[data-code='110101-JT'] td.name") == "东城分局交通警察大队"
    assert world.last("unit_renamed")["changes"] == {"name": ["东城交警大队", "东城分局交通警察大队"]}
    page.context.close()


def test_the_records_manager_keeps_the_roster_and_sees_certificates(browser: Any, world: World) -> None:  # noqa: F811
    page = _login(browser, world, "dangan")
    page.goto(f"{world.base}/admin/officers")
    page.fill("#officer-no", "000555")
    page.fill("#officer-name", "钱五")
    page.select_option("#officer-unit", "110101")
    page.click("#officer-add-submit")
    page.wait_for_load_state()
    assert "已添加" in _done(page)
    assert world.last("officer_added") == {**world.last("officer_added"), "actor": "user:dangan",
                                           "officer_no": "000555"}
    row = page.query_selector("#officers tr.officer[data-officer-no='000555']")
    assert row is not None
    row.query_selector("select[name=active]").select_option("0")
    row.query_selector("button.save").click()
    page.wait_for_load_state()
    assert page.query_selector("#officers tr.officer[data-officer-no='000555'][data-active='0']") is not None
    assert world.last("officer_changed")["changes"] == {"active": [True, False]}
    assert "/certificates" in page.inner_text("#cert-api")
    page.context.close()


def test_a_recorder_is_assigned_from_the_list(browser: Any, world: World) -> None:  # noqa: F811
    page = _login(browser, world, "admin")
    page.goto(f"{world.base}/admin/recorders")
    row = page.query_selector("#recorders tr.recorder[data-device='DSJ-A001']")
    assert row is not None and "未分配" in row.inner_text()
    row.query_selector("select[name=officer_no]").select_option("000123")
    row.query_selector("button.assign").click()
    page.wait_for_load_state()
    assert "已分配" in _done(page)
    assert "张三" in page.inner_text("#recorders tr.recorder[data-device='DSJ-A001'] td.officer")
    assert world.last("recorder_assigned") == {**world.last("recorder_assigned"), "actor": "user:admin",
                                               "device_id": "DSJ-A001", "officer_no": "000123"}
    page.context.close()


def _door(world: World, token: str) -> int:
    """What the station intake answers a token: 404 (an unknown upload) for a live one, 401 for any other."""
    return httpx.get(f"{world.base}{API}/intake/uploads/none", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_station_is_enrolled_its_token_rotated_after_a_warning_moved_and_disabled(
        browser: Any, world: World) -> None:  # noqa: F811
    page = _login(browser, world, "admin")
    page.goto(f"{world.base}/admin/stations")
    page.fill("#station-id", "st-dc-02")
    page.select_option("#station-unit", "110101")
    page.click("#station-add-submit")
    page.wait_for_load_state()
    first = page.inner_text("#token-value").strip()
    assert "config.toml" in page.inner_text("#token-once")
    assert _door(world, first) == 404
    enrolled = world.last("station_enrolled")
    assert enrolled["actor"] == "user:admin" and enrolled["station_id"] == "st-dc-02" and enrolled["unit"] == "110101"
    page.click("#token-back")
    page.wait_for_load_state()

    page.click("#stations tr.station[data-station='st-dc-02'] button.rotate")
    page.wait_for_load_state()
    assert _door(world, first) == 404  # the warning changed nothing
    _confirm(page, "旧令牌立即失效")
    second = page.inner_text("#token-value").strip()
    assert second != first and _door(world, first) == 401 and _door(world, second) == 404
    assert world.last("station_token_reissued")["actor"] == "user:admin"
    page.click("#token-back")
    page.wait_for_load_state()

    row = page.query_selector("#stations tr.station[data-station='st-dc-02']")
    row.query_selector("select[name=unit_code]").select_option("110102")
    row.query_selector("button.move").click()
    page.wait_for_load_state()
    assert "新单位" in _done(page)
    assert world.last("station_unit_set") == {**world.last("station_unit_set"), "actor": "user:admin",
                                              "station_id": "st-dc-02", "unit": "110102"}

    page.click("#stations tr.station[data-station='st-dc-02'] button.disable")
    page.wait_for_load_state()
    _confirm(page, "每次上传都被拒绝")
    assert page.query_selector("#stations tr.station[data-station='st-dc-02'][data-enabled='0']") is not None
    assert _door(world, second) == 401
    assert world.last("station_disabled") == {**world.last("station_disabled"), "actor": "user:admin",
                                              "station_id": "st-dc-02"}
    page.context.close()


def test_refusals_are_pages_that_make_sense_and_each_is_logged(browser: Any, world: World) -> None:  # noqa: F811
    denied = len(world.events("access_denied"))
    inv = _login(browser, world, "diaocha")
    assert inv.query_selector("#nav-admin") is None
    r = inv.goto(f"{world.base}/admin/users")
    assert r is not None and r.status == 403 and inv.query_selector("#error-message") is not None
    inv.context.close()
    assert len(world.events("access_denied")) == denied + 1

    b = _login(browser, world, "admin_b")  # 西城's administrator: 东城's user is as if there were none
    foreign = b.goto(f"{world.base}/admin/users/diaocha")
    foreign_text = b.inner_text("#error-message")
    missing = b.goto(f"{world.base}/admin/users/nobody_at_all")
    assert foreign is not None and missing is not None and foreign.status == missing.status == 404
    assert foreign_text.replace("diaocha", "X") == b.inner_text("#error-message").replace("nobody_at_all", "X")
    station = b.goto(f"{world.base}/admin/stations")
    assert station is not None and b.query_selector("#stations tr.station[data-station='st-test']") is None
    assert world.last("access_denied") == {**world.last("access_denied"), "actor": "user:admin_b", "reason": "unit"}
    b.context.close()

    page = _login(browser, world, "admin")
    r = page.goto(f"{world.base}/search")  # not the administrator's: the page says why, not "ask the administrator"
    assert r is not None and r.status == 403
    msg = page.inner_text("#error-message")
    assert "职责分离" in msg and "联系系统管理员" not in msg
    # a form without the session's CSRF token is refused, and logged
    before = len(world.events("access_denied"))
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    forged = httpx.post(f"{world.base}/admin/users/diaocha/unlock", data={"csrf": "forged"}, cookies=cookies)
    assert forged.status_code == 403
    assert world.last("access_denied")["permission"] == "csrf" and len(world.events("access_denied")) == before + 1
    page.context.close()
