"""``/api/v1/officers``: the officers of the user's units; adding one (``officers.manage``, own units only).

An officer number belongs to one unit. Adding a number that another unit holds is refused with
exactly the answer of adding to a unit that is not the user's (403, the same sentence), so the
answer never tells which numbers other units hold; both are ``access_denied`` events.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api import access
from api.access import CurrentUser, Forbidden
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, OfficerOut, officer
from archive import attribution
from roster import service as roster

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])
UNIT_CODE = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"  # auth.service
NAME = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"  # not blank, no control characters


class OfficerIn(BaseModel):
    officer_no: str = Field(min_length=1, max_length=128, pattern=roster.OFFICER_NO,
                            description="the number recorders write into file names (警号), e.g. 000123")
    name: str = Field(min_length=1, max_length=200, pattern=NAME)
    unit_code: str = Field(min_length=1, max_length=64, pattern=UNIT_CODE)


@router.get("/officers", response_model=list[OfficerOut], tags=["roster"], summary="Officers of the user's units")
def list_officers(archive: ArchiveDep, p: CurrentUser,
                  limit: Annotated[int, Query(ge=1, le=1000, description="officers per page")] = 500,
                  offset: Annotated[int, Query(ge=0, le=10_000_000, description="officers skipped")] = 0,
                  ) -> list[OfficerOut]:
    with archive.reads() as db:
        return [officer(o, code) for o, code in attribution.officers_of(db, units=p.scope.units, limit=limit,
                                                                        offset=offset)]


@router.post("/officers", response_model=OfficerOut, status_code=201, tags=["roster"], summary="Add an officer")
def create_officer(body: OfficerIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> OfficerOut:
    from auth.service import get_unit

    with archive.sessions.begin() as db:
        access.require(archive, db, p, "officers.manage", request)
        unit = get_unit(db, code=body.unit_code)
        holder = roster.officer_unit(db, body.officer_no)
        if unit.id not in p.scope.units or (holder is not None and holder not in p.scope.units):
            access.denied(archive, db, p, permission="officers.manage", request=request,
                          reason="unit" if unit.id not in p.scope.units else "officer number of another unit")
            raise Forbidden(f"不能在单位 {unit.code} 登记警号 {body.officer_no} / Officer number {body.officer_no} "
                            f"cannot be registered in unit {unit.code}.",
                            "Register officers only in your own units, with the number their recorders write; "
                            "if that is what you did, ask an administrator of the top-level unit.")
        o = attribution.add_officer(db, archive.custody, officer_no=body.officer_no, name=body.name, unit_id=unit.id,
                                    actor=p.actor)
        return officer(o, unit.code)
