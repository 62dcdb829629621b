"""``/api/v1/units``: the units (单位) of the user's scope (anyone signed in may list them), adding a unit
below one of them and renaming one (administrators, ``users.manage``). The service (``auth.service``)
records each change as a custody event (``unit_added``, ``unit_renamed``); this only translates.

A unit outside the administrator's units (as a parent, or to rename) is refused (403, an
``access_denied`` event) as every roster target of another unit is; an unknown code is 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, ErrorOut
from api.users import NAME, UNIT_CODE
from auth import service as accounts
from auth.models import Unit

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])
UnitCode = Annotated[str, Path(min_length=1, max_length=64, pattern=UNIT_CODE, description="the unit's code")]


class UnitOut(BaseModel):
    code: str
    name: str
    parent_code: str | None = Field(description="the unit above it in the tree (null: a top-level unit, or one "
                                                "outside the user's units)")


class UnitIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, pattern=UNIT_CODE, description="e.g. 110101-JT")
    name: str = Field(min_length=1, max_length=200, pattern=NAME, description="e.g. 东城分局交警大队")
    parent_code: str = Field(min_length=1, max_length=64, pattern=UNIT_CODE,
                             description="the unit it belongs under: one of the administrator's units")


class UnitRenameIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=NAME)


def unit_out(db: Session, u: Unit, codes: dict[int, str] | None = None) -> UnitOut:
    parent = None
    if u.parent_id is not None:
        parent = codes.get(u.parent_id) if codes is not None else getattr(db.get(Unit, u.parent_id), "code", None)
    return UnitOut(code=u.code, name=u.name, parent_code=parent)


def units_of(db: Session, p: access.Principal) -> list[UnitOut]:
    rows = accounts.units_below(db, p.scope.units)
    codes = {u.id: u.code for u in rows}
    return [unit_out(db, u, codes) for u in rows]


@router.get("/units", response_model=list[UnitOut], tags=["accounts"], summary="The units of the user's scope")
def list_units(archive: ArchiveDep, p: CurrentUser) -> list[UnitOut]:
    with archive.reads() as db:
        return units_of(db, p)


@router.post("/units", response_model=UnitOut, status_code=201, tags=["accounts"],
             summary="Add a unit below one of the administrator's units",
             responses={409: {"model": ErrorOut, "description": "a unit with this code exists"}})
def create_unit(body: UnitIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> UnitOut:
    with archive.sessions.begin() as db:
        parent = access.own_unit(archive, db, p, "users.manage", body.parent_code, request)
        u = accounts.add_unit(db, code=body.code, name=body.name, parent_code=parent.code, custody=archive.custody,
                              actor=p.actor)
        return unit_out(db, u)


@router.patch("/units/{code}", response_model=UnitOut, tags=["accounts"], summary="Rename a unit")
def rename_unit(code: UnitCode, body: UnitRenameIn, archive: ArchiveDep, p: CurrentUser,
                request: Request) -> UnitOut:
    with archive.sessions.begin() as db:
        unit = access.own_unit(archive, db, p, "users.manage", code, request)
        return unit_out(db, accounts.rename_unit(db, archive.custody, code=unit.code, name=body.name, actor=p.actor))
