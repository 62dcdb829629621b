"""``/api/v1/publication``: decision notices (行政执法公示) for the publishers.

Whoever may read them (``publication.view``: investigators, legal reviewers, records managers, the
auditor) lists their units' notices with where each stands (due, overdue, on time, late, withdrawn)
and reads one with its masks; a publisher (``publication.publish``: legal reviewers, records
managers) masks more of a draft, publishes it (after the second check of its public page) and
withdraws a published one with a reason. A notice of another unit answers exactly like one that does
not exist (404, with an ``access_denied`` event)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE_NOT_BLANK, MAX_ID
from archive.context import Archive
from cases.models import Case
from liuhen.db import utcnow
from publication import service
from publication.errors import UnknownNotice
from publication.models import FIELDS, Notice

router = APIRouter(tags=["publication"], dependencies=[StrictQuery], responses={
    **ERRORS,
    409: {"model": ERRORS[400]["model"], "description": "not a draft (mask, publish) or not published (withdraw)"}})
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
Status = Literal["due", "overdue", "on_time", "late", "deadline_unknown", "withdrawn"]


class MaskIn(BaseModel):
    field: Literal["doc_number", "party", "facts", "legal_basis", "decision"] = Field(
        description="the field of the draft: " + ", ".join(FIELDS))
    text: str = Field(min_length=1, max_length=2000, pattern=LINE_NOT_BLANK,
                      description="the words to mask, exactly as the draft shows them (every occurrence is masked)")


class WithdrawIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, pattern=LINE_NOT_BLANK, examples=["行政处罚决定已被依法撤销"])


def today(archive: Archive) -> dt.date:
    return utcnow().astimezone(ZoneInfo(archive.settings.station.timezone)).date()


def notice_of(archive: Archive, db: Session, p: access.Principal, notice_id: int, action: str,
              request: Request, *, lock: bool = False) -> Notice:
    access.require(archive, db, p, action, request)
    try:
        n = service.get(db, notice_id, lock=lock)
    except UnknownNotice:
        access.missing(archive, db, p, what="notice", ident=notice_id, request=request)
        raise
    if n.unit_id not in p.scope.units:
        access.denied(archive, db, p, permission=action, reason="unit", request=request)
        raise service.unknown(notice_id)
    return n


def _out(archive: Archive, db: Session, n: Notice) -> dict[str, Any]:
    case = db.get(Case, n.case_id)
    return service.to_dict(n, today(archive), case_number=case.number if case is not None else None)


@router.get("/publication/notices", summary="The notices of the user's units (drafts first, soonest deadline first; then "
            "the published and withdrawn ones, newest first), with where "
            "each stands: due, overdue (a draft past its deadline), on_time, late (published after it), withdrawn")
def list_notices(archive: ArchiveDep, p: CurrentUser, request: Request,
                 status: Annotated[list[Status] | None, Query(description="only these")] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> list[dict[str, Any]]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "publication.view", request)
        now = today(archive)
        rows = [n for n in service.notices_of(db, units=p.scope.units, limit=limit)
                if not status or service.status(n, now) in status]
        return [_out(archive, db, n) for n in rows]


@router.get("/publication/notices/{notice_id}", summary="One notice: its fields as they will be public, where "
            "each mask stands (kind: a detector's, name, or hand), its deadline and state")
def get_notice(notice_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.reads.begin() as db:
        return _out(archive, db, notice_of(archive, db, p, notice_id, "publication.view", request))


@router.post("/publication/notices/{notice_id}/mask", summary="Mask more of a draft: every occurrence of the text "
             "in the field becomes stars (a mask is never taken away)")
def mask(notice_id: Id, body: MaskIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        n = notice_of(archive, db, p, notice_id, "publication.publish", request, lock=True)
        service.mask(db, archive.custody, notice=n, field=body.field, text=body.text, actor=p.actor)
        return _out(archive, db, n)


@router.post("/publication/notices/{notice_id}/publish", summary="Publish a draft on the public site; its public "
             "page is rendered and checked for personal data once more (personal_data_found: nothing published)")
def publish(notice_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        n = notice_of(archive, db, p, notice_id, "publication.publish", request, lock=True)
        service.publish(db, archive.custody, archive.settings, notice=n, actor=p.actor)
        return _out(archive, db, n)


@router.post("/publication/notices/{notice_id}/withdraw", summary="Withdraw (撤回) a published notice with the "
             "reason; the public page then shows it withdrawn")
def withdraw(notice_id: Id, body: WithdrawIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        n = notice_of(archive, db, p, notice_id, "publication.publish", request, lock=True)
        service.withdraw(db, archive.custody, notice=n, reason=body.reason, actor=p.actor)
        return _out(archive, db, n)
