"""Retention: one computed keep-until per evidence, the latest of every reason that applies, kept
right on every change that can move it, each move a custody event with old, new and why.
Real archive on SQLite and PostgreSQL, real files through the real station."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest
from sqlalchemy import select

from archive.annotations import set_important
from archive.models import Evidence
from cases.models import Case
from cases.service import close_case, get_step, reopen_case, unlink
from hashing.models import CustodyEvent
from retention import service
from retention.errors import UnknownClass
from retention.models import RetentionChange, RetentionState
from retention.rules import iso
from tests.retention_world import ACTOR, RWorld, local

DAY = dt.timedelta(days=1)


def state(w: RWorld, eid: int) -> RetentionState:
    with w.archive.sessions() as db:
        s = db.get(RetentionState, eid)
        assert s is not None, f"evidence {eid} has no retention"
        db.expunge(s)
        return s


def changes(w: RWorld, eid: int) -> list[tuple[str | None, str, str]]:
    with w.archive.sessions() as db:
        return [(c.old, c.new, c.reason) for c in db.scalars(
            select(RetentionChange).where(RetentionChange.evidence_id == eid).order_by(RetentionChange.id))]


def event_of(w: RWorld, eid: int) -> dict:
    """The detail of the newest retention_changed event that lists ``eid``."""
    with w.archive.sessions() as db:
        seq = db.scalar(select(RetentionChange.seq).where(RetentionChange.evidence_id == eid)
                        .order_by(RetentionChange.id.desc()).limit(1))
        ev = db.scalar(select(CustodyEvent).where(CustodyEvent.seq == seq))
        assert ev is not None and ev.action == "retention_changed"
        return {"actor": ev.actor, "evidence_id": ev.evidence_id, **json.loads(ev.detail)}


def test_new_evidence_is_kept_for_its_default_class_from_its_recording(rworld: RWorld) -> None:
    (eid,) = rworld.fresh(recorded="20200101093000")
    s = state(rworld, eid)
    assert s.keep == "until" and s.class_name is None
    assert s.retain_until == local("20200101093000") + 180 * DAY
    assert [r["reason"] for r in json.loads(s.reasons)] == ["class"]
    assert changes(rworld, eid) == []  # a first computation is no change: it follows from bound rows alone


def test_the_important_mark_keeps_it_longer_and_taking_it_off_gives_it_back(rworld: RWorld) -> None:
    (eid,) = rworld.fresh(recorded="20200102093000")
    with rworld.archive.sessions.begin() as db:
        set_important(db, rworld.archive.custody, evidence_id=eid, important=True, actor=ACTOR, tool="test")
    assert state(rworld, eid).retain_until == local("20200102093000") + 1826 * DAY
    with rworld.archive.sessions.begin() as db:
        set_important(db, rworld.archive.custody, evidence_id=eid, important=False, actor=ACTOR, tool="test")
    assert state(rworld, eid).retain_until == local("20200102093000") + 180 * DAY
    base, important = iso(local("20200102093000") + 180 * DAY), iso(local("20200102093000") + 1826 * DAY)
    assert changes(rworld, eid) == [(f"until:{base}", f"until:{important}", "marked_important"),
                                    (f"until:{important}", f"until:{base}", "unmarked_important")]
    detail = event_of(rworld, eid)
    assert detail["actor"] == ACTOR and detail["evidence_id"] == eid
    assert detail["changes"] == [[eid, f"until:{important}", f"until:{base}"]]


def test_a_case_keeps_it_while_open_then_for_its_category_from_the_closing_reopen_and_unlink(rworld: RWorld) -> None:
    x, y = rworld.fresh(2, recorded="20200103093000")
    case_id = rworld.case(link=[x, y], category="行政处罚")
    assert state(rworld, x).keep == "open_case" and state(rworld, y).keep == "open_case"
    with rworld.archive.sessions.begin() as db:
        case = db.get(Case, case_id)
        assert case is not None
        close_case(db, rworld.archive.custody, case=case, actor=ACTOR)
        closed_at = case.closed_at
    assert closed_at is not None
    sx = state(rworld, x)
    assert sx.keep == "until" and sx.retain_until == closed_at + 1826 * DAY
    detail = event_of(rworld, x)
    assert detail["reason"] == "case_closed" and detail["case_id"] == case_id and detail["evidence_id"] is None
    assert sorted(c[0] for c in detail["changes"]) == sorted([x, y])  # one event for every evidence of the case
    with rworld.archive.sessions.begin() as db:
        case = db.get(Case, case_id)
        assert case is not None
        reopen_case(db, rworld.archive.custody, case=case, actor=ACTOR, reason="复议决定撤销重作")
    assert state(rworld, x).keep == "open_case"
    # unlinked from the reopened case, then closed again: it was linked, so the case still keeps it
    with rworld.archive.sessions.begin() as db:
        step = get_step(db, rworld.step_of(case_id))
        (lk,) = [lk for lk in step.links if lk.evidence_id == y and lk.unlinked_at is None]
        unlink(db, rworld.archive.custody, link_id=lk.id, actor=ACTOR)
        case = db.get(Case, case_id)
        assert case is not None
        close_case(db, rworld.archive.custody, case=case, actor=ACTOR)
        closed_again = case.closed_at
    assert closed_again is not None
    assert state(rworld, y).retain_until == closed_again + 1826 * DAY
    assert [c[2] for c in changes(rworld, y)] == ["linked", "case_closed", "case_reopened", "case_closed"]


def test_a_class_set_with_a_reason_moves_it_and_an_unknown_class_is_refused(rworld: RWorld) -> None:
    (eid,) = rworld.fresh(recorded="20200104093000")
    with rworld.archive.sessions.begin() as db:
        service.set_class(db, rworld.archive.custody, rworld.settings.retention, evidence_id=eid,
                          class_name="permanent", actor=ACTOR, reason="重大案件")
    s = state(rworld, eid)
    assert s.keep == "permanent" and s.class_name == "permanent" and s.retain_until is None
    with rworld.archive.sessions.begin() as db:
        with pytest.raises(UnknownClass, match="nope"):
            service.set_class(db, rworld.archive.custody, rworld.settings.retention, evidence_id=eid,
                              class_name="nope", actor=ACTOR, reason="x")


def test_a_closed_case_of_a_permanent_category_keeps_its_evidence_for_ever(rworld: RWorld) -> None:
    (eid,) = rworld.fresh(recorded="20200105093000")
    rules = replace(rworld.settings.retention, case_categories={"行政强制": "permanent"})
    case_id = rworld.case(link=[eid], category="行政强制")
    with rworld.archive.sessions.begin() as db:
        case = db.get(Case, case_id)
        assert case is not None
        close_case(db, rworld.archive.custody, case=case, actor=ACTOR)
    assert state(rworld, eid).keep == "until"  # the archive's own rules: 行政强制 is not permanent there
    with rworld.archive.sessions.begin() as db:
        service.recompute(db, rworld.archive.custody, rules, evidence_ids=[eid], actor=ACTOR,
                          reason="config changed")
    assert state(rworld, eid).keep == "permanent"
    assert changes(rworld, eid)[-1][1:] == ("permanent", "config changed")


def test_a_rolled_back_change_leaves_no_retention_change(rworld: RWorld) -> None:
    (eid,) = rworld.fresh(recorded="20200106093000")
    before = state(rworld, eid).retain_until
    with pytest.raises(RuntimeError):
        with rworld.archive.sessions.begin() as db:
            set_important(db, rworld.archive.custody, evidence_id=eid, important=True, actor=ACTOR, tool="test")
            db.flush()
            raise RuntimeError("crash before commit")
    assert state(rworld, eid).retain_until == before and changes(rworld, eid) == []


def test_the_planner_finds_what_is_past_due_and_not_kept(rworld: RWorld) -> None:
    old, kept = rworld.fresh(2, recorded="20100101093000")  # long past 180 days
    rworld.case(link=[kept])
    with rworld.archive.sessions() as db:
        due = {r[0] for r in db.execute(service.due(dt.datetime.now(dt.UTC)))}
        summary = service.due_summary(db, rworld.settings.retention, dt.datetime.now(dt.UTC))
    assert old in due and kept not in due
    assert any(s["class"] == "unclassified" and s["count"] >= 1 for s in summary)
    with rworld.archive.sessions() as db:
        ev = db.get(Evidence, old)
        assert ev is not None
