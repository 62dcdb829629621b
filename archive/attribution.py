"""Attribution: which officer and unit a recording belongs to.

A recording belongs to the officer its recorder wrote into the file name, else to the officer the
recorder is assigned to; and so to that officer's unit, else to the unit of the station that
offloaded it. Assigning a recorder attributes that recorder's footage that has no officer yet (a
dock operator assigns the recorder they see docked with no officer), each change a custody event;
footage already attributed is never re-attributed. Plain keyword-only functions in the caller's
transaction; the roster itself (officers, recorders) is ``roster.service``'s.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

import liuhen
from archive import terms
from archive.models import Evidence, Station
from archive.scope import Scope
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
                               "why": "recorder assigned to the officer; the recording named no officer"})
        changed.append(ev.id)
    db.flush()
    for eid in changed:
        terms.reindex(db, eid)
    return changed
