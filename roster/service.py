"""Officers and recorder assignment: plain keyword-only functions in the caller's transaction.

Attribution: a recording belongs to the officer its recorder wrote into the file name, else to
the officer the recorder is assigned to; and so to that officer's unit, else to the unit of the
station that offloaded it. Assigning a recorder attributes that recorder's footage that has no
officer yet (a dock operator assigns the recorder they see docked with no officer), each change
a custody event; footage already attributed is never re-attributed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

import liuhen
from archive.models import Evidence, Station
from hashing.custody import CustodyLog
from liuhen.db import utcnow
from liuhen.errors import LiuhenError, NotFound
from roster.models import Officer, Recorder

if TYPE_CHECKING:
    from archive.search import Scope

TOOL = "liuhen-roster"
OFFICER_NO = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$"
_NO = re.compile(OFFICER_NO)


class RosterError(LiuhenError):
    code = "roster"


class OfficerExists(RosterError):
    code = "officer_exists"


class UnknownOfficer(NotFound):
    code = "unknown_officer"


def add_officer(db: Session, custody: CustodyLog, *, officer_no: str, name: str, unit_id: int,
                actor: str) -> Officer:
    if not _NO.fullmatch(officer_no):
        raise RosterError(f"Officer number {officer_no!r} is not valid.",
                          "Use the number recorders write into file names (警号), letters and digits, e.g. 000123.")
    if not name.strip():
        raise RosterError(f"Officer {officer_no} has an empty name.", "Give the officer's name, e.g. 张三.")
    if db.scalar(select(Officer).where(Officer.officer_no == officer_no)) is not None:
        raise OfficerExists(f"Officer {officer_no} already exists.", "Use the existing officer, or another number.")
    o = Officer(officer_no=officer_no, name=name.strip(), unit_id=unit_id, active=True)
    db.add(o)
    db.flush()
    custody.record(db, actor=actor, action="officer_added", tool=TOOL, tool_version=liuhen.__version__,
                   detail={"officer_no": officer_no, "name": o.name, "unit_id": unit_id})
    from archive.search import reindex

    for eid in db.scalars(select(Evidence.id).where(Evidence.officer_id == officer_no)):
        reindex(db, eid)  # recordings archived before the officer was known are found by the name now
    return o


def get_officer(db: Session, *, officer_no: str) -> Officer:
    o = db.scalar(select(Officer).where(Officer.officer_no == officer_no))
    if o is None:
        raise UnknownOfficer(f"There is no officer with number {officer_no!r}.",
                             "Check the number, or add the officer first (liuhen officers add).")
    return o


def officer_unit(db: Session, officer_no: str | None) -> int | None:
    if not officer_no:
        return None
    return db.scalar(select(Officer.unit_id).where(Officer.officer_no == officer_no))


def recorder(db: Session, device_id: str) -> Recorder:
    """The recorder's row, created on first sight."""
    r = db.get(Recorder, device_id)
    if r is None:
        r = Recorder(device_id=device_id)
        db.add(r)
        db.flush()
    return r


def attribute(db: Session, ev: Evidence, *, station: Station | None) -> dict[str, object]:
    """Set a new evidence row's officer (from its recorder's assignment when the file names none)
    and unit; returns how, for the intake's custody event."""
    how: dict[str, object] = {}
    if ev.officer_id is None and ev.device_id:
        r = db.get(Recorder, ev.device_id)
        if r is not None and r.officer_no:
            ev.officer_id = r.officer_no
            how["officer_from"] = "recorder_assignment"
    unit = officer_unit(db, ev.officer_id)
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
    from archive.search import reindex

    officer = get_officer(db, officer_no=officer_no) if officer_no else None
    r = recorder(db, device_id)
    before = r.officer_no
    r.officer_no = officer.officer_no if officer else None
    r.assigned_at = utcnow()
    r.assigned_by = actor
    custody.record(db, actor=actor, action="recorder_assigned", tool=TOOL, tool_version=liuhen.__version__,
                   detail={"device_id": device_id, "officer_no": r.officer_no, "previous_officer_no": before})
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
        reindex(db, eid)
    return changed


def note_docked(db: Session, *, device_id: str, station_id: str, bay: str) -> None:
    r = recorder(db, device_id)
    r.last_station_id, r.last_bay, r.last_docked_at = station_id, bay, utcnow()
