"""``/api/v1/officers``: the officers of the user's units with their enforcement certificates
(行政执法证件); adding one, changing one (name, active) and adding or changing (or revoking) their
certificates (``officers.manage``, own units only).

An officer number belongs to one unit. Adding a number that another unit holds is refused with
exactly the answer of adding to a unit that is not the user's (403, the same sentence), so the
answer never tells which numbers other units hold; both are ``access_denied`` events. Changing an officer, or their certificates, of another unit
answers exactly like an officer that does not exist (404 ``unknown_officer``), also an
``access_denied`` event; a certificate number of another officer answers like a missing one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser, Forbidden, Principal
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE, CertificateOut, ErrorOut, OfficerOut, certificate, officer
from archive import attribution
from archive.context import Archive
from auth.models import Unit
from roster import service as roster
from roster.models import Officer

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])
UNIT_CODE = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"  # auth.service
NAME = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"  # not blank, no control characters


class OfficerIn(BaseModel):
    officer_no: str = Field(min_length=1, max_length=128, pattern=roster.OFFICER_NO,
                            description="the number recorders write into file names (警号), e.g. 000123")
    name: str = Field(min_length=1, max_length=200, pattern=NAME)
    unit_code: str = Field(min_length=1, max_length=64, pattern=UNIT_CODE)


OfficerNo = Annotated[str, Path(min_length=1, max_length=128, pattern=roster.OFFICER_NO,
                                description="the officer's number (警号)")]
CertificateNo = Annotated[str, Path(min_length=1, max_length=64, pattern=roster.CERTIFICATE_NO,
                                    description="the certificate's number (执法证号)")]


class OfficerChangeIn(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NAME)
    active: bool | None = Field(default=None, description="false: no longer in service")


class CertificateIn(BaseModel):
    number: str = Field(min_length=1, max_length=64, pattern=roster.CERTIFICATE_NO,
                        description="the certificate's number (执法证号), e.g. 11010120260001")
    category: str = Field(default="", max_length=200, pattern=LINE, description="执法类别, e.g. 市场监管")
    area: str = Field(default="", max_length=200, pattern=LINE, description="执法区域, e.g. 东城区")
    valid_from: dt.date = Field(description="first day valid")
    valid_until: dt.date = Field(description="last day valid")


class CertificateChangeIn(BaseModel):
    category: str | None = Field(default=None, max_length=200, pattern=LINE)
    area: str | None = Field(default=None, max_length=200, pattern=LINE)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    revoke: bool = Field(default=False, description="revoke (注销) it: it counts on no date from now on; final")


def _today(archive: Archive) -> dt.date:
    return dt.datetime.now(ZoneInfo(archive.settings.station.timezone)).date()


def _with_certificates(db: Session, archive: Archive, o: Officer) -> OfficerOut:
    unit = db.get(Unit, o.unit_id)
    assert unit is not None  # a foreign key
    return officer(o, unit.code, roster.certificates_of(db, o.officer_no), _today(archive))


def managed(archive: Archive, db: Session, p: Principal, officer_no: str, request: Request | None) -> Officer:
    """The officer ``p`` may manage: ``officers.manage`` and one of ``p``'s units; another unit's
    officer answers exactly like none (and the refusal is in the custody log)."""
    access.require(archive, db, p, "officers.manage", request)
    o = db.scalar(select(Officer).where(Officer.officer_no == officer_no))
    if o is None:  # costs what a foreign one costs: an event, committed
        access.missing(archive, db, p, what="officer", ident=officer_no, request=request)
        raise roster.unknown_officer(officer_no)
    if o.unit_id not in p.scope.units:
        access.denied(archive, db, p, permission="officers.manage", reason="unit", request=request)
        raise roster.unknown_officer(officer_no)
    return o


@router.get("/officers", response_model=list[OfficerOut], tags=["roster"], summary="Officers of the user's units")
def list_officers(archive: ArchiveDep, p: CurrentUser,
                  limit: Annotated[int, Query(ge=1, le=1000, description="officers per page")] = 500,
                  offset: Annotated[int, Query(ge=0, le=10_000_000, description="officers skipped")] = 0,
                  ) -> list[OfficerOut]:
    with archive.reads() as db:
        rows = attribution.officers_of(db, units=p.scope.units, limit=limit, offset=offset)
        certs = roster.certificates_by_officer(db, [o.id for o, _ in rows])
        today = _today(archive)
        return [officer(o, code, certs[o.id], today) for o, code in rows]


def add(archive: Archive, db: Session, p: Principal, body: OfficerIn, request: Request | None) -> Officer:
    """Add an officer for ``p`` (``officers.manage``, one of ``p``'s units; a number another unit holds is
    refused with exactly that answer)."""
    from auth.service import get_unit

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
    return attribution.add_officer(db, archive.custody, officer_no=body.officer_no, name=body.name, unit_id=unit.id,
                                   actor=p.actor)


@router.post("/officers", response_model=OfficerOut, status_code=201, tags=["roster"], summary="Add an officer")
def create_officer(body: OfficerIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> OfficerOut:
    with archive.sessions.begin() as db:
        o = add(archive, db, p, body, request)
        return officer(o, body.unit_code)


@router.patch("/officers/{officer_no}", response_model=OfficerOut, tags=["roster"],
              summary="Change an officer's name, or mark them (not) in service")
def change_officer(officer_no: OfficerNo, body: OfficerChangeIn, archive: ArchiveDep, p: CurrentUser,
                   request: Request) -> OfficerOut:
    with archive.sessions.begin() as db:
        o = managed(archive, db, p, officer_no, request)
        roster.update_officer(db, archive.custody, officer_no=o.officer_no, name=body.name, active=body.active,
                              actor=p.actor)
        return _with_certificates(db, archive, o)


@router.post("/officers/{officer_no}/certificates", response_model=CertificateOut, status_code=201, tags=["roster"],
             summary="Record an officer's enforcement certificate (行政执法证件)",
             responses={409: {"model": ErrorOut, "description": "a certificate with this number is recorded already"}})
def add_certificate(officer_no: OfficerNo, body: CertificateIn, archive: ArchiveDep, p: CurrentUser,
                    request: Request) -> CertificateOut:
    with archive.sessions.begin() as db:
        o = managed(archive, db, p, officer_no, request)
        c = roster.add_certificate(db, archive.custody, officer_no=o.officer_no, number=body.number,
                                   category=body.category, area=body.area, valid_from=body.valid_from,
                                   valid_until=body.valid_until, actor=p.actor)
        return certificate(c, _today(archive))


@router.patch("/officers/{officer_no}/certificates/{number}", response_model=CertificateOut, tags=["roster"],
              summary="Change an officer's certificate (category, area, validity) or revoke it")
def change_certificate(officer_no: OfficerNo, number: CertificateNo, body: CertificateChangeIn, archive: ArchiveDep,
                       p: CurrentUser, request: Request) -> CertificateOut:
    with archive.sessions.begin() as db:
        o = managed(archive, db, p, officer_no, request)
        c = roster.update_certificate(db, archive.custody, number=number, officer_no=o.officer_no,
                                      category=body.category, area=body.area, valid_from=body.valid_from,
                                      valid_until=body.valid_until, revoke=body.revoke, actor=p.actor)
        return certificate(c, _today(archive))
