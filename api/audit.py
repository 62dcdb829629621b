"""``/api/v1/audit``: the custody log (newest first) as the user may read it (``archive.audit``), and
a check of the log's chain on demand (``/audit/verify``).

Every reading of it is itself a custody event (``audit_viewed``, with the filters), and so is every
check (``custody_log_verified``, its outcome the check's).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

import liuhen
from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE, MAX_ID, CustodyPage, Time, custody_page, utc_bound
from archive import audit
from archive.context import Archive
from hashing.custody import verify_log

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])


@router.get("/audit", response_model=CustodyPage, tags=["audit"],
            summary="The custody log (newest first): every action on evidence and every refusal")
def get_audit(archive: ArchiveDep, p: CurrentUser, request: Request,
              actor: Annotated[str | None, Query(max_length=128, pattern=LINE, description="exactly this actor "
                                                 "(user:NAME, station:ID, cli:…)")] = None,
              who: Annotated[str | None, Query(max_length=128, pattern=LINE, description="an actor whose account or "
                                               "name contains this (张, diaocha)")] = None,
              action: Annotated[str | None, Query(max_length=32, pattern=LINE)] = None,
              outcome: Literal["success", "failure", "denied"] | None = None,
              evidence_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
              start: Annotated[Time | None, Query(description="at or after (ISO 8601 with its offset)")] = None,
              end: Annotated[Time | None, Query(description="at or before (ISO 8601 with its offset)")] = None,
              page: Annotated[int, Query(ge=1, le=100000)] = 1,
              per_page: Annotated[int, Query(ge=1, le=500)] = 100) -> CustodyPage:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "audit.view", request)
        out = custody_page(audit.trail(db, scope=p.scope, sees_evidence=p.may("evidence.view"), actor=actor,
                                       who=who, action=action, outcome=outcome, evidence_id=evidence_id,
                                       start=utc_bound(start), end=utc_bound(end), page=page, per_page=per_page))
        access.record(archive, db, p, "audit_viewed", detail={
            "filters": {k: v for k, v in {"actor": actor, "who": who, "action": action, "outcome": outcome,
                                          "evidence_id": evidence_id, "start": start and start.isoformat(),
                                          "end": end and end.isoformat()}.items() if v is not None},
            "page": page})
        return out


class ChainProblemOut(BaseModel):
    kind: str = Field(description="what is wrong: broken_chain, bad_checkpoint, truncated, … (hashing.custody)")
    seq: int | None = Field(description="the event it was found at, where one")
    detail: str


class ChainCheckOut(BaseModel):
    ok: bool = Field(description="true when the chain, the Merkle tree and every checkpoint agree")
    events: int = Field(description="custody events checked")
    checkpoints: int = Field(description="signed checkpoints in the database checked")
    anchored: int = Field(description="checkpoints read back from anchors outside the database")
    problems: list[ChainProblemOut]
    checked_at: dt.datetime


def check_chain(archive: Archive, p: access.Principal, request: Request | None = None) -> ChainCheckOut:
    """The custody-log part of ``liuhen verify`` (``hashing.custody.verify_log``: the hash chain, the
    Merkle tree, every signed checkpoint and every anchor's copy), for ``p``, recorded as
    ``custody_log_verified`` with the check's outcome. Reads the whole log: seconds at a million events."""
    with archive.reads.begin() as db:
        access.require(archive, db, p, "audit.view", request)
        log = verify_log(db, archive.key.public_pem, archive.custody.anchors)
        out = ChainCheckOut(ok=not log.problems, events=log.events, checkpoints=log.checkpoints,
                            anchored=log.anchored, checked_at=dt.datetime.now(dt.UTC),
                            problems=[ChainProblemOut(kind=x.kind, seq=x.seq, detail=x.detail) for x in log.problems])
        access.write_event(archive, db, actor=p.actor, action="custody_log_verified", tool=access.TOOL,
                           tool_version=liuhen.__version__, outcome="success" if out.ok else "failure",
                           detail={"events": out.events, "checkpoints": out.checkpoints, "anchored": out.anchored,
                                   "problems": [x.model_dump() for x in out.problems][:20], **p.where()})
    return out


@router.post("/audit/verify", response_model=ChainCheckOut, tags=["audit"],
             summary="Check the custody log's chain now (the custody-log part of `liuhen verify`)")
def verify_chain(archive: ArchiveDep, p: CurrentUser, request: Request) -> ChainCheckOut:
    return check_chain(archive, p, request)
