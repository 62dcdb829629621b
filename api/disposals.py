"""``/api/v1/disposals``: the pending-disposal queue, restore and approve, the destruction log, the run.

Reading needs ``retention.view``, restoring ``retention.restore``, approving and running
``retention.dispose``. A disposal of evidence outside the user's units answers exactly like one that
does not exist; every refusal is an ``access_denied`` custody event (``api.access``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser, Principal
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE, LINE_NOT_BLANK, MAX_ID
from archive.context import Archive
from archive.models import Evidence
from liuhen.words import said
from retention import disposal
from retention.errors import DisposalRefused, UnknownDisposal
from retention.models import Disposal

router = APIRouter(tags=["retention"], dependencies=[StrictQuery], responses={
    **ERRORS, 409: {"model": ERRORS[400]["model"], "description": "the disposal is not pending, or the approver "
                    "may not approve it (the one who scheduled it, or a second approval by the same person)"}})
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class DisposalOut(BaseModel):
    disposal_id: int
    evidence_id: int
    state: str
    file_name: str
    sha256: str
    size: int
    unit_id: int | None
    rule: dict[str, Any]
    scheduled_by: str
    scheduled_at: str | None
    due_at: str | None
    approvers: list[str]
    approved: bool | None = None


class DestructionOut(DisposalOut):
    destroy_started_at: str | None = None
    destroyed_at: str | None = None
    destroyed_keys: list[str] | None = None
    record: dict[str, Any] = Field(default_factory=dict, description="the destruction record (销毁记录): the "
                                   "detail of the `destroyed` custody event")


class RestoreIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, pattern=LINE_NOT_BLANK)
    class_name: str | None = Field(default=None, max_length=64, pattern=LINE,
                                   description="give the evidence this retention class too")


class ApprovalOut(BaseModel):
    disposal_id: int
    approved_by: str
    at: str
    approved: bool = Field(description="whether the disposal now has every signature it needs")


Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


def unknown(disposal_id: int) -> UnknownDisposal:
    return UnknownDisposal(said(f"没有待销毁记录 {disposal_id}，或您无权查看", f"No disposal {disposal_id} that you may see."),
                           said("请在待销毁列表中核对编号。", "Check the id on the pending-disposal queue."))


def _disposal(archive: Archive, db: Session, p: Principal, disposal_id: int, action: str,
              request: Request) -> Disposal:
    """The disposal ``p`` may act on with ``action``: a role refusal is 403; a disposal of another
    unit's evidence answers like a missing one (both leave their event)."""
    access.require(archive, db, p, action, request)
    d = db.get(Disposal, disposal_id)
    ev = db.get(Evidence, d.evidence_id) if d is not None else None
    if d is None or ev is None:
        access.missing(archive, db, p, what="disposal", ident=disposal_id, request=request)
        raise unknown(disposal_id)
    if not p.scope.allows(ev):
        access.denied(archive, db, p, permission=action, reason="unit", request=request)
        raise unknown(disposal_id)
    return d


@router.get("", response_model=list[DisposalOut], summary="The pending-disposal queue (待销毁), soonest due first")
def queue(archive: ArchiveDep, p: CurrentUser, request: Request, limit: Limit = 100,
          offset: Offset = 0) -> list[DisposalOut]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "retention.view", request)
        rows = disposal.pending(db, units=p.scope.units, limit=limit, offset=offset,
                                settings=archive.settings.retention)
        access.record(archive, db, p, "disposals_viewed", detail={"shown": [r["disposal_id"] for r in rows]})
        return [DisposalOut(**r) for r in rows]


@router.get("/log", response_model=list[DestructionOut], summary="The destruction log (销毁记录), newest first")
def log(archive: ArchiveDep, p: CurrentUser, request: Request, limit: Limit = 100,
        offset: Offset = 0) -> list[DestructionOut]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "retention.view", request)
        rows = disposal.destruction_log(db, units=p.scope.units, limit=limit, offset=offset)
        access.record(archive, db, p, "destruction_log_viewed", detail={"shown": [r["disposal_id"] for r in rows]})
        return [DestructionOut(**r) for r in rows]


@router.post("/{disposal_id}/restore", response_model=DisposalOut,
             summary="Keep a pending evidence, with a reason (optionally in another retention class)")
def restore(disposal_id: Id, body: RestoreIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> DisposalOut:
    with archive.sessions.begin() as db:
        _disposal(archive, db, p, disposal_id, "retention.restore", request)
        d = disposal.restore(db, archive.custody, archive.settings.retention, disposal_id=disposal_id,
                             reason=body.reason, actor=p.actor, visible_units=p.scope.units,
                             class_name=body.class_name, context=p.where())
        ev = db.get(Evidence, d.evidence_id)
        assert ev is not None
        return DisposalOut(**disposal.row(db, d, ev, archive.settings.retention))


@router.post("/{disposal_id}/approve", response_model=ApprovalOut,
             summary="Approve a pending disposal (two different people sign every destruction)")
def approve(disposal_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> ApprovalOut:
    with archive.sessions.begin() as db:
        d = _disposal(archive, db, p, disposal_id, "retention.dispose", request)
        try:
            a = disposal.approve(db, archive.custody, archive.settings.retention, disposal_id=disposal_id,
                                 actor=p.actor, visible_units=p.scope.units, context=p.where())
        except DisposalRefused as e:  # (the scheduler, a second approval): a refusal, recorded like every other
            access.denied(archive, db, p, permission="retention.dispose", request=request,
                          reason=f"two-person rule (disposal {disposal_id}): {e.detail}")
            raise
        signed = disposal.approvers_of(db, d.id)
        from retention.rules import approved, iso

        return ApprovalOut(disposal_id=d.id, approved_by=a.actor, at=iso(a.at),
                           approved=approved(archive.settings.retention, d.scheduled_by, signed))


@router.post("/run", response_model=dict[str, Any],
             summary="The disposal run: schedule what is due in the user's units, destroy what is due and "
                     "approved (dry_run: what it would do, writing nothing)")
def run(archive: ArchiveDep, p: CurrentUser, request: Request, dry_run: bool = False) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "retention.dispose", request)
    out = disposal.run(archive, actor=p.actor, dry_run=dry_run, units=p.scope.units)
    if dry_run:
        with archive.sessions.begin() as db:
            access.record(archive, db, p, "disposal_dry_run", detail={"would_schedule": out["would_schedule"]})
    return out
