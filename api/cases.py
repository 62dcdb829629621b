"""``/api/v1/cases``: cases, steps, links, text records and the coverage check.

A user sees the cases of their units (``cases.view``) and builds them with ``cases.manage``;
linking needs the evidence to be one the user may see. Every change and every download of a
text record is a custody event; every refusal is an ``access_denied`` event (``api.access``).
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from api import access, streaming
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE, LINE_NOT_BLANK, MAX_ID, EvidenceSummary, Time, summary, utc_bound
from archive import query as searching
from archive.models import Evidence
from auth.models import Unit
from cases import coverage as covering
from cases import records as recording
from cases import service as cases
from cases.models import Case, EvidenceLink, Step, TextRecord, TextRecordVersion
from archive.context import Archive

router = APIRouter(tags=["cases"], dependencies=[StrictQuery], responses={
    **ERRORS, 409: {"model": ERRORS[400]["model"], "description": "the case is closed and cannot be changed"},
    503: {"model": ERRORS[400]["model"], "description": "the store could not be read or written"}})
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
# multipart has no null: an absent id is left out or empty
FormId = Annotated[str, Form(pattern=r"^([1-9][0-9]{0,17})?$", description="an id (digits), or empty")]


class PartyOut(BaseModel):
    kind: str
    name: str
    id_number: str | None
    phone: str | None
    address: str | None


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


class CaseSummary(BaseModel):
    case_id: int
    number: str
    category: str
    title: str
    status: str
    unit_id: int
    unit_code: str
    created_at: dt.datetime
    created_by: str


class LinkOut(BaseModel):
    link_id: int
    evidence: EvidenceSummary
    start_s: float | None
    end_s: float | None
    linked_by: str
    linked_at: dt.datetime


class VersionOut(BaseModel):
    version: int
    sha256: str
    size: int
    mime: str
    file_name: str
    form: bool
    key_id: str
    created_at: dt.datetime
    created_by: str


class RecordOut(BaseModel):
    record_id: int
    step_id: int | None
    kind: str
    title: str
    versions: list[VersionOut]


class GapOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    seconds: float


class PieceOut(BaseModel):
    evidence_id: int | None = Field(description="null: a recording of another unit (it still counts)")
    start: dt.datetime
    end: dt.datetime


class CoverageOut(BaseModel):
    status: str
    requirement: str
    flagged: bool
    covered_s: float
    total_s: float
    gaps: list[GapOut]
    pieces: list[PieceOut]
    unplaced: list[int]
    reason: str


class StepOut(BaseModel):
    step_id: int
    kind: str
    place: str | None
    started_at: dt.datetime
    ended_at: dt.datetime
    officers: list[str]
    links: list[LinkOut]
    coverage: CoverageOut


class CaseDetail(CaseSummary):
    parties: list[PartyOut]
    steps: list[StepOut]
    records: list[RecordOut]
    flagged_steps: list[int]


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


class RecordAdded(BaseModel):
    record_id: int
    version: int
    sha256: str
    size: int


# ---------------------------------------------------------------------------- helpers


def _case(archive: Archive, db: Session, p: access.Principal, case_id: int, action: str,
          request: Request | None) -> Case:
    access.require(archive, db, p, action, request)
    case = db.get(Case, case_id)
    if case is None:
        raise cases.UnknownCase(f"没有案件 {case_id} / There is no case {case_id} that you may see.",
                                "Check the case on the case list.")
    if case.unit_id not in p.scope.units:
        access.denied(archive, db, p, permission=action, reason=f"unit (case {case.number})", request=request)
        raise cases.UnknownCase(f"没有案件 {case_id} / There is no case {case_id} that you may see.",
                                "Check the case on the case list.")
    return case


def _summary(db: Session, c: Case) -> CaseSummary:
    unit = db.get(Unit, c.unit_id)
    return CaseSummary(case_id=c.id, number=c.number, category=c.category, title=c.title, status=c.status,
                       unit_id=c.unit_id, unit_code=unit.code if unit else "", created_at=c.created_at,
                       created_by=c.created_by)


def case_detail(archive: Archive, db: Session, p: access.Principal, c: Case) -> CaseDetail:
    report = covering.check_case(db, c, archive.settings.cases, tz=archive.settings.station.timezone,
                                 visible=p.scope.allows)
    by_step = {s.step_id: s for s in report.steps}
    steps = []
    for st in sorted(c.steps, key=lambda s: (s.started_at, s.id)):
        links = []
        for lk in cases.current_links(st):
            ev = db.get(Evidence, lk.evidence_id)
            assert ev is not None
            if not p.scope.allows(ev):
                continue  # another unit's footage linked by someone who could see it: not shown here
            links.append(LinkOut(link_id=lk.id, evidence=summary(ev, searching.extras(db, [ev.id])[ev.id]),
                                 start_s=lk.start_s, end_s=lk.end_s, linked_by=lk.linked_by, linked_at=lk.linked_at))
        cov = by_step[st.id]
        steps.append(StepOut(step_id=st.id, kind=st.kind, place=st.place, started_at=st.started_at,
                             ended_at=st.ended_at, officers=cases.step_officers(st), links=links,
                             coverage=CoverageOut(status=cov.status, requirement=cov.requirement, flagged=cov.flagged,
                                                  covered_s=cov.covered_s, total_s=cov.total_s,
                                                  gaps=[GapOut(start=g.start, end=g.end, seconds=round(g.seconds, 3))
                                                        for g in cov.gaps],
                                                  pieces=[PieceOut(evidence_id=x.evidence_id, start=x.start, end=x.end)
                                                          for x in cov.pieces],
                                                  unplaced=cov.unplaced, reason=cov.reason)))
    records = [RecordOut(record_id=r.id, step_id=r.step_id, kind=r.kind, title=r.title,
                         versions=[VersionOut(version=v.version, sha256=v.sha256, size=v.size, mime=v.mime,
                                              file_name=v.file_name, form=v.form, key_id=v.key_id,
                                              created_at=v.created_at, created_by=v.created_by) for v in r.versions])
               for r in db.scalars(select(TextRecord).where(TextRecord.case_id == c.id).order_by(TextRecord.id))]
    return CaseDetail(**_summary(db, c).model_dump(),
                      parties=[PartyOut(kind=x.kind, name=x.name, id_number=x.id_number, phone=x.phone,
                                        address=x.address) for x in c.parties],
                      steps=steps, records=records, flagged_steps=[s.step_id for s in report.flagged])


def shown_evidence(detail: CaseDetail) -> list[int]:
    """The recordings a case view shows (they go into its custody event)."""
    return sorted({lk.evidence.evidence_id for st in detail.steps for lk in st.links})


# ---------------------------------------------------------------------------- cases


@router.get("", response_model=list[CaseSummary], summary="Cases of the user's units, newest first")
def list_cases(archive: ArchiveDep, p: CurrentUser, request: Request,
               status: Literal["open", "closed"] | None = None,
               q: Annotated[str | None, Query(max_length=200, pattern=LINE,
                                              description="part of the number or title")] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[CaseSummary]:
    with archive.sessions.begin() as db:
        return [_summary(db, c) for c in cases_for(archive, db, p, status=status, q=q, limit=limit, request=request)]


def cases_for(archive: Archive, db: Session, p: access.Principal, *, status: str | None = None,
              q: str | None = None, limit: int = 100, request: Request | None = None) -> list[Case]:
    access.require(archive, db, p, "cases.view", request)
    query = select(Case).where(Case.unit_id.in_(sorted(p.scope.units)))
    if status:
        query = query.where(Case.status == status)
    if q and q.strip():
        like = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Case.number.like(like, escape="\\") | Case.title.like(like, escape="\\"))
    return list(db.scalars(query.order_by(Case.id.desc()).limit(limit)))


@router.post("", response_model=CaseSummary, status_code=201, summary="Open a case; it takes the next unified "
             "registration number of its unit")
def create(body: CaseIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> CaseSummary:
    with archive.sessions.begin() as db:
        unit = access.own_unit(archive, db, p, "cases.manage", body.unit_code, request)
        c = cases.create_case(db, archive.custody, archive.settings.cases, unit_id=unit.id, unit_code=unit.code,
                              category=body.category, title=body.title, actor=p.actor, source=body.source,
                              parties=[cases.PartyIn(**x.model_dump()) for x in body.parties],
                              tz=archive.settings.station.timezone)
        return _summary(db, c)


@router.get("/{case_id}", response_model=CaseDetail, summary="A case: steps with their recordings and coverage, "
            "text records")
def get_one(case_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> CaseDetail:
    with archive.sessions.begin() as db:
        c = _case(archive, db, p, case_id, "cases.view", request)
        out = case_detail(archive, db, p, c)
        access.record(archive, db, p, "case_viewed", detail={"case_id": c.id, "number": c.number,
                                                             "shown": shown_evidence(out)})
        return out


@router.post("/{case_id}/steps", response_model=StepOut, status_code=201, summary="Add an enforcement step")
def add_step(case_id: Id, body: StepIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> StepOut:
    with archive.sessions.begin() as db:
        c = _case(archive, db, p, case_id, "cases.manage", request)
        local = ZoneInfo(archive.settings.station.timezone)  # a time typed without a zone is the station's
        start, end = (utc_bound(t if t.tzinfo else t.replace(tzinfo=local)) for t in (body.started_at, body.ended_at))
        assert start is not None and end is not None
        st = cases.add_step(db, archive.custody, archive.settings.cases, case=c, kind=body.kind,
                            started_at=start, ended_at=end, actor=p.actor, place=body.place, officers=body.officers)
        return next(s for s in case_detail(archive, db, p, c).steps if s.step_id == st.id)


def _step(archive: Archive, db: Session, p: access.Principal, step_id: int, action: str,
          request: Request | None) -> tuple[Case, Step]:
    st = db.get(Step, step_id)
    if st is None:
        access.require(archive, db, p, action, request)
        raise cases.UnknownCase(f"没有环节 {step_id} / There is no step {step_id}.", "Check the case page.")
    return _case(archive, db, p, st.case_id, action, request), st


@router.post("/steps/{step_id}/links", response_model=LinkOut, status_code=201,
             summary="Link a recording (or seconds start_s to end_s of it) to a step")
def add_link(step_id: Id, body: LinkIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> LinkOut:
    with archive.sessions.begin() as db:
        _c, st = _step(archive, db, p, step_id, "cases.manage", request)
        ev = access.evidence(archive, db, p, body.evidence_id, "evidence.view", request)
        lk = cases.link(db, archive.custody, step=st, evidence=ev, actor=p.actor, start_s=body.start_s,
                        end_s=body.end_s)
        return LinkOut(link_id=lk.id, evidence=summary(ev, searching.extras(db, [ev.id])[ev.id]), start_s=lk.start_s,
                       end_s=lk.end_s, linked_by=lk.linked_by, linked_at=lk.linked_at)


@router.delete("/links/{link_id}", status_code=204, summary="End a link (it stays in the record, ended)")
def remove_link(link_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> None:
    with archive.sessions.begin() as db:
        lk = db.get(EvidenceLink, link_id)
        if lk is None:
            access.require(archive, db, p, "cases.manage", request)
            raise cases.UnknownCase(f"没有关联 {link_id} / There is no link {link_id}.", "Reload the case page.")
        _step(archive, db, p, lk.step_id, "cases.manage", request)
        cases.unlink(db, archive.custody, link_id=link_id, actor=p.actor)


@router.get("/steps/{step_id}/suggestions", response_model=list[EvidenceSummary],
            summary="Recordings of the step's officers that overlap its time, not yet linked")
def suggest(step_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> list[EvidenceSummary]:
    with archive.sessions.begin() as db:
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
        cases.close_case(db, archive.custody, case=c, actor=p.actor)
        return _summary(db, c)


# ---------------------------------------------------------------------------- text records


@router.post("/{case_id}/records", response_model=RecordAdded, status_code=201,
             summary="Upload a document (PDF, DOCX, JPEG, PNG) as a text record, or a new version of one")
def upload_record(case_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request,
                  file: Annotated[UploadFile, File(description="the document")],
                  kind: Annotated[str, Form(min_length=1, max_length=64, pattern=LINE_NOT_BLANK)],
                  title: Annotated[str, Form(max_length=500, pattern=LINE)] = "",
                  step_id: FormId = "",
                  record_id: FormId = "") -> RecordAdded:
    with archive.sessions.begin() as db:
        _case(archive, db, p, case_id, "cases.manage", request)
    name = os.path.basename(file.filename or "document") or "document"
    with tempfile.TemporaryDirectory(prefix="liuhen-upload-") as d:
        path = Path(d) / "upload"
        with open(path, "wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        added = recording.add_version(archive, case_id=case_id, actor=p.actor, kind=kind, title=title or name,
                                      path=path, file_name=name, step_id=int(step_id) if step_id else None,
                                      record_id=int(record_id) if record_id else None)
    return RecordAdded(record_id=added.record_id, version=added.version, sha256=added.sha256, size=added.size)


@router.post("/{case_id}/forms", response_model=RecordAdded, status_code=201,
             summary="Fill a structured form (立案审批表, 现场检查笔录 …) as a text record, or a new version of one")
def fill_form(case_id: Id, body: FormIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> RecordAdded:
    with archive.sessions.begin() as db:
        _case(archive, db, p, case_id, "cases.manage", request)
    added = recording.add_form(archive, case_id=case_id, actor=p.actor, kind=body.kind, fields=body.fields,
                               step_id=body.step_id, record_id=body.record_id, title=body.title)
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
    with archive.sessions.begin() as db:
        rec = db.get(TextRecord, record_id)
        if rec is None:
            access.require(archive, db, p, "cases.view", request)
            raise cases.UnknownCase(f"没有文书 {record_id} / There is no text record {record_id}.", "Reload the case.")
        c = _case(archive, db, p, rec.case_id, "cases.view", request)
        v = db.scalar(select(TextRecordVersion).where(TextRecordVersion.record_id == rec.id,
                                                      TextRecordVersion.version == version))
        if v is None:
            raise cases.UnknownCase(f"文书 {record_id} 没有第 {version} 版 / Text record {record_id} has no version "
                                    f"{version}.", "Choose a version listed on the case page.")
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
    from cases.export import export_case

    with archive.sessions.begin() as db:
        c = _case(archive, db, p, case_id, "cases.view", request)
        access.require(archive, db, p, "evidence.export", request)
        number = c.number
    work = Path(tempfile.mkdtemp(prefix="liuhen-case-export-"))
    try:
        bag = work / "case"
        export_case(archive, case_id, bag, actor=p.actor, visible=p.scope.allows)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in number)
        zipped = shutil.make_archive(str(work / f"liuhen-case-{safe}"), "zip", work, bag.name)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(zipped, media_type="application/zip", filename=os.path.basename(zipped),
                        background=BackgroundTask(shutil.rmtree, work, True))
