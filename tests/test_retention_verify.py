"""``liuhen verify`` and the fixity audit know disposal: a destroyed evidence's bytes are expected
absent (never "missing"), and verify names a disposed item whose bytes remain, a byte missing
without a destruction record, a destruction without its approvals, and a keep-until edited below
the application. The findings are about tampering, so they are produced as an insider would: raw
SQL around the application (no custody event) and files removed from or kept in the local store.
Real archive on SQLite and PostgreSQL, real files through the real station (``rworld``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import psycopg
from sqlalchemy import select

from archive import fixity
from archive.bindings import DERIVED
from archive.models import DerivedFile, Evidence, FixityState
from archive.store import LocalStore
from archive.verify import Failure, Report, verify_evidence
from hashing.binding import bound
from hashing.digest import Digest
from hashing.models import CustodyEvent
from integrity.service import verify_all
from liuhen import __version__
from liuhen.db import utcnow
from retention import verify as rverify
from retention.bindings import APPROVAL, DISPOSAL
from retention.models import Disposal, DisposalApproval
from retention.service import TOOL
from tests.retention_world import ACTOR, OTHER, RWorld

RETENTION_KINDS = {"disposed_bytes_present", "destruction_unfinished", "destroyed_without_approval",
                   "destroyed_without_record", "retention_changed"}
WHEN = "2026-01-01T00:00:00.000000+00:00"


def tamper(w: RWorld, *statements: str) -> None:
    """Raw SQL as an insider with the database's own powers: no custody event, no session hooks, around
    the triggers (dropped on SQLite — this module's world only —, replica mode on PostgreSQL)."""
    url = w.archive.engine.url
    if w.backend == "sqlite":
        con = sqlite3.connect(str(url.database), isolation_level=None)
        try:
            for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                          "AND tbl_name = 'disposals'").fetchall():
                con.execute(f'DROP TRIGGER "{trigger}"')
            for sql in statements:
                con.execute(sql)
        finally:
            con.close()
    else:
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False),
                             autocommit=True) as c:
            c.execute("SET session_replication_role = replica")  # superuser: no triggers
            for sql in statements:
                c.execute(sql)


def verify(w: RWorld) -> Report:
    return verify_all(w.archive, actor="cli:test")


def of(r: Report, eid: int, kind: str | None = None) -> list[Failure]:
    return [f for f in r.failures if f.evidence_id == eid and (kind is None or f.kind == kind)]


def store(w: RWorld) -> LocalStore:
    s = w.archive.store
    assert isinstance(s, LocalStore)
    return s


def key_of(w: RWorld, eid: int) -> str:
    with w.archive.sessions() as db:
        key = db.scalar(select(Evidence.store_key).where(Evidence.id == eid))
        assert key is not None
        return key


def raw_destroyed(w: RWorld, eid: int, *, keys: list[str]) -> int:
    """A disposal row in state ``destroyed`` written by raw SQL (no approval, no event); returns its id."""
    tamper(w, "INSERT INTO disposals (evidence_id, state, rule, scheduled_at, scheduled_by, due_at, "
              f"destroy_started_at, destroyed_at, destroyed_keys) VALUES ({eid}, 'destroyed', '{{}}', '{WHEN}', "
              f"'system:retention', '{WHEN}', '{WHEN}', '{WHEN}', '{json.dumps(keys)}')")
    with w.archive.sessions() as db:
        did = db.scalar(select(Disposal.id).where(Disposal.evidence_id == eid))
        assert did is not None
        return did


def add_poster(w: RWorld, eid: int, tmp: Path) -> str:
    """A derived file (a poster) stored and recorded as the media workers do (bound in its ``derived``
    event); returns its store key."""
    data = os.urandom(2048)
    src = tmp / f"poster-{eid}.jpg"
    src.write_bytes(data)
    digest = Digest(hashlib.sha256(data).hexdigest())
    obj = w.archive.store.put_file(src, digest, len(data), namespace="derived")
    with w.archive.sessions.begin() as db:
        ev = db.get(Evidence, eid)
        assert ev is not None
        d = DerivedFile(evidence_id=eid, source_sha256=ev.sha256, kind="poster", sha256=digest.hex, size=len(data),
                        mime="image/jpeg", store_key=obj.key, store_version=obj.version, tool="ffmpeg",
                        tool_version="test", command="[]", detail="{}")
        db.add(d)
        db.flush()
        w.archive.custody.record(db, actor="system:media", action="derived", evidence_id=eid, object_sha256=ev.sha256,
                                 tool="ffmpeg", tool_version="test", detail={"kind": "poster", "bound": bound((DERIVED, d))})
    return obj.key


def destroy_properly(w: RWorld, eid: int) -> int:
    """What the disposal module does, with the public pieces it is made of: the disposal scheduled by a
    records manager and approved by a second one, each row change bound in its own custody event;
    the destruction record committed (destroying), the bytes removed from the store, then destroyed,
    each a custody event carrying the bound disposal row. Returns the disposal's id."""
    a = w.archive
    tool = dict(tool=TOOL, tool_version=__version__)
    with a.sessions.begin() as db:
        ev = db.get(Evidence, eid)
        assert ev is not None
        keys = [ev.store_key, *db.scalars(select(DerivedFile.store_key).where(DerivedFile.evidence_id == eid))]
        now = utcnow()
        d = Disposal(evidence_id=eid, state="pending", rule=json.dumps({"class": "unclassified"}), scheduled_at=now,
                     scheduled_by=ACTOR, due_at=now - dt.timedelta(days=1))
        db.add(d)
        db.flush()
        a.custody.record(db, actor=ACTOR, action="disposal_scheduled", evidence_id=eid, object_sha256=ev.sha256,
                         detail={"disposal_id": d.id, "bound": bound((DISPOSAL, d))}, **tool)
        did, sha = d.id, ev.sha256
    with a.sessions.begin() as db:
        ap = DisposalApproval(disposal_id=did, actor=OTHER, at=utcnow())
        db.add(ap)
        db.flush()
        a.custody.record(db, actor=OTHER, action="disposal_approved", evidence_id=eid, object_sha256=sha,
                         detail={"disposal_id": did, "bound": bound((APPROVAL, ap))}, **tool)
    with a.sessions.begin() as db:
        d = db.get(Disposal, did)
        assert d is not None
        d.state, d.destroy_started_at = "destroying", utcnow()
        d.destroyed_keys = json.dumps(sorted(set(keys)))
        db.flush()
        a.custody.record(db, actor="system:retention", action="destroyed", evidence_id=eid, object_sha256=sha,
                         detail={"disposal_id": did, "record": {"sha256": sha, "keys": sorted(set(keys)),
                                                                "scheduled_by": ACTOR, "approved_by": [OTHER]},
                                 "bound": bound((DISPOSAL, d))}, **tool)
    for key in set(keys):
        a.store.destroy(key)
    with a.sessions.begin() as db:
        d = db.get(Disposal, did)
        assert d is not None
        d.state, d.destroyed_at = "destroyed", utcnow()
        db.flush()
        a.custody.record(db, actor="system:retention", action="destruction_finished", evidence_id=eid,
                         object_sha256=sha, detail={"disposal_id": did, "bound": bound((DISPOSAL, d))}, **tool)
    return did


# ---------------------------------------------------------------------------- (e) first: the clean world


def test_a_clean_archive_with_nothing_disposed_has_no_retention_failures(rworld: RWorld) -> None:
    ids = rworld.fresh(2)
    r = verify(rworld)
    assert [f for f in r.failures if f.kind in RETENTION_KINDS] == []
    assert r.ok, [f.detail for f in r.failures]
    assert r.retention >= len(ids)  # every keep-until row recomputed
    assert r.to_dict()["retention_checked"] == r.retention


# ---------------------------------------------------------------------------- (a)


def test_a_disposal_marked_destroyed_by_raw_sql_while_its_bytes_remain_is_named(rworld: RWorld) -> None:
    (eid,) = rworld.fresh()
    key = key_of(rworld, eid)
    did = raw_destroyed(rworld, eid, keys=[key])
    assert store(rworld).path_of(key).exists()
    r = verify(rworld)
    present = of(r, eid, "disposed_bytes_present")
    assert len(present) == 1, [f.detail for f in of(r, eid)]
    assert f"evidence {eid} was destroyed on 2026-01-01" in present[0].detail.lower()
    assert f"(disposal {did})" in present[0].detail and key in present[0].detail
    assert "liuhen retention run" in present[0].action
    # the raw write has no custody event: the row check names the disposal row too
    assert any(f.kind == "row_unbound" and f.detail.startswith(f"disposals {did}:") for f in r.failures)
    assert of(r, eid, "destroyed_without_record") and of(r, eid, "destroyed_without_approval")
    # its original is expected absent, so it is not re-hashed as an original either
    assert of(r, eid, "original_missing") == []


# ---------------------------------------------------------------------------- (b)


def test_an_original_deleted_with_no_disposal_is_missing_without_a_destruction_record(rworld: RWorld) -> None:
    (eid,) = rworld.fresh()
    path = store(rworld).path_of(key_of(rworld, eid))
    path.chmod(0o600)
    path.unlink()
    r = verify(rworld)
    missing = of(r, eid, "original_missing")
    assert len(missing) == 1
    assert "missing and no destruction record exists for it" in missing[0].detail
    one = Report()
    assert verify_evidence(rworld.archive, eid, report=one, actor="cli:test", gone=rverify.gone()) == "failure"
    assert "no destruction record" in one.failures[0].detail
    assert of(r, eid, "disposed_bytes_present") == []


# ---------------------------------------------------------------------------- (c)


def test_a_destroyed_disposal_whose_approvals_were_never_given_is_named(rworld: RWorld) -> None:
    (eid,) = rworld.fresh()
    key = key_of(rworld, eid)
    did = raw_destroyed(rworld, eid, keys=[key])
    path = store(rworld).path_of(key)
    path.chmod(0o600)
    path.unlink()  # the bytes really are gone: this is about the approvals
    r = verify(rworld)
    unapproved = of(r, eid, "destroyed_without_approval")
    assert len(unapproved) == 1
    assert f"disposal {did}" in unapproved[0].detail and "two different people" in unapproved[0].detail
    assert of(r, eid, "disposed_bytes_present") == [] and of(r, eid, "original_missing") == []


# ---------------------------------------------------------------------------- (d)


def test_a_keep_until_edited_by_raw_sql_is_named_with_its_evidence(rworld: RWorld) -> None:
    (eid,) = rworld.fresh(recorded="20200101093000")
    tamper(rworld, "UPDATE evidence_retention SET retain_until = '2099-01-01T00:00:00.000000+00:00' "
                   f"WHERE evidence_id = {eid}")
    r = verify(rworld)
    changed = of(r, eid, "retention_changed")
    assert len(changed) == 1
    assert f"keep-until of evidence {eid} says until:2099-01-01" in changed[0].detail
    assert "until:2020-06-29" in changed[0].detail  # 180 days from its recording
    assert "liuhen retention recompute" in changed[0].action


def test_a_disposal_stopped_while_destroying_is_named_unfinished(rworld: RWorld) -> None:
    (eid,) = rworld.fresh()
    tamper(rworld, "INSERT INTO disposals (evidence_id, state, rule, scheduled_at, scheduled_by, due_at, "
                   f"destroy_started_at) VALUES ({eid}, 'destroying', '{{}}', '{WHEN}', 'system:retention', "
                   f"'{WHEN}', '{WHEN}')")
    r = verify(rworld)
    unfinished = of(r, eid, "destruction_unfinished")
    assert len(unfinished) == 1 and "liuhen retention run" in unfinished[0].action


# ---------------------------------------------------------------------------- (f)


def test_a_properly_destroyed_item_is_expected_absent_for_verify_and_the_fixity_audit(rworld: RWorld,
                                                                                      tmp_path: Path) -> None:
    keep, (eid,) = rworld.fresh(), rworld.fresh()
    key, poster = key_of(rworld, eid), add_poster(rworld, eid, tmp_path)
    with rworld.archive.sessions.begin() as db:
        fixity.track(db)  # its fixity rows stay (the disposal deletes them; the audit must skip them regardless)
    assert verify(rworld).derived >= 1
    did = destroy_properly(rworld, eid)
    assert not store(rworld).exists(key) and not store(rworld).exists(poster)
    with rworld.archive.sessions() as db:
        d = db.get(Disposal, did)
        assert d is not None and d.state == "destroyed" and poster in json.loads(d.destroyed_keys or "[]")

    r = verify(rworld)
    assert of(r, eid) == [], [f.detail for f in of(r, eid)]
    assert not any(key in f.detail or poster in f.detail for f in r.failures)
    assert of(r, keep[0]) == []
    one = Report()
    assert verify_evidence(rworld.archive, eid, report=one, actor="cli:test", gone=rverify.gone()) == "destroyed"
    assert one.failures == []

    with rworld.archive.sessions() as db:
        before = db.scalar(select(CustodyEvent.seq).order_by(CustodyEvent.seq.desc()).limit(1)) or 0
    audit = fixity.run(rworld.archive, settings=rworld.settings.fixity, everything=True, gone=rverify.gone())
    assert not any(f["key"] in (key, poster) or f["evidence_id"] == eid for f in audit.failures)
    with rworld.archive.sessions() as db:
        rehashed = db.scalars(select(CustodyEvent.evidence_id).where(CustodyEvent.seq > before,
                                                                     CustodyEvent.action == "verified")).all()
        assert eid not in rehashed and keep[0] in rehashed
        for k in (key, poster):
            row = db.get(FixityState, k)
            assert row is not None and row.last_outcome != "failure"  # neither claimed nor hashed
    st = fixity.status(rworld.archive, settings=rworld.settings.fixity, gone=rverify.gone())
    assert not any(f["key"] in (key, poster) for f in st.failing)
    # without being told what is gone, the audit would call them failures: the parameter is what skips them
    bare = fixity.run(rworld.archive, settings=rworld.settings.fixity, everything=True)
    assert {key, poster} <= {f["key"] for f in bare.failures}
