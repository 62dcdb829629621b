"""Attribution: which officer and unit a recording belongs to.

A recording belongs to the officer its recorder wrote into the file name, else to the officer the
recorder is assigned to; and so to that officer's unit, else to the unit of the station that
offloaded it. Assigning a recorder attributes that recorder's footage that has no officer yet (a
dock operator assigns the recorder they see docked with no officer), each change a custody event;
footage already attributed is never re-attributed. Plain keyword-only functions in the caller's
transaction; the roster itself (officers, recorders) is ``roster.service``'s.

The roster as a user sees it follows the same rule: the officers of their units, and the recorders
that belong to their units — assigned to one of their officers, or last docked at one of their
stations (a user of a top-level unit also sees those docked at no unit's station, or never docked).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import liuhen
from archive import terms
from archive.bindings import EVIDENCE
from archive.models import Evidence, Station
from archive.scope import Scope
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


def attribute(db: Session, ev: Evidence, *, station: Station | None) -> dict[str, object]:
    """Set a new evidence row's officer (from its recorder's assignment when the file names none)
    and unit; returns how, for the intake's custody event."""
    how: dict[str, object] = {}
    if ev.officer_id is None and ev.device_id:
        r = db.get(Recorder, ev.device_id)
        if r is not None and r.officer_no:
            ev.officer_id = r.officer_no
            how["officer_from"] = "recorder_assignment"
    unit = roster.officer_unit(db, ev.officer_id)
    if unit is not None:
        how["unit_from"] = "officer"
    elif station is not None and station.unit_id is not None:
        unit = station.unit_id
        how["unit_from"] = "station"
    ev.unit_id = unit
    how["unit_id"] = unit
    return how


def assign_recorder(db: Session, custody: CustodyLog, *, device_id: str, officer_no: str | None,
                    actor: str, scope: Scope | None = None) -> list[int]:
    """Assign ``device_id`` to ``officer_no`` (None: unassign); return the evidence ids it attributed.

    With ``scope`` (the units of whoever assigns), only recordings within it are attributed: an
    operator must not move another unit's footage (attributed to that unit's station) into their own.
    """
    officer = roster.assign_recorder(db, custody, device_id=device_id, officer_no=officer_no, actor=actor)
    changed: list[int] = []
    if officer is None:
        return changed
    q = select(Evidence).where(Evidence.device_id == device_id, Evidence.officer_id.is_(None))
    if scope is not None:
        q = q.where(scope.clause())
    rows = db.scalars(q.order_by(Evidence.id))
    for ev in rows:
        ev.officer_id = officer.officer_no
        ev.unit_id = officer.unit_id
        custody.record(db, actor=actor, action="attributed", evidence_id=ev.id, object_sha256=ev.sha256,
                       tool=TOOL, tool_version=liuhen.__version__,
                       detail={"device_id": device_id, "officer_no": officer.officer_no, "unit_id": officer.unit_id,
                               "why": "recorder assigned to the officer; the recording named no officer",
                               "bound": bound((EVIDENCE, ev))})
        changed.append(ev.id)
    db.flush()
    for eid in changed:
        terms.reindex(db, eid)
    return changed


# ---------------------------------------------------------------------------- the roster a user sees


def officers_of(db: Session, *, units: frozenset[int]) -> list[tuple[Officer, str]]:
    """The officers of ``units`` by number, each with their unit's code."""
    return [(o, code) for o, code in db.execute(
        select(Officer, Unit.code).join(Unit, Unit.id == Officer.unit_id)
        .where(Officer.unit_id.in_(sorted(units))).order_by(Officer.officer_no)).all()]


def recorder_visible(scope: Scope) -> Any:
    """Recorders assigned to an officer of ``scope``'s units, or last docked at one of their stations."""
    mine = select(Officer.officer_no).where(Officer.unit_id.in_(sorted(scope.units)))
    conds = [Recorder.officer_no.in_(mine),
             Recorder.last_station_id.in_(select(Station.id).where(Station.unit_id.in_(sorted(scope.units))))]
    if scope.unattributed:
        conds.append(Recorder.last_station_id.in_(select(Station.id).where(Station.unit_id.is_(None))))
        conds.append(Recorder.last_station_id.is_(None))
    return or_(*conds)


def recorders_of(db: Session, *, scope: Scope) -> list[Recorder]:
    """The recorders that belong to ``scope``'s units, by device id."""
    return list(db.scalars(select(Recorder).where(recorder_visible(scope)).order_by(Recorder.device_id)))


def recorder_of_other_unit(db: Session, *, device_id: str, scope: Scope) -> bool:
    """Whether the recorder belongs to a unit outside ``scope``: a recorder belongs to a unit once it
    is assigned to an officer or docked at a station (one never seen, or seen and neither, is no
    unit's yet)."""
    r = db.get(Recorder, device_id)
    return r is not None and bool(r.officer_no or r.last_station_id) and db.scalar(
        select(Recorder.device_id).where(Recorder.device_id == device_id, recorder_visible(scope))) is None

