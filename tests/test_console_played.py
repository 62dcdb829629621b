"""Honest custody of viewing, in a real browser: opening an evidence page reads nothing of the
recording (the poster is a ``previewed``, never a ``played``); pressing play is one ``played``
event, however many range requests the player then makes; and the page never reads the proxy
before the play is recorded.

The archive is ``tests/test_console_browser.py``'s (a real ``liuhen serve`` with its station and
media workers, Debian's Chromium through Playwright), one of its own for this module.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests import test_console_browser as console
from tests.test_console_browser import World, _login, _wait

world = console.world  # (its fixtures: one archive of its own for this module)
browser = console.browser

pytestmark = pytest.mark.slow


def _played(world: World, eid: int, actor: str) -> list[Any]:
    return [e for e in world.events(action="played", evidence_id=eid) if e.actor == actor]


def test_opening_the_evidence_page_records_no_play_and_pressing_play_records_exactly_one(
        browser: Any, world: World) -> None:
    eid = world.ids["zhangsan"]
    page = _login(browser, world, "investigator")
    proxy_reads: list[str] = []
    page.on("request", lambda r: proxy_reads.append(r.url) if "/media/proxy" in r.url else None)
    try:
        before = len(_played(world, eid, "user:investigator"))
        previewed = len([e for e in world.events(action="previewed", evidence_id=eid)
                         if e.actor == "user:investigator"])
        page.goto(f"{world.base}/evidence/{eid}")
        page.wait_for_selector("#player")
        _wait(page, "document.getElementById('scrub').dataset.cues > 0")
        time.sleep(10)  # a user reading the page, not pressing play
        assert proxy_reads == [], "the page read the recording before play was pressed"
        assert len(_played(world, eid, "user:investigator")) == before
        # what was shown is recorded as what it is: the poster and the scrub thumbnails
        assert len([e for e in world.events(action="previewed", evidence_id=eid)
                    if e.actor == "user:investigator"]) > previewed
        assert page.evaluate("document.getElementById('player').readyState") == 0

        page.click("#play-start")
        _wait(page, "document.getElementById('player').currentTime > 1.0", 20)
        assert page.evaluate("document.getElementById('player').error") is None
        page.evaluate("document.getElementById('player').currentTime = 15")  # a seek: another range request
        _wait(page, "document.getElementById('player').currentTime > 15.2", 20)
        page.evaluate("document.getElementById('player').pause()")
        page.evaluate("document.getElementById('player').play()")  # pause and resume: the same play
        _wait(page, "document.getElementById('player').currentTime > 16.0", 20)
        assert proxy_reads, "the player never read the proxy"
        assert page.locator("#play-start").is_hidden()
    finally:
        page.context.close()
    played = _played(world, eid, "user:investigator")[before:]
    assert len(played) == 1, [(e.seq, e.detail) for e in played]
    assert played[0].object_sha256 is not None


def test_a_role_that_may_not_play_gets_no_session_and_the_refusal_is_recorded(browser: Any, world: World) -> None:
    eid = world.ids["zhangsan"]
    page = _login(browser, world, "auditor")  # reads metadata, never media
    try:
        csrf = page.get_attribute('meta[name="csrf-token"]', "content")
        r = page.request.post(f"{world.base}/api/v1/evidence/{eid}/play", headers={"X-CSRF-Token": csrf})
        assert r.status == 403 and r.json()["code"] == "forbidden"
    finally:
        page.context.close()
    assert _played(world, eid, "user:auditor") == []
    assert any(e.actor == "user:auditor" and e.outcome == "denied" for e in world.events(action="access_denied"))
