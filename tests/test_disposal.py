"""Disposal: due evidence is pending for its grace period, restorable with a reason; after the grace
period and two people's signatures its bytes (original and derived) are destroyed while the evidence
row, sightings, links and custody stay; shared content stays while other evidence needs it; the
database trigger refuses the move for held or open-case evidence; an unreachable store marks nothing.
Real archive on SQLite and PostgreSQL, real files through the real station."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from archive.bindings import DERIVED
from archive.models import DerivedFile, Evidence, Sighting
from archive.store import LocalStore
from cases.models import EvidenceLink
from hashing.binding import bound
from hashing.digest import Digest
from hashing.models import CustodyEvent
from liuhen.db import utcnow
from retention import disposal
from retention.bindings import HOLD, HOLD_ITEM
from retention.errors import DisposalRefused, ReasonRequired, StoreUnavailable, UnknownDisposal
from retention.models import Disposal, HoldItem, LegalHold, RetentionState
from tests.retention_world import ACTOR, OTHER, RWorld, _open_world

DAY = dt.timedelta(days=1)
THIRD = "user:rm-wang"
LATER = 40 * DAY  # past the default 30-day grace


def sched(w: RWorld, ids: list[int], actor: str = ACTOR, now: dt.datetime | None = None) -> dict[int, int]:
    """Schedule what is due; the disposal id of each of ``ids``."""
    with w.archive.sessions.begin() as db:
        disposal.schedule(db, w.archive.custody, w.settings.retention, now=now or utcnow(), actor=actor)
    return disposals_of(w, ids)


def disposals_of(w: RWorld, ids: list[int]) -> dict[int, int]:
    with w.archive.sessions() as db:
        return {eid: did for did, eid in db.execute(
            select(Disposal.id, Disposal.evidence_id).where(Disposal.evidence_id.in_(ids),
                                                             Disposal.state != "restored"))}


def state(w: RWorld, did: int) -> str:
    with w.archive.sessions() as db:
        d = db.get(Disposal, did)
        assert d is not None
        return d.state


def approve(w: RWorld, did: int, actor: str) -> None:
    with w.archive.sessions.begin() as db:
        disposal.approve(db, w.archive.custody, w.settings.retention, disposal_id=did, actor=actor,
                         visible_units=[w.unit_id])


def destroy(w: RWorld, after: dt.timedelta = LATER) -> disposal.Report:
    return disposal.destroy_due(w.archive, now=utcnow() + after, actor="system:retention")


def keys_of(w: RWorld, eid: int) -> list[str]:
    with w.archive.sessions() as db:
        ev = db.get(Evidence, eid)
        assert ev is not None
        return [ev.store_key, *db.scalars(select(DerivedFile.store_key).where(DerivedFile.evidence_id == eid))]


def add_derived(w: RWorld, eid: int, content: bytes, kind: str = "poster") -> str:
    """A derived file of ``eid`` stored like the media workers store one, with its bound event."""
    src = w.folder / f"derived-{eid}-{kind}.bin"
    src.write_bytes(content)
    digest = Digest.of_bytes(content)
    obj = w.archive.store.put_file(src, digest, len(content), namespace="derived")
    with w.archive.sessions.begin() as db:
        ev = db.get(Evidence, eid)
        assert ev is not None
        d = DerivedFile(evidence_id=eid, source_sha256=ev.sha256, kind=kind, sha256=digest.hex, size=len(content),
                        mime="image/jpeg", store_key=obj.key, store_version=obj.version, tool="test",
                        tool_version="1", command="[]", detail="{}")
        db.add(d)
        db.flush()
        w.archive.custody.record(db, actor="system:media", action="derived", evidence_id=eid, object_sha256=ev.sha256,
                                 tool="test", tool_version="1", detail={"kind": kind, "bound": bound((DERIVED, d))})
    return obj.key


def hold(w: RWorld, eid: int) -> int:
    with w.archive.sessions.begin() as db:
        h = LegalHold(unit_id=w.unit_id, scope_kind="evidence", scope=json.dumps({"evidence": [eid]}),
                      reason="行政复议", placed_by=ACTOR, placed_at=utcnow())
        db.add(h)
        db.flush()
        item = HoldItem(hold_id=h.id, evidence_id=eid, added_at=utcnow())
        db.add(item)
        db.flush()
        w.archive.custody.record(db, actor=ACTOR, action="hold_placed", tool="test", tool_version="1",
                                 detail={"hold_id": h.id, "bound": bound((HOLD, h), (HOLD_ITEM, item))})
        return h.id


def events(w: RWorld, eid: int, action: str) -> list[dict[str, Any]]:
    with w.archive.sessions() as db:
        return [json.loads(d) for d in db.scalars(select(CustodyEvent.detail).where(
            CustodyEvent.evidence_id == eid, CustodyEvent.action == action).order_by(CustodyEvent.seq))]


def test_past_due_evidence_is_scheduled_and_not_destroyed_before_its_grace(rworld: RWorld) -> None:
    x, y = rworld.fresh(2, recorded="20200201093000")
    got = sched(rworld, [x, y])
    assert set(got) == {x, y}
    with rworld.archive.sessions() as db:
        d = db.get(Disposal, got[x])
        assert d is not None and d.state == "pending" and d.scheduled_by == ACTOR
        assert d.due_at - d.scheduled_at == 30 * DAY
        rule = json.loads(d.rule)
        assert rule["class"] == rworld.settings.retention.default_class and rule["reasons"][0]["reason"] == "class"
        ev = db.scalars(select(CustodyEvent).where(CustodyEvent.action == "disposal_scheduled")
                        .order_by(CustodyEvent.seq.desc())).first()
        assert ev is not None and [got[x], x] in json.loads(ev.detail)["disposals"]
    approve(rworld, got[x], OTHER)
    destroy(rworld, after=DAY)  # within the grace period: nothing goes
    assert state(rworld, got[x]) == "pending"
    assert all(rworld.archive.store.exists(k) for k in keys_of(rworld, x))


def test_restore_within_grace_needs_a_reason_keeps_it_and_it_is_not_rescheduled_at_once(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20200202093000")
    did = sched(rworld, [x])[x]
    with rworld.archive.sessions.begin() as db, pytest.raises(ReasonRequired):
        disposal.restore(db, rworld.archive.custody, rworld.settings.retention, disposal_id=did, reason="  ",
                         actor=OTHER, visible_units=[rworld.unit_id])
    with rworld.archive.sessions.begin() as db, pytest.raises(UnknownDisposal):
        disposal.restore(db, rworld.archive.custody, rworld.settings.retention, disposal_id=did, reason="复议",
                         actor=OTHER, visible_units=[rworld.other_unit_id])  # not the user's unit: like not found
    with rworld.archive.sessions.begin() as db:
        disposal.restore(db, rworld.archive.custody, rworld.settings.retention, disposal_id=did,
                         reason="当事人已申请复议", actor=OTHER, visible_units=[rworld.unit_id], class_name="important")
    assert state(rworld, did) == "restored"
    with rworld.archive.sessions() as db:
        s = db.get(RetentionState, x)
        assert s is not None and s.class_name == "important" and s.retain_until is not None
        assert s.retain_until > utcnow() + 300 * DAY
        assert "restored" in [r["reason"] for r in json.loads(s.reasons)]
    (ev,) = events(rworld, x, "disposal_restored")
    assert ev["reason"] == "当事人已申请复议" and ev["disposal_id"] == did
    assert sched(rworld, [x]) == {}  # not due again at once
    with rworld.archive.sessions.begin() as db, pytest.raises(DisposalRefused):
        disposal.restore(db, rworld.archive.custody, rworld.settings.retention, disposal_id=did, reason="again",
                         actor=OTHER, visible_units=None)


def test_two_people_sign_the_scheduler_never_approves(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20200203093000")
    by_person = sched(rworld, [x], actor=ACTOR)[x]
    with pytest.raises(DisposalRefused, match="two different people"):
        approve(rworld, by_person, ACTOR)
    with pytest.raises(DisposalRefused, match="person"):
        approve(rworld, by_person, "system:retention")
    with pytest.raises(UnknownDisposal):
        with rworld.archive.sessions.begin() as db:
            disposal.approve(db, rworld.archive.custody, rworld.settings.retention, disposal_id=by_person,
                             actor=OTHER, visible_units=[rworld.other_unit_id])
    approve(rworld, by_person, OTHER)  # one approver suffices when a person scheduled it
    with pytest.raises(DisposalRefused, match="already"):
        approve(rworld, by_person, OTHER)
    with rworld.archive.sessions() as db:
        queue = {r["disposal_id"]: r for r in disposal.pending(db, units=[rworld.unit_id], limit=1000, offset=0,
                                                               settings=rworld.settings.retention)}
    assert queue[by_person]["approved"] is True and queue[by_person]["approvers"] == [OTHER]

    # scheduled by the archive itself: two distinct approvers
    (y,) = rworld.fresh(1, recorded="20200203093000")
    by_system = sched(rworld, [y], actor="system:retention")[y]
    approve(rworld, by_system, OTHER)
    r = destroy(rworld)
    assert state(rworld, by_system) == "pending" and y not in r.destroyed
    assert state(rworld, by_person) == "destroyed" and x in r.destroyed
    approve(rworld, by_system, THIRD)
    assert y in destroy(rworld).destroyed


def test_after_grace_and_approval_the_bytes_go_and_the_tombstone_stays(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20200204093000")
    derived = add_derived(rworld, x, os.urandom(2048))
    rworld.case(link=[x])  # an open case: not due
    assert sched(rworld, [x]) == {}
    with rworld.archive.sessions.begin() as db:  # the case closes; its category keeps it 5 years from now
        from cases.models import Case
        from cases.service import close_case, get_step

        lk = db.scalars(select(EvidenceLink).where(EvidenceLink.evidence_id == x)).one()
        case = db.get(Case, get_step(db, lk.step_id).case_id)
        assert case is not None
        close_case(db, rworld.archive.custody, case=case, actor=ACTOR)
    far = 6 * 366 * DAY
    did = sched(rworld, [x], now=utcnow() + far)[x]
    approve(rworld, did, OTHER)
    keys = keys_of(rworld, x)
    assert derived in keys and all(rworld.archive.store.exists(k) for k in keys)
    r = destroy(rworld, after=far + LATER)
    assert x in r.destroyed and state(rworld, did) == "destroyed"
    assert not any(rworld.archive.store.exists(k) for k in keys)
    with rworld.archive.sessions() as db:
        ev = db.get(Evidence, x)
        assert ev is not None and len(ev.sha256) == 64 and ev.size == 4096  # the tombstone
        assert db.scalar(select(func.count()).select_from(Sighting).where(Sighting.evidence_id == x))
        assert db.scalar(select(func.count()).select_from(EvidenceLink).where(EvidenceLink.evidence_id == x)) == 1
        d = db.get(Disposal, did)
        assert d is not None and sorted(json.loads(d.destroyed_keys or "[]")) == sorted(keys)
        log = disposal.destruction_log(db, units=[rworld.unit_id], limit=1000, offset=0)
    (rec,) = events(rworld, x, "destroyed")
    assert rec["sha256"] == ev.sha256 and rec["size"] == 4096 and sorted(rec["keys"]) == sorted(keys)
    assert rec["approvers"] == [OTHER] and rec["scheduled_by"] == ACTOR and rec["rule"]["reasons"]
    assert len(events(rworld, x, "destruction_completed")) == 1
    assert any(row["evidence_id"] == x and row["record"]["sha256"] == ev.sha256 for row in log)
    with rworld.archive.sessions() as db:
        e = db.scalars(select(CustodyEvent).where(CustodyEvent.evidence_id == x,
                                                  CustodyEvent.action == "destroyed")).one()
        assert e.object_sha256 == ev.sha256


def test_shared_derived_content_survives_while_other_evidence_needs_it(rworld: RWorld) -> None:
    x, y = rworld.fresh(2, recorded="20200205093000")
    shared = os.urandom(1024)
    kx, ky = add_derived(rworld, x, shared), add_derived(rworld, y, shared)
    assert kx == ky
    got = sched(rworld, [x, y])
    approve(rworld, got[x], OTHER)
    assert x in destroy(rworld).destroyed
    assert rworld.archive.store.exists(kx)  # y still needs it
    (rec,) = events(rworld, x, "destroyed")
    assert rec["kept_shared"] == [kx] and kx not in rec["keys"]
    approve(rworld, got[y], OTHER)
    assert y in destroy(rworld).destroyed
    assert not rworld.archive.store.exists(kx)  # the last one that needed it is gone


@pytest.mark.parametrize("why", ["hold", "open_case"])
def test_the_database_refuses_destroying_held_or_open_case_evidence(rworld: RWorld, why: str) -> None:
    (x,) = rworld.fresh(1, recorded="20200206093000")
    did = sched(rworld, [x])[x]
    if why == "hold":
        hold(rworld, x)
    else:
        rworld.case(link=[x])
    with pytest.raises(DBAPIError):  # the application bypassed: the trigger refuses
        with rworld.archive.sessions.begin() as db:
            db.execute(text("UPDATE disposals SET state = 'destroying' WHERE id = :i"), {"i": did})
    assert state(rworld, did) == "pending"


def test_evidence_held_after_scheduling_is_not_destroyed(rworld: RWorld) -> None:
    (x,) = rworld.fresh(1, recorded="20200207093000")
    did = sched(rworld, [x])[x]
    approve(rworld, did, OTHER)
    hold(rworld, x)
    r = destroy(rworld)
    assert x not in r.destroyed and state(rworld, did) == "restored"
    assert any(a["disposal_id"] == did and "hold" in a["reason"] for a in r.restored_automatically)
    assert rworld.archive.store.exists(keys_of(rworld, x)[0])
    (ev,) = events(rworld, x, "disposal_restored")
    assert "hold" in ev["reason"]


@pytest.fixture
def gone_store(rworld: RWorld) -> Iterator[None]:
    real = rworld.archive.store
    rworld.archive.store = LocalStore(rworld.folder / "no-such-store")
    try:
        yield
    finally:
        rworld.archive.store = real


def test_an_unreachable_store_marks_nothing_destroyed_and_says_so(rworld: RWorld, gone_store: None) -> None:
    with rworld.archive.sessions() as db:
        before = db.scalar(select(func.count()).select_from(Disposal).where(Disposal.state.in_(disposal.GONE)))
    with pytest.raises(StoreUnavailable, match="nothing was destroyed"):
        destroy(rworld)
    out = disposal.run(rworld.archive, now=utcnow() + LATER, actor="system:retention")
    assert out["failed"] == 1 and "cannot be reached" in out["failures"][0]["reason"]
    with rworld.archive.sessions() as db:
        after = db.scalar(select(func.count()).select_from(Disposal).where(Disposal.state.in_(disposal.GONE)))
    assert after == before


def test_an_s3_endpoint_that_refuses_marks_nothing(rworld: RWorld) -> None:
    import boto3
    from botocore.config import Config

    from archive.s3 import S3Store

    real = rworld.archive.store
    client = boto3.client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="y",
                          config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=2))
    rworld.archive.store = S3Store(client, "refused")  # nothing listens on port 9: the connection is refused
    try:
        with pytest.raises(StoreUnavailable, match="nothing was destroyed"):
            destroy(rworld)
    finally:
        rworld.archive.store = real


# ---------------------------------------------------------------------------- the command line


def _cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), "retention", *args],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)


def test_cli_dry_run_writes_nothing_and_run_destroys(tmp_path: Path) -> None:
    settings, archive, unit_id, _, _ = _open_world(tmp_path, "sqlite", "[retention]\ngrace_days = 0\n")
    w = RWorld(settings, archive, unit_id, 0, tmp_path, "sqlite")
    try:
        ids = w.fresh(2, recorded="20200301093000")
        cfg = tmp_path / "config.toml"
        with archive.sessions() as db:
            seq = db.scalar(select(func.max(CustodyEvent.seq)))
        r = _cli(cfg, "run", "--dry-run", "--json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["dry_run"] is True and out["would_schedule"] == 2 and out["would_schedule_bytes"] == 2 * 4096
        with archive.sessions() as db:
            assert db.scalar(select(func.max(CustodyEvent.seq))) == seq
            assert db.scalar(select(func.count()).select_from(Disposal)) == 0
        r = _cli(cfg, "run", "--json")  # scheduled by the command-line user: waits for one approver
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["scheduled"] == 2 and out["destroyed"] == 0 and out["waiting_approval"] == 2
        r = _cli(cfg, "pending", "--json")
        rows = json.loads(r.stdout)
        assert sorted(x["evidence_id"] for x in rows) == sorted(ids)
        for row in rows:
            approve(w, row["disposal_id"], OTHER)
        r = _cli(cfg, "run", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["destroyed"] == 2
        r = _cli(cfg, "log", "--json")
        assert sorted(x["evidence_id"] for x in json.loads(r.stdout)) == sorted(ids)
        r = _cli(cfg, "restore", "99999", "--reason", "x")
        assert r.returncode != 0 and "99999" in r.stderr
    finally:
        archive.close()


def test_the_daily_run_inside_serve_records_a_failure_and_keeps_going(rworld: RWorld,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    calls: list[int] = []
    stop = threading.Event()

    def broken(*_: object, **__: object) -> dict[str, Any]:
        calls.append(1)
        if len(calls) >= 2:
            stop.set()
        raise RuntimeError("database went away")

    monkeypatch.setattr(disposal, "run", broken)
    t = disposal.scheduler(rworld.archive, stop=stop, first_after_s=0, interval_s=0.01)
    t.join(timeout=30)
    assert not t.is_alive() and len(calls) >= 2  # it ran again after the failure
    with rworld.archive.sessions() as db:
        ev = db.scalars(select(CustodyEvent).where(CustodyEvent.action == "retention_run_failed")
                        .order_by(CustodyEvent.seq.desc())).first()
    assert ev is not None and ev.actor == "system:retention" and "database went away" in json.loads(ev.detail)["error"]
