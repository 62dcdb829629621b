"""The dock and the people around it: stations and bays, recorders, officers, jobs, the audit trail, me.

Admins and operators see the stations of their units; jobs are listed only for evidence of the
user's units (an admin, who sees no evidence, gets their kinds and states without evidence ids,
file names or error texts, which name the recording).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import and_, literal, or_, select
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE, MAX_ID, CustodyPage, Me, Time, custody, utc_bound
from archive import attribution
from archive import dock as docking
from archive.models import Evidence
from auth import policy
from auth.models import Unit
from hashing.models import CustodyEvent
from jobs.models import Job
from roster import service as roster
from roster.models import Officer, Recorder

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])
OFFICER_NO = roster.OFFICER_NO  # what recorders write into file names
UNIT_CODE = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"  # auth.service
NAME = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"  # not blank, no control characters


# ---------------------------------------------------------------------------- me


@router.get("/me", response_model=Me, tags=["accounts"], summary="Who is signed in, and what they may do")
def me(archive: ArchiveDep, p: CurrentUser) -> Me:
    with archive.sessions() as db:
        unit = db.get(Unit, p.unit_id)
        assert unit is not None
        return Me(username=p.username, display_name=p.display_name, role=p.role,
                  role_label=policy.ROLE_LABELS.get(p.role, p.role), unit_id=unit.id, unit_code=unit.code,
                  unit_name=unit.name, permissions=sorted(policy.PERMISSIONS.get(p.role, frozenset())),
                  csrf_token=p.csrf_token)


# ---------------------------------------------------------------------------- dock


class FileOut(BaseModel):
    path: str
    size: int | None
    done: int
    status: str
    reason: str | None = None
    evidence_id: int | None = None
    sha256: str | None = None


class BayOut(BaseModel):
    bay: str
    state: str
    device_id: str | None
    officer_no: str | None
    officer_name: str | None
    updated_at: str
    files_total: int
    files_done: int
    files_failed: int
    bytes_total: int
    bytes_done: int
    files: list[FileOut]


class StationOut(BaseModel):
    station_id: str
    unit_id: int | None
    online: bool
    last_seen_at: dt.datetime | None
    bays: list[BayOut]


def dock_for(archive: Any, db: Session, p: access.Principal, request: Request | None = None) -> list[StationOut]:
    access.require(archive, db, p, "dock.view", request)
    views = docking.dock_view(db, units=p.scope.units, unattributed=p.scope.unattributed)
    out = [StationOut(station_id=v.station_id, unit_id=v.unit_id, online=v.online, last_seen_at=v.last_seen_at,
                      bays=[BayOut(**b) for b in v.bays]) for v in views]
    if not p.may("evidence.view"):  # the administrator runs docks but sees no evidence: states and sizes only
        for st in out:
            for bay in st.bays:
                bay.files = [f.model_copy(update={"path": "", "reason": None, "evidence_id": None, "sha256": None})
                             for f in bay.files]
    return out


@router.get("/dock", response_model=list[StationOut], tags=["dock"],
            summary="Stations of the user's units, their bays, the docked recorders and every file's progress")
def get_dock(archive: ArchiveDep, p: CurrentUser, request: Request) -> list[StationOut]:
    with archive.sessions.begin() as db:
        return dock_for(archive, db, p, request)


# ---------------------------------------------------------------------------- officers and recorders


class OfficerOut(BaseModel):
    officer_no: str
    name: str
    unit_id: int
    unit_code: str
    active: bool


class OfficerIn(BaseModel):
    officer_no: str = Field(min_length=1, max_length=128, pattern=OFFICER_NO,
                            description="the number recorders write into file names (警号), e.g. 000123")
    name: str = Field(min_length=1, max_length=200, pattern=NAME)
    unit_code: str = Field(min_length=1, max_length=64, pattern=UNIT_CODE)


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
    officer_no: str | None = Field(default=None, max_length=128, pattern=r"^$|" + OFFICER_NO,
                                   description="the officer to assign the recorder to; null (or empty) to unassign")


class AssignOut(BaseModel):
    recorder: RecorderOut
    attributed_evidence: list[int] = Field(description="recordings of this recorder that had no officer and now "
                                                       "belong to this one")


def officers_for(db: Session, p: access.Principal) -> list[OfficerOut]:
    rows = db.execute(select(Officer, Unit.code).join(Unit, Unit.id == Officer.unit_id)
                      .where(Officer.unit_id.in_(sorted(p.scope.units))).order_by(Officer.officer_no)).all()
    return [OfficerOut(officer_no=o.officer_no, name=o.name, unit_id=o.unit_id, unit_code=code, active=o.active)
            for o, code in rows]


@router.get("/officers", response_model=list[OfficerOut], tags=["roster"], summary="Officers of the user's units")
def list_officers(archive: ArchiveDep, p: CurrentUser) -> list[OfficerOut]:
    with archive.sessions() as db:
        return officers_for(db, p)


@router.post("/officers", response_model=OfficerOut, status_code=201, tags=["roster"], summary="Add an officer")
def create_officer(body: OfficerIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> OfficerOut:
    with archive.sessions.begin() as db:
        unit = access.own_unit(archive, db, p, "officers.manage", body.unit_code, request)
        o = attribution.add_officer(db, archive.custody, officer_no=body.officer_no, name=body.name, unit_id=unit.id,
                               actor=p.actor)
        return OfficerOut(officer_no=o.officer_no, name=o.name, unit_id=o.unit_id, unit_code=unit.code, active=o.active)


def _recorder_out(db: Session, r: Recorder) -> RecorderOut:
    name = db.scalar(select(Officer.name).where(Officer.officer_no == r.officer_no)) if r.officer_no else None
    return RecorderOut(device_id=r.device_id, officer_no=r.officer_no, officer_name=name, assigned_at=r.assigned_at,
                       assigned_by=r.assigned_by, last_station_id=r.last_station_id, last_bay=r.last_bay,
                       last_docked_at=r.last_docked_at)


def _recorder_visible(db: Session, p: access.Principal) -> Any:
    """Recorders assigned to an officer of the user's units, or last docked at one of their stations."""
    from archive.models import Station

    mine = select(Officer.officer_no).where(Officer.unit_id.in_(sorted(p.scope.units)))
    conds = [Recorder.officer_no.in_(mine),
             Recorder.last_station_id.in_(select(Station.id).where(Station.unit_id.in_(sorted(p.scope.units))))]
    if p.scope.unattributed:
        conds.append(Recorder.last_station_id.in_(select(Station.id).where(Station.unit_id.is_(None))))
        conds.append(Recorder.last_station_id.is_(None))
    return or_(*conds)


@router.get("/recorders", response_model=list[RecorderOut], tags=["roster"],
            summary="Recorders of the user's units and whom each is assigned to")
def list_recorders(archive: ArchiveDep, p: CurrentUser, request: Request) -> list[RecorderOut]:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "dock.view", request)
        rows = db.scalars(select(Recorder).where(_recorder_visible(db, p)).order_by(Recorder.device_id))
        return [_recorder_out(db, r) for r in rows]


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
        r = db.get(Recorder, device_id)
        # a recorder belongs to a unit once it is assigned to an officer or docked at a station
        if r is not None and (r.officer_no or r.last_station_id) and db.scalar(select(Recorder.device_id).where(
                Recorder.device_id == device_id, _recorder_visible(db, p))) is None:
            access.denied(archive, db, p, permission="recorder.assign", reason="unit", request=request)
            raise access.Forbidden(f"执法记录仪 {device_id} 属于其他单位 / Recorder {device_id} belongs to another unit.",
                                   "Ask that unit's operator to reassign it.")
        changed = attribution.assign_recorder(db, archive.custody, device_id=device_id, officer_no=body.officer_no or None,
                                         actor=p.actor, scope=p.scope)
        rec = db.get(Recorder, device_id)
        assert rec is not None
        return AssignOut(recorder=_recorder_out(db, rec), attributed_evidence=changed)


# ---------------------------------------------------------------------------- jobs


class JobOut(BaseModel):
    job_id: int
    kind: str
    evidence_id: int | None
    file_name: str | None
    state: str
    progress: float
    note: str | None
    attempts: int
    last_error: str | None


_HIDDEN = "(the error names the recording; a user who may see evidence can read it)"


@router.get("/jobs", response_model=list[JobOut], tags=["jobs"], summary="Media jobs and their progress")
def list_jobs(archive: ArchiveDep, p: CurrentUser, request: Request,
              state: Literal["pending", "running", "done", "failed"] | None = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[JobOut]:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "jobs.view", request)
        q = select(Job, Evidence).join(Evidence, Evidence.id == Job.evidence_id).where(p.scope.clause())
        if state:
            q = q.where(Job.state == state)
        rows = db.execute(q.order_by(Job.id.desc()).limit(limit)).all()
        sees = p.may("evidence.view")  # an administrator sees no evidence: no ids, names, or errors naming files
        return [JobOut(job_id=j.id, kind=j.kind,
                       evidence_id=e.id if sees else None,
                       file_name=e.file_name if sees else None,
                       state=j.state, progress=round(j.progress, 3), note=j.note, attempts=j.attempts,
                       last_error=j.last_error if sees else (_HIDDEN if j.last_error else None)) for j, e in rows]


# ---------------------------------------------------------------------------- audit


def audit_page(db: Session, p: access.Principal, *, actor: str | None, action: str | None, outcome: str | None,
               evidence_id: int | None, start: dt.datetime | None, end: dt.datetime | None, page: int,
               per_page: int) -> CustodyPage:
    """The custody log as ``p`` may read it: events of evidence outside their units are left out,
    and a user who may not see evidence (the administrator) gets the events of evidence without
    their details (file names, paths, queries), so separation of duties holds here too."""
    from auth.models import User

    others = select(literal("user:").concat(User.username)).where(User.unit_id.not_in(sorted(p.scope.units)))
    q = select(CustodyEvent).where(or_(
        # events of no evidence (sign-ins, searches, cases): not those of users of other units
        and_(CustodyEvent.evidence_id.is_(None), CustodyEvent.actor.not_in(others)),
        CustodyEvent.evidence_id.in_(select(Evidence.id).where(p.scope.clause()))))
    if actor:
        q = q.where(CustodyEvent.actor == actor)
    if action:
        q = q.where(CustodyEvent.action == action)
    if outcome:
        q = q.where(CustodyEvent.outcome == outcome)
    if evidence_id is not None:
        q = q.where(CustodyEvent.evidence_id == evidence_id)
    if start:
        q = q.where(CustodyEvent.at >= start)
    if end:
        q = q.where(CustodyEvent.at <= end)
    rows = list(db.scalars(q.order_by(CustodyEvent.seq.desc()).offset((page - 1) * per_page).limit(per_page + 1)))
    items = [custody(e) for e in rows[:per_page]]
    if not p.may("evidence.view"):
        withheld = {"withheld": "evidence details are not shown to this role"}
        items = [i.model_copy(update={"detail": withheld if i.evidence_id is not None else
                                      {k: v for k, v in i.detail.items() if k not in ("query", "shown")}})
                 for i in items]
    return CustodyPage(items=items, page=page, per_page=per_page, has_more=len(rows) > per_page)


@router.get("/audit", response_model=CustodyPage, tags=["audit"],
            summary="The custody log (newest first): every action on evidence and every refusal")
def get_audit(archive: ArchiveDep, p: CurrentUser, request: Request,
              actor: Annotated[str | None, Query(max_length=128, pattern=LINE)] = None,
              action: Annotated[str | None, Query(max_length=32, pattern=LINE)] = None,
              outcome: Literal["success", "failure", "denied"] | None = None,
              evidence_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
              start: Annotated[Time | None, Query(description="at or after (ISO 8601 with its offset)")] = None,
              end: Annotated[Time | None, Query(description="at or before (ISO 8601 with its offset)")] = None,
              page: Annotated[int, Query(ge=1, le=100000)] = 1,
              per_page: Annotated[int, Query(ge=1, le=500)] = 100) -> CustodyPage:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "audit.view", request)
        out = audit_page(db, p, actor=actor, action=action, outcome=outcome, evidence_id=evidence_id,
                         start=utc_bound(start), end=utc_bound(end), page=page, per_page=per_page)
        access.record(archive, db, p, "audit_viewed", detail={
            "filters": {k: v for k, v in {"actor": actor, "action": action, "outcome": outcome,
                                          "evidence_id": evidence_id}.items() if v is not None}, "page": page})
        return out
