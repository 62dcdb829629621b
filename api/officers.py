"""``/api/v1/officers``: the officers of the user's units; adding one (``officers.manage``, own units only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api import access
from api.access import CurrentUser
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
def list_officers(archive: ArchiveDep, p: CurrentUser) -> list[OfficerOut]:
    with archive.sessions() as db:
        return [officer(o, code) for o, code in attribution.officers_of(db, units=p.scope.units)]


@router.post("/officers", response_model=OfficerOut, status_code=201, tags=["roster"], summary="Add an officer")
def create_officer(body: OfficerIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> OfficerOut:
    with archive.sessions.begin() as db:
        unit = access.own_unit(archive, db, p, "officers.manage", body.unit_code, request)
        o = attribution.add_officer(db, archive.custody, officer_no=body.officer_no, name=body.name, unit_id=unit.id,
                                    actor=p.actor)
        return officer(o, unit.code)
