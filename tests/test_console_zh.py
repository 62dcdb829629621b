"""Every console page, for every role, in Chinese (the default) and in English: no word of the other
language on the screen.

One archive (tests/api_world.py: units, officers, real clips offloaded by the real station and
made playable by the real media jobs, one user of every role) plus what the pages show: an empty
recording (unplayable), a case with steps, linked recordings, a document and its coverage finding,
a legal hold, a tag and a note. Each role opens every page of ``PAGES`` it may open (a page it may
not open is its refusal page, swept too) and every bad address of ``BAD_ADDRESSES``.

* zh: every Latin-script word in the visible text (and in placeholders) must be a proper name, code,
  hash, file name, unit, number or the product name: ``_latin_words`` says what counts as one, and
  ``ALLOWED`` lists the few words allowed by name, each with its reason.
* en: no Han character outside the names the data itself holds (officers, units, case numbers,
  titles, categories, steps, documents, roles' display names …: ``_data_names``).

Server-rendered pages are read from their HTML (scripts removed, tags stripped). The pages that
draw themselves with JavaScript (``JS_PAGES``: the dock and the jobs page) are read from a real
Chromium once their script has run. To sweep a new page, add its address to ``PAGES`` (or
``JS_PAGES``); an address with ``{name}`` takes that id from the world (``_ids``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from sqlalchemy import select

from archive.models import Evidence, Station
from auth import policy
from auth.models import Unit, User
from cases import records
from cases.models import Case, Step
from cases.service import PartyIn, add_step, create_case, link
from jobs.worker import run_worker
from media.service import HANDLERS
from retention import holds
from tests.api_world import A, World, build_world, offload, user_of
from tests.docks import put

ROLES = ("operator", "investigator", "legal_reviewer", "records_manager", "auditor", "admin")
TZ = ZoneInfo("Asia/Shanghai")

# Every page, by address ({name}: an id from the world). Extend this list when a page is added.
PAGES: tuple[str, ...] = (
    "/login",
    "/search",
    "/search?q=DSJ",
    "/search?playback=unplayable",
    "/evidence/{zhangsan}",
    "/evidence/{empty}",
    "/audit",
    "/audit?outcome=denied",
    "/cases",
    "/cases/{case}",
    "/retention",
    "/retention/holds",
    "/retention/holds/{hold}",
    "/retention/pending",
    "/retention/destroyed",
    "/review",
    "/review/figures",
    "/publication/figures",
    "/publication/figures?year=2026&unit=110101",
    "/exports",
    "/admin/users",
    "/admin/users/investigator_a",
    "/admin/units",
    "/admin/officers",
    "/admin/recorders",
    "/admin/stations",
    "/search?view=list",
    "/search?range=7d&sort=archived",
    "/evidence/{zhangsan}/redaction",
    "/publication",
    "/publication?status=due",
    "/publication/{notice}",  # a draft: the masks highlighted, the forms to mask more and to publish
    "/publication/{published}",  # a published notice: its public link and the withdrawal form
    "/publication/powers",
)
# pages drawn by console.js: read in a real browser once drawn (a CSS selector that shows it is)
JS_PAGES: dict[str, str] = {
    "/dock": "#dock > *",
    "/jobs": "#jobs tbody tr",
    "/evidence/{zhangsan}/redaction": "#redaction[data-state='loaded'] tr.rd-track",  # the plan drawn
}
# bad addresses: each must answer with a page in the user's language, never raw JSON
BAD_ADDRESSES: tuple[str, ...] = ("/evidence/abc", "/evidence/0", "/evidence/99999999", "/nope", "/cases/99999999",
                                  "/evidence/{lisi}")

# Latin words allowed on a Chinese page by name, each with its reason.
ALLOWED = {
    "liuhen",  # the product's name
    "English",  # the language switch names the other language in that language
    "SHA",  # SHA-256, the name of the hash algorithm (with its number: a proper name)
    "GPS",  # the satellite system's name, as written in Chinese too
    "IP",  # (IP 地址) the Internet Protocol, as written in Chinese too
    "API",  # (API 令牌) the programming interface, as written in Chinese software too
    "BagIt",  # the name of the export format (RFC 8493)
    "CSV", "PDF",  # names of file formats
    "h264", "aac", "mpeg4", "yuv420p",  # codec names (a recording's own metadata)
    "B", "KB", "MB", "GB", "TB", "s", "h",  # units
    "ffmpeg", "ffprobe", "liuhen-station", "liuhen-cases", "bagit",  # tools named in the custody history
    "v", "dev",  # a version (v0.9, 0.9.dev1) beside a tool's name
    "Shift", "Delete",  # keys named as printed on the keyboard (the redaction editor's shortcuts)
}
# Han words allowed on an English page by name, each with its reason.
ALLOWED_HAN = {
    "留痕",  # the product's name, in the brand and the footer
    "中文",  # the language switch names the other language in that language
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, make_clip: Callable[..., Path]) -> Iterator[tuple[World, dict[str, int]]]:
    folder = tmp_path_factory.mktemp("zh")
    w = build_world(folder, f"sqlite:///{folder / 'var' / 'liuhen.db'}", make_clip)
    try:
        yield w, _furnish(w, folder)
    finally:
        w.archive.close()


def _furnish(w: World, folder: Path) -> dict[str, int]:
    """What the pages show beyond the recordings: an empty file, a case, a hold; the ids."""
    empty = folder / "empty.MP4"
    empty.write_bytes(b"")
    station = dataclasses.replace(w.settings.station, dock_root=folder / "dock-empty")
    put(station.dock_root, "bay1/DSJ-A001_000123_20261123120000_0009.MP4", empty)
    assert offload(station, w.archive, w.units[A]) == ["archived"]
    run_worker(w.archive, HANDLERS, stop=threading.Event(), until_idle=True, poll_s=0.05)
    actor = "user:investigator_a"
    with w.archive.sessions.begin() as db:
        ev = db.scalars(select(Evidence).where(Evidence.size == 0)).one()
        assert ev.playback == "unplayable", ev.playback_note
        ids = {**w.evidence, "empty": ev.id}
        cs = w.settings.cases
        c = create_case(db, w.archive.custody, cs, unit_id=w.units[A], unit_code=A, category=cs.categories[0],
                        title="某路口交通违法案", actor=actor, parties=[PartyIn(name="赵六")],
                        data_key=w.archive.data_key)
        start = dt.datetime(2026, 11, 23, 9, 30, tzinfo=TZ)
        covered = add_step(db, w.archive.custody, cs, case=c, kind=cs.steps[0], started_at=start,
                           ended_at=start + dt.timedelta(seconds=2), officers=["000123"], actor=actor, place="某路口")
        add_step(db, w.archive.custody, cs, case=c, kind=cs.steps[1], started_at=start + dt.timedelta(hours=1),
                 ended_at=start + dt.timedelta(hours=2), officers=["000123"], actor=actor)
        link(db, w.archive.custody, step=covered, evidence=db.get(Evidence, ids["zhangsan"]), actor=actor)
        ids["case"] = c.id
        h = holds.place(db, w.archive.custody, scope_kind="evidence", scope={"evidence": [ids["wangwu"]]},
                        reason="复议期间保全", actor="user:records_manager_a", unit_id=w.units[A],
                        visible_units=None)
        ids["hold"] = h.id
    records.add_form(w.archive, case_id=ids["case"], actor=actor, kind="询问笔录",
                     fields={key: f"{label}内容" for key, label in records.FORMS["询问笔录"]})
    _redaction_plan(w, ids["zhangsan"], actor)
    ids |= _notices(w, ids["case"], actor)
    me = w.client(user_of("investigator"))
    assert me.post(f"/api/v1/evidence/{ids['zhangsan']}/tags", json={"tag": "路口"}).status_code == 200
    assert me.post(f"/api/v1/evidence/{ids['zhangsan']}/notes", json={"text": "当事人在场"}).status_code in (200, 201)
    return ids


def _redaction_plan(w: World, evidence_id: int, actor: str) -> None:
    """A redaction plan of the recording (the editor draws it): a detected track still proposed, one drawn by
    hand, a rejected one, and a video and an audio range."""
    from redaction import service as redacting
    from redaction.plan import Box, Key, Plan, Range, Track

    with w.archive.sessions.begin() as db:
        ev = db.get_one(Evidence, evidence_id)
        row = redacting.create(w.archive, db, evidence=ev, actor=actor)
        box = Box(0.1, 0.1, 0.2, 0.3)
        plan = Plan(original_sha256=ev.sha256, tracks=(
            Track(id="d1", kind="face", keys=(Key(0.0, box), Key(1.0, box)), state="proposed", source="detector",
                  score=0.9),
            Track(id="h1", kind="plate", keys=(Key(0.5, box),), state="accepted", source="hand", by=actor),
            Track(id="d2", kind="screen", keys=(Key(0.2, box),), state="rejected", source="detector", score=0.3)),
            ranges=(Range(id="r1", kind="video", start=0.0, end=0.5, effect="black"),
                    Range(id="r2", kind="audio", start=0.5, end=1.0, effect="tone")))
        redacting.save(w.archive, db, plan_id=row.id, base_version=1, plan=plan, actor=actor, why="遮蔽")


DECISION = {"party": "赵六", "facts": "当事人赵六（手机13912345678）驾驶机动车在某路口闯红灯",
            "law": "《中华人民共和国道路交通安全法》第九十条", "decision": "予以警告", "remedy": "六十日内申请行政复议",
            "decided_on": "2026-11-23", "decision_kind": "警告"}


def _notices(w: World, case_id: int, actor: str) -> dict[str, int]:
    """Two notices of the case's 决定书 (two versions): a draft, and one published (the publication pages show them)."""
    from publication import service as publication
    from publication.models import Notice

    first = records.add_form(w.archive, case_id=case_id, actor=actor, kind="决定书", fields=DECISION)
    with w.archive.sessions.begin() as db:
        n = db.scalars(select(Notice).where(Notice.record_id == first.record_id)).one()
        publication.publish(db, w.archive.custody, w.settings, notice=n, actor="user:legal_reviewer_a")
        published = n.id
    second = records.add_form(w.archive, case_id=case_id, actor=actor, kind="决定书",
                              fields={**DECISION, "decision": "予以警告，责令改正"})
    with w.archive.sessions() as db:
        draft = db.scalars(select(Notice.id).where(Notice.record_id == second.record_id,
                                                   Notice.state == "draft")).one()
    return {"notice": draft, "published": published}


def _notice_names(w: World) -> set[str]:
    """A notice's public fields are data: each run of them between its masks, and each mask (as the page cuts them)."""
    from publication import service as publication
    from publication.models import FIELDS, Notice

    names: set[str] = set()
    with w.archive.sessions() as db:
        for n in db.scalars(select(Notice)):
            masks = publication.masks_of(n)
            names |= {n.agency, n.category, n.decision_kind or "", n.public_no}
            for f in FIELDS:
                value: str = getattr(n, f)
                cuts = sorted({0, len(value), *(int(x) for s, e, _ in masks.get(f, []) for x in (s, e))})
                names |= {value[a:b] for a, b in zip(cuts, cuts[1:])}
    return names


def _data_names(w: World) -> list[str]:
    """Every name the data holds (the archive's own words are never among them): longest first."""
    names: set[str] = set()
    with w.archive.sessions() as db:
        for row in db.scalars(select(Unit)):
            names |= {row.name, row.code}
        for u in db.scalars(select(User)):
            names |= {u.username, u.display_name or ""}
        for c in db.scalars(select(Case)):
            names |= {c.number, c.title, c.category}
        for s in db.scalars(select(Step)):
            names |= {s.kind, s.place or ""}
        for e in db.scalars(select(Evidence)):
            names |= {e.file_name, e.device_id or "", e.officer_id or ""}
        names |= set(db.scalars(select(Station.id)))
    w_settings = w.settings
    names |= set(w_settings.cases.categories) | set(w_settings.cases.steps) | set(records.FORMS)
    names |= {"赵",  # the party 赵六, masked to her family name on the case page
              "张三", "王五", "李四", "赵六", "某路口", "路口", "当事人在场", "复议期间保全", "询问内容", "询问笔录"}
    names |= set(policy.ROLE_LABELS.values())  # (the users' display names are made of them)
    names |= {c.label for c in w_settings.retention.classes.values()}  # the agency's own labels (config)
    review = w_settings.review  # the agency's review catalogue: decision kinds and the rules' labels (config)
    names |= {r.label for r in review.catalogue} | {k for r in review.catalogue for k in r.decision_kinds}
    names |= set(review.decision_kinds)
    names |= _notice_names(w)
    return sorted((n for n in names if n), key=len, reverse=True)


# ---------------------------------------------------------------------------- reading a page

_SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
_PLACEHOLDER = re.compile(r"""placeholder="([^"]*)\"""")


_CODE = re.compile(r"<code\b.*?</code>", re.S | re.I)
# a recorded value shown as it was recorded (an event's detail): data, in whatever language it was
# written when it happened, never a word of the page
_DATA = re.compile(r"<code class=\"data\">.*?</code>", re.S | re.I)


def visible_text(page_html: str, *, codes: bool = True) -> str:
    """What a reader sees: the text outside tags (no script or style), and the inputs' placeholders;
    without what the page marks as a code (``<code>``: a tool, a hash, a configuration key) if not
    ``codes``."""
    body = _DATA.sub(" ", _SCRIPT.sub(" ", page_html))
    if not codes:
        body = _CODE.sub(" ", body)
    shown = re.sub(r"<[^>]+>", " ", body)
    return html.unescape(shown + " " + " ".join(_PLACEHOLDER.findall(body)))


_ACTOR = re.compile(r"\b(user|station|system|token|cli):\S+")  # an actor: an account or a station
_COMMAND = re.compile(r"\bliuhen(?: [a-z][a-z_-]*)+")  # a command to type: liuhen serve, liuhen retention run
_TOKEN_OK = (
    re.compile(r"^[0-9a-f]{16,}$"),  # a hash or an id
    re.compile(r"^\S+\.(mp4|MP4|mov|MOV|avi|wav|jpg|JPG|gpx|json|txt|pdf|zip)$"),  # a file name
    re.compile(r"^#?\S*\d\S*$"),  # a code with a digit: DSJ-A001, st-b0, 110101, v0.9, 3.0s, #12
    re.compile(r"^\S*_\S*$"),  # a code or account name: operator_a, access_denied
)


def _latin_words(text: str, names: list[str]) -> list[str]:
    """Latin-script words of ``text`` that are not a name, code, hash, file name, unit or allowed word."""
    text = _COMMAND.sub(" ", _ACTOR.sub(" ", text))
    for n in names:
        text = text.replace(n, " ")
    bad = []
    for token in text.split():
        token = token.strip(".,;:()（）[]【】「」'\"·—–-/|×★✔⚠→…")
        if not re.search(r"[A-Za-z]", token) or any(p.match(token) for p in _TOKEN_OK):
            continue
        for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", token):
            if word not in ALLOWED and not re.search(r"\d", word):
                bad.append(token)
                break
    return bad


def _han(text: str, names: list[str]) -> list[str]:
    for n in [*names, *ALLOWED_HAN]:
        text = text.replace(n, " ")
    return re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", text)


def _check(text: str, lang: str, names: list[str], where: str) -> None:
    if lang == "zh":
        bad = _latin_words(text, names)
        assert not bad, f"{where}: English on a Chinese page: {sorted(set(bad))}"
    else:
        bad = _han(text, names)
        assert not bad, f"{where}: Chinese on an English page: {sorted(set(bad))}"


def _address(path: str, ids: dict[str, int]) -> str:
    return path.format(**ids)


# ---------------------------------------------------------------------------- the sweep


def _sweep(w: World, ids: dict[str, int], role: str, lang: str) -> Iterator[tuple[str, int, str]]:
    """Each page of ``PAGES`` (and ``JS_PAGES``, as served) as ``role`` sees it in ``lang``: (address, status, visible text)."""
    client = w.client(user_of(role))
    client.cookies.set("lang", lang)
    for path in (*PAGES, *JS_PAGES):
        url = _address(path, ids)
        r = client.get(url, follow_redirects=False)
        assert r.status_code in (200, 403), (url, r.status_code)
        assert r.headers["content-type"].startswith("text/html"), (url, r.headers["content-type"])
        yield url, r.status_code, visible_text(r.text, codes=lang == "en")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_may_open_speaks_one_language(world: tuple[World, dict[str, int]], role: str,
                                                         lang: str) -> None:
    w, ids = world
    names = _data_names(w)
    opened = 0
    for url, status, text in _sweep(w, ids, role, lang):
        if status == 200:
            opened += 1
            _check(text, lang, names, f"{role} {lang} {url}")
    assert opened >= 2  # (the sign-in page and at least one of the role's own)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_refusal_page_speaks_one_language(world: tuple[World, dict[str, int]], lang: str) -> None:
    w, ids = world
    names = _data_names(w)
    refused = [(role, url, text) for role in ROLES for url, status, text in _sweep(w, ids, role, lang) if status == 403]
    assert refused
    for role, url, text in refused:
        _check(text, lang, names, f"{role} {lang} {url} (refused)")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("path", BAD_ADDRESSES)
def test_a_bad_address_answers_with_a_page_in_the_users_language(
        world: tuple[World, dict[str, int]], path: str, lang: str) -> None:
    w, ids = world
    names = _data_names(w)
    client = w.client(user_of("investigator"))
    client.cookies.set("lang", lang)
    r = client.get(_address(path, ids), follow_redirects=False)
    assert r.status_code in (400, 404, 422), r.status_code
    assert r.headers["content-type"].startswith("text/html"), f"{path}: {r.headers['content-type']}: {r.text[:200]}"
    # the address the user typed is echoed back as it was typed: data, like a name
    _check(visible_text(r.text, codes=lang == "en"), lang, [*names, _address(path, ids)], f"{lang} {path}")


def test_the_sign_in_refusals_speak_the_users_language(world: tuple[World, dict[str, int]]) -> None:
    w, _ = world
    for lang, wanted in (("zh", "用户名或密码错误"), ("en", "Wrong user name or password")):
        c = w.client()
        c.cookies.set("lang", lang)
        form = c.get("/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
        assert token is not None
        r = c.post("/login", data={"username": "operator_a", "password": "wrong", "login_csrf": token.group(1)})
        assert r.status_code == 401
        text = visible_text(r.text)
        assert wanted in text
        _check(text, lang, _data_names(w), f"{lang} /login (refused)")
        assert (" / " not in re.search(r'id="login-error"[^>]*>([^<]*)<', r.text).group(1))  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- pages drawn by JavaScript


@pytest.fixture(scope="module")
def server(world: tuple[World, dict[str, int]]) -> Iterator[str]:
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(world[0].app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.test_console_browser import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium) before the tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_pages_drawn_by_javascript_speak_one_language(world: tuple[World, dict[str, int]], server: str,
                                                          browser: Any, lang: str) -> None:
    w, ids = world
    names = _data_names(w)
    for role in ROLES:
        ctx = browser.new_context(extra_http_headers={"Authorization": f"Bearer {w.tokens[user_of(role)]}"})
        ctx.add_cookies([{"name": "lang", "value": lang, "url": server}])
        page = ctx.new_page()
        try:
            for path, drawn in JS_PAGES.items():
                r = page.goto(server + _address(path, ids))
                assert r is not None
                if r.status != 200:
                    continue  # a refusal: swept with the others (test_every_refusal_page_speaks_one_language)
                page.wait_for_selector(drawn, timeout=10_000)
                page.wait_for_timeout(300)  # (one more refresh drawn)
                text = page.inner_text("body")
                text += " " + " ".join(page.eval_on_selector_all("[placeholder]", "es => es.map(e => e.placeholder)"))
                _check(text, lang, names, f"{role} {lang} {path} ({r.status})")
        finally:
            ctx.close()


def test_the_jobs_page_names_kinds_and_states_in_words(world: tuple[World, dict[str, int]], server: str,
                                                      browser: Any) -> None:
    w, _ = world
    ctx = browser.new_context(extra_http_headers={"Authorization": f"Bearer {w.tokens[user_of('operator')]}"})
    page = ctx.new_page()
    try:
        page.goto(server + "/jobs")
        page.wait_for_selector("#jobs tbody tr td[data-kind]")
        kinds = {c.get_attribute("data-kind"): c.inner_text() for c in page.query_selector_all("td[data-kind]")}
        states = {c.get_attribute("data-state"): c.inner_text() for c in page.query_selector_all("td.state")}
        assert kinds.get("proxy") == "生成可播放的代理文件" and kinds.get("probe") == "解析媒体信息", kinds
        assert states.get("done") == "已完成" and states.get("failed", "失败").startswith("失败"), states
    finally:
        ctx.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_unplayable_recordings_reason_on_hover_speaks_the_pages_language(world: tuple[World, dict[str, int]],
                                                                            lang: str) -> None:
    import html as html_

    w, ids = world
    client = w.client(user_of("investigator"))
    client.cookies.set("lang", lang)
    page = client.get(f"/evidence/{ids['empty']}").text
    titles = [html_.unescape(t) for t in re.findall(r'<p class="error" id="unplayable"[^>]* title="([^"]*)"', page)]
    titles += [html_.unescape(t) for t in re.findall(r'<span title="([^"]+)">', page)]
    assert len(titles) >= 2 and all(titles), titles
    names = _data_names(w)
    for title in titles:  # the media worker's note, in one language: not the stored "中文 / English" pair
        assert (_latin_words(title, names) if lang == "zh" else _han(title, names)) == [], title
