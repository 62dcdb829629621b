"""Guards found in review: one person never signs twice through two front ends; the database lets a
disposal pass only pending → destroying → destroyed (a restored one never starts destroying); an
Object Lock still in force keeps an item pending instead of leaving it half-way; a recording time
found later moves the keep-until; a hold is its evidence's unit's, and someone who may not see all it
holds neither sees nor releases it; the API's run destroys only within the caller's units.
Real archive on SQLite and PostgreSQL, real files through the real station, the real app over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from app.web import create_app
from archive.models import Evidence
from auth import service as accounts
from liuhen.db import utcnow
from retention.errors import DisposalRefused
from retention.models import RetentionState
from tests.retention_world import ACTOR, OTHER, OTHER_UNIT, UNIT, RWorld, local
from tests.test_disposal import LATER, approve, destroy, sched, state

PASSWORD = "一个足够长的测试口令-guards"


def test_one_person_cannot_sign_twice_through_the_console_and_the_command_line(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20100301093000")
    did = sched(rworld, [x], actor="cli:rm-zhang")[x]
    with pytest.raises(DisposalRefused, match="cannot also approve"):
        approve(rworld, did, "user:rm-zhang")  # the same person, through the console
    approve(rworld, did, "user:rm-li")
    with pytest.raises(DisposalRefused, match="already approved"):
        approve(rworld, did, "cli:RM-LI")


def test_the_database_lets_a_disposal_pass_only_pending_destroying_destroyed(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20100302093000")
    did = sched(rworld, [x])[x]
    with rworld.archive.engine.connect() as conn:
        for sql in ("UPDATE disposals SET state = 'destroyed' WHERE id = :id",  # skipping destroying
                    "INSERT INTO disposals (evidence_id, state, rule, scheduled_at, scheduled_by, due_at) "
                    "SELECT evidence_id, 'destroying', rule, scheduled_at, scheduled_by, due_at FROM disposals "
                    "WHERE id = :id"):
            tx = conn.begin()
            try:
                with pytest.raises(DBAPIError, match="starts from a pending disposal"):
                    conn.execute(text(sql), {"id": did})
            finally:
                tx.rollback()
        tx = conn.begin()  # restored, then moved to destroying below the application: refused
        conn.execute(text("UPDATE disposals SET state = 'restored' WHERE id = :id"), {"id": did})
        with pytest.raises(DBAPIError, match="starts from a pending disposal"):
            conn.execute(text("UPDATE disposals SET state = 'destroying' WHERE id = :id"), {"id": did})
        tx.rollback()
    assert state(rworld, did) == "pending"


def test_an_object_lock_still_in_force_keeps_the_item_pending_and_says_so(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20100303093000")
    did = sched(rworld, [x])[x]
    approve(rworld, did, OTHER)
    with rworld.archive.sessions.begin() as db:  # as holds.sync_locks records what the store's lock says
        s = db.get(RetentionState, x)
        assert s is not None
        s.lock_until = utcnow() + 400 * dt.timedelta(days=1)
    r = destroy(rworld)
    assert x not in r.destroyed and state(rworld, did) == "pending"
    assert any(f.get("step") == "lock" and "Object Lock" in f["reason"] for f in r.failed)
    assert rworld.archive.store.exists(_key(rworld, x))
    with rworld.archive.sessions.begin() as db:
        s = db.get(RetentionState, x)
        assert s is not None
        s.lock_until = utcnow() - dt.timedelta(days=1)  # the lock has ended
    assert x in destroy(rworld).destroyed


def test_a_recording_time_found_later_moves_the_keep_until(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20200101093000")
    with rworld.archive.sessions.begin() as db:  # as the media probe does when the container knows better
        ev = db.get(Evidence, x)
        assert ev is not None
        ev.recorded_at = local("20210101093000")
        rworld.archive.custody.record(db, actor="system:media", action="probed", tool="test", tool_version="1",
                                      evidence_id=x, object_sha256=ev.sha256, detail={})
    with rworld.archive.sessions() as db:
        s = db.get(RetentionState, x)
        assert s is not None and s.retain_until == local("20210101093000") + 180 * dt.timedelta(days=1)


def _key(w: RWorld, eid: int) -> str:
    with w.archive.sessions() as db:
        ev = db.get(Evidence, eid)
        assert ev is not None
        return ev.store_key


def test_a_hold_is_its_evidences_unit_and_hidden_from_who_may_not_see_all_it_holds(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20200401093000")  # of UNIT
    tokens = {}
    suffix = rworld.backend
    with rworld.archive.sessions.begin() as db:
        for name, unit in ((f"granted-{suffix}", OTHER_UNIT), (f"plain-{suffix}", OTHER_UNIT), (f"own-{suffix}", UNIT)):
            u = accounts.add_user(db, rworld.archive.custody, username=name, password=PASSWORD,
                                  role="records_manager", unit_code=unit, display_name=name, actor="test",
                                  settings=rworld.settings.auth)
            tokens[name] = accounts.issue_api_token(db, rworld.archive.custody, user=u, name="t", actor="test")
        accounts.grant_unit(db, username=f"granted-{suffix}", unit_code=UNIT)

    def client(name: str) -> TestClient:
        c = TestClient(create_app(rworld.archive))
        c.headers["Authorization"] = f"Bearer {tokens[name]}"
        return c

    r = client(f"granted-{suffix}").post("/api/v1/holds", json={
        "scope_kind": "evidence", "scope": {"evidence": [x]}, "reason": "法院协助执行通知"})
    assert r.status_code == 201, r.text
    hid = r.json()["hold_id"]
    assert r.json()["unit_id"] == rworld.unit_id  # the evidence's unit, not the placer's home unit
    assert client(f"own-{suffix}").get(f"/api/v1/holds/{hid}").status_code == 200
    hidden = client(f"plain-{suffix}").get(f"/api/v1/holds/{hid}")
    assert hidden.status_code == 404 and hidden.json()["code"] == "unknown_hold"
    released = client(f"plain-{suffix}").post(f"/api/v1/holds/{hid}/release", json={"reason": "x"})
    assert released.status_code == 404
    listed = client(f"plain-{suffix}").get("/api/v1/holds").json()
    assert hid not in [h["hold_id"] for h in (listed["holds"] if isinstance(listed, dict) else listed)]


def test_the_api_run_destroys_only_within_the_callers_units(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20100304093000")  # of UNIT, due, approved by two
    did = sched(rworld, [x], actor=ACTOR)[x]
    approve(rworld, did, OTHER)
    suffix = rworld.backend
    with rworld.archive.sessions.begin() as db:
        u = accounts.add_user(db, rworld.archive.custody, username=f"rm-other-{suffix}", password=PASSWORD,
                              role="records_manager", unit_code=OTHER_UNIT, display_name="其他单位档案员",
                              actor="test", settings=rworld.settings.auth)
        token = accounts.issue_api_token(db, rworld.archive.custody, user=u, name="t", actor="test")
    c = TestClient(create_app(rworld.archive))
    c.headers["Authorization"] = f"Bearer {token}"
    r = c.post("/api/v1/disposals/run", params={"dry_run": "false"})
    assert r.status_code == 200, r.text
    assert x not in r.json()["destroyed_evidence"] and state(rworld, did) == "pending"
    assert x in destroy(rworld, after=LATER).destroyed  # the archive's own run does


def test_a_destroyed_recording_offered_again_is_refused_and_not_stored(rworld: RWorld) -> None:
    import os

    from archive.intake import LocalIntake
    from ingest.station import Station
    from tests.docks import put

    content = os.urandom(4096)
    dock = rworld.settings.station.dock_root

    def offer(name: str) -> list:
        put(dock, f"bay1/{name}", content)
        station = Station(rworld.settings.station, LocalIntake(rworld.archive))
        try:
            return station.offload_once(dock)
        finally:
            station.close()
            for p in dock.rglob("*.JPG"):
                p.unlink()

    (first,) = offer("DSJ-A001_000123_20100305093000_9001.JPG")
    assert first.status == "archived"
    with rworld.archive.sessions() as db:
        from sqlalchemy import select

        x = db.scalars(select(Evidence.id).where(Evidence.file_name == "DSJ-A001_000123_20100305093000_9001.JPG")).one()
    did = sched(rworld, [x])[x]
    approve(rworld, did, OTHER)
    assert x in destroy(rworld).destroyed
    key = _key(rworld, x)
    (again,) = offer("DSJ-A001_000123_20100305093000_9002.JPG")  # the same bytes, from a recorder not yet wiped
    assert again.status != "archived" and "destroyed under the retention rules" in (again.reason or "")
    assert not rworld.archive.store.exists(key)


def test_a_self_approval_on_the_api_is_refused_and_recorded(rworld: RWorld) -> None:
    from sqlalchemy import select

    from hashing.models import CustodyEvent

    name = f"rm-self-{rworld.backend}"
    with rworld.archive.sessions.begin() as db:
        u = accounts.add_user(db, rworld.archive.custody, username=name, password=PASSWORD, role="records_manager",
                              unit_code=UNIT, display_name=name, actor="test", settings=rworld.settings.auth)
        token = accounts.issue_api_token(db, rworld.archive.custody, user=u, name="t", actor="test")
    (x,) = rworld.fresh(1, recorded="20100306093000")
    did = sched(rworld, [x], actor=f"user:{name}")[x]
    c = TestClient(create_app(rworld.archive))
    c.headers["Authorization"] = f"Bearer {token}"
    r = c.post(f"/api/v1/disposals/{did}/approve")
    assert r.status_code == 409 and r.json()["code"] == "disposal_refused", r.text
    with rworld.archive.sessions() as db:
        refusals = [e for e in db.scalars(select(CustodyEvent).where(CustodyEvent.action == "access_denied",
                                                                       CustodyEvent.actor == f"user:{name}"))]
    assert any("two-person rule" in e.detail for e in refusals)
    assert state(rworld, did) == "pending"
