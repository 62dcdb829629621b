"""Downloads only through one-time links, and the auditor's masked view (issue 10, items 8 and 9).

On the API world (``tests.api_world``: real units, users, offloaded recordings), SQLite and
PostgreSQL: a GET that a foreign page could make with the user's session cookie downloads nothing
and writes no custody event; a link from a POST works once, for its own user, before it expires;
the auditor reads a case with its parties masked and gets no document bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from auth import links
from auth import service as accounts
from cases import records as text_records
from cases import service as case_service
from tests.api_world import BACKENDS, PASSWORD, A, World, user_of, world_for

API = "/api/v1"
INVESTIGATOR, AUDITOR, OTHER = user_of("investigator"), user_of("auditor"), user_of("records_manager")


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


@pytest.fixture(scope="module")
def case(world: World) -> tuple[int, int]:
    """A case of A with a party, and a text record: (case id, record id)."""
    with world.archive.sessions.begin() as db:
        c = case_service.create_case(db, world.archive.custody, world.settings.cases, unit_id=world.units[A],
                                     unit_code=A, category="行政处罚", title="隐私测试", actor="test:privacy",
                                     parties=[case_service.PartyIn(name="张三丰", kind="person",
                                                                   id_number="110101199003071234",
                                                                   phone="13800138000", address="北京市东城区某街1号")],
                                     data_key=world.archive.data_key)
        case_id = c.id
    rec = text_records.add_form(world.archive, case_id=case_id, actor="test:privacy", kind="决定书",
                                fields={"party": "张三丰", "facts": "无证经营", "law": "《行政处罚法》",
                                        "decision": "责令改正", "remedy": "六十日内申请复议", "decided_on": "2026-11-23"})
    return case_id, rec.record_id


def browser(world: World, username: str):
    """A console session as a browser holds it: the cookie, sent on any request; and its CSRF token."""
    user = accounts.authenticate(world.archive.sessions, username=username, password=PASSWORD,
                                 settings=world.settings.auth)
    with world.archive.sessions.begin() as db:
        token, s = accounts.start_session(db, user=user, ip="10.1.2.3", user_agent="pytest")
        csrf = s.csrf_token
    c = world.client()
    c.cookies.set(world.settings.auth.session_cookie, token)
    return c, csrf


def downloads(world: World, case: tuple[int, int]) -> dict[str, str]:
    eid = world.evidence["zhangsan"]
    case_id, record_id = case
    return {"original": f"/evidence/{eid}/original", "export": f"/evidence/{eid}/export",
            "record": f"/cases/records/{record_id}/versions/1", "case_export": f"/cases/{case_id}/export"}


def test_a_cross_site_get_of_any_download_sends_no_bytes_and_writes_no_event(world: World, case) -> None:
    c, _csrf = browser(world, INVESTIGATOR)
    for what, path in downloads(world, case).items():
        since = world.last_seq()
        r = c.get(API + path)  # what <img src> or a link on another site makes the browser send
        assert r.status_code == 403 and r.json()["code"] == "forbidden", (what, r.text[:200])
        assert world.events_since(since) == [], what


def test_a_download_link_works_once_for_its_own_user_before_it_expires(world: World, case) -> None:
    c, csrf = browser(world, INVESTIGATOR)
    eid = world.evidence["zhangsan"]
    for what, path in downloads(world, case).items():
        assert c.post(API + path + "/link").status_code == 403, what  # a POST needs the CSRF header too
        made = c.post(API + path + "/link", headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, (what, made.text[:300])
        url = made.json()["url"]
        since = world.last_seq()
        got = c.get(url)
        assert got.status_code == 200 and got.content, (what, got.text[:300])
        if what == "original":
            assert hashlib.sha256(got.content).hexdigest() == world.files["zhangsan"].sha256
        actions = [e.action for e in world.events_since(since)]
        assert {"original": "downloaded", "export": "downloaded", "record": "record_downloaded",
                "case_export": "case_exported"}[what] in actions, (what, actions)

        since = world.last_seq()
        again = c.get(url)  # used: no bytes, no event
        assert again.status_code == 404 and again.json()["code"] == "link_gone"
        assert world.events_since(since) == []

    # another user's session cannot use it; an expired one is gone; neither leaves an event
    other, other_csrf = browser(world, OTHER)
    url = c.post(f"{API}/evidence/{eid}/original/link", headers={"X-CSRF-Token": csrf}).json()["url"]
    since = world.last_seq()
    assert other.get(url).status_code == 404
    with world.archive.sessions.begin() as db:
        user = accounts.get_user(db, username=INVESTIGATOR)
        expired, _ = links.issue(db, user_id=user.id, what="original", target_id=eid, seconds=-1)
    assert c.get(f"{API}/links/{expired}").status_code == 404
    assert c.get(f"{API}/links/{'x' * 43}").status_code == 404
    assert world.events_since(since) == []
    assert c.get(url).status_code == 200  # (the owner's link was untouched by the others' tries)


def test_an_api_token_still_downloads_with_a_plain_get(world: World, case) -> None:
    since = world.last_seq()
    r = world.client(INVESTIGATOR).get(f"{API}{downloads(world, case)['original']}")
    assert r.status_code == 200 and r.headers["x-content-sha256"] == world.files["zhangsan"].sha256
    assert [e.action for e in world.events_since(since)] == ["downloaded"]


def test_the_auditor_sees_parties_masked_and_no_document_bytes(world: World, case) -> None:
    case_id, record_id = case
    full = world.client(INVESTIGATOR).get(f"{API}/cases/{case_id}").json()["parties"]
    assert full == [{"kind": "person", "name": "张三丰", "id_number": "110101199003071234", "phone": "13800138000",
                     "address": "北京市东城区某街1号"}]
    seen = world.client(AUDITOR).get(f"{API}/cases/{case_id}")
    assert seen.status_code == 200
    (party,) = seen.json()["parties"]
    assert party == {"kind": "person", "name": "张**", "id_number": "1101**********1234", "phone": "1380***8000",
                     "address": "***"}
    assert "张三丰" not in seen.text and "110101199003071234" not in seen.text
    assert [r["record_id"] for r in seen.json()["records"]] == [record_id]  # listed, with its SHA-256

    auditor, csrf = browser(world, AUDITOR)
    page = auditor.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "张三丰" not in page.text and "张**" in page.text
    assert "/versions/1/link" not in page.text  # no download button for the auditor
    assert world.client(AUDITOR).get(f"{API}/cases/records/{record_id}/versions/1").status_code == 403
    r = auditor.post(f"{API}/cases/records/{record_id}/versions/1/link", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403


def test_mask_keeps_only_the_ends() -> None:
    from cases.views import mask_name, mask_number

    assert mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧***" and mask_name("") == ""
    assert mask_number("110101199003071234") == "1101**********1234"
    assert mask_number("12345") == "***45" and mask_number(None) is None


def test_the_audit_trail_of_a_district_shows_no_other_units_and_no_unattributed_events(world: World) -> None:
    from tests.api_world import B

    with world.archive.sessions.begin() as db:  # an account made from the command line in B
        accounts.add_user(db, world.archive.custody, username="b_clerk", password=PASSWORD, role="operator",
                          unit_code=B, actor="cli:root", settings=world.settings.auth)
    world.client(user_of("investigator", "b")).get(f"{API}/evidence", params={"q": "李四"})  # B searches
    world.client(INVESTIGATOR).get(f"{API}/evidence", params={"q": "张三"})  # A searches
    items = world.client(AUDITOR).get(f"{API}/audit", params={"per_page": 500}).json()["items"]
    actors = {e["actor"] for e in items}
    assert "cli:root" not in actors and f"user:{user_of('investigator', 'b')}" not in actors
    assert not any(e["action"] == "user_added" and "b_clerk" in str(e["detail"]) for e in items)
    assert f"user:{INVESTIGATOR}" in actors  # the district's own users' events are there
