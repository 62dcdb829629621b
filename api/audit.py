"""``/api/v1/audit``: the custody log (newest first) as the user may read it (``archive.audit``).

Every reading of it is itself a custody event (``audit_viewed``, with the filters).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE, MAX_ID, CustodyPage, Time, custody_page, utc_bound
from archive import audit

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])


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
    with archive.reads.begin() as db:
        access.require(archive, db, p, "audit.view", request)
        out = custody_page(audit.trail(db, scope=p.scope, sees_evidence=p.may("evidence.view"), actor=actor,
                                       action=action, outcome=outcome, evidence_id=evidence_id,
                                       start=utc_bound(start), end=utc_bound(end), page=page, per_page=per_page))
        access.record(archive, db, p, "audit_viewed", detail={
            "filters": {k: v for k, v in {"actor": actor, "action": action, "outcome": outcome,
                                          "evidence_id": evidence_id}.items() if v is not None}, "page": page})
        return out
