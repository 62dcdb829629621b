"""``/api/v1/holds``: legal holds (保全/冻结) — place, release, list, read.

Placing and releasing need ``retention.hold`` (legal reviewers, records managers), reading
``retention.view``. A hold's scope is resolved within the user's units: an evidence, case or hold
of another unit answers exactly like one that does not exist (404, the same body) and is an
``access_denied`` event; a missing one a ``not_found`` event (``api.access``). After a place or
release commits, the store's Object Lock is mirrored (``retention.holds.sync_locks``; on a store
without Object Lock it does nothing), and the answer says what it did (``locks``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE, LINE_NOT_BLANK, MAX_ID, Time
from archive.context import Archive
from archive.models import Evidence
from retention import holds
from retention.models import LegalHold

log = logging.getLogger("liuhen.api")

router = APIRouter(tags=["holds"], dependencies=[StrictQuery], responses={
    **ERRORS, 409: {"model": ERRORS[400]["model"], "description": "the hold was released already"}})
Id = Annotated[int, PathParam(ge=1, le=MAX_ID, description="the hold's number")]
EvidenceNo = Annotated[int, Field(ge=1, le=MAX_ID)]
Text = Annotated[str, Field(max_length=200, pattern=LINE)]


class SearchIn(BaseModel):
    """A saved search: the filters of the evidence search (``GET /evidence``)."""

    model_config = ConfigDict(extra="forbid")
    q: Text | None = None
    officer: Text | None = None
    device: Text | None = None
    station: Text | None = None
    important: bool | None = None
    playback: Literal["pending", "ready", "unplayable", "none"] | None = None
    media_kind: Literal["video", "audio", "photo", "sidecar", "other"] | None = None
    start: Time | None = Field(default=None, description="recorded at or after (ISO 8601 with its offset)")
    end: Time | None = Field(default=None, description="recorded at or before (ISO 8601 with its offset)")


class EvidenceScope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    evidence: list[EvidenceNo] = Field(min_length=1, max_length=100_000, description="evidence ids")


class CaseScope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: int = Field(ge=1, le=MAX_ID, description="the case (it also takes what is linked to it later)")


class OfficerScope(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    officer: str = Field(min_length=1, max_length=128, pattern=LINE_NOT_BLANK,
                         description="the officer's number (警号); it also takes footage of the range received later")
    from_: Time = Field(alias="from", description="recorded at or after (ISO 8601 with its offset)")
    to: Time = Field(description="recorded at or before (ISO 8601 with its offset)")


class SearchScope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: SearchIn = Field(description="holds what the search matches when the hold is placed")


class _HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, pattern=LINE_NOT_BLANK,
                        description="why (e.g. the review or court order); required")


class EvidenceHoldIn(_HoldIn):
    scope_kind: Literal["evidence"]
    scope: EvidenceScope


class CaseHoldIn(_HoldIn):
    scope_kind: Literal["case"]
    scope: CaseScope


class OfficerHoldIn(_HoldIn):
    scope_kind: Literal["officer"]
    scope: OfficerScope


class SearchHoldIn(_HoldIn):
    scope_kind: Literal["search"]
    scope: SearchScope


HoldIn = Annotated[EvidenceHoldIn | CaseHoldIn | OfficerHoldIn | SearchHoldIn, Field(discriminator="scope_kind")]


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, pattern=LINE_NOT_BLANK, description="why; required")


class HoldOut(BaseModel):
    hold_id: int
    unit_id: int | None
    scope_kind: str
    scope: dict[str, Any] = Field(description="the scope as stored (a case: case_id and number; a search: query)")
    reason: str
    placed_by: str
    placed_at: dt.datetime
    active: bool
    released_at: dt.datetime | None
    released_by: str | None
    release_reason: str | None
    items: int = Field(description="how many evidence the hold holds")


class PlacedOut(HoldOut):
    held: int = Field(description="evidence held by this placement")
    destroyed_not_held: list[int] = Field(description="named evidence already destroyed: not held")
    pending_disposal: int = Field(description="held evidence that were pending disposal (they stay pending; "
                                              "they cannot be destroyed while held)")
    locks: dict[str, Any] | None = Field(description="what mirroring to the store's Object Lock did "
                                                     "({\"supported\": false} without Object Lock)")


class ItemOut(BaseModel):
    evidence_id: int
    added_at: dt.datetime
    file_name: str | None
    recorded_at: dt.datetime | None


class HoldDetail(HoldOut):
    evidence: list[ItemOut] = Field(description="the held evidence of this page, in the order they were added")
    limit: int
    offset: int


class ReleasedOut(HoldOut):
    locks: dict[str, Any] | None


def _out(hold: LegalHold, items: int) -> dict[str, Any]:
    d = holds.hold_dict(hold, items=items)
    if not isinstance(d["scope"], dict):
        d["scope"] = {"raw": d["scope"]}
    return d


def _sync(archive: Archive) -> dict[str, Any] | None:
    try:
        return holds.sync_locks(archive)
    except Exception:  # the daily run mirrors it again
        log.exception("mirroring legal holds to the store's Object Lock failed")
        return None


def _hold(archive: Archive, db: Session, p: access.Principal, hold_id: int, action: str,
          request: Request) -> LegalHold:
    """The hold ``p`` may act on; one of another unit answers exactly like one that does not exist."""
    access.require(archive, db, p, action, request)
    h = db.get(LegalHold, hold_id)
    if h is None:
        access.missing(archive, db, p, what="legal hold", ident=hold_id, request=request)
        raise holds.hidden_hold(hold_id)
    if not holds.is_visible(db, h, p.scope.units):
        access.denied(archive, db, p, permission=action, reason="unit", request=request)
        raise holds.hidden_hold(hold_id)
    return h


@router.post("", response_model=PlacedOut, status_code=201, summary="Place a legal hold (保全) with a reason")
def place(body: HoldIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> PlacedOut:
    scope = body.scope.model_dump(by_alias=True, exclude_none=True)
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "retention.hold", request)
        try:
            h = holds.place(db, archive.custody, scope_kind=body.scope_kind, scope=scope, reason=body.reason,
                            actor=p.actor, unit_id=None if body.scope_kind == "case" else p.unit_id,
                            visible_units=p.scope.units, context=p.where())
        except holds.HiddenEvidence as e:
            if e.foreign:
                ev = db.get(Evidence, e.foreign[0])
                access.denied(archive, db, p, permission="retention.hold", reason="unit", request=request, evidence=ev)
            else:
                access.missing(archive, db, p, what="evidence", ident=e.missing[0], request=request)
            raise
        except holds.HiddenCase as e:
            if e.foreign is not None:
                access.denied(archive, db, p, permission="retention.hold", reason=f"unit (case {e.foreign.number})",
                              request=request)
            else:
                access.missing(archive, db, p, what="case", ident=scope["case_id"], request=request)
            raise
        did = holds.outcome(h)
        out = _out(h, did.held)
    extra = did.to_dict()
    return PlacedOut(**out, held=extra["held"], destroyed_not_held=extra["destroyed_not_held"],
                     pending_disposal=extra["pending_disposal"], locks=_sync(archive))


@router.post("/{hold_id}/release", response_model=ReleasedOut, summary="Release a legal hold, with a reason")
def release(hold_id: Id, body: ReleaseIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> ReleasedOut:
    with archive.sessions.begin() as db:
        h = _hold(archive, db, p, hold_id, "retention.hold", request)
        h = holds.release(db, archive.custody, hold_id=h.id, reason=body.reason, actor=p.actor,
                          visible_units=p.scope.units, context=p.where())
        out = _out(h, holds.count_items(db, [h.id]).get(h.id, 0))
    return ReleasedOut(**out, locks=_sync(archive))


@router.get("", response_model=list[HoldOut], summary="Legal holds of the user's units, newest first")
def list_holds(archive: ArchiveDep, p: CurrentUser, request: Request,
               active: Annotated[bool | None, Query(description="true: not released; false: released")] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000, description="holds skipped")] = 0,
               ) -> list[HoldOut]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "retention.view", request)
        rows = holds.holds_of(db, units=p.scope.units, active=active, limit=limit, offset=offset)
        counts = holds.count_items(db, [h.id for h in rows])
        access.record(archive, db, p, "retention_viewed", detail={"what": "legal holds", "active": active,
                                                                  "shown": [h.id for h in rows]})
        return [HoldOut(**_out(h, counts.get(h.id, 0))) for h in rows]


@router.get("/{hold_id}", response_model=HoldDetail, summary="A legal hold and the evidence it holds (paged)")
def get_hold(hold_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request,
             limit: Annotated[int, Query(ge=1, le=1000, description="evidence per page")] = 100,
             offset: Annotated[int, Query(ge=0, le=10_000_000, description="evidence skipped")] = 0,
             ) -> HoldDetail:
    with archive.reads.begin() as db:
        h = _hold(archive, db, p, hold_id, "retention.view", request)
        items = holds.items_of(db, h.id, limit=limit, offset=offset)
        ids = [i.evidence_id for i in items]
        meta = {eid: (name, at) for eid, name, at in db.execute(
            select(Evidence.id, Evidence.file_name, Evidence.recorded_at).where(Evidence.id.in_(ids)))} if ids else {}
        out = _out(h, holds.count_items(db, [h.id]).get(h.id, 0))
        access.record(archive, db, p, "retention_viewed", detail={"what": "legal hold", "hold_id": h.id})
        return HoldDetail(**out, limit=limit, offset=offset,
                          evidence=[ItemOut(evidence_id=i.evidence_id, added_at=i.added_at,
                                            file_name=meta.get(i.evidence_id, (None, None))[0],
                                            recorded_at=meta.get(i.evidence_id, (None, None))[1]) for i in items])
