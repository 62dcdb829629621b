"""Legal holds (保全): each scope holds what it should, a case or officer hold grows with the archive,
release needs a reason and gives the retention back, another unit's evidence or case answers like a
missing one (API: the same 404 body, an ``access_denied`` event), every bound row stays bound, the CLI,
and Object Lock mirrored onto a lock-enabled bucket of moto's S3 server (read back with boto3).
Real archive on SQLite and PostgreSQL, real files through the real station."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.runtime import open_archive
from archive.models import Evidence
from archive.stations import set_unit
from archive.verify import Report
from auth.service import add_unit
from cases.models import Case
from cases.service import add_step, create_case, get_step, link
from hashing.binding import bound
from hashing.models import CustodyEvent
from integrity.bindings import check_rows
from liuhen import config
from liuhen.db import utcnow
from liuhen.errors import NotFound
from retention import holds
from retention.bindings import DISPOSAL
from retention.errors import ReasonRequired, UnknownHold
from retention.models import Disposal, HoldItem, LegalHold, RetentionState
from tests.conftest import write_config
from tests.retention_world import ACTOR, OTHER_UNIT, UNIT, A, B, RWorld, local
from tests.s3fixture import S3Server, s3_server  # noqa: F401

DAY = dt.timedelta(days=1)


# ---------------------------------------------------------------------------- helpers


def state(w: RWorld, eid: int) -> RetentionState:
    with w.archive.sessions() as db:
        s = db.get(RetentionState, eid)
        assert s is not None
        db.expunge(s)
        return s


def place(w: RWorld, kind: str, scope: dict[str, Any], *, reason: str = "行政复议受理 2026-18",
          units: frozenset[int] | None = None, actor: str = ACTOR) -> tuple[int, holds.Placed]:
    with w.archive.sessions.begin() as db:
        h = holds.place(db, w.archive.custody, scope_kind=kind, scope=scope, reason=reason, actor=actor,
                        unit_id=None, visible_units=frozenset({w.unit_id}) if units is None else units)
        return h.id, holds.outcome(h)


def release(w: RWorld, hold_id: int, reason: str = "复议决定已生效") -> LegalHold:
    with w.archive.sessions.begin() as db:
        h = holds.release(db, w.archive.custody, hold_id=hold_id, reason=reason, actor=ACTOR,
                          visible_units=frozenset({w.unit_id}))
        db.flush()
        db.expunge(h)
        return h


def held(w: RWorld, hold_id: int) -> set[int]:
    with w.archive.sessions() as db:
        return set(db.scalars(select(HoldItem.evidence_id).where(HoldItem.hold_id == hold_id)))


def events(w: RWorld, action: str, since: int = 0) -> list[dict[str, Any]]:
    with w.archive.sessions() as db:
        return [{"seq": e.seq, "actor": e.actor, "evidence_id": e.evidence_id, "outcome": e.outcome,
                 **json.loads(e.detail)}
                for e in db.scalars(select(CustodyEvent).where(CustodyEvent.action == action, CustodyEvent.seq > since)
                                    .order_by(CustodyEvent.seq))]


def last_seq(w: RWorld) -> int:
    with w.archive.sessions() as db:
        return db.scalar(select(CustodyEvent.seq).order_by(CustodyEvent.seq.desc()).limit(1)) or 0


def foreign(w: RWorld, n: int = 1, recorded: str = "20200201093000") -> list[int]:
    """Evidence of the other unit: offloaded while the station was that unit's (officer unknown here)."""
    set_unit(w.archive, station_id=w.settings.station.id, unit_code=OTHER_UNIT)
    try:
        return w.fresh(n, recorded=recorded, officer="000999")
    finally:
        set_unit(w.archive, station_id=w.settings.station.id, unit_code=UNIT)


def foreign_case(w: RWorld, link_ids: list[int]) -> int:
    with w.archive.sessions.begin() as db:
        c = create_case(db, w.archive.custody, w.settings.cases, unit_id=w.other_unit_id, unit_code=OTHER_UNIT,
                        category="行政处罚", title="他单位案件", actor=ACTOR)
        st = add_step(db, w.archive.custody, w.settings.cases, case=c, kind="现场检查",
                      started_at=local("20200101090000"), ended_at=local("20200101100000"), actor=ACTOR)
        for eid in link_ids:
            ev = db.get(Evidence, eid)
            assert ev is not None
            link(db, w.archive.custody, step=st, evidence=ev, actor=ACTOR)
        return c.id


def disposal(w: RWorld, eid: int, state_: str) -> None:
    """A disposal row as the disposal service writes it (bound, with its event)."""
    with w.archive.sessions.begin() as db:
        now = utcnow()
        d = Disposal(evidence_id=eid, state="pending", rule="{}", scheduled_at=now, scheduled_by="system:retention",
                     due_at=now + 30 * DAY)
        db.add(d)
        db.flush()
        for step in ("destroying", "destroyed")[:{"pending": 0, "destroying": 1, "destroyed": 2}[state_]]:
            d.state = step  # (the database lets a disposal pass only pending → destroying → destroyed)
            d.destroy_started_at = d.destroy_started_at or now
            if step == "destroyed":
                d.destroyed_at, d.destroyed_keys = now, "[]"
            db.flush()
        w.archive.custody.record(db, actor="system:retention", action=f"disposal_{state_}", tool="test",
                                 tool_version="0", evidence_id=eid, detail={"bound": bound((DISPOSAL, d))})


def bindings_clean(w: RWorld) -> None:
    report = Report()
    check_rows(w.archive, report)
    bad = [f for f in report.failures if f.kind in ("row_unbound", "row_changed", "row_deleted")]
    assert bad == [], [f.detail for f in bad]


# ---------------------------------------------------------------------------- each scope


def test_an_evidence_hold_holds_them_and_names_the_hold_in_the_retention_change(rworld: RWorld) -> None:
    x, y, z = rworld.fresh(3, recorded="20200301093000")
    since = last_seq(rworld)
    hid, did = place(rworld, "evidence", {"evidence": [x, y]})
    assert held(rworld, hid) == {x, y} and did.held == 2 and did.destroyed == []
    assert state(rworld, x).keep == "held" and state(rworld, y).keep == "held" and state(rworld, z).keep == "until"
    (ev,) = events(rworld, "hold_placed", since)
    assert ev["hold_id"] == hid and ev["scope"] == {"evidence": sorted([x, y])} and ev["count"] == 2
    assert ev["reason"] == "行政复议受理 2026-18" and ev["actor"] == ACTOR
    assert set(ev["bound"]) == {f"legal_holds:{hid}"} | {f"hold_items:{i}" for i in _item_ids(rworld, hid)}
    (changed,) = events(rworld, "retention_changed", since)
    assert changed["hold_id"] == hid and changed["reason"] == "hold_placed" and changed["actor"] == ACTOR
    assert sorted(c[0] for c in changed["changes"]) == sorted([x, y]) and {c[2] for c in changed["changes"]} == {"held"}
    with rworld.archive.sessions() as db:
        assert [h.id for h in holds.holds_on(db, x)] == [hid] and holds.holds_on(db, z) == []
    bindings_clean(rworld)


def _item_ids(w: RWorld, hold_id: int) -> list[int]:
    with w.archive.sessions() as db:
        return list(db.scalars(select(HoldItem.id).where(HoldItem.hold_id == hold_id)))


def test_a_case_hold_holds_its_evidence_and_takes_a_recording_linked_later(rworld: RWorld) -> None:
    x, later, other = rworld.fresh(3, recorded="20200302093000")
    case_id = rworld.case(link=[x])
    with rworld.archive.sessions() as db:
        number = db.get(Case, case_id).number  # type: ignore[union-attr]
    hid, did = place(rworld, "case", {"case_id": case_id})
    assert held(rworld, hid) == {x} and state(rworld, x).keep == "held"
    since = last_seq(rworld)
    step_id = rworld.step_of(case_id)
    with rworld.archive.sessions.begin() as db:
        ev = db.get(Evidence, later)
        assert ev is not None
        link(db, rworld.archive.custody, step=get_step(db, step_id), evidence=ev, actor=ACTOR)
    assert held(rworld, hid) == {x, later} and state(rworld, later).keep == "held"
    (ext,) = events(rworld, "hold_extended", since)
    assert ext["hold_id"] == hid and ext["items"] == [later] and ext["actor"] == "system:legal-hold"
    assert state(rworld, other).keep == "until"
    # by its number too
    hid2, _ = place(rworld, "case", {"number": number})
    assert held(rworld, hid2) == {x, later}
    bindings_clean(rworld)


def test_an_officer_hold_takes_footage_of_its_range_received_later_and_not_outside_it(rworld: RWorld) -> None:
    before = rworld.fresh(1, recorded="20200401100000", officer=B)
    hid, did = place(rworld, "officer", {"officer": B, "from": local("20200401000000").isoformat(),
                                         "to": local("20200401235959").isoformat()})
    assert held(rworld, hid) == set(before) and did.held == 1
    inside = rworld.fresh(2, recorded="20200401150000", officer=B)
    outside = rworld.fresh(1, recorded="20200402150000", officer=B)
    someone_else = rworld.fresh(1, recorded="20200401150000", officer=A)
    assert held(rworld, hid) == set(before) | set(inside)
    assert {state(rworld, i).keep for i in inside} == {"held"}
    assert state(rworld, outside[0]).keep == "until" and state(rworld, someone_else[0]).keep == "until"
    bindings_clean(rworld)


def test_a_saved_search_hold_holds_what_matched_when_placed(rworld: RWorld) -> None:
    hits = rworld.fresh(2, recorded="20200501093000", device="DSJ-S77")
    miss = rworld.fresh(1, recorded="20200501093000", device="DSJ-S78")
    hid, did = place(rworld, "search", {"query": {"device": "DSJ-S77", "start": "2020-05-01T00:00:00+08:00"}})
    assert held(rworld, hid) == set(hits) and did.held == 2
    assert state(rworld, miss[0]).keep == "until"
    later = rworld.fresh(1, recorded="20200501100000", device="DSJ-S77")
    assert held(rworld, hid) == set(hits) and state(rworld, later[0]).keep == "until"  # what matched when placed
    with rworld.archive.sessions() as db:
        h = db.get(LegalHold, hid)
        assert h is not None and json.loads(h.scope)["query"]["device"] == "DSJ-S77"
    with pytest.raises(holds.RetentionError, match="unknown fields: colour"):
        place(rworld, "search", {"query": {"colour": "red"}})
    with pytest.raises(holds.NothingMatches, match="matches nothing"):
        place(rworld, "search", {"query": {"device": "DSJ-NONE"}})


# ---------------------------------------------------------------------------- release, reasons, disposal states


def test_release_needs_a_reason_gives_the_retention_back_and_twice_says_when_and_by_whom(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20200601093000")
    before = state(rworld, x)
    with pytest.raises(ReasonRequired):
        place(rworld, "evidence", {"evidence": [x]}, reason="  ")
    hid, _ = place(rworld, "evidence", {"evidence": [x]})
    assert state(rworld, x).keep == "held" and state(rworld, x).retain_until is None
    with pytest.raises(ReasonRequired):
        release(rworld, hid, reason="")
    assert state(rworld, x).keep == "held"
    since = last_seq(rworld)
    h = release(rworld, hid)
    assert h.released_by == ACTOR and h.release_reason == "复议决定已生效"
    after = state(rworld, x)
    assert (after.keep, after.retain_until) == (before.keep, before.retain_until)
    (ev,) = events(rworld, "hold_released", since)
    assert ev["hold_id"] == hid and set(ev["bound"]) == {f"legal_holds:{hid}"}
    (changed,) = events(rworld, "retention_changed", since)
    assert changed["reason"] == "hold_released" and changed["hold_id"] == hid
    with pytest.raises(holds.HoldReleased, match=f"released already, at .* by {ACTOR}"):
        release(rworld, hid)
    with rworld.archive.sessions() as db:
        assert holds.holds_on(db, x) == []
        assert hid not in [h.id for h in holds.holds_of(db, units=frozenset({rworld.unit_id}), active=True)]
        assert hid in [h.id for h in holds.holds_of(db, units=frozenset({rworld.unit_id}), active=False)]
    bindings_clean(rworld)


def test_destroyed_evidence_is_not_held_and_pending_disposal_is_counted(rworld: RWorld) -> None:
    gone, pending, plain = rworld.fresh(3, recorded="20100101093000")
    disposal(rworld, gone, "destroyed")
    disposal(rworld, pending, "pending")
    hid, did = place(rworld, "evidence", {"evidence": [gone, pending, plain]})
    assert held(rworld, hid) == {pending, plain}
    assert did.destroyed == [gone] and did.pending_disposal == [pending] and did.held == 2
    (ev,) = [e for e in events(rworld, "hold_placed") if e["hold_id"] == hid]
    assert ev["destroyed_not_held"] == [gone] and ev["pending_disposal"] == 1
    with rworld.archive.sessions() as db:
        d = db.scalar(select(Disposal).where(Disposal.evidence_id == pending))
        assert d is not None and d.state == "pending"  # left pending: the run checks again, the trigger refuses
    with pytest.raises(holds.RetentionError, match="destroyed already"):
        place(rworld, "evidence", {"evidence": [gone]})
    bindings_clean(rworld)


def test_a_large_hold_is_bound_in_chunks(rworld: RWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holds, "CHUNK", 3)
    ids = rworld.fresh(7, recorded="20200701093000")
    since = last_seq(rworld)
    hid, _ = place(rworld, "evidence", {"evidence": ids})
    placed, extended = events(rworld, "hold_placed", since), events(rworld, "hold_extended", since)
    assert len(placed) == 1 and len(placed[0]["bound"]) == 3  # the hold and 2 items
    assert [len(e["bound"]) for e in extended] == [3, 2]
    assert sorted(placed[0]["items"] + [i for e in extended for i in e["items"]]) == sorted(ids)
    bindings_clean(rworld)


# ---------------------------------------------------------------------------- another unit


def test_another_units_evidence_case_or_hold_answers_like_a_missing_one(rworld: RWorld) -> None:
    (theirs,) = foreign(rworld)
    (mine,) = rworld.fresh(1, recorded="20200801093000")
    units = frozenset({rworld.unit_id})
    with pytest.raises(holds.HiddenEvidence) as e1:
        place(rworld, "evidence", {"evidence": [theirs]})
    with pytest.raises(holds.HiddenEvidence) as e2:
        place(rworld, "evidence", {"evidence": [987654321]})
    assert e1.value.foreign == [theirs] and e2.value.missing == [987654321]
    assert e1.value.to_dict() == {k: v.replace("987654321", str(theirs)) for k, v in e2.value.to_dict().items()}
    assert held(rworld, 0) == set()
    assert state(rworld, theirs).keep == "until"
    their_case = foreign_case(rworld, [theirs])
    with pytest.raises(holds.HiddenCase) as c1:
        place(rworld, "case", {"case_id": their_case})
    with pytest.raises(holds.HiddenCase) as c2:
        place(rworld, "case", {"case_id": 987654321})
    assert c1.value.code == c2.value.code == "unknown_case" and c1.value.foreign is not None
    # an officer or search hold takes only what the user may see
    other_hold, _ = place(rworld, "officer", {"officer": "000999", "from": "2020-02-01T00:00:00+08:00",
                                               "to": "2020-02-02T00:00:00+08:00"})
    assert held(rworld, other_hold) == set()
    # the other unit's hold
    their_hold, _ = place(rworld, "evidence", {"evidence": [theirs]}, units=frozenset({rworld.other_unit_id}))
    with rworld.archive.sessions() as db:
        with pytest.raises(UnknownHold) as h1:
            holds.get_hold(db, their_hold, units=units)
        with pytest.raises(UnknownHold) as h2:
            holds.get_hold(db, 987654321, units=units)
    assert h1.value.to_dict()["code"] == h2.value.to_dict()["code"] == "unknown_hold"
    with pytest.raises(UnknownHold):
        release(rworld, their_hold)
    assert isinstance(h1.value, NotFound)
    del mine


# ---------------------------------------------------------------------------- the API


@pytest.fixture(scope="module")
def api(rworld: RWorld) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from app.web import create_app
    from auth import service as accounts

    tokens: dict[str, str] = {}
    with rworld.archive.sessions.begin() as db:
        for name, role, unit in (("rm_a", "records_manager", UNIT), ("lr_a", "legal_reviewer", UNIT),
                                 ("inv_a", "investigator", UNIT), ("aud_a", "auditor", UNIT),
                                 ("rm_b", "records_manager", OTHER_UNIT)):
            u = accounts.add_user(db, rworld.archive.custody, username=name, password="保全测试用的密码一二三",
                                  role=role, unit_code=unit, actor=ACTOR, settings=rworld.settings.auth)
            tokens[name] = accounts.issue_api_token(db, rworld.archive.custody, user=u, name="holds tests",
                                                    actor=ACTOR)
    app = create_app(rworld.archive, sweep=False)
    with TestClient(app) as client:
        def call(user: str, method: str, path: str, **kw: Any) -> Any:
            return client.request(method, "/api/v1" + path, headers={"Authorization": f"Bearer {tokens[user]}"}, **kw)
        yield call


def denied_events(w: RWorld, user: str, since: int) -> list[dict[str, Any]]:
    return [e for e in events(w, "access_denied", since) if e["actor"] == f"user:{user}"]


def test_api_place_list_show_release(rworld: RWorld, api: Any) -> None:
    x, y = rworld.fresh(2, recorded="20200901093000")
    r = api("rm_a", "POST", "/holds", json={"scope_kind": "evidence", "scope": {"evidence": [x, y]},
                                           "reason": "法院调取"})
    assert r.status_code == 201, r.text
    body = r.json()
    hid = body["hold_id"]
    assert body["active"] is True and body["held"] == 2 and body["items"] == 2 and body["unit_id"] == rworld.unit_id
    assert state(rworld, x).keep == "held"
    listed = api("aud_a", "GET", "/holds", params={"active": "true"})
    assert listed.status_code == 200 and hid in [h["hold_id"] for h in listed.json()]
    shown = api("lr_a", "GET", f"/holds/{hid}", params={"limit": 1})
    assert shown.status_code == 200 and [i["evidence_id"] for i in shown.json()["evidence"]] == [min(x, y)]
    assert shown.json()["items"] == 2
    no_reason = api("rm_a", "POST", f"/holds/{hid}/release", json={"reason": " "})
    assert no_reason.status_code in (400, 422)
    rel = api("lr_a", "POST", f"/holds/{hid}/release", json={"reason": "判决生效"})
    assert rel.status_code == 200 and rel.json()["active"] is False and rel.json()["released_by"] == "user:lr_a"
    again = api("rm_a", "POST", f"/holds/{hid}/release", json={"reason": "再次"})
    assert again.status_code == 409 and again.json()["code"] == "hold_released"
    assert state(rworld, x).keep == "until"
    since = last_seq(rworld)
    refused = api("inv_a", "POST", "/holds", json={"scope_kind": "evidence", "scope": {"evidence": [x]},
                                                  "reason": "x"})
    assert refused.status_code == 403
    (ev,) = denied_events(rworld, "inv_a", since)
    assert ev["permission"] == "retention.hold" and ev["reason"] == "role"


def test_api_another_units_evidence_case_and_hold_answer_404_like_missing_ones_and_are_refusals(
        rworld: RWorld, api: Any) -> None:
    (theirs,) = foreign(rworld, recorded="20201001093000")
    their_case = foreign_case(rworld, [theirs])
    since = last_seq(rworld)
    f = api("rm_a", "POST", "/holds", json={"scope_kind": "evidence", "scope": {"evidence": [theirs]},
                                           "reason": "探测"})
    m = api("rm_a", "POST", "/holds", json={"scope_kind": "evidence", "scope": {"evidence": [987654321]},
                                           "reason": "探测"})
    assert f.status_code == m.status_code == 404
    assert f.json() == {k: v.replace("987654321", str(theirs)) for k, v in m.json().items()}
    (ev,) = denied_events(rworld, "rm_a", since)
    assert ev["evidence_id"] == theirs and ev["permission"] == "retention.hold" and ev["reason"] == "unit"
    assert ev["outcome"] == "denied"
    assert [e["what"] for e in events(rworld, "not_found", since) if e["actor"] == "user:rm_a"] == ["evidence"]
    since = last_seq(rworld)
    fc = api("rm_a", "POST", "/holds", json={"scope_kind": "case", "scope": {"case_id": their_case}, "reason": "探测"})
    mc = api("rm_a", "POST", "/holds", json={"scope_kind": "case", "scope": {"case_id": 987654321}, "reason": "探测"})
    assert fc.status_code == mc.status_code == 404
    assert fc.json() == {k: v.replace("987654321", str(their_case)) for k, v in mc.json().items()}
    assert len(denied_events(rworld, "rm_a", since)) == 1
    # the other unit's hold
    theirs_hold = api("rm_b", "POST", "/holds", json={"scope_kind": "evidence", "scope": {"evidence": [theirs]},
                                                     "reason": "他单位保全"})
    assert theirs_hold.status_code == 201, theirs_hold.text
    th = theirs_hold.json()["hold_id"]
    since = last_seq(rworld)
    for method, suffix, kw in (("GET", "", {}), ("POST", "/release", {"json": {"reason": "探测"}})):
        a = api("rm_a", method, f"/holds/{th}{suffix}", **kw)
        b = api("rm_a", method, f"/holds/987654321{suffix}", **kw)
        assert a.status_code == b.status_code == 404
        assert a.json() == {k: v.replace("987654321", str(th)) for k, v in b.json().items()}
    assert len(denied_events(rworld, "rm_a", since)) == 2
    assert th not in [h["hold_id"] for h in api("rm_a", "GET", "/holds").json()]
    assert state(rworld, theirs).keep == "held"  # still held: nobody of this unit released it
    bindings_clean(rworld)


# ---------------------------------------------------------------------------- the CLI


def test_cli_place_list_show_release_with_json(rworld: RWorld, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    x, y = rworld.fresh(2, recorded="20201101093000")
    cfg = str(rworld.settings.config_path)
    assert main(["retention", "hold", "place", "--config", cfg, "--evidence", str(x), str(y), "--reason", "诉讼保全",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    hid = out["hold_id"]
    assert out["held"] == 2 and out["scope"] == {"evidence": sorted([x, y])} and out["placed_by"].startswith("cli:")
    assert out["locks"] == {"supported": False}
    assert state(rworld, x).keep == "held"
    assert main(["retention", "hold", "list", "--config", cfg, "--active", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert hid in [h["hold_id"] for h in listed["holds"]]
    assert main(["retention", "hold", "show", str(hid), "--config", cfg, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(i["evidence_id"] for i in shown["evidence"]) == sorted([x, y])
    assert main(["retention", "hold", "release", str(hid), "--config", cfg, "--reason", " ", "--json"]) == 1
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["code"] == "reason_required"
    assert main(["retention", "hold", "release", str(hid), "--config", cfg, "--reason", "裁定解除", "--json"]) == 0
    rel = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rel["active"] is False and rel["release_reason"] == "裁定解除"
    assert state(rworld, x).keep == "until"
    assert main(["retention", "hold", "show", "987654321", "--config", cfg, "--json"]) == 1
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["code"] == "unknown_hold"
    bindings_clean(rworld)


# ---------------------------------------------------------------------------- Object Lock on S3


@pytest.fixture
def s3world(s3_server: S3Server, tmp_path: Path) -> Iterator[tuple[RWorld, str]]:  # noqa: F811
    from archive.attribution import add_officer
    from archive.intake import LocalIntake
    from ingest.station import Station

    bucket = s3_server.make_bucket(object_lock=True)
    s3 = s3_server.settings(bucket)
    p = write_config(tmp_path, f"sqlite:///{tmp_path / 'var' / 'liuhen.db'}",
                     f'\n[s3]\nbucket = "{bucket}"\nendpoint_url = "{s3.endpoint_url}"\n'
                     f'access_key_id = "{s3.access_key_id}"\nsecret_access_key = "{s3.secret_access_key}"\n')
    p.write_text(p.read_text().replace('store = "local"', 'store = "s3"'))
    settings = config.load(p, environ={})
    archive = open_archive(settings)
    with archive.sessions.begin() as db:
        unit = add_unit(db, code=UNIT, name="东城区综合行政执法大队")
        other = add_unit(db, code=OTHER_UNIT, name="西城区综合行政执法大队")
        add_officer(db, archive.custody, officer_no=A, name="张三", unit_id=unit.id, actor=ACTOR)
        ids = (unit.id, other.id)
    station = Station(settings.station, LocalIntake(archive))
    try:
        station.register()
    finally:
        station.close()
    set_unit(archive, station_id=settings.station.id, unit_code=UNIT)
    try:
        yield RWorld(settings, archive, ids[0], ids[1], tmp_path, "sqlite"), bucket
    finally:
        archive.close()


def _lock(s3_server: S3Server, bucket: str, key: str, version: str | None) -> tuple[str, dt.datetime | None]:  # noqa: F811
    c = s3_server.client()
    args = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
    hold = c.get_object_legal_hold(**args)["LegalHold"].get("Status", "OFF")  # (none set yet: moto says nothing)
    head = c.head_object(**args)
    return hold, head.get("ObjectLockRetainUntilDate")


def _derived(w: RWorld, eid: int, folder: Path) -> tuple[str, str | None]:
    """A derived file of ``eid`` in the store (as the media workers write one), with its row."""
    import hashlib
    import os

    from archive.models import DerivedFile
    from hashing.digest import Digest

    data = os.urandom(2048)
    src = folder / "poster.jpg"
    src.write_bytes(data)
    stored = w.archive.store.put_file(src, Digest(hashlib.sha256(data).hexdigest()), len(data), namespace="derived")
    with w.archive.sessions.begin() as db:
        ev = db.get(Evidence, eid)
        assert ev is not None
        db.add(DerivedFile(evidence_id=eid, source_sha256=ev.sha256, kind="poster", sha256=stored.digest.hex,
                           size=len(data), mime="image/jpeg", store_key=stored.key, store_version=stored.version,
                           tool="test", tool_version="0", command="[]", detail="{}"))
    return stored.key, stored.version


def test_object_lock_legal_hold_follows_the_hold_and_retain_until_only_grows(
        s3world: tuple[RWorld, str], s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    w, bucket = s3world
    today = dt.datetime.now(dt.UTC).astimezone(local("20200101000000").tzinfo)
    x, y = w.fresh(2, recorded=today.strftime("%Y%m%d%H%M%S"))
    with w.archive.sessions() as db:
        objs = {e.id: (e.store_key, e.store_version) for e in db.scalars(select(Evidence).where(Evidence.id.in_([x, y])))}
    derived = _derived(w, x, tmp_path)  # a poster of x: its derived file is locked with it
    assert w.archive.store.supports_lock()
    first = holds.sync_locks(w.archive)  # the keep-until of new footage mirrored as retain-until
    assert first["supported"] is True and first["failed"] == [] and first["extended"] == 2
    until_x = state(w, x).retain_until
    assert until_x is not None and state(w, x).lock_until == until_x
    hold_state, retain = _lock(s3_server, bucket, *objs[x])
    assert hold_state == "OFF" and retain is not None and retain >= until_x
    assert (_lock(s3_server, bucket, *derived)[1] or until_x) >= until_x and _lock(s3_server, bucket, *derived)[1]
    hid, _ = place(w, "evidence", {"evidence": [x]})
    got = holds.sync_locks(w.archive)
    assert got["hold_on"] == 1 and got["failed"] == []
    assert _lock(s3_server, bucket, *objs[x])[0] == "ON" and _lock(s3_server, bucket, *objs[y])[0] == "OFF"
    assert _lock(s3_server, bucket, *derived)[0] == "ON"
    assert state(w, x).lock_hold is True
    release(w, hid)
    got = holds.sync_locks(w.archive)
    assert got["hold_off"] == 1 and _lock(s3_server, bucket, *objs[x])[0] == "OFF"
    assert _lock(s3_server, bucket, *derived)[0] == "OFF"
    assert state(w, x).lock_hold is False
    # a grown keep-until (the important mark) extends the object's retain-until
    from archive.annotations import set_important

    with w.archive.sessions.begin() as db:
        set_important(db, w.archive.custody, evidence_id=y, important=True, actor=ACTOR, tool="test")
    grown = state(w, y).retain_until
    assert grown is not None and grown > until_x + 365 * DAY
    got = holds.sync_locks(w.archive)
    assert got["extended"] == 1 and state(w, y).lock_until == grown
    after_grow = _lock(s3_server, bucket, *objs[y])[1]
    assert after_grow is not None and after_grow >= grown
    # and a shrunk keep-until never shortens it
    with w.archive.sessions.begin() as db:
        set_important(db, w.archive.custody, evidence_id=y, important=False, actor=ACTOR, tool="test")
    assert state(w, y).retain_until is not None and state(w, y).retain_until < grown  # type: ignore[operator]
    holds.sync_locks(w.archive)
    assert _lock(s3_server, bucket, *objs[y])[1] == after_grow
    assert [e for e in events(w, "object_lock_synced")][-1]["failed"] == 0


def test_sync_locks_does_nothing_on_a_store_without_object_lock(rworld: RWorld) -> None:
    assert holds.sync_locks(rworld.archive) == {"supported": False}


_ = dataclasses  # (kept for fixtures that replace settings)
