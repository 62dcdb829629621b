"""The redaction editor (隐私遮蔽) in a real browser: Debian's Chromium, headless, driven by Playwright,
against a real ``liuhen serve`` process (its workers run the media jobs, detection and the render).

One archive (SQLite), one unit 东城分局 with the officer 张三, and a recording of moving real faces
(``tests/redaction_clips.make_clip``) offloaded through the real station and made playable by the real
media jobs. Three people of that unit: an investigator who edits the plan, a records manager who edits
it too (and so may not approve what they edited), and a legal reviewer who approves.

The story, as the issue's Done-when tells it: draw a box on a keyframe, move it on a later keyframe
(the saved plan holds both keys), run detection and accept a detected track, render (the job's
progress on the page), approve as a second person, download the redacted copy — an MP4 whose SHA-256
is not the original's and is the one the render recorded. On the way, the page refuses in words what
may not be done: the editor's own approval (by role for the investigator, by four eyes for the records
manager who edited the version) and a download before approval.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import write_config
from tests.console_server import serving
from tests.docks import put
from tests.test_console_browser import ARGS, CHROMIUM, PASSWORD, _wait

pytestmark = pytest.mark.slow
UNIT = "110101"


class World:
    def __init__(self, base: str, folder: Path, evidence_id: int, original_sha256: str) -> None:
        self.base, self.folder, self.evidence_id, self.original_sha256 = base, folder, evidence_id, original_sha256


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")

    from app.runtime import open_archive
    from liuhen import config
    from tests.redaction_clips import make_clip

    folder = tmp_path_factory.mktemp("redaction")
    cfg = write_config(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}",
                       extra="\n[workers]\npoll_seconds = 0.2\n")
    settings = config.load(cfg, environ={})
    clip = folder / "faces.mp4"
    make_clip(clip, seconds=3.0, width=640, height=360, fps=25, faces=2, seed=3)
    archive = open_archive(settings)
    try:
        evidence_id = _seed(archive, settings, clip)
    finally:
        archive.close()

    with serving(cfg, folder) as base:
        yield World(base, folder, evidence_id, hashlib.sha256(clip.read_bytes()).hexdigest())


def _seed(archive: Any, settings: Any, clip: Path) -> int:
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
        a = accounts.add_unit(db, code=UNIT, name="东城分局")
        add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=a.id, actor="test")
        for name, role in (("editor", "investigator"), ("keeper", "records_manager"), ("reviewer", "legal_reviewer")):
            accounts.add_user(db, archive.custody, username=name, password=PASSWORD, role=role, unit_code=UNIT,
                              display_name=f"{name} 用户", actor="test", settings=settings.auth)
    key = load_or_create(settings.station.state_path / "station.ed25519")
    register_station(archive, station_id=settings.station.id, public_pem=key.public_pem)
    set_unit(archive, station_id=settings.station.id, unit_code=UNIT)
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", clip)
    station = Station(settings.station, LocalIntake(archive))
    try:
        results = station.offload_once(settings.station.dock_root)
    finally:
        station.close()
    assert [r.status for r in results] == ["archived"], results
    run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.1, until_idle=True)
    with archive.sessions() as db:
        ev = db.scalars(select(Evidence)).one()
        assert ev.playback == "ready", ev.playback_note
        return int(ev.id)


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
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN", accept_downloads=True)
    page = ctx.new_page()
    page.goto(f"{world.base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_load_state()
    return page


def _editor(page: Any, world: World) -> None:
    """Open the editor from the evidence page's link, with the plan loaded and the proxy read."""
    page.goto(f"{world.base}/evidence/{world.evidence_id}")
    page.click("#redaction-link")
    page.wait_for_load_state()
    _wait(page, "['loaded', 'none'].includes(document.getElementById('redaction').dataset.state)")


def _plan(page: Any) -> dict[str, Any]:
    """The plan as the API holds it now (the page's own session)."""
    plan_id = page.get_attribute("#redaction", "data-plan-id")
    r = page.request.get(f"{page.url.split('/evidence')[0]}/api/v1/redaction/{plan_id}")
    assert r.status == 200, r.text()
    return dict(r.json())


def _seek(page: Any, t: float) -> None:
    page.evaluate(f"window.rdSeek({t})")
    _wait(page, f"Math.abs(parseFloat(document.getElementById('rd-time').dataset.t) - {t}) < 0.001")


def _drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse drag on the picture, from and to fractions of the frame."""
    box = page.locator("#stage").bounding_box()
    assert box and box["width"] > 100, box
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    for i in range(1, 6):  # (several moves: the page follows the mouse)
        f = i / 5
        page.mouse.move(box["x"] + (start[0] + (end[0] - start[0]) * f) * box["width"],
                        box["y"] + (start[1] + (end[1] - start[1]) * f) * box["height"])
    page.mouse.up()


def _saved_after(page: Any, version: int) -> int:
    _wait(page, f"parseInt(document.getElementById('redaction').dataset.saved || '0') > {version}", 20)
    return int(page.get_attribute("#redaction", "data-saved") or 0)


def test_a_plan_is_drawn_detected_rendered_approved_by_a_second_person_and_downloaded(browser: Any,
                                                                                      world: World) -> None:
    # -- the investigator draws a box at 0.5 s and moves it at 2.0 s: one hand track, two keyframes
    page = _login(browser, world, "editor")
    try:
        _editor(page, world)
        if page.get_attribute("#redaction", "data-state") == "none":
            page.click("#rd-create")
            _wait(page, "document.getElementById('redaction').dataset.state === 'loaded'")
        _wait(page, "document.getElementById('redaction').dataset.media === 'ready'", 20)
        v0 = int(page.get_attribute("#redaction", "data-version") or 0)
        _seek(page, 0.5)
        _drag(page, (0.10, 0.10), (0.30, 0.40))
        v1 = _saved_after(page, v0)
        page.keyboard.press("Shift+ArrowRight")  # the keys: one second on
        _wait(page, "Math.abs(parseFloat(document.getElementById('rd-time').dataset.t) - 1.5) < 0.01")
        _seek(page, 2.0)  # outside the track: the selected track is shown at its keyframe, to be moved here
        assert page.locator(".rd-box.selected.outside").count() == 1
        _drag(page, (0.20, 0.25), (0.50, 0.45))  # (from inside the box, which spans 0.1..0.3 × 0.1..0.4)
        v2 = _saved_after(page, v1)
        plan = _plan(page)
        assert plan["version"] == v2
        (hand,) = [t for t in plan["plan"]["tracks"] if t["source"] == "hand"]
        assert [k["t"] for k in hand["keys"]] == [0.5, 2.0], hand
        first, second = (k["box"] for k in hand["keys"])
        assert first == pytest.approx([0.1, 0.1, 0.2, 0.3], abs=0.01)
        assert second == pytest.approx([0.4, 0.3, 0.2, 0.3], abs=0.01)  # moved by (+0.3, +0.2), same size
        assert page.locator(f"tr.rd-track[data-track-id='{hand['id']}'][data-keys='2']").count() == 1
        _seek(page, 1.25)  # halfway: the box drawn where the plan interpolates it
        stage = page.locator("#stage").bounding_box()
        drawn = page.locator(f".rd-box[data-track-id='{hand['id']}']").bounding_box()
        assert stage and drawn
        assert (drawn["x"] - stage["x"]) / stage["width"] == pytest.approx(0.25, abs=0.02)

        # -- a save on a stale version (another window saved first) is refused in words, and the page reloads
        other = dict(plan["plan"], note="另一窗口的修改")
        csrf = page.get_attribute("meta[name='csrf-token']", "content") or ""
        r = page.request.put(f"{world.base}/api/v1/redaction/{plan['plan_id']}", headers={"X-CSRF-Token": csrf},
                             data={"base_version": plan["version"], "plan": other, "why": "另一窗口"})
        assert r.status == 200, r.text()
        _drag(page, (0.70, 0.70), (0.90, 0.90))  # drawn on the page's version, now stale
        _wait(page, "document.getElementById('rd-message').dataset.reason === 'stale'")
        assert "没有保存" in page.inner_text("#rd-message")
        assert int(page.get_attribute("#redaction", "data-version") or 0) == plan["version"] + 1
        assert page.locator("tr.rd-track").count() == 1  # (the stale box was not saved)

        # -- detection: a job with its progress; the faces it finds are proposed, one accepted here
        page.click("#rd-detect")
        _wait(page, "['done', 'failed'].includes(document.getElementById('rd-job').dataset.state)", 60)
        assert page.get_attribute("#rd-job", "data-state") == "done", page.inner_text("#rd-job")
        detected = page.locator("tr.rd-track[data-source='detector']")
        assert detected.count() >= 1, "the detector found none of the clip's faces"
        accepted_id = detected.first.get_attribute("data-track-id")
        before = int(page.get_attribute("#redaction", "data-version") or 0)
        detected.first.locator("button.rd-accept").click()
        _saved_after(page, before)
        assert page.get_attribute(f"tr.rd-track[data-track-id='{accepted_id}']", "data-state") == "accepted"

        # -- the investigator may not approve: said on the page
        page.click("#rd-approve")
        assert page.get_attribute("#rd-refusal", "data-reason") == "role"
        assert "不能审批" in page.inner_text("#rd-refusal")
    finally:
        page.context.close()

    # -- the records manager decides the rest (so edits this version), renders it, and is refused twice
    page = _login(browser, world, "keeper")
    try:
        _editor(page, world)
        _wait(page, "document.getElementById('redaction').dataset.media === 'ready'", 20)
        while page.locator("tr.rd-track[data-state='proposed'] button.rd-reject").count():
            before = int(page.get_attribute("#redaction", "data-version") or 0)
            page.locator("tr.rd-track[data-state='proposed'] button.rd-reject").first.click()
            _saved_after(page, before)
        if int(page.get_attribute("#redaction", "data-saved") or 0) == 0:  # nothing was left to decide: mute 0–0.5 s
            before = int(page.get_attribute("#redaction", "data-version") or 0)
            page.select_option("#rd-range-kind", "audio:mute")
            _seek(page, 0.0)
            page.click("#rd-range-start")
            _seek(page, 0.5)
            page.click("#rd-range-end")
            _saved_after(page, before)
        assert page.get_attribute("#rd-status", "data-undecided") == "0"
        version = int(page.get_attribute("#redaction", "data-version") or 0)

        page.click("#rd-preview")  # the redacted moment, as the render will make it
        _wait(page, "!document.getElementById('rd-preview-box').hidden && "
                    "document.getElementById('rd-preview-img').naturalWidth > 0", 20)

        page.click("#rd-render")
        _wait(page, "['done', 'failed'].includes(document.getElementById('rd-job').dataset.state) && "
                    "document.getElementById('rd-job').dataset.job === 'render'", 60)
        assert page.get_attribute("#rd-job", "data-state") == "done", page.inner_text("#rd-job")
        assert page.locator(f"li.rd-render[data-version='{version}'][data-state='done']").count() == 1, \
            page.inner_html('#rd-renders')

        page.click("#rd-download")  # before approval: refused by the API, said on the page
        _wait(page, "document.getElementById('rd-refusal').dataset.reason === 'not_approved'")
        assert "尚未经第二人审批" in page.inner_text("#rd-refusal")
        assert page.locator("li.rd-approval").count() == 0

        page.click("#rd-approve")  # they changed this version: four eyes refuse, and say so
        _wait(page, "document.getElementById('rd-refusal').dataset.reason === 'own'")
        assert "不能自己审批" in page.inner_text("#rd-refusal")
        assert page.locator("#confirm-dialog").count() == 0
        assert "user:keeper" in _plan(page)["may_not_approve"] and not _plan(page)["approved"]
    finally:
        page.context.close()

    # -- the legal reviewer approves that version, and downloads the redacted copy
    page = _login(browser, world, "reviewer")
    try:
        _editor(page, world)
        assert int(page.get_attribute("#redaction", "data-version") or 0) == version
        page.click("#rd-approve")
        page.wait_for_selector("#confirm-dialog")
        page.click("#confirm-go")
        _wait(page, "document.getElementById('rd-refusal').dataset.reason === 'approved'", 20)
        assert page.locator(f"li.rd-approval[data-version='{version}']").count() == 1
        render_id = page.get_attribute(f"li.rd-render[data-version='{version}'][data-state='done']", "data-render-id")
        with page.expect_download() as info:
            page.click("#rd-download")
        got = Path(info.value.path()).read_bytes()
        with page.expect_download() as info:
            page.click("#rd-release")  # the release bag: a zip of the approved copy, its log and manifests
        bag = Path(info.value.path()).read_bytes()
        assert page.get_attribute("#rd-refusal", "data-reason") == "released"
        rec = page.request.get(f"{world.base}/api/v1/redaction/renders/{render_id}")
        assert rec.status == 200, rec.text()
        recorded = rec.json()
    finally:
        page.context.close()
    assert got[4:8] == b"ftyp", "the download is not an MP4"
    digest = hashlib.sha256(got).hexdigest()
    assert digest != world.original_sha256
    assert digest == recorded["sha256"]
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(bag)).namelist()
    assert any(n.endswith(".mp4") for n in names) and any(n.endswith("bagit.txt") for n in names), names
