"""The evidence API over HTTP: search, seekable media, originals, exports, verification, sessions.

One archive per database (SQLite and PostgreSQL) is built for the whole module by
``tests.api_world``: real units, officers and users, a real station offloading real ffmpeg clips,
real media workers making proxies and posters. Requests go through the real app (FastAPI's
TestClient, in process) with real API tokens or real console sessions. Tests that change
evidence use recordings no other test here asserts on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import bagit
import pytest
from sqlalchemy import select, update

from archive.models import DerivedFile, Evidence
from auth import service as accounts
from auth.errors import AccountDisabled, PasswordChangeRequired
from auth.models import Session as LoginSession
from hashing.models import CustodyEvent
from liuhen.db import utcnow
from tests.api_world import BACKENDS, PASSWORD, A, B, World, user_of, world_for

API = "/api/v1"
IP = "testclient"  # what the ASGI test client reports as the peer address

INVESTIGATOR = user_of("investigator")
OPERATOR = user_of("operator")


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip, unassigned=True)


def new_events(world: World, since: int, *, actor: str | None = None, action: str | None = None) -> list[CustodyEvent]:
    return [e for e in world.events_since(since)
            if (actor is None or e.actor == f"user:{actor}") and (action is None or e.action == action)]


def one_event(world: World, since: int, actor: str, action: str) -> dict:
    """The one custody event ``action`` by ``actor`` since ``since``, checked to say where it came from."""
    found = new_events(world, since, actor=actor, action=action)
    assert len(found) == 1, [(e.actor, e.action) for e in world.events_since(since)]
    detail = json.loads(found[0].detail)
    assert detail["ip"] == IP, detail
    return detail


def ids(response) -> set[int]:
    assert response.status_code == 200, response.text
    return {item["evidence_id"] for item in response.json()["items"]}


def derived(world: World, evidence_id: int, kind: str) -> bytes:
    with world.archive.sessions() as db:
        d = db.scalars(select(DerivedFile).where(DerivedFile.evidence_id == evidence_id,
                                                 DerivedFile.kind == kind)).one()
        return world.archive.store.path_of(d.store_key).read_bytes()


def docked_bytes(world: World, name: str) -> bytes:
    """The file as it was on the recorder in the dock (the station keeps it there)."""
    return Path(os.fsdecode(os.fsencode(world.settings.station.dock_root) + b"/" + world.files[name].rel)).read_bytes()


# ---------------------------------------------------------------------------- search


def test_chinese_free_text_finds_the_officer_by_name_and_a_tag_added_through_the_api(world: World) -> None:
    ev = world.evidence
    city = world.client(user_of("investigator", "city"))  # sees both districts: only the text decides
    r = city.post(f"{API}/evidence/{ev['wangwu']}/tags", json={"tag": "现场检查"})
    assert r.status_code == 200, r.text
    assert r.json() == ["现场检查"]

    assert ids(city.get(f"{API}/evidence", params={"q": "张三"})) == {ev["zhangsan"], ev["zhangsan_2"]}
    assert ids(city.get(f"{API}/evidence", params={"q": "李四"})) == {ev["lisi"]}
    assert ids(city.get(f"{API}/evidence", params={"q": "现场检查"})) == {ev["wangwu"]}
    assert ids(city.get(f"{API}/evidence", params={"q": "检查"})) == {ev["wangwu"]}  # part of the tag
    assert ids(city.get(f"{API}/evidence", params={"q": "王五 现场"})) == {ev["wangwu"]}  # every word must match
    assert ids(city.get(f"{API}/evidence", params={"q": "张三 现场检查"})) == set()
    found = city.get(f"{API}/evidence", params={"q": "张三"}).json()["items"]
    assert {i["officer_name"] for i in found} == {"张三"} and {i["officer_id"] for i in found} == {"000123"}


def test_search_is_bounded_by_the_units_the_user_may_see(world: World) -> None:
    ev = world.evidence
    a_ids = {ev[n] for n in ("zhangsan", "zhangsan_2", "wangwu", "stranger", "x1_a")}
    b_ids = {ev[n] for n in ("lisi", "x1_b", "x2_b")}
    a, b = world.client(INVESTIGATOR), world.client(user_of("investigator", "b"))
    assert ids(a.get(f"{API}/evidence", params={"per_page": 200})) == a_ids
    assert ids(b.get(f"{API}/evidence", params={"per_page": 200})) == b_ids
    assert ids(world.client(user_of("investigator", "city")).get(f"{API}/evidence", params={"per_page": 200})) \
        == a_ids | b_ids
    assert ids(a.get(f"{API}/evidence", params={"q": "李四"})) == set()
    assert ids(a.get(f"{API}/evidence", params={"officer": "李四"})) == set()
    assert ids(b.get(f"{API}/evidence", params={"officer": "李四"})) == {ev["lisi"]}
    assert ids(b.get(f"{API}/evidence", params={"q": "张三"})) == set()


def test_tags_and_notes_are_searchable_and_a_tag_with_a_slash_can_be_removed(world: World) -> None:
    eid = world.evidence["zhangsan_2"]
    a = world.client(INVESTIGATOR)
    since = world.last_seq()
    assert a.post(f"{API}/evidence/{eid}/tags", json={"tag": " 查封/扣押 "}).json() == ["查封/扣押"]
    note = a.post(f"{API}/evidence/{eid}/notes", json={"text": "当事人拒绝配合\n已告知权利"})
    assert note.status_code == 201 and note.json()["author"] == f"user:{INVESTIGATOR}"
    assert eid in ids(a.get(f"{API}/evidence", params={"q": "扣押"}))
    assert ids(a.get(f"{API}/evidence", params={"q": "拒绝配合"})) == {eid}
    assert one_event(world, since, INVESTIGATOR, "tagged")["tag"] == "查封/扣押"
    assert one_event(world, since, INVESTIGATOR, "noted")["text"] == "当事人拒绝配合\n已告知权利"

    r = a.delete(f"{API}/evidence/{eid}/tags/查封/扣押")
    assert r.status_code == 200 and r.json() == []
    assert eid not in ids(a.get(f"{API}/evidence", params={"q": "扣押"}))
    assert one_event(world, since, INVESTIGATOR, "untagged")["tag"] == "查封/扣押"
    assert [n["text"] for n in a.get(f"{API}/evidence/{eid}").json()["notes"]] == ["当事人拒绝配合\n已告知权利"]


def test_a_search_is_a_custody_event_naming_the_query_and_what_was_shown(world: World) -> None:
    since = world.last_seq()
    r = world.client(INVESTIGATOR).get(f"{API}/evidence", params={"q": "张三"})
    found = ids(r)
    assert {world.evidence["zhangsan"], world.evidence["zhangsan_2"]} <= found  # (not an empty answer)
    detail = one_event(world, since, INVESTIGATOR, "searched")
    assert detail["query"]["q"] == "张三"
    assert detail["shown"] == [i["evidence_id"] for i in r.json()["items"]]  # the ids shown, in their order


def test_a_page_past_the_end_still_reports_the_true_total(world: World) -> None:
    a = world.client(INVESTIGATOR)
    everything = a.get(f"{API}/evidence", params={"per_page": 200}).json()
    past = a.get(f"{API}/evidence", params={"page": 40, "per_page": 2}).json()
    assert past["items"] == [] and past["has_more"] is False
    assert past["total"] == everything["total"] == len(everything["items"])


def test_text_with_nothing_to_look_for_or_an_empty_time_range_finds_nothing(world: World) -> None:
    a = world.client(INVESTIGATOR)
    assert ids(a.get(f"{API}/evidence", params={"q": "；、!"})) == set()
    assert ids(a.get(f"{API}/evidence", params={"start": "2026-11-24T00:00:00+08:00",
                                                "end": "2026-11-23T00:00:00+08:00"})) == set()
    # from the beginning of time: every recording, not an error — those with a recording time by it, and one
    # without (x1_a, unprobed and named by no pattern) by the time it was archived (issue #14)
    timed = {world.evidence[n] for n in ("zhangsan", "zhangsan_2", "wangwu", "stranger")}
    every = {e for e in ids(a.get(f"{API}/evidence", params={"per_page": 200}))}
    assert timed < every  # (x1_a, when this module's tests made it, is among them)
    assert ids(a.get(f"{API}/evidence", params={"start": "0001-01-01T00:00:00+01:00", "per_page": 200})) == every
    assert ids(a.get(f"{API}/evidence", params={"end": "9999-12-31T23:59:59-01:00", "per_page": 200})) == every
    r = a.get(f"{API}/evidence", params={"start": "2026-11-23T00:00:00"})
    assert r.status_code == 400 and r.json()["code"] == "bad_query" and "time zone" in r.json()["detail"]


def test_a_misspelt_or_repeated_query_parameter_is_refused_not_ignored(world: World) -> None:
    a = world.client(INVESTIGATOR)
    r = a.get(f"{API}/evidence", params={"offcer": "张三"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request" and "offcer" in r.json()["detail"]
    r = a.get(f"{API}/evidence?q=张三&q=李四")
    assert r.status_code == 422 and "q" in r.json()["detail"]


def test_text_the_database_cannot_hold_is_refused_not_a_server_error(world: World) -> None:
    a = world.client(INVESTIGATOR)
    eid = world.evidence["wangwu"]
    for r in (a.post(f"{API}/evidence/{eid}/tags", json={"tag": "a\x00b"}),
              a.post(f"{API}/evidence/{eid}/notes", json={"text": "x\x00"}),
              a.get(f"{API}/evidence", params={"officer": "\x00"}),
              a.get(f"{API}/evidence/{2**70}")):
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "invalid_request"


# ---------------------------------------------------------------------------- units


def test_a_recording_naming_an_officer_the_roster_does_not_know_belongs_to_the_station_unit(world: World) -> None:
    eid = world.evidence["stranger"]
    r = world.client(INVESTIGATOR).get(f"{API}/evidence/{eid}")
    assert r.status_code == 200, r.text
    assert (r.json()["officer_id"], r.json()["officer_name"], r.json()["unit_code"]) == ("999999", None, A)
    assert world.client(user_of("investigator", "b")).get(f"{API}/evidence/{eid}").status_code == 404
    lisi = world.client(user_of("investigator", "b")).get(f"{API}/evidence/{world.evidence['lisi']}")
    assert lisi.json()["unit_code"] == B and lisi.json()["officer_name"] == "李四"


def test_evidence_of_another_unit_answers_exactly_like_evidence_that_does_not_exist(world: World) -> None:
    a = world.client(INVESTIGATOR)
    foreign, missing = world.evidence["lisi"], 987654321
    since = world.last_seq()
    for path in ("", "/custody", "/media/proxy", "/original", "/export"):
        rf, rm = a.get(f"{API}/evidence/{foreign}{path}"), a.get(f"{API}/evidence/{missing}{path}")
        assert rf.status_code == rm.status_code == 404, path
        assert rf.json()["code"] == rm.json()["code"] == "not_found"
        assert rf.json()["detail"].replace(str(foreign), "N") == rm.json()["detail"].replace(str(missing), "N")
        assert rf.headers.keys() == rm.headers.keys()
    denied = new_events(world, since, actor=INVESTIGATOR, action="access_denied")
    assert [e.evidence_id for e in denied] == [foreign] * 5  # the refusal is logged; a missing id is not a refusal
    assert {e.outcome for e in denied} == {"denied"}


# ---------------------------------------------------------------------------- media


def test_the_proxy_is_served_in_byte_ranges_for_seeking(world: World) -> None:
    eid = world.evidence["zhangsan"]
    proxy = derived(world, eid, "proxy")
    size = len(proxy)
    assert size > 10_000
    a = world.client(INVESTIGATOR)

    whole = a.get(f"{API}/evidence/{eid}/media/proxy")
    assert whole.status_code == 200 and whole.content == proxy
    assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"

    mid = a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=4000-4999"})
    assert mid.status_code == 206
    assert mid.headers["content-range"] == f"bytes 4000-4999/{size}"
    assert mid.headers["content-length"] == "1000"
    assert mid.content == proxy[4000:5000]

    tail = a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == proxy[-100:]
    assert tail.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"

    past = a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{size}"
    assert set(past.json()) == {"code", "detail", "message"} and past.json()["code"] == "range_not_satisfiable"
    assert str(size) in past.json()["detail"]

    poster = a.get(f"{API}/evidence/{eid}/media/poster")
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    assert poster.content == derived(world, eid, "poster") and poster.content[:2] == b"\xff\xd8"


def test_a_play_from_byte_0_is_one_played_event_and_a_seek_is_none(world: World) -> None:
    eid = world.evidence["zhangsan"]
    a = world.client(INVESTIGATOR)

    since = world.last_seq()
    assert a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=0-"}).status_code == 206
    detail = one_event(world, since, INVESTIGATOR, "played")
    assert detail["kind"] == "proxy" and detail["range"] == "bytes=0-"

    since = world.last_seq()
    assert a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=20000-"}).status_code == 206
    assert a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=-5000"}).status_code == 206
    assert a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=99999999-"}).status_code == 416
    assert new_events(world, since, action="played") == []

    since = world.last_seq()
    assert a.get(f"{API}/evidence/{eid}/media/proxy").status_code == 200  # no Range: a play from the start
    one_event(world, since, INVESTIGATOR, "played")


def test_a_play_is_one_played_event_and_the_reads_of_its_session_are_none(world: World) -> None:
    """POST .../play (the console's player, when play is pressed) records the play and opens the
    user's session; the reads that follow — from byte 0 again, seeks, the whole file — are that play."""
    eid = world.evidence["zhangsan"]
    a = world.client(INVESTIGATOR)

    since = world.last_seq()
    r = a.post(f"{API}/evidence/{eid}/play")
    assert r.status_code == 200 and r.json()["src"] == f"{API}/evidence/{eid}/media/proxy"
    assert r.json()["mime"] == "video/mp4"
    detail = one_event(world, since, INVESTIGATOR, "played")
    assert detail["kind"] == "proxy" and detail["session"] == "play"

    since = world.last_seq()
    assert a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=0-"}).status_code == 206
    assert a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=20000-"}).status_code == 206
    assert a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=-5000"}).status_code == 206
    assert a.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=99999999-"}).status_code == 416
    assert a.get(f"{API}/evidence/{eid}/media/proxy").status_code == 200
    assert new_events(world, since, action="played") == []

    since = world.last_seq()  # pressing play again (the page opened again) is another play
    assert a.post(f"{API}/evidence/{eid}/play").status_code == 200
    one_event(world, since, INVESTIGATOR, "played")


def test_a_read_of_the_proxy_outside_a_play_session_is_recorded_as_a_play(world: World) -> None:
    eid = world.evidence["wangwu"]
    reader = world.client(user_of("legal_reviewer"))
    since = world.last_seq()
    assert reader.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=100-"}).status_code == 206
    detail = one_event(world, since, user_of("legal_reviewer"), "played")
    assert detail["session"] == "read" and detail["range"] == "bytes=100-"
    since = world.last_seq()
    assert reader.get(f"{API}/evidence/{eid}/media/proxy", headers={"Range": "bytes=5000-"}).status_code == 206
    assert new_events(world, since, action="played") == []


def test_play_answers_another_units_recording_like_a_missing_one(world: World) -> None:
    a = world.client(INVESTIGATOR)
    since = world.last_seq()
    rf = a.post(f"{API}/evidence/{world.evidence['lisi']}/play")
    rm = a.post(f"{API}/evidence/987654321/play")
    assert rf.status_code == rm.status_code == 404 and rf.json()["code"] == "not_found"
    assert new_events(world, since, action="played") == []


# ---------------------------------------------------------------------------- view, download, export, verify


def test_viewing_a_record_is_a_custody_event_with_who_and_from_where(world: World) -> None:
    eid = world.evidence["zhangsan"]
    since = world.last_seq()
    r = world.client(INVESTIGATOR).get(f"{API}/evidence/{eid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sha256"] == world.files["zhangsan"].sha256 and body["playback"] == "ready"
    assert {"proxy", "poster"} <= set(body["previews"]) and body["sightings"][0]["signature_valid"] is True
    detail = one_event(world, since, INVESTIGATOR, "viewed")
    assert detail["via"] == "token" and detail["role"] == "investigator"
    events = new_events(world, since, actor=INVESTIGATOR)
    assert [(e.evidence_id, e.object_sha256) for e in events] == [(eid, world.files["zhangsan"].sha256)]


def test_the_original_downloads_bit_for_bit_with_its_sha256(world: World) -> None:
    eid = world.evidence["zhangsan"]
    offloaded = docked_bytes(world, "zhangsan")
    since = world.last_seq()
    r = world.client(INVESTIGATOR).get(f"{API}/evidence/{eid}/original")
    assert r.status_code == 200
    assert r.content == offloaded
    assert r.headers["x-content-sha256"] == hashlib.sha256(offloaded).hexdigest() == world.files["zhangsan"].sha256
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "DSJ-A001_000123_20261123093000_0001.MP4" in r.headers["content-disposition"]
    one_event(world, since, INVESTIGATOR, "downloaded")


def test_an_export_is_a_zip_of_a_bagit_bag_that_validates(world: World, tmp_path: Path) -> None:
    eid = world.evidence["wangwu"]
    since = world.last_seq()
    r = world.client(INVESTIGATOR).get(f"{API}/evidence/{eid}/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        z.extractall(tmp_path)
    (bag_dir,) = list(tmp_path.iterdir())
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # every payload file against the sha256 and sha512 manifests; raises if any differs
    assert bag.is_valid()
    originals = [p for p in bag_dir.rglob("*.MP4") if "derived" not in p.parts]
    assert [p.read_bytes() for p in originals] == [docked_bytes(world, "wangwu")]

    exported = new_events(world, since, actor=INVESTIGATOR, action="exported")
    assert [e.evidence_id for e in exported] == [eid]
    detail = one_event(world, since, INVESTIGATOR, "downloaded")  # where the copy went
    assert detail["what"] == "export" and detail["payload_oxum"] == bag.info["Payload-Oxum"]


def test_verify_passes_and_then_names_a_flipped_byte_in_the_stored_original(world: World) -> None:
    eid = world.evidence["zhangsan_2"]
    a = world.client(INVESTIGATOR)
    since = world.last_seq()
    r = a.post(f"{API}/evidence/{eid}/verify")
    assert r.status_code == 200, r.text
    assert r.json() == {"evidence_id": eid, "ok": True, "outcome": "success", "failures": []}
    one_event(world, since, INVESTIGATOR, "verified")
    assert new_events(world, since, action="verified")[0].outcome == "success"

    with world.archive.sessions() as db:
        stored = world.archive.store.path_of(db.get(Evidence, eid).store_key)
    good = stored.read_bytes()
    os.chmod(stored, 0o644)  # originals are kept read-only; the damage comes from outside liuhen
    try:
        stored.write_bytes(good[:1000] + bytes([good[1000] ^ 0x01]) + good[1001:])
        since = world.last_seq()
        r = a.post(f"{API}/evidence/{eid}/verify")
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["ok"] is False and out["outcome"] == "failure"
        assert len(out["failures"]) == 1
        assert f"Evidence {eid}" in out["failures"][0] and "now hashes to" in out["failures"][0]
        assert "restore it from backup" in out["failures"][0]
        one_event(world, since, INVESTIGATOR, "verified")
        assert new_events(world, since, action="verified")[0].outcome == "failure"
        assert a.get(f"{API}/evidence/{eid}").json()["last_fixity"]["outcome"] == "failure"

        refused = a.get(f"{API}/evidence/{eid}/export")  # a damaged original is never exported
        assert refused.status_code == 409 and refused.json()["code"] == "fixity_failed"
    finally:
        stored.write_bytes(good)
        os.chmod(stored, 0o400)
    assert a.post(f"{API}/evidence/{eid}/verify").json()["ok"] is True


# ---------------------------------------------------------------------------- console sessions


def session_for(world: World, username: str) -> tuple[str, str]:
    user = accounts.authenticate(world.archive.sessions, username=username, password=PASSWORD,
                                 settings=world.settings.auth)
    with world.archive.sessions.begin() as db:
        token, s = accounts.start_session(db, user=user, ip="10.1.2.3", user_agent="pytest")
        return token, s.csrf_token


def console(world: World, token: str):
    c = world.client()
    c.cookies.set(world.settings.auth.session_cookie, token)
    return c


def test_a_console_session_changes_nothing_without_its_csrf_token(world: World) -> None:
    token, csrf = session_for(world, OPERATOR)
    c = console(world, token)
    me = c.get(f"{API}/me")  # reading needs no CSRF token
    assert me.status_code == 200 and me.json()["csrf_token"] == csrf and me.json()["role"] == "operator"

    eid = world.evidence["stranger"]
    since = world.last_seq()
    for call in (lambda h: c.put(f"{API}/evidence/{eid}/important", json={"important": True}, headers=h),
                 lambda h: c.post(f"{API}/evidence/{eid}/tags", json={"tag": "会话"}, headers=h)):
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            r = call(headers)
            assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    assert len(new_events(world, since, actor=OPERATOR, action="access_denied")) == 4
    assert new_events(world, since, action="marked_important") == new_events(world, since, action="tagged") == []

    r = c.put(f"{API}/evidence/{eid}/important", json={"important": True}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["important"] is True
    r = c.post(f"{API}/evidence/{eid}/tags", json={"tag": "会话"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and "会话" in r.json()
    detail = one_event(world, since, OPERATOR, "marked_important")
    assert detail["via"] == "session"


def test_a_disabled_account_is_refused_by_session_and_token_and_enabled_again(world: World) -> None:
    with world.archive.sessions.begin() as db:
        u = accounts.add_user(db, world.archive.custody, username="disabled_a", password=PASSWORD,
                              role="investigator", unit_code=A, actor="test", settings=world.settings.auth)
        api_token = accounts.issue_api_token(db, world.archive.custody, user=u, name="tests", actor="test")
    session, _ = session_for(world, "disabled_a")
    by_token = world.client()
    by_token.headers["Authorization"] = f"Bearer {api_token}"
    assert by_token.get(f"{API}/me").status_code == 200
    assert console(world, session).get(f"{API}/me").status_code == 200

    with world.archive.sessions.begin() as db:
        accounts.disable(db, world.archive.custody, username="disabled_a", actor="test")
    with pytest.raises(AccountDisabled):
        accounts.authenticate(world.archive.sessions, username="disabled_a", password=PASSWORD,
                              settings=world.settings.auth)
    for r in (by_token.get(f"{API}/me"), console(world, session).get(f"{API}/me"),
              by_token.get(f"{API}/evidence/{world.evidence['zhangsan']}")):
        assert r.status_code == 401 and r.json()["code"] in ("account_disabled", "session_expired"), r.text
        assert r.headers["www-authenticate"] == "Bearer"
    with world.archive.sessions.begin() as db:
        accounts.enable(db, world.archive.custody, username="disabled_a", actor="test")
    assert by_token.get(f"{API}/me").status_code == 200  # the token comes back; the session stays ended
    assert console(world, session).get(f"{API}/me").status_code == 401


def test_an_idle_session_expires_and_the_api_then_answers_401(world: World) -> None:
    token, _ = session_for(world, user_of("auditor"))
    c = console(world, token)
    assert c.get(f"{API}/me").status_code == 200
    idle = world.settings.auth.idle_minutes
    with world.archive.sessions.begin() as db:
        db.execute(update(LoginSession).where(LoginSession.id == accounts.token_digest(token))
                   .values(last_seen_at=utcnow() - dt.timedelta(minutes=idle + 1)))
    for _ in range(2):  # and it stays ended
        r = c.get(f"{API}/evidence")
        assert r.status_code == 401 and r.json()["code"] == "session_expired", r.text


def test_the_consoles_own_refreshing_does_not_keep_an_idle_session_alive(world: World) -> None:
    token, _ = session_for(world, user_of("operator"))
    c = console(world, token)
    idle = world.settings.auth.idle_minutes
    almost = utcnow() - dt.timedelta(minutes=idle - 1)
    with world.archive.sessions.begin() as db:
        db.execute(update(LoginSession).where(LoginSession.id == accounts.token_digest(token))
                   .values(last_seen_at=almost))
    assert c.get(f"{API}/dock", headers={"X-Liuhen-Poll": "1"}).status_code == 200  # the dashboard refreshing
    with world.archive.sessions() as db:
        assert db.get(LoginSession, accounts.token_digest(token)).last_seen_at == almost
    assert c.get(f"{API}/dock").status_code == 200  # the person doing something
    with world.archive.sessions() as db:
        assert db.get(LoginSession, accounts.token_digest(token)).last_seen_at > almost


def test_no_token_or_an_unknown_token_is_401_in_the_error_shape(world: World) -> None:
    assert world.client().get(f"{API}/evidence").json()["code"] == "auth_failed"
    c = world.client()
    c.headers["Authorization"] = "Bearer lh_not-a-token"
    r = c.get(f"{API}/evidence")
    assert r.status_code == 401 and set(r.json()) == {"code", "detail", "message"}
    r = world.client(INVESTIGATOR).delete(f"{API}/me")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed" and r.headers["allow"] == "GET"


# ---------------------------------------------------------------------------- recorders and jobs


def test_assigning_a_recorder_attributes_only_footage_of_the_operators_own_units(world: World) -> None:
    ev = world.evidence
    since = world.last_seq()
    r = world.client(OPERATOR).put(f"{API}/recorders/DSJ-X001/officer", json={"officer_no": "000123"})
    assert r.status_code == 200, r.text
    assert r.json()["attributed_evidence"] == [ev["x1_a"]]  # docked at A's station
    assert r.json()["recorder"]["officer_name"] == "张三"
    city = world.client(user_of("investigator", "city"))
    assert city.get(f"{API}/evidence/{ev['x1_a']}").json()["officer_name"] == "张三"
    b_footage = city.get(f"{API}/evidence/{ev['x1_b']}").json()  # docked at B's station: still B's
    assert (b_footage["unit_code"], b_footage["officer_id"]) == (B, None)
    assert [e.evidence_id for e in new_events(world, since, action="attributed")] == [ev["x1_a"]]
    assert ids(city.get(f"{API}/evidence", params={"q": "张三"})) >= {ev["x1_a"]}  # re-indexed


def test_an_operator_cannot_assign_a_recorder_of_another_unit(world: World) -> None:
    since = world.last_seq()
    op = world.client(OPERATOR)
    r = op.put(f"{API}/recorders/DSJ-X002/officer", json={"officer_no": "000123"})  # last docked in B
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = op.put(f"{API}/recorders/DSJ-A001/officer", json={"officer_no": "000456"})  # 李四 is B's officer
    # answered exactly like an officer that does not exist (issue #10: never tell other units' numbers)
    nobody = op.put(f"{API}/recorders/DSJ-A001/officer", json={"officer_no": "000457"})
    assert r.status_code == nobody.status_code == 404 and r.json()["code"] == "unknown_officer"
    assert r.json()["detail"].replace("000456", "N") == nobody.json()["detail"].replace("000457", "N")
    assert len(new_events(world, since, actor=OPERATOR, action="access_denied")) == 2
    assert new_events(world, since, action="recorder_assigned") == []
    recorders = op.get(f"{API}/recorders")
    assert recorders.status_code == 200, recorders.text
    listed = {x["device_id"] for x in recorders.json()}
    assert "DSJ-A001" in listed and "DSJ-X002" not in listed  # the operator's recorders, not B's
    x2 = world.client(user_of("investigator", "b")).get(f"{API}/evidence/{world.evidence['x2_b']}").json()
    assert (x2["unit_code"], x2["officer_id"]) == (B, None)


def test_jobs_are_listed_for_the_users_units_and_without_file_names_for_the_administrator(world: World) -> None:
    op = world.client(OPERATOR).get(f"{API}/jobs")
    assert op.status_code == 200
    a_ids = {world.evidence[n] for n in ("zhangsan", "zhangsan_2", "wangwu", "stranger", "x1_a")}
    assert {j["evidence_id"] for j in op.json()} <= a_ids
    assert {j["evidence_id"] for j in op.json() if j["state"] == "done"} == a_ids - {world.evidence["x1_a"]}
    admin = world.client(user_of("admin")).get(f"{API}/jobs")
    assert admin.status_code == 200 and len(admin.json()) == len(op.json())
    assert {(j["evidence_id"], j["file_name"]) for j in admin.json()} == {(None, None)}


def test_the_audit_trail_is_bounded_by_units_and_withholds_evidence_details_from_the_administrator(
        world: World) -> None:
    ev = world.evidence
    world.client(user_of("investigator", "b")).get(f"{API}/evidence/{ev['lisi']}")  # an event of unit B's evidence
    world.client(INVESTIGATOR).get(f"{API}/evidence/{ev['zhangsan']}")  # and one of unit A's
    world.client(user_of("investigator", "b")).get(f"{API}/evidence", params={"q": "李四"})  # B searches
    world.client(INVESTIGATOR).get(f"{API}/evidence", params={"q": "张三"})  # A searches
    auditor = world.client(user_of("auditor")).get(f"{API}/audit", params={"per_page": 500}).json()["items"]
    seen = {e["evidence_id"] for e in auditor if e["evidence_id"] is not None}
    assert ev["zhangsan"] in seen and ev["lisi"] not in seen
    searchers = {e["actor"] for e in auditor if e["action"] == "searched"}
    assert f"user:{INVESTIGATOR}" in searchers and f"user:{user_of('investigator', 'b')}" not in searchers
    assert any(e["detail"].get("what") == "record" for e in auditor if e["evidence_id"] == ev["zhangsan"])
    admin = world.client(user_of("admin")).get(f"{API}/audit", params={"per_page": 500}).json()["items"]
    about_evidence = [e for e in admin if e["evidence_id"] is not None]
    assert about_evidence and all(set(e["detail"]) == {"withheld"} for e in about_evidence)
    # events about no evidence (sign-ins, audits, refusals) keep their details for the administrator,
    # but not what was searched for and shown
    assert any(e["action"] == "audit_viewed" and e["detail"].get("role") == "auditor" for e in admin)
    searches = [e for e in admin if e["action"] == "searched"]
    assert searches and all("query" not in e["detail"] and "shown" not in e["detail"] for e in searches)


def test_an_administrator_manages_accounts_of_their_units_through_the_api(world: World) -> None:
    admin = world.client(user_of("admin"))
    with world.archive.sessions.begin() as db:
        u = accounts.add_user(db, world.archive.custody, username="managed_a", password=PASSWORD,
                              role="investigator", unit_code=A, actor="test", settings=world.settings.auth)
        t = accounts.issue_api_token(db, world.archive.custody, user=u, name="tests", actor="test")
    target = world.client()
    target.headers["Authorization"] = f"Bearer {t}"
    since = world.last_seq()

    r = world.client(user_of("investigator")).post(f"{API}/users/managed_a/disable")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    foreign = admin.post(f"{API}/users/{user_of('investigator', 'b')}/disable")
    missing = admin.post(f"{API}/users/nobody_at_all/disable")
    assert foreign.status_code == missing.status_code == 404 and foreign.json()["code"] == "unknown_user"
    assert admin.post(f"{API}/users/{user_of('admin')}/disable").status_code == 403  # not one's own account
    assert len(new_events(world, since, actor=user_of("admin"), action="access_denied")) == 2

    r = admin.post(f"{API}/users/MANAGED_A/disable")  # names compare ignoring case
    assert r.status_code == 200 and r.json() == {"username": "managed_a", "role": "investigator", "disabled": True,
                                                 "must_change_password": False, "legal_qualification": False,
                                                 "officer_no": None}
    r = target.get(f"{API}/me")
    assert r.status_code == 401 and r.json()["code"] == "account_disabled"
    assert admin.post(f"{API}/users/managed_a/enable").json()["disabled"] is False
    assert target.get(f"{API}/me").status_code == 200

    r = target.post(f"{API}/me/password", json={"old_password": "wrong one", "new_password": "一个新的好密码abc"})
    assert r.status_code == 401 and r.json()["code"] == "auth_failed"
    r = target.post(f"{API}/me/password", json={"old_password": PASSWORD, "new_password": "12345678"})
    assert r.status_code == 400 and r.json()["code"] == "weak_password"
    r = target.post(f"{API}/me/password", json={"old_password": PASSWORD, "new_password": "一个新的好密码abc"})
    assert r.status_code == 200, r.text

    r = admin.post(f"{API}/users/managed_a/password", json={"password": "临时的密码请尽快修改"})
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    with pytest.raises(PasswordChangeRequired):
        accounts.authenticate(world.archive.sessions, username="managed_a", password="临时的密码请尽快修改",
                              settings=world.settings.auth)
    r = admin.post(f"{API}/users/managed_a/tokens/revoke", json={})
    assert r.status_code == 200 and r.json() == {"username": "managed_a", "revoked": 1}
    assert target.get(f"{API}/me").status_code == 401
    assert admin.post(f"{API}/users/managed_a/unlock").status_code == 200

    for action in ("user_disabled", "user_enabled", "password_reset", "api_token_revoked", "user_unlocked"):
        assert len(new_events(world, since, actor=user_of("admin"), action=action)) == 1, action
    assert len(new_events(world, since, actor="managed_a", action="password_changed")) == 1
