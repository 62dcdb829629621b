"""``/api/v1/cases/records/{record_id}/…``: personal data in a text record and its release copies (文书脱敏).

Thin: ``redaction.records`` finds, checks and stores; this module translates HTTP. The findings of
a version need ``redaction.edit``, a confirmed masking too; reading a release copy needs
``redaction.release``. A record of another unit answers 404 exactly like one that does not exist
(an ``access_denied`` event). Each call is a custody event.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser
from api.cases import _holder
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE_NOT_BLANK, LINES, MAX_ID
from archive.context import Archive
from cases.models import Case, TextRecord
from redaction import pii
from redaction import records as redacting

router = APIRouter(tags=["text redaction"], dependencies=[StrictQuery], responses={
    **ERRORS, 422: {"model": ERRORS[400]["model"], "description": "the masks cannot be stored (a detected ID "
                                                                 "number, mobile or bank card left unmasked, a span "
                                                                 "outside its field, overlapping masks)"},
    503: {"model": ERRORS[400]["model"], "description": "the store could not be read"}})
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
Version = Annotated[int, PathParam(ge=1, le=1_000_000)]


class FindingOut(BaseModel):
    field: str = Field(description="``title`` or ``fields.<key>`` of a form")
    kind: str
    start: int = Field(description="character offset into the field's text")
    end: int
    preview: str = Field(description="the finding as it will read once masked")
    required: bool = Field(description="an ID number, mobile or bank card: cannot be dropped")


class FindingsOut(BaseModel):
    record_id: int
    version: int
    sha256: str
    document_masked: bool = Field(description="false for an uploaded file (PDF, DOCX, images): liuhen keeps no "
                                              "text of it, so only its title is checked and masked")
    fields: dict[str, int] = Field(description="each field checked, with its length in characters")
    findings: list[FindingOut]


class MaskIn(BaseModel):
    field: str = Field(min_length=1, max_length=200, pattern=LINE_NOT_BLANK)
    start: int = Field(ge=0, le=10_000_000)
    end: int = Field(ge=1, le=10_000_000)
    kind: Literal["id_number", "mobile", "landline", "bank_card", "plate", "address", "email", "name", "other"]


class RedactionIn(BaseModel):
    version: int = Field(ge=1, le=1_000_000)
    masks: list[MaskIn] = Field(max_length=redacting.MAX_MASKS)
    why: str = Field(min_length=1, max_length=2000, pattern=LINES, examples=["公示前脱敏"])


class RedactionOut(BaseModel):
    id: int
    record_id: int
    version: int
    version_sha256: str
    masks: list[dict[str, Any]]
    dropped: list[dict[str, Any]] = Field(description="the detector's findings the person left unmasked")
    why: str
    fields: dict[str, str] = Field(description="the masked text of each field: the release copy")
    content_sha256: str = Field(description="SHA-256 of the canonical JSON of ``fields``")
    detector: str
    created_by: str
    created_at: str


def _record(archive: Archive, db: Session, p: access.Principal, request: Request, record_id: int,
            action: str) -> tuple[Case, TextRecord]:
    access.require(archive, db, p, action, request)
    rec = db.get(TextRecord, record_id)
    c = _holder(archive, db, p, rec.case_id if rec else None, action, request, what="text record", ident=record_id)
    assert rec is not None  # (_holder raised otherwise)
    return c, rec


@router.get("/records/{record_id}/versions/{version}/pii", response_model=FindingsOut,
            summary="Personal data found in one version of a text record (masked previews only)")
def findings(record_id: Id, version: Version, archive: ArchiveDep, p: CurrentUser, request: Request) -> FindingsOut:
    with archive.sessions.begin() as db:
        c, rec = _record(archive, db, p, request, record_id, "redaction.edit")
        text = redacting.version_text(archive, db, record_id=rec.id, version=version)
        found = redacting.find_in(text)
        access.record(archive, db, p, "record_pii_checked", detail={
            "case_id": c.id, "number": c.number, "record_id": rec.id, "version": version, "sha256": text.sha256,
            "findings": len(found)})
    return FindingsOut(record_id=rec.id, version=version, sha256=text.sha256, document_masked=text.form,
                       fields={k: len(v) for k, v in text.fields.items()},
                       findings=[FindingOut(field=ff.field, kind=ff.finding.kind, start=ff.finding.start,
                                            end=ff.finding.end, preview=pii.masked(ff.finding), required=ff.required)
                                 for ff in found])


@router.post("/records/{record_id}/redactions", response_model=RedactionOut, status_code=201,
             summary="Confirm the masks of one version of a text record: its release copy")
def confirm(record_id: Id, body: RedactionIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> RedactionOut:
    with archive.sessions.begin() as db:
        c, rec = _record(archive, db, p, request, record_id, "redaction.edit")
        row = redacting.confirm(archive, db, actor=p.actor, record_id=rec.id, version=body.version,
                                masks=[redacting.Mask(m.field, m.start, m.end, m.kind) for m in body.masks],
                                why=body.why, case_id=c.id, case_number=c.number, where=p.where())
        return RedactionOut(**redacting.as_dict(row))


@router.get("/records/{record_id}/redactions/{redaction_id}", response_model=RedactionOut,
            summary="A confirmed release copy of a text record: its masked text")
def read(record_id: Id, redaction_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> RedactionOut:
    with archive.sessions.begin() as db:
        c, rec = _record(archive, db, p, request, record_id, "redaction.release")
        row = redacting.get(db, record_id=rec.id, redaction_id=redaction_id)
        access.record(archive, db, p, "record_redaction_read", detail={
            "case_id": c.id, "number": c.number, "record_id": rec.id, "version": row.version,
            "redaction_id": row.id, "content_sha256": row.content_sha256})
        return RedactionOut(**redacting.as_dict(row))
