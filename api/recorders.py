"""``/api/v1/recorders``: the recorders of the user's units and whom each is assigned to; assigning one.

Which recorders belong to a unit, and what assigning one does to its footage, is
``archive.attribution``'s; here only the checks of who may ask (refusals are custody events).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE
from archive import attribution
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


def _recorder_out(db: Session, r: Recorder) -> RecorderOut:
    return RecorderOut(device_id=r.device_id, officer_no=r.officer_no,
                       officer_name=roster.officer_name(db, r.officer_no), assigned_at=r.assigned_at,
                       assigned_by=r.assigned_by, last_station_id=r.last_station_id, last_bay=r.last_bay,
                       last_docked_at=r.last_docked_at)


@router.get("/recorders", response_model=list[RecorderOut], tags=["roster"],
            summary="Recorders of the user's units and whom each is assigned to")
def list_recorders(archive: ArchiveDep, p: CurrentUser, request: Request) -> list[RecorderOut]:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "dock.view", request)
        return [_recorder_out(db, r) for r in attribution.recorders_of(db, scope=p.scope)]


@router.put("/recorders/{device_id}/officer", response_model=AssignOut, tags=["roster"],
            summary="Assign a recorder to an officer (its recordings that name no officer become theirs)")
def assign_recorder(device_id: Annotated[str, PathParam(min_length=1, max_length=128, pattern=LINE)], body: AssignIn,
                    archive: ArchiveDep, p: CurrentUser, request: Request) -> AssignOut:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "recorder.assign", request)
        if body.officer_no:
            o = roster.get_officer(db, officer_no=body.officer_no)
            if o.unit_id not in p.scope.units:
                access.denied(archive, db, p, permission="recorder.assign", reason="unit", request=request)
                raise access.Forbidden(f"警员 {o.officer_no} 不在您的单位 / Officer {o.officer_no} is not in your units.",
                                       "Assign recorders only to officers of your own units.")
        if attribution.recorder_of_other_unit(db, device_id=device_id, scope=p.scope):
            access.denied(archive, db, p, permission="recorder.assign", reason="unit", request=request)
            raise access.Forbidden(f"执法记录仪 {device_id} 属于其他单位 / Recorder {device_id} belongs to another unit.",
                                   "Ask that unit's operator to reassign it.")
        changed = attribution.assign_recorder(db, archive.custody, device_id=device_id,
                                              officer_no=body.officer_no or None, actor=p.actor, scope=p.scope)
        rec = db.get(Recorder, device_id)
        assert rec is not None
        return AssignOut(recorder=_recorder_out(db, rec), attributed_evidence=changed)
