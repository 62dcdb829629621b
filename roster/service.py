"""Officers and recorders: plain keyword-only functions in the caller's transaction, each change a
custody event. What this means for footage (attribution) is ``archive.attribution``'s."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

import liuhen
from hashing.binding import bound
from hashing.custody import CustodyLog
from liuhen.db import utcnow
from roster.bindings import OFFICER, RECORDER
from roster.errors import OfficerExists, RosterError, UnknownOfficer
from roster.models import Officer, Recorder

TOOL = "liuhen-roster"
OFFICER_NO = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$"
_NO = re.compile(OFFICER_NO)


def unknown_officer(officer_no: str) -> UnknownOfficer:
    """The answer for a number with no officer (also for one of another unit, where that must not show)."""
    return UnknownOfficer(f"There is no officer with number {officer_no!r}.",
                          "Check the number, or add the officer first (liuhen officers add).")


def get_officer(db: Session, *, officer_no: str) -> Officer:
    o = db.scalar(select(Officer).where(Officer.officer_no == officer_no))
    if o is None:
        raise unknown_officer(officer_no)
    return o


def officer_name(db: Session, officer_no: str | None) -> str | None:
    """The name of the officer with this number (None for none, or for a number not in the roster)."""
    return db.scalar(select(Officer.name).where(Officer.officer_no == officer_no)) if officer_no else None


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
                   detail={"officer_no": officer_no, "name": o.name, "unit_id": unit_id,
                           "bound": bound((OFFICER, o))})
    return o


def assign_recorder(db: Session, custody: CustodyLog, *, device_id: str, officer_no: str | None,
                    actor: str) -> Officer | None:
    """Assign ``device_id`` to ``officer_no`` (None: unassign), a custody event; return the officer.

    Only the roster changes here; ``archive.attribution.assign_recorder`` also attributes the
    recorder's footage that named no officer.
    """
    officer = get_officer(db, officer_no=officer_no) if officer_no else None
    r = recorder(db, device_id)
    before = r.officer_no
    r.officer_no = officer.officer_no if officer else None
    r.assigned_at = utcnow()
    r.assigned_by = actor
    db.flush()
    custody.record(db, actor=actor, action="recorder_assigned", tool=TOOL, tool_version=liuhen.__version__,
                   detail={"device_id": device_id, "officer_no": r.officer_no, "previous_officer_no": before,
                           "bound": bound((RECORDER, r))})
    return officer


def note_docked(db: Session, *, device_id: str, station_id: str, bay: str) -> None:
    r = recorder(db, device_id)
    r.last_station_id, r.last_bay, r.last_docked_at = station_id, bay, utcnow()
