"""``/api/v1/cases``: cases, steps, links, text records and the coverage check.

A user sees the cases of their units (``cases.view``) and builds them with ``cases.manage``;
linking needs the evidence to be one the user may see. Every change and every download of a
text record is a custody event; every refusal is an ``access_denied`` event (``api.access``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile as StarletteUpload

from api import access, streaming
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import (
    ERRORS,
    LINE,
    LINE_NOT_BLANK,
    LINES,
    MAX_ID,
    CaseDetail,
    CaseSummary,
    EvidenceId,
    EvidenceSummary,
    LinkOut,
    StepOut,
    Time,
    case_detail,
    case_summary,
    link,
    summary,
    utc_bound,
)
from archive import query as searching
from archive.context import Archive
from cases import coverage as covering
from cases import records as recording
from cases import service as cases
from cases import views
from cases.errors import UnknownCase
from cases.gate import Decision
from cases.models import Case, EvidenceLink, Step, TextRecord, TextRecordVersion
from cases.views import LinkView
from liuhen.words import said
from review.errors import ReviewRequired

router = APIRouter(tags=["cases"], dependencies=[StrictQuery], responses={
    **ERRORS, 409: {"model": ERRORS[400]["model"], "description": "the case is closed and cannot be changed, or "
                                                              "a decision on a major case lacks a passing legal "
                                                              "review (review_required)"},
    503: {"model": ERRORS[400]["model"], "description": "the store could not be read or written"}})
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


class PartyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=LINE_NOT_BLANK)
    kind: Literal["person", "organisation"] = "person"
    id_number: str | None = Field(default=None, max_length=64, pattern=LINE)
    phone: str | None = Field(default=None, max_length=64, pattern=LINE)
    address: str | None = Field(default=None, max_length=1000, pattern=LINE)


class CaseIn(BaseModel):
    unit_code: str = Field(min_length=1, max_length=64, pattern=LINE_NOT_BLANK)
    category: str = Field(min_length=1, max_length=32, pattern=LINE_NOT_BLANK)
    title: str = Field(min_length=1, max_length=500, pattern=LINE_NOT_BLANK)
    source: str | None = Field(default=None, max_length=32, pattern=LINE)
    parties: list[PartyIn] = Field(default_factory=list, max_length=50)


class StepIn(BaseModel):
    kind: str = Field(min_length=1, max_length=32, pattern=LINE_NOT_BLANK)
    started_at: Time = Field(description="ISO 8601; without an offset it is the station's local time")
    ended_at: Time = Field(description="ISO 8601; without an offset it is the station's local time")
    place: str | None = Field(default=None, max_length=500, pattern=LINE)
    officers: list[Annotated[str, Field(max_length=128, pattern=LINE_NOT_BLANK)]] = Field(default_factory=list,
                                                                                          max_length=20)


class LinkIn(BaseModel):
    evidence_id: int = Field(ge=1, le=MAX_ID)
    start_s: float | None = Field(default=None, ge=0, le=1e7)
    end_s: float | None = Field(default=None, ge=0, le=1e7)


class FormIn(BaseModel):
    kind: str = Field(min_length=1, max_length=64, pattern=LINE_NOT_BLANK)
    fields: dict[str, Annotated[str, Field(max_length=20000)]] = Field(max_length=50)
    step_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    record_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    title: str | None = Field(default=None, max_length=500, pattern=LINE)


class ReopenIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, pattern=LINE_NOT_BLANK, examples=["复议决定撤销重作"],
                        description="why the case is reopened (in its custody event)")


class RecordAdded(BaseModel):
    record_id: int
    version: int
    sha256: str
    size: int


# ---------------------------------------------------------------------------- helpers


_case = access.case  # the case the user may act on (a refusal is logged and raised)


def _detail(archive: Archive, db: Session, p: access.Principal, c: Case) -> CaseDetail:
    return case_detail(views.case_view(db, c, archive.settings.cases, tz=archive.settings.station.timezone,
                                       visible=p.scope.allows, data_key=archive.data_key,
                                       masked=not p.may("cases.personal_data")))


_GONE = {"step": (said("没有环节 {0}", "There is no step {0}."), said("请在案件页面核对。", "Check the case page.")),
         "link": (said("没有关联 {0}", "There is no link {0}."), said("请刷新案件页面。", "Reload the case page.")),
         "text record": (said("没有文书 {0}", "There is no text record {0}."), said("请刷新案件页面。", "Reload the case."))}


def _holder(archive: Archive, db: Session, p: access.Principal, case_id: int | None, action: str,
            request: Request | None, *, what: str, ident: int) -> Case:
    """The case holding the step, link or text record ``ident`` if it is of ``p``'s units; else the answer
    for one that does not exist, in the same timing class (a foreign one is an ``access_denied`` event and
    is never named; a missing one a ``not_found`` event)."""
    detail, act = _GONE[what]
    gone = UnknownCase(said(detail.zh.format(ident), detail.en.format(ident)), act)
    c = db.get(Case, case_id) if case_id is not None else None
    if c is None:
        access.missing(archive, db, p, what=what, ident=ident, request=request)
        raise gone
    if c.unit_id not in p.scope.units:
        access.denied(archive, db, p, permission=action, reason=f"unit (case {c.number})", request=request)
        raise gone
    return c


def _step(archive: Archive, db: Session, p: access.Principal, step_id: int, action: str,
          request: Request | None) -> tuple[Case, Step]:
    """The step and its case; a step of another unit's case answers exactly like one that does not exist."""
    access.require(archive, db, p, action, request)
    st = db.get(Step, step_id)
    c = _holder(archive, db, p, st.case_id if st else None, action, request, what="step", ident=step_id)
    assert st is not None  # (_holder raised otherwise)
    return c, st


def _targets(archive: Archive, db: Session, p: access.Principal, step_id: int | None, record_id: int | None,
             request: Request | None) -> None:
    """A step or text record named by an upload that belongs to another unit's case is refused now, before a
    byte is stored, as an ``access_denied`` event; with the answer ``cases.records`` gives for one that is not
    part of the case (which it then gives: nothing is stored)."""
    holders = (db.scalar(select(Step.case_id).where(Step.id == step_id)) if step_id is not None else None,
               db.scalar(select(TextRecord.case_id).where(TextRecord.id == record_id)) if record_id is not None else None)
    for what, ident, case_id in (("step", step_id, holders[0]), ("text record", record_id, holders[1])):
        if case_id is None:
            continue
        c = db.get(Case, case_id)
        if c is not None and c.unit_id not in p.scope.units:
            access.denied(archive, db, p, permission="cases.manage", request=request,
                          reason=f"unit ({what} {ident} of case {c.number})")


# ---------------------------------------------------------------------------- cases


@router.get("", response_model=list[CaseSummary], summary="Cases of the user's units, newest first")
def list_cases(archive: ArchiveDep, p: CurrentUser, request: Request,
               status: Literal["open", "closed"] | None = None,
               q: Annotated[str | None, Query(max_length=200, pattern=LINE,
                                              description="part of the number or title")] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000, description="cases skipped")] = 0,
               ) -> list[CaseSummary]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "cases.view", request)
        return [case_summary(c, views.unit_code(db, c))
                for c in cases.cases_of(db, units=p.scope.units, status=status, q=q, limit=limit, offset=offset)]


@router.post("", response_model=CaseSummary, status_code=201, summary="Open a case; it takes the next unified "
             "registration number of its unit")
def create(body: CaseIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> CaseSummary:
    with archive.sessions.begin() as db:
        unit = access.own_unit(archive, db, p, "cases.manage", body.unit_code, request)
        c = cases.create_case(db, archive.custody, archive.settings.cases, unit_id=unit.id, unit_code=unit.code,
                              category=body.category, title=body.title, actor=p.actor, source=body.source,
                              parties=[cases.PartyIn(**x.model_dump()) for x in body.parties],
                              tz=archive.settings.station.timezone, data_key=archive.data_key)
        return case_summary(c, views.unit_code(db, c))


class PickStep(BaseModel):
    step_id: int
    kind: str
    started_at: dt.datetime
    ended_at: dt.datetime
    place: str | None
    officers: list[str] = Field(description="officer numbers")
    officer_names: dict[str, str] = Field(description="officer number: name, for officers of the reader's units")


class PickCase(BaseModel):
    case_id: int
    number: str
    title: str
    category: str
    unit_code: str
    unit_name: str
    parties: list[str] = Field(description="the parties' names (masked for a reader without cases.personal_data)")
    steps: list[PickStep] = Field(description="in time order")


@router.get("/steps", response_model=list[PickCase], summary="Open cases of the user's units with their steps, to "
            "pick a step to link recordings to: matching q in the number, the title or (with "
            "cases.personal_data) a party's name; newest first")
def pick(archive: ArchiveDep, p: CurrentUser, request: Request,
         q: Annotated[str | None, Query(max_length=200, pattern=LINE,
                                        description="part of the number, title or a party's name")] = None,
         limit: Annotated[int, Query(ge=1, le=50)] = 20) -> list[PickCase]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "cases.view", request)
        personal = p.may("cases.personal_data")
        found = views.find_open_cases(db, units=p.scope.units, q=q, limit=limit,
                                      data_key=archive.data_key if personal else None)
        units = views.unit_names(db, {c.unit_id for c in found})
        numbers = {n for c in found for st in c.steps for n in cases.step_officers(st)}
        names = views.officer_names(db, numbers, units=p.scope.units)
        out = []
        for c in found:
            code, unit_name = units.get(c.unit_id, ("", ""))
            steps = [PickStep(step_id=st.id, kind=st.kind, started_at=st.started_at, ended_at=st.ended_at,
                              place=st.place, officers=cases.step_officers(st),
                              officer_names={n: names[n] for n in cases.step_officers(st) if n in names})
                     for st in sorted(c.steps, key=lambda st: (st.started_at, st.id))]
            out.append(PickCase(case_id=c.id, number=c.number, title=c.title, category=c.category, unit_code=code,
                                unit_name=unit_name, steps=steps,
                                parties=[x.name for x in views.parties(cases.parties_of(archive.data_key, c),
                                                                       masked=not personal)]))
        # the words searched may be a party's name, which an auditor must not read in the log: the
        # masked form (张**) and a keyed digest only (the same words give the same tag)
        said_q = {"open_cases": views.mask_name(q or ""), "open_cases_tag": archive.data_key.tag(q, "search") if q else None}
        access.record(archive, db, p, "searched", detail={"query": said_q,
                                                          "shown_cases": [c.id for c in found]})
        return out


@router.get("/{case_id}", response_model=CaseDetail, summary="A case: steps with their recordings and coverage, "
            "text records")
def get_one(case_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> CaseDetail:
    with archive.reads.begin() as db:
        c = _case(archive, db, p, case_id, "cases.view", request)
        view = views.case_view(db, c, archive.settings.cases, tz=archive.settings.station.timezone,
                               visible=p.scope.allows, data_key=archive.data_key,
                               masked=not p.may("cases.personal_data"))
        out = case_detail(view)
        access.record(archive, db, p, "case_viewed", detail={"case_id": c.id, "number": c.number,
                                                             "shown": view.shown_evidence})
        return out


@router.post("/{case_id}/steps", response_model=StepOut, status_code=201, summary="Add an enforcement step (a "
             "decision step of a major case only after a passing legal review: else 409 review_required)")
def add_step(case_id: Id, body: StepIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> StepOut:
    try:
        with archive.sessions.begin() as db:
            c = _case(archive, db, p, case_id, "cases.manage", request)
            local = ZoneInfo(archive.settings.station.timezone)  # a time typed without a zone is the station's
            start, end = (utc_bound(t if t.tzinfo else t.replace(tzinfo=local))
                          for t in (body.started_at, body.ended_at))
            assert start is not None and end is not None
            st = cases.add_step(db, archive.custody, archive.settings.cases, case=c, kind=body.kind,
                                started_at=start, ended_at=end, actor=p.actor, place=body.place,
                                officers=body.officers)
            return next(s for s in _detail(archive, db, p, c).steps if s.step_id == st.id)
    except ReviewRequired as e:
        _gate_refused(archive, p, request, e, case_id=case_id, what="step", kind=body.kind)
        raise


@router.post("/steps/{step_id}/links", response_model=LinkOut, status_code=201,
             summary="Link a recording (or seconds start_s to end_s of it) to a step")
def add_link(step_id: Id, body: LinkIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> LinkOut:
    with archive.sessions.begin() as db:
        _c, st = _step(archive, db, p, step_id, "cases.manage", request)
        ev = access.evidence(archive, db, p, body.evidence_id, "evidence.view", request)
        lk = cases.link(db, archive.custody, step=st, evidence=ev, actor=p.actor, start_s=body.start_s,
                        end_s=body.end_s)
        return link(LinkView(link=lk, evidence=ev, extras=searching.extras(db, [ev.id])[ev.id]))


@router.delete("/links/{link_id}", status_code=204, summary="End a link (it stays in the record, ended)")
def remove_link(link_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> None:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "cases.manage", request)
        lk = db.get(EvidenceLink, link_id)
        st = db.get(Step, lk.step_id) if lk is not None else None
        _holder(archive, db, p, st.case_id if st else None, "cases.manage", request, what="link", ident=link_id)
        cases.unlink(db, archive.custody, link_id=link_id, actor=p.actor)


@router.get("/steps/{step_id}/suggestions", response_model=list[EvidenceSummary],
            summary="Recordings of the step's officers that overlap its time, not yet linked")
def suggest(step_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> list[EvidenceSummary]:
    with archive.reads.begin() as db:
        _c, st = _step(archive, db, p, step_id, "cases.view", request)
        found = cases.suggestions(db, step=st, scope=p.scope)
        access.record(archive, db, p, "searched", detail={"query": {"suggestions_for_step": st.id},
                                                          "shown": [e.id for e in found]})
        extras = searching.extras(db, [e.id for e in found])
        return [summary(e, extras[e.id]) for e in found]


@router.get("/{case_id}/coverage", summary="The full-process coverage check of every step")
def coverage(case_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        c = _case(archive, db, p, case_id, "cases.view", request)
        report = covering.record_check(db, archive.custody, archive.settings.cases, case=c, actor=p.actor,
                                       tz=archive.settings.station.timezone, visible=p.scope.allows,
                                       tool=access.TOOL, context=p.where())
        return report.to_dict()


@router.post("/{case_id}/close", response_model=CaseSummary, summary="Close the case (结案)")
def close(case_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> CaseSummary:
    with archive.sessions.begin() as db:
        c = _case(archive, db, p, case_id, "cases.manage", request)
        report = covering.check_case(db, c, archive.settings.cases, tz=archive.settings.station.timezone,
                                     visible=p.scope.allows)  # (what the closer was shown is in the event)
        cases.close_case(db, archive.custody, case=c, actor=p.actor, flagged_steps=[s.step_id for s in report.flagged])
        return case_summary(c, views.unit_code(db, c))


@router.post("/{case_id}/reopen", response_model=CaseSummary, summary="Reopen a closed case, with a reason "
             "(what is linked to it is kept without end again until it is closed once more)")
def reopen(case_id: Id, body: ReopenIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> CaseSummary:
    with archive.sessions.begin() as db:
        c = _case(archive, db, p, case_id, "cases.manage", request)
        cases.reopen_case(db, archive.custody, case=c, actor=p.actor, reason=body.reason)
        return case_summary(c, views.unit_code(db, c))


def _gate_refused(archive: Archive, p: access.Principal, request: Request, err: ReviewRequired, *, case_id: int,
                  what: str, kind: str) -> None:
    """A decision legal review's gate refused (its transaction rolled back), as a ``review_gate_refused``
    custody event in a transaction of its own."""
    from review.service import record_refusal

    record_refusal(archive, case_id=case_id, what=what, kind=kind, actor=p.actor, reason=err.diagnostics(),
                   context={**p.where(), "method": request.method, "path": request.url.path})


# ---------------------------------------------------------------------------- text records


class _UploadFields(BaseModel):
    kind: str = Field(min_length=1, max_length=64, pattern=LINE_NOT_BLANK)
    title: str = Field(default="", max_length=500, pattern=LINE)
    step_id: str = Field(default="", pattern=r"^([1-9][0-9]{0,17})?$", description="an id (digits), or empty")
    record_id: str = Field(default="", pattern=r"^([1-9][0-9]{0,17})?$", description="an id (digits), or empty")
    decision_content: str = Field(default="", max_length=20000, pattern=LINES,
                                  description="a decision document (决定书) of a major case: what it decides, as "
                                              "reviewed (legal review compares it by hash)")
    decision_kind: str = Field(default="", max_length=64, pattern=LINE, description="the decision's kind (决定种类)")
    decision_amount: str = Field(default="", max_length=64, pattern=LINE, description="its amount in yuan, as typed")

    def decision(self) -> Decision | None:
        if not self.decision_content.strip():
            return None
        return Decision(kind=self.decision_kind.strip() or None, content=self.decision_content,
                        amount=self.decision_amount.strip() or None)


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "kind"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the document"},
        **{k: v for k, v in _UploadFields.model_json_schema()["properties"].items()}}}}}}}


@router.post("/{case_id}/records", response_model=RecordAdded, status_code=201, openapi_extra=_UPLOAD_BODY,
             summary="Upload a document (PDF, DOCX, JPEG, PNG) as a text record, or a new version of one")
async def upload_record(case_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> RecordAdded:
    """The body is read only after the user is known and may manage the case (FastAPI would parse
    ``File``/``Form`` parameters before any dependency runs): an anonymous or refused upload costs
    the archive no disk. Its size is bounded before that by ``api.limits`` ([web] max_record_mb)."""
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    def allowed() -> None:
        with archive.sessions.begin() as db:
            _case(archive, db, p, case_id, "cases.manage", request)

    await run_in_threadpool(allowed)
    form = await request.form(max_files=1, max_fields=7)
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
        step_id = int(fields.step_id) if fields.step_id else None
        record_id = int(fields.record_id) if fields.record_id else None

        def targets_allowed() -> None:  # a foreign step or record: refused (an event) before anything is stored
            with archive.sessions.begin() as db:
                _targets(archive, db, p, step_id, record_id, request)

        await run_in_threadpool(targets_allowed)

        def store() -> recording.Added:
            with tempfile.TemporaryDirectory(prefix="liuhen-upload-") as d:
                path = Path(d) / "upload"
                with open(path, "wb") as out:
                    shutil.copyfileobj(file.file, out, 1 << 20)
                return recording.add_version(archive, case_id=case_id, actor=p.actor, kind=fields.kind,
                                             title=fields.title or name, path=path, file_name=name,
                                             step_id=step_id, record_id=record_id, decision=fields.decision())

        try:
            added = await run_in_threadpool(store)
        except ReviewRequired as e:
            await run_in_threadpool(_gate_refused, archive, p, request, e, case_id=case_id, what="record",
                                    kind=fields.kind)
            raise
    finally:
        await form.close()
    return RecordAdded(record_id=added.record_id, version=added.version, sha256=added.sha256, size=added.size)


@router.post("/{case_id}/forms", response_model=RecordAdded, status_code=201,
             summary="Fill a structured form (立案审批表, 现场检查笔录 …) as a text record, or a new version of one")
def fill_form(case_id: Id, body: FormIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> RecordAdded:
    with archive.sessions.begin() as db:
        _case(archive, db, p, case_id, "cases.manage", request)
        _targets(archive, db, p, body.step_id, body.record_id, request)
    try:
        added = recording.add_form(archive, case_id=case_id, actor=p.actor, kind=body.kind, fields=body.fields,
                                   step_id=body.step_id, record_id=body.record_id, title=body.title)
    except ReviewRequired as e:
        _gate_refused(archive, p, request, e, case_id=case_id, what="record", kind=body.kind)
        raise
    return RecordAdded(record_id=added.record_id, version=added.version, sha256=added.sha256, size=added.size)


@router.get("/records/{record_id}/versions/{version}", response_class=FileResponse,
            responses={200: {"description": "the document, bit for bit (header X-Content-SHA256)",
                             "content": {"application/octet-stream": {}}},
                       206: {"description": "the requested byte range", "content": {"application/octet-stream": {}}},
                       416: {"model": ERRORS[400]["model"], "description": "the byte range is outside the file"},
                       503: {"model": ERRORS[400]["model"], "description": "the store could not be read"}},
            summary="Download one version of a text record")
def download_record(record_id: Id, version: Annotated[int, PathParam(ge=1, le=1_000_000)], archive: ArchiveDep,
                    p: CurrentUser, request: Request) -> Any:
    access.no_cross_site(p, request)
    return send_record(archive, p, request, record_id, version)


def record_version(archive: Archive, db: Session, p: access.Principal, request: Request, record_id: int,
                   version: int) -> tuple[Case, TextRecord, TextRecordVersion]:
    """The version of a text record ``p`` may download; a refusal is logged and raised."""
    access.require(archive, db, p, "cases.documents", request)  # the auditor sees the list, not the bytes
    rec = db.get(TextRecord, record_id)
    # another unit's record answers like one that does not exist (and names no case)
    c = _holder(archive, db, p, rec.case_id if rec else None, "cases.documents", request, what="text record",
                ident=record_id)
    assert rec is not None  # (_holder raised otherwise)
    v = db.scalar(select(TextRecordVersion).where(TextRecordVersion.record_id == rec.id,
                                                  TextRecordVersion.version == version))
    if v is None:
        raise UnknownCase(said(f"文书 {record_id} 没有第 {version} 版", f"Text record {record_id} has no version "
                               f"{version}."), said("请选择案件页面上列出的版本。", "Choose a version listed on the case page."))
    return c, rec, v


def send_record(archive: Archive, p: access.Principal, request: Request, record_id: int, version: int) -> Any:
    """One version of a text record, checked and recorded (``record_downloaded``) now."""
    with archive.sessions.begin() as db:
        c, rec, v = record_version(archive, db, p, request, record_id, version)
        header = request.headers.get("range")
        rng = streaming.parse_range(header, v.size)  # refused before any event
        access.record(archive, db, p, "record_downloaded", detail={"case_id": c.id, "number": c.number,
                                                                   "record_id": rec.id, "version": v.version,
                                                                   "sha256": v.sha256, "range": header})
        key, store_version, size, mime, name, sha = (v.store_key, v.store_version, v.size, v.mime, v.file_name,
                                                     v.sha256)
    resp = streaming.stream(request, archive.store, key=key, version=store_version, size=size, mime=mime, rng=rng,
                            filename=name, inline=True, cache="private, no-store")
    resp.headers["X-Content-SHA256"] = sha
    return resp


@router.get("/{case_id}/export", response_class=FileResponse,
            responses={200: {"description": "a zip of the case's BagIt bag", "content": {"application/zip": {}}},
                       409: {"model": ERRORS[400]["model"], "description": "a stored file no longer matches its "
                                                                           "SHA-256 (nothing was exported)"},
                       503: {"model": ERRORS[400]["model"], "description": "the store could not be read"}},
            summary="The case as one verifiable bag: text records, linked originals, coverage report, custody")
def export(case_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    access.no_cross_site(p, request)
    return send_case_export(archive, p, request, case_id)


def send_case_export(archive: Archive, p: access.Principal, request: Request, case_id: int) -> Any:
    """The case bag, checked now and streamed as it is made (``api.exports.send_bag``); the case's
    part (its documents, a few MB) is written to a folder that is removed when the stream ends.
    ``exported`` of each recording and ``case_exported`` are recorded once the last byte was sent.
    For the route and its one-time link; a large case is better exported as a job (``POST /exports``)."""
    from api.exports import send_bag
    from archive import bagstream
    from archive.bagstream import event_detail
    from cases.export import plan_case, prepare_case, record_case_exported
    from publication.bag import bag_part
    from retention.service import destroyed

    with archive.sessions.begin() as db:
        access.require(archive, db, p, "cases.view", request)  # the role first, as on every route:
        access.require(archive, db, p, "evidence.export", request)  # (a bag holds the originals)
        c = _case(archive, db, p, case_id, "cases.view", request)
        number = c.number
    work = Path(tempfile.mkdtemp(prefix="liuhen-case-export-"))
    try:
        ce = prepare_case(archive, case_id, visible=p.scope.allows, destroyed=destroyed, extra=bag_part(archive.settings))
        plan = plan_case(archive, ce, work, proxies=False)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in number)
    name = f"liuhen-case-{safe}.zip"

    def done(db: Session, result: Any) -> None:
        for it in plan.snap.items:
            archive.custody.record(db, actor=p.actor, action="exported", evidence_id=it.evidence_id,
                                   object_sha256=it.sha256, tool=bagstream.TOOL, tool_version=bagstream.TOOL_VERSION,
                                   detail={**event_detail(plan, result, file=name), "original": f"data/{it.original}"})
        record_case_exported(archive, db, ce, actor=p.actor, detail={"bag": name, "payload_oxum": plan.payload_oxum,
                                                                     "zip_bytes": result.zip_bytes})

    resp = send_bag(archive, p, plan, filename=name, done=done)
    resp.background = BackgroundTask(shutil.rmtree, work, True)
    return resp


# ---------------------------------------------------------------------------- the cases of a recording

evidence_router = APIRouter(tags=["cases"], dependencies=[StrictQuery], responses={**ERRORS})


class EvidenceCaseOut(BaseModel):
    link_id: int
    case_id: int
    number: str
    title: str
    status: str
    unit_code: str
    unit_name: str
    step_id: int
    step_kind: str
    step_started_at: dt.datetime
    step_ended_at: dt.datetime
    start_s: float | None = Field(description="the linked part starts this many seconds into the recording "
                                              "(null: from its start)")
    end_s: float | None = Field(description="... and ends here (null: at its end)")
    linked_at: dt.datetime
    linked_by: str


@evidence_router.get("/evidence/{evidence_id}/cases", response_model=list[EvidenceCaseOut],
                     summary="The cases and steps a recording is linked to now, of the user's units only "
                             "(links into other units' cases are neither shown nor counted)")
def evidence_cases(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser,
                   request: Request) -> list[EvidenceCaseOut]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "cases.view", request)
        access.require(archive, db, p, "evidence.view", request)  # (every role that reads cases has it)
        ev = access.evidence(archive, db, p, evidence_id, "cases.view", request)  # (another unit's: as if missing)
        rows = views.evidence_cases(db, ev.id, units=p.scope.units)
        access.record(archive, db, p, "viewed", evidence=ev,
                      detail={"what": "cases of the evidence", "cases": sorted({r.case.id for r in rows})})
        return [evidence_case(r) for r in rows]


def evidence_case(r: views.EvidenceCaseLink) -> EvidenceCaseOut:
    lk, st, c = r.link, r.step, r.case
    return EvidenceCaseOut(link_id=lk.id, case_id=c.id, number=c.number, title=c.title, status=c.status,
                           unit_code=r.unit.code if r.unit else "", unit_name=r.unit.name if r.unit else "",
                           step_id=st.id, step_kind=st.kind, step_started_at=st.started_at,
                           step_ended_at=st.ended_at, start_s=lk.start_s, end_s=lk.end_s, linked_at=lk.linked_at,
                           linked_by=lk.linked_by)
