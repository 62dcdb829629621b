"""Attribution: which officer and unit a recording belongs to.

A recording belongs to the officer its recorder wrote into the file name, else to the officer the
recorder is assigned to; and so to that officer's unit when it is the unit of the station that
offloaded it or one below it, else to the station's unit. Assigning a recorder attributes that recorder's footage that has no officer yet (a
dock operator assigns the recorder they see docked with no officer), each change a custody event;
footage already attributed is never re-attributed. Plain keyword-only functions in the caller's
transaction; the roster itself (officers, recorders) is ``roster.service``'s.

The roster as a user sees it follows the same rule: the officers of their units, and the recorders
that belong to their units — assigned to one of their officers, or last docked at one of their
stations (an administrator of a top-level unit also sees those docked at no unit's station, or never
docked).

Attribution cannot be captured from another unit: footage belongs to the unit tree of the station
that offloaded it, and an officer number or a recorder assignment made in another unit only flags
the recording for review (``attribution_review`` and an ``attribution_flagged`` event); footage of
a station with no unit is no unit's until the station is given one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import liuhen
from archive import terms
from archive.bindings import EVIDENCE
from archive.models import Evidence, Station
from archive.scope import Scope, unit_tree
from auth.models import Unit
from hashing.binding import bound
from hashing.custody import CustodyLog
from roster import service as roster
from roster.models import Officer, Recorder

TOOL = roster.TOOL


def add_officer(db: Session, custody: CustodyLog, *, officer_no: str, name: str, unit_id: int,
                actor: str) -> Officer:
    """Add an officer (``roster.service.add_officer``) and index their name into the footage that
    already names their number, so that recordings archived before the officer was known are found."""
    o = roster.add_officer(db, custody, officer_no=officer_no, name=name, unit_id=unit_id, actor=actor)
    for eid in db.scalars(select(Evidence.id).where(Evidence.officer_id == officer_no)):
        terms.reindex(db, eid)
    return o


REVIEW_OFFICER = "officer_of_another_unit"  # the file names an officer number registered outside the station's units
REVIEW_RECORDER = "recorder_assigned_in_another_unit"  # the recorder is assigned to an officer of another unit


def attribute(db: Session, ev: Evidence, *, station: Station | None) -> dict[str, object]:
    """Set a new evidence row's officer and unit; return how, for the intake's custody event.

    Footage belongs to the unit tree of the station that offloaded it: the officer the file names
    (else the officer the recorder is assigned to) counts only if that officer is of the station's
    unit or one below it. An officer or assignment of any other unit never wins: the recording
    stays with the station's unit and ``attribution_review`` says why it waits for review (without
    naming the other unit's officer). A station with no unit: the recording is no unit's (only the
    root's administrators see it) until the station is given one (``reattribute_station``).
    """
    how: dict[str, object] = {}
    if station is None or station.unit_id is None:
        ev.unit_id = None
        how.update(unit_id=None, unit_from="none", why="the station has no unit yet")
        return how
    tree = unit_tree(db, station.unit_id)
    review: list[str] = []
    if ev.officer_id is None and ev.device_id:
        r = db.get(Recorder, ev.device_id)
        if r is not None and r.officer_no:
            if roster.officer_unit(db, r.officer_no) in tree:
                ev.officer_id = r.officer_no
                how["officer_from"] = "recorder_assignment"
            else:
                review.append(REVIEW_RECORDER)
    unit = roster.officer_unit(db, ev.officer_id)
    if unit is not None and unit in tree:
        how["unit_from"] = "officer"
    else:
        if unit is not None:
            review.append(REVIEW_OFFICER)
        unit = station.unit_id
        how["unit_from"] = "station"
    ev.unit_id = unit
    ev.attribution_review = ",".join(review) or None
    how["unit_id"] = unit
    if review:
        how["review"] = review
    return how


def record_review(db: Session, custody: CustodyLog, ev: Evidence, *, actor: str, station_id: str | None) -> None:
    """The custody event that flags ``ev``'s attribution for review (nothing if it is not flagged)."""
    if ev.attribution_review:
        custody.record(db, actor=actor, action="attribution_flagged", evidence_id=ev.id, object_sha256=ev.sha256,
                       outcome="flagged", tool=TOOL, tool_version=liuhen.__version__,
                       detail={"review": ev.attribution_review.split(","), "unit_id": ev.unit_id,
                               "station_id": station_id,
                               "why": "an officer or recorder assignment of a unit outside the station's unit tree "
                                      "does not take this recording; it stays with the station's unit"})


def reattribute_station(db: Session, custody: CustodyLog, *, station: Station, actor: str) -> list[int]:
    """A station was given a unit: its recordings that are no unit's yet follow it (each attributed as at
    intake, a custody event each); return their ids."""
    from archive.models import Sighting

    rows = list(db.scalars(select(Evidence).where(
        Evidence.unit_id.is_(None),
        Evidence.id.in_(select(Sighting.evidence_id).where(Sighting.station_id == station.id))).order_by(Evidence.id)))
    for ev in rows:
        how = attribute(db, ev, station=station)
        custody.record(db, actor=actor, action="attributed", evidence_id=ev.id, object_sha256=ev.sha256,
                       tool=TOOL, tool_version=liuhen.__version__,
                       detail={**how, "station_id": station.id, "officer_no": ev.officer_id,
                               "why": "the station that offloaded it was given a unit"})
        record_review(db, custody, ev, actor=actor, station_id=station.id)
    db.flush()
    for ev in rows:
        terms.reindex(db, ev.id)
    return [ev.id for ev in rows]


def assign_recorder(db: Session, custody: CustodyLog, *, device_id: str, officer_no: str | None,
                    actor: str, scope: Scope | None = None) -> list[int]:
    """Assign ``device_id`` to ``officer_no`` (None: unassign); return the evidence ids it attributed.

    With ``scope`` (the units of whoever assigns), only recordings within it are attributed: an
    operator must not move another unit's footage (attributed to that unit's station) into their own.
    A recording is attributed only to an officer of its own unit or one below it (the unit tree of
    the station that offloaded it), so an assignment made in one unit never takes another's footage.
    """
    officer = roster.assign_recorder(db, custody, device_id=device_id, officer_no=officer_no, actor=actor)
    changed: list[int] = []
    if officer is None:
        return changed
    q = select(Evidence).where(Evidence.device_id == device_id, Evidence.officer_id.is_(None))
    if scope is not None:
        q = q.where(scope.clause())
    rows = db.scalars(q.order_by(Evidence.id))
    trees: dict[int, frozenset[int]] = {}
    for ev in rows:
        if ev.unit_id is None:
            continue  # a station with no unit: the recording waits for the station's unit
        if ev.unit_id not in trees:
            trees[ev.unit_id] = unit_tree(db, ev.unit_id)
        if officer.unit_id not in trees[ev.unit_id]:
            continue  # the officer is not of the unit tree the recording belongs to
        ev.officer_id = officer.officer_no
        ev.unit_id = officer.unit_id
        review, ev.attribution_review = ev.attribution_review, None  # an assignment within its own units settles it
        custody.record(db, actor=actor, action="attributed", evidence_id=ev.id, object_sha256=ev.sha256,
                       tool=TOOL, tool_version=liuhen.__version__,
                       detail={"device_id": device_id, "officer_no": officer.officer_no, "unit_id": officer.unit_id,
                               "review_settled": review.split(",") if review else [],
                               "why": "recorder assigned to the officer; the recording named no officer",
                               "bound": bound((EVIDENCE, ev))})
        changed.append(ev.id)
    db.flush()
    for eid in changed:
        terms.reindex(db, eid)
    return changed


# ---------------------------------------------------------------------------- the roster a user sees


def officers_of(db: Session, *, units: frozenset[int], limit: int = 1000,
                offset: int = 0) -> list[tuple[Officer, str]]:
    """The officers of ``units`` by number, each with their unit's code (``limit`` after ``offset``)."""
    return [(o, code) for o, code in db.execute(
        select(Officer, Unit.code).join(Unit, Unit.id == Officer.unit_id)
        .where(Officer.unit_id.in_(sorted(units))).order_by(Officer.officer_no).offset(offset).limit(limit)).all()]


def recorder_visible(scope: Scope) -> Any:
    """Recorders assigned to an officer of ``scope``'s units, or last docked at one of their stations."""
    mine = select(Officer.officer_no).where(Officer.unit_id.in_(sorted(scope.units)))
    conds = [Recorder.officer_no.in_(mine),
             Recorder.last_station_id.in_(select(Station.id).where(Station.unit_id.in_(sorted(scope.units))))]
    if scope.unattributed:
        conds.append(Recorder.last_station_id.in_(select(Station.id).where(Station.unit_id.is_(None))))
        conds.append(Recorder.last_station_id.is_(None))
    return or_(*conds)


def recorders_of(db: Session, *, scope: Scope, limit: int = 1000, offset: int = 0) -> list[Recorder]:
    """The recorders that belong to ``scope``'s units, by device id (``limit`` after ``offset``)."""
    return list(db.scalars(select(Recorder).where(recorder_visible(scope)).order_by(Recorder.device_id)
                           .offset(offset).limit(limit)))


def recorder_of_other_unit(db: Session, *, device_id: str, scope: Scope) -> bool:
    """Whether the recorder belongs to a unit outside ``scope``: a recorder belongs to a unit once it
    is assigned to an officer or docked at a station (one never seen, or seen and neither, is no
    unit's yet)."""
    r = db.get(Recorder, device_id)
    return r is not None and bool(r.officer_no or r.last_station_id) and db.scalar(
        select(Recorder.device_id).where(Recorder.device_id == device_id, recorder_visible(scope))) is None

