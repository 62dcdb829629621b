"""``/api/v1/recorders``: the recorders of the user's units and whom each is assigned to; assigning one.

Which recorders belong to a unit, and what assigning one does to its footage, is
``archive.attribution``'s; here only the checks of who may ask (refusals are custody events). An
officer of another unit answers exactly like an officer that does not exist. A first assignment of
a recorder never seen takes effect only inside the assigner's units: footage is attributed inside
the unit tree of the station that offloads it, where another unit's assignment is only flagged.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser, Principal
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE
from archive import attribution
from archive.context import Archive
from archive.scope import Scope
from roster import service as roster
from roster.models import Recorder

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])


class RecorderOut(BaseModel):
    device_id: str
    officer_no: str | None
    officer_name: str | None
    assigned_at: dt.datetime | None
    assigned_by: str | None
    last_station_id: str | None
    last_bay: str | None
    last_docked_at: dt.datetime | None


class AssignIn(BaseModel):
    officer_no: str | None = Field(default=None, max_length=128, pattern=r"^$|" + roster.OFFICER_NO,
                                   description="the officer to assign the recorder to; null (or empty) to unassign")


class AssignOut(BaseModel):
    recorder: RecorderOut
    attributed_evidence: list[int] = Field(description="recordings of this recorder that had no officer and now "
                                                       "belong to this one")


def recorder_out(db: Session, r: Recorder, scope: Scope) -> RecorderOut:
    """The recorder as ``scope`` may see it: an assignment to another unit's officer shows neither the
    officer, nor who assigned it, nor when (only that it is not one of the user's officers: null)."""
    if r.officer_no and roster.officer_unit(db, r.officer_no) not in scope.units:
        return RecorderOut(device_id=r.device_id, officer_no=None, officer_name=None, assigned_at=None,
                           assigned_by=None, last_station_id=r.last_station_id, last_bay=r.last_bay,
                           last_docked_at=r.last_docked_at)
    return RecorderOut(device_id=r.device_id, officer_no=r.officer_no,
                       officer_name=roster.officer_name(db, r.officer_no), assigned_at=r.assigned_at,
                       assigned_by=r.assigned_by, last_station_id=r.last_station_id, last_bay=r.last_bay,
                       last_docked_at=r.last_docked_at)


@router.get("/recorders", response_model=list[RecorderOut], tags=["roster"],
            summary="Recorders of the user's units and whom each is assigned to")
def list_recorders(archive: ArchiveDep, p: CurrentUser, request: Request,
                   limit: Annotated[int, Query(ge=1, le=1000, description="recorders per page")] = 500,
                   offset: Annotated[int, Query(ge=0, le=10_000_000, description="recorders skipped")] = 0,
                   ) -> list[RecorderOut]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "dock.view", request)
        return [recorder_out(db, r, p.scope)
                for r in attribution.recorders_of(db, scope=p.scope, limit=limit, offset=offset)]


@router.put("/recorders/{device_id}/officer", response_model=AssignOut, tags=["roster"],
            summary="Assign a recorder to an officer (its recordings that name no officer become theirs)")
def assign_recorder(device_id: Annotated[str, PathParam(min_length=1, max_length=128, pattern=LINE)], body: AssignIn,
                    archive: ArchiveDep, p: CurrentUser, request: Request) -> AssignOut:
    with archive.sessions.begin() as db:
        changed = assign(archive, db, p, device_id, body.officer_no or None, request)
        rec = db.get(Recorder, device_id)
        assert rec is not None
        return AssignOut(recorder=recorder_out(db, rec, p.scope), attributed_evidence=changed)


def assign(archive: Archive, db: Session, p: Principal, device_id: str, officer_no: str | None,
           request: Request | None) -> list[int]:
    """Assign ``device_id`` to ``officer_no`` (None: unassign) for ``p`` (``recorder.assign``; an officer of
    another unit answers like none, a recorder of another unit is refused); the recordings attributed."""
    access.require(archive, db, p, "recorder.assign", request)
    if officer_no:
        o = roster.get_officer(db, officer_no=officer_no)  # UnknownOfficer (404) if there is none
        if o.unit_id not in p.scope.units:  # another unit's officer: answered exactly like no officer
            access.denied(archive, db, p, permission="recorder.assign", reason="unit", request=request)
            raise roster.unknown_officer(officer_no)
    if attribution.recorder_of_other_unit(db, device_id=device_id, scope=p.scope):
        access.denied(archive, db, p, permission="recorder.assign", reason="recorder of another unit",
                      request=request)
        raise access.Forbidden(f"不能分配执法记录仪 {device_id} / Recorder {device_id} cannot be assigned by you.",
                               "Assign only recorders of your own units (docked at their stations or assigned "
                               "to their officers); ask an administrator if this one should be yours.")
    return attribution.assign_recorder(db, archive.custody, device_id=device_id, officer_no=officer_no or None,
                                       actor=p.actor, scope=p.scope)
