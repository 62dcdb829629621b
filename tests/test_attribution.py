"""Attribution that cannot be captured, and refusals that leave an event (issue #10, items 6 and 8).

Two agencies, A (110101) and B (120101), each a top-level unit. B's operator assigns a recorder
never seen before to B's officer, and B's records manager registers an officer number that A's
recorders write; then A's station offloads both recorders' files through the real station and the
real HTTP intake (uvicorn). The footage must stay A's (A's investigator sees it, B's does not),
flagged for review, and the answers must never tell B which numbers A holds, or A which B holds.
A station with no unit: its footage is seen by nobody but the top-level administrators until it is
given a unit. Every refusal of the console's sign-in and sign-out, of the station's door and of a
text record upload naming another unit's record is a custody event; nothing is stored for it.

On SQLite and PostgreSQL (``database_url``), with real ffmpeg clips, files and processes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from starlette.testclient import TestClient

from app.web import create_app
from archive import attribution
from archive.context import Archive
from archive.intake import LocalIntake
from archive.models import Evidence
from archive.stations import add_station, set_unit
from auth import service as accounts
from cases import records as text_records
from cases import service as case_service
from hashing import keys
from hashing.digest import Digest
from hashing.models import CustodyEvent
from ingest.http_intake import HttpIntake
from ingest.station import Station
from ingest.wire import Manifest
from liuhen.config import Settings
from tests.docks import put

API = "/api/v1"
A, B = "110101", "120101"
PASSWORD = "正确的马电池订书钉和钥匙"  # 12 characters: enough for an administrator too
BAYS = """
[station.bays.bay1]
device = "DSJ-NEW1"
"""
DCIM = "bay1/DCIM/100MEDIA/VID_0001.MP4"  # names no officer: the recorder's assignment would say whose
CAPTURED_NO = "bay2/DSJ-A009_000777_20261123093000_0001.MP4"  # A's recorder writes 000777, which B registers
OWN_NO = "bay2/DSJ-A009_000123_20261123094000_0002.MP4"  # 张三 of A
PDF = b"%PDF-1.4\n% liuhen attribution\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(BAYS)


class People:
    """Units A and B (both top-level), their officers, one user per (role, unit) with an API token."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.tokens: dict[str, str] = {}
        self.app = create_app(archive)
        with archive.sessions.begin() as db:
            self.units = {A: accounts.add_unit(db, code=A, name="甲市公安局").id,
                          B: accounts.add_unit(db, code=B, name="乙市公安局").id}
            attribution.add_officer(db, archive.custody, officer_no="000123", name="张三", unit_id=self.units[A],
                                    actor="test")
            attribution.add_officer(db, archive.custody, officer_no="000900", name="乙警官", unit_id=self.units[B],
                                    actor="test")
            for role in ("operator", "investigator", "records_manager", "admin"):
                for unit, tag in ((A, "a"), (B, "b")):
                    u = accounts.add_user(db, archive.custody, username=f"{role}_{tag}", password=PASSWORD,
                                          role=role, unit_code=unit, display_name=f"{role} {unit}", actor="test",
                                          settings=archive.settings.auth)
                    self.tokens[u.username] = accounts.issue_api_token(db, archive.custody, user=u, name="t",
                                                                       actor="test")

    def client(self, username: str | None = None) -> TestClient:
        c = TestClient(self.app)
        if username:
            c.headers["Authorization"] = f"Bearer {self.tokens[username]}"
        return c


@pytest.fixture
def people(archive: Archive) -> People:
    return People(archive)


@pytest.fixture
def server(people: People) -> Iterator[str]:
    """The archive's API served by uvicorn, for the station's real HTTP intake."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(people.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        thread.join(15)
        sock.close()


def events(archive: Archive, since: int = 0, **where: Any) -> list[CustodyEvent]:
    with archive.sessions() as db:
        q = select(CustodyEvent).where(CustodyEvent.seq > since)
        for k, v in where.items():
            q = q.where(getattr(CustodyEvent, k) == v)
        rows = list(db.scalars(q.order_by(CustodyEvent.seq)))
        db.expunge_all()
        return rows


def last_seq(archive: Archive) -> int:
    with archive.sessions() as db:
        return db.scalar(select(func.max(CustodyEvent.seq))) or 0


def evidence_of(archive: Archive, sha256: str) -> Evidence:
    with archive.sessions() as db:
        ev = db.scalars(select(Evidence).where(Evidence.sha256 == sha256)).one()
        db.expunge(ev)
        return ev


def offload_http(settings: Settings, server: str, token: str) -> list[str]:
    station = Station(settings.station, HttpIntake(server, token))
    try:
        return sorted(r.status for r in station.offload_once(settings.station.dock_root))
    finally:
        station.close()


def without(number: str, text: str) -> str:
    return re.sub(rf"(?<![0-9]){re.escape(number)}(?![0-9])", "N", text)


# ---------------------------------------------------------------------------- the capture scenario


def test_an_assignment_and_an_officer_number_made_in_b_do_not_capture_footage_offloaded_at_as_station(
        archive: Archive, settings: Settings, people: People, server: str, make_clip: Callable[..., Path]) -> None:
    # in B: a recorder never seen before, assigned to B's officer; and the number A's recorder writes, registered
    r = people.client("operator_b").put(f"{API}/recorders/DSJ-NEW1/officer", json={"officer_no": "000900"})
    assert r.status_code == 200, r.text
    r = people.client("records_manager_b").post(f"{API}/officers", json={
        "officer_no": "000777", "name": "冒名者", "unit_code": B})
    assert r.status_code == 201, r.text

    # later, A's station offloads both recorders through the real station and the real HTTP intake
    token = add_station(archive, station_id=settings.station.id)
    set_unit(archive, station_id=settings.station.id, unit_code=A)
    dock = settings.station.dock_root
    files = {"dcim": put(dock, DCIM, make_clip(seconds=0.5, tone=310)),
             "captured": put(dock, CAPTURED_NO, make_clip(seconds=0.5, tone=320)),
             "own": put(dock, OWN_NO, make_clip(seconds=0.5, tone=330))}
    since = last_seq(archive)
    assert offload_http(settings, server, token) == ["archived"] * 3
    ev = {name: evidence_of(archive, f.sha256).id for name, f in files.items()}

    a, b = people.client("investigator_a"), people.client("investigator_b")
    seen = {name: a.get(f"{API}/evidence/{eid}").json() for name, eid in ev.items()}
    assert {name: x["unit_code"] for name, x in seen.items()} == {"dcim": A, "captured": A, "own": A}
    # the recorder's assignment in B did not win: no officer, flagged
    assert (seen["dcim"]["officer_id"], seen["dcim"]["attribution_review"]) == (
        None, [attribution.REVIEW_RECORDER])
    # the number B registered did not win: the file's number stays, B's officer's name is not shown, flagged
    assert (seen["captured"]["officer_id"], seen["captured"]["officer_name"], seen["captured"]["attribution_review"]
            ) == ("000777", None, [attribution.REVIEW_OFFICER])
    assert (seen["own"]["officer_name"], seen["own"]["attribution_review"]) == ("张三", [])
    missing = b.get(f"{API}/evidence/987654321").json()
    for eid in ev.values():
        r = b.get(f"{API}/evidence/{eid}")
        assert r.status_code == 404 and without(str(eid), r.json()["detail"]) == without("987654321", missing["detail"])
    assert ev["captured"] not in {x["evidence_id"] for x in b.get(f"{API}/evidence").json()["items"]}
    # B's officer's name does not find A's footage (it is not indexed into it)
    assert a.get(f"{API}/evidence", params={"q": "冒名者"}).json()["items"] == []

    flagged = events(archive, since, action="attribution_flagged")
    assert {e.evidence_id: json.loads(e.detail)["review"] for e in flagged} == {
        ev["dcim"]: [attribution.REVIEW_RECORDER], ev["captured"]: [attribution.REVIEW_OFFICER]}
    assert all(e.outcome == "flagged" and "000900" not in e.detail for e in flagged)

    # A's operator sees the recorder docked at A's station, but not B's officer it is assigned to
    listed = {x["device_id"]: x for x in people.client("operator_a").get(f"{API}/recorders").json()}
    assert (listed["DSJ-NEW1"]["officer_no"], listed["DSJ-NEW1"]["officer_name"]) == (None, None)
    # and settles the review by assigning it within A: the recording becomes 张三's, no longer flagged
    r = people.client("operator_a").put(f"{API}/recorders/DSJ-NEW1/officer", json={"officer_no": "000123"})
    assert r.status_code == 200 and r.json()["attributed_evidence"] == [ev["dcim"]], r.text
    after = a.get(f"{API}/evidence/{ev['dcim']}").json()
    assert (after["officer_name"], after["unit_code"], after["attribution_review"]) == ("张三", A, [])
    assert b.get(f"{API}/evidence/{ev['dcim']}").status_code == 404


def test_answers_never_tell_which_officer_numbers_another_unit_holds(archive: Archive, people: People) -> None:
    rm = people.client("records_manager_b")
    since = last_seq(archive)
    held = rm.post(f"{API}/officers", json={"officer_no": "000123", "name": "试探", "unit_code": B})  # A's number
    free = rm.post(f"{API}/officers", json={"officer_no": "000124", "name": "试探", "unit_code": A})  # A's unit
    assert held.status_code == free.status_code == 403
    assert without("000123", held.json()["detail"]).replace(B, "U") == \
        without("000124", free.json()["detail"]).replace(A, "U")
    assert held.json()["code"] == free.json()["code"] == "forbidden"
    assert "exist" not in held.text.lower()
    assert len(events(archive, since, action="access_denied", actor="user:records_manager_b")) == 2
    assert events(archive, since, action="officer_added") == []
    # a number of one's own units may say so (it is on their own officer list)
    own = rm.post(f"{API}/officers", json={"officer_no": "000900", "name": "乙警官", "unit_code": B})
    assert own.status_code == 409 and own.json()["code"] == "officer_exists"

    op = people.client("operator_b")
    since = last_seq(archive)
    foreign = op.put(f"{API}/recorders/DSJ-Q1/officer", json={"officer_no": "000123"})  # A's officer
    nobody = op.put(f"{API}/recorders/DSJ-Q1/officer", json={"officer_no": "000125"})  # no such officer
    assert foreign.status_code == nobody.status_code == 404
    assert without("000123", foreign.json()["detail"]) == without("000125", nobody.json()["detail"])
    assert foreign.json()["code"] == nobody.json()["code"] == "unknown_officer"
    assert len(events(archive, since, action="access_denied", actor="user:operator_b")) == 1  # the foreign one
    assert events(archive, since, action="recorder_assigned") == []


# ---------------------------------------------------------------------------- a station with no unit


def test_footage_of_a_station_with_no_unit_is_seen_only_by_top_level_administrators_until_it_has_one(
        archive: Archive, settings: Settings, people: People, make_clip: Callable[..., Path]) -> None:
    f = put(settings.station.dock_root, OWN_NO, make_clip(seconds=0.5, tone=340))  # names 张三 of A
    station = Station(settings.station, LocalIntake(archive))
    try:
        station.register()
        assert [r.status for r in station.offload_once(settings.station.dock_root)] == ["archived"]
    finally:
        station.close()
    ev = evidence_of(archive, f.sha256)
    assert ev.unit_id is None  # the officer's unit does not take it: the station is no unit's

    for who in ("investigator_a", "investigator_b", "operator_a", "operator_b"):
        assert people.client(who).get(f"{API}/evidence/{ev.id}").status_code == 404, who
    for who in ("operator_a", "operator_b"):  # (operators of top-level units saw that dock, issue #10)
        stations = {s["station_id"] for s in people.client(who).get(f"{API}/dock").json()}
        assert settings.station.id not in stations, who
    admin = {s["station_id"] for s in people.client("admin_a").get(f"{API}/dock").json()}
    assert settings.station.id in admin

    since = last_seq(archive)
    assert set_unit(archive, station_id=settings.station.id, unit_code=A) == [ev.id]
    r = people.client("investigator_a").get(f"{API}/evidence/{ev.id}")
    assert r.status_code == 200 and (r.json()["unit_code"], r.json()["officer_name"]) == (A, "张三")
    assert people.client("investigator_b").get(f"{API}/evidence/{ev.id}").status_code == 404
    moved = events(archive, since, action="attributed")
    assert [(e.evidence_id, json.loads(e.detail)["unit_from"]) for e in moved] == [(ev.id, "officer")]


# ---------------------------------------------------------------------------- every refusal an event


def test_a_forged_or_stale_console_sign_in_and_sign_out_are_custody_events(archive: Archive, people: People) -> None:
    c = people.client()
    since = last_seq(archive)
    r = c.post("/login", data={"username": "investigator_a", "password": PASSWORD, "login_csrf": "forged"})
    assert r.status_code == 403
    (ev,) = events(archive, since, action="sign_in_failed")
    assert ev.outcome == "denied" and json.loads(ev.detail)["reason"] == "login_csrf"

    page = c.get("/login")
    form_token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert form_token, page.text[:500]
    r = c.post("/login", data={"username": "investigator_a", "password": PASSWORD, "login_csrf": form_token[1],
                               "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    since = last_seq(archive)
    r = c.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    (ev,) = events(archive, since, action="access_denied")
    detail = json.loads(ev.detail)
    assert (ev.actor, ev.outcome, detail["permission"], detail["path"]) == (
        "user:investigator_a", "denied", "csrf", "/logout")
    assert events(archive, since, action="signed_out") == []
    assert c.get(f"{API}/me").status_code == 200  # the forged form did not end the session


def test_the_station_door_records_a_wrong_token_a_forged_signature_and_another_stations_manifest(
        archive: Archive, people: People, server: str, make_clip: Callable[..., Path], tmp_path: Path) -> None:
    token = add_station(archive, station_id="st1")
    key = keys.load_or_create(tmp_path / "st1.ed25519")
    with HttpIntake(server, token) as intake:
        intake.register(station_id="st1", public_pem=key.public_pem)

    since = last_seq(archive)
    for auth in ({"Authorization": "Bearer not-a-token"}, {}):
        r = httpx.post(f"{server}{API}/intake/uploads", headers=auth, json={"manifest_b64": "", "signature_b64": ""})
        assert r.status_code == 401
    refused = events(archive, since, action="access_denied")
    assert [(e.actor, e.outcome, json.loads(e.detail)["path"]) for e in refused] == [
        ("station:unknown", "denied", f"{API}/intake/uploads")] * 2

    clip = make_clip(seconds=0.5, tone=350)
    data = clip.read_bytes()
    now = dt.datetime.now(dt.UTC).isoformat()

    def manifest(station_id: str) -> bytes:
        return Manifest(manifest_id=str(uuid.uuid4()), station_id=station_id, station_key_id=key.key_id, bay="b1",
                        layout="pattern", original_path="DEV1_OFF1_20240501120000_1.mp4",
                        original_path_hex=b"DEV1_OFF1_20240501120000_1.mp4".hex(), path_encoding="utf-8",
                        sha256=Digest.of_bytes(data).hex, size=len(data), file_mtime=now, staged_at=now,
                        tool="liuhen-station", tool_version="0.1", hash_tool="hashlib.sha256").to_bytes()

    impostor = keys.load_or_create(tmp_path / "impostor.ed25519")
    for body, sig, status in ((manifest("st1"), impostor.sign(manifest("st1")), 422),  # forged signature
                              (manifest("st2"), key.sign(manifest("st2")), 403)):  # another station's manifest
        since = last_seq(archive)
        r = httpx.post(f"{server}{API}/intake/uploads", headers={"Authorization": f"Bearer {token}"},
                       json={"manifest_b64": base64.b64encode(body).decode(),
                             "signature_b64": base64.b64encode(sig).decode()})
        assert r.status_code == status, r.text
        (ev,) = events(archive, since, action="access_denied")
        assert (ev.actor, ev.outcome, json.loads(ev.detail)["permission"]) == ("station:st1", "denied", "intake")
    since = last_seq(archive)
    r = httpx.post(f"{server}{API}/intake/register", headers={"Authorization": f"Bearer {token}"},
                   json={"public_key_pem": key.public_pem, "station_id": "st2"})  # in another station's name
    assert r.status_code == 403
    (ev,) = events(archive, since, action="access_denied")
    assert (ev.actor, json.loads(ev.detail)["reason"]) == ("station:st1", "request for station st2")
    root = archive.settings.archive.upload_path
    assert not root.exists() or list(root.iterdir()) == []  # nothing was written for a refused upload


def test_an_upload_naming_another_units_text_record_is_refused_like_a_missing_one_and_stores_nothing(
        archive: Archive, settings: Settings, people: People) -> None:
    with archive.sessions.begin() as db:
        ids = {u: case_service.create_case(db, archive.custody, settings.cases, unit_id=people.units[u], unit_code=u,
                                           category="行政强制", title=f"文书 {u}", actor="test").id for u in (A, B)}
    a_record = text_records.add_form(archive, case_id=ids[A], actor="test", kind="决定书", fields={
        "party": "某商店", "facts": "无证经营", "law": "《行政处罚法》", "decision": "责令改正",
        "remedy": "六十日内申请复议", "decided_on": "2026-11-23"}).record_id
    store = settings.archive.store_path

    def stored() -> list[Path]:
        return sorted(p for p in store.rglob("*") if p.is_file())

    before, since = stored(), last_seq(archive)
    rm = people.client("records_manager_b")
    answers = []
    for record_id in (a_record, 987654321):
        r = rm.post(f"{API}/cases/{ids[B]}/records", files={"file": ("决定.pdf", PDF, "application/pdf")},
                    data={"kind": "决定书", "record_id": str(record_id)})
        answers.append((r.status_code, r.json()["code"], without(str(record_id), r.json()["detail"])))
    assert answers[0] == answers[1] and answers[0][0] >= 400, answers
    assert stored() == before  # no unreferenced object in the store
    denied = events(archive, since, action="access_denied")
    assert [(e.actor, e.outcome) for e in denied] == [("user:records_manager_b", "denied")]
    assert A not in json.dumps(answers, ensure_ascii=False)  # A's case (number 110101-…) is never named
    assert events(archive, since, action="record_revised") == events(archive, since, action="record_added") == []


def test_another_units_case_step_and_record_answer_like_missing_ones_and_cost_the_same(
        archive: Archive, settings: Settings, people: People) -> None:
    """The same status, code and sentence (but for the number) for a foreign and a missing step, text
    record and case; each lookup writes and commits one event (``access_denied`` for the foreign one,
    ``not_found`` for the missing one), so both take the same path: the same timing class."""
    with archive.sessions.begin() as db:
        c = case_service.create_case(db, archive.custody, settings.cases, unit_id=people.units[A], unit_code=A,
                                     category="行政强制", title="甲案", actor="test")
        st = case_service.add_step(db, archive.custody, settings.cases, case=c, kind="现场检查",
                                   started_at=dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC),
                                   ended_at=dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC), actor="test")
        case_id, step_id, number = c.id, st.id, c.number
    record_id = text_records.add_form(archive, case_id=case_id, actor="test", kind="决定书", fields={
        "party": "某商店", "facts": "无证经营", "law": "《行政处罚法》", "decision": "责令改正",
        "remedy": "六十日内申请复议", "decided_on": "2026-11-23"}).record_id
    b = people.client("investigator_b")
    for path, ident in (("/cases/steps/{}/suggestions", step_id), ("/cases/records/{}/versions/1", record_id),
                        ("/cases/{}", case_id), ("/cases/{}/coverage", case_id)):
        since = last_seq(archive)
        foreign, missing = b.get(API + path.format(ident)), b.get(API + path.format(987654321))
        assert foreign.status_code == missing.status_code == 404, path
        assert foreign.json()["code"] == missing.json()["code"]
        assert without(str(ident), foreign.json()["detail"]) == without("987654321", missing.json()["detail"])
        assert number not in foreign.text and str(case_id) not in without(str(ident), foreign.json()["detail"])
        assert [(e.action, e.outcome) for e in events(archive, since)] == [
            ("access_denied", "denied"), ("not_found", "failure")], path
