"""``/api/v1/publication/powers``: powers and procedures documents (权责清单 / 执法流程, 事前公示).

Whoever may read the notices (``publication.view``) lists their units' documents, every version, and
reads one version's record; a publisher (``publication.publish``) uploads a document, or the next
version of one (the same title in the same unit), as ``multipart/form-data`` — a PDF or UTF-8 plain
text/Markdown without HTML, at most ``publication.powers.MAX_BYTES``; anything else is refused (400
``powers_document_refused``) naming the file and what to do. The public site serves the files
(``/public/powers``). A version of another unit answers exactly like one that does not exist (404,
with an ``access_denied`` event); a unit of another tree to upload into is 403 naming it."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile as StarletteUpload

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE, LINE_NOT_BLANK, MAX_ID
from archive.context import Archive
from auth.models import Unit
from publication import powers
from publication.errors import UnknownPowersDocument
from publication.powers_models import KINDS, PowersDocument

router = APIRouter(tags=["publication"], dependencies=[StrictQuery], responses=ERRORS)
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class _UploadFields(BaseModel):
    title: str = Field(min_length=1, max_length=200, pattern=LINE_NOT_BLANK, examples=["行政处罚权责清单"],
                       description="the document's title; the same title in the same unit is its next version")
    kind: Literal["权责清单", "执法流程", "服务指南", "其他"] = Field(description="the kind: " + ", ".join(KINDS))
    unit_code: str = Field(default="", max_length=64, pattern=LINE, description="the unit (default: the user's own)")
    note: str = Field(default="", max_length=2000, pattern=LINE, description="what changed in this version")


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "title", "kind"], "additionalProperties": False, "properties": {
        "file": {"type": "string", "format": "binary", "description": "a PDF, or UTF-8 plain text/Markdown"},
        **_UploadFields.model_json_schema()["properties"]}}}}}}


def _out(db: Session, doc: PowersDocument) -> dict[str, Any]:
    unit = db.get(Unit, doc.unit_id)
    newest = powers.current_versions(db, [doc.unit_id]).get((doc.unit_id, doc.title), doc.version)
    return powers.to_dict(doc, unit_name=unit.name if unit is not None else "", current=doc.version == newest)


def document_of(archive: Archive, db: Session, p: access.Principal, document_id: int, request: Request) -> PowersDocument:
    access.require(archive, db, p, "publication.view", request)
    try:
        doc = powers.get(db, document_id)
    except UnknownPowersDocument:
        access.missing(archive, db, p, what="powers_document", ident=document_id, request=request)
        raise
    if doc.unit_id not in p.scope.units:
        access.denied(archive, db, p, permission="publication.view", reason="unit", request=request)
        raise powers.unknown(document_id)
    return doc


@router.get("/publication/powers", summary="The powers and procedures documents of the user's units, every "
            "version (by unit, title, newest first; current marks the one the public site shows)")
def list_powers(archive: ArchiveDep, p: CurrentUser, request: Request) -> list[dict[str, Any]]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "publication.view", request)
        docs = powers.documents_of(db, units=p.scope.units)
        names = {u.id: u.name for u in access.visible_unit_rows(db, p)}
        newest = powers.current_versions(db, {d.unit_id for d in docs})
        return [powers.to_dict(d, unit_name=names.get(d.unit_id, ""), current=d.version == newest[(d.unit_id, d.title)])
                for d in docs]


@router.get("/publication/powers/{document_id}", summary="One version of a powers document (without its bytes: "
            "they are at public_url)")
def get_powers(document_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.reads.begin() as db:
        return _out(db, document_of(archive, db, p, document_id, request))


@router.post("/publication/powers", status_code=201, openapi_extra=_UPLOAD_BODY,
             summary="Upload a powers document (权责清单, 执法流程, 服务指南, 其他), or the next version of one: "
                     "it is public at once")
async def upload_powers(archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    """The body is read only after the user is known and may publish (its size is bounded before that
    by ``api.limits``)."""
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError

    def allowed() -> None:
        with archive.sessions.begin() as db:
            access.require(archive, db, p, "publication.publish", request)

    await run_in_threadpool(allowed)
    form = await request.form(max_files=1, max_fields=5)
    try:
        file = form.get("file")
        if not isinstance(file, StarletteUpload):
            raise RequestValidationError([{"type": "missing", "loc": ("body", "file"), "msg": "a file is required",
                                           "input": None}])
        try:
            fields = _UploadFields.model_validate({k: v for k, v in form.items() if k != "file"})
        except ValidationError as e:
            raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from e
        name = os.path.basename(file.filename or "document") or "document"
        if file.size is not None:
            powers.check_size(name, file.size)  # (refused before its bytes are read into memory)
        data = await file.read(powers.MAX_BYTES + 1)
    finally:
        await form.close()

    def store() -> dict[str, Any]:
        with archive.sessions.begin() as db:
            if fields.unit_code.strip():
                unit_id = access.own_unit(archive, db, p, "publication.publish", fields.unit_code.strip(), request).id
            else:
                unit_id = p.unit_id
            doc = powers.upload(db, archive.custody, unit_id=unit_id, title=fields.title, kind=fields.kind,
                                file_name=name, data=data, actor=p.actor, note=fields.note)
            return _out(db, doc)

    return await run_in_threadpool(store)
