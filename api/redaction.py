"""``/api/v1/redaction`` and ``/api/v1/evidence/{evidence_id}/redaction``: privacy redaction plans.

A thin router over ``redaction.service``: an editor (``redaction.edit``) makes a plan of a
recording, saves versions of it (``PUT`` with the version the edit started from: an older one
answers 409 ``stale_redaction_plan``), accepts or rejects detected tracks and asks for detection and
renders (jobs on the durable queue: 202); a second person (``redaction.approve``) who made no change
since the last approval approves a version (four eyes; 409 ``redaction_approval_refused`` otherwise);
an approved, latest version's render may be downloaded or put in a release bag
(``redaction.release``; 409 ``redaction_not_approved`` before). Whoever holds any of the three
permissions reads plans, renders, logs and previews (its refusals name the first of them it holds,
``redaction.release`` for every role that has any). Renders are asked for by editors.

A plan or render of a recording outside the user's units answers exactly like a missing one (404
plus an ``access_denied`` event); a missing one writes ``not_found`` (``api.access``). The JSON
shapes are in the README (隐私遮蔽 / redaction).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINES, MAX_ID, ErrorOut
from archive.context import Archive
from archive.models import Evidence
from redaction import service
from redaction.models import RedactionPlan, RedactionRender

router = APIRouter(tags=["redaction"], dependencies=[StrictQuery], responses={
    **ERRORS, 409: {"model": ErrorOut, "description": "a stale edit, an approval four eyes refuse, a release before "
                                                      "approval (redaction_not_approved), a render not made yet"}})
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
TrackId = Annotated[str, PathParam(min_length=1, max_length=64)]
VIEW = ("redaction.release", "redaction.edit", "redaction.approve")  # reading: any of them (named: the first held)
_MP4 = {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}
_ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
_JPEG = {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}


class CreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(default="", max_length=200, pattern=LINES, description="what the plan is for (a release, a court)")


class SaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_version: int = Field(ge=1, description="the version the edit started from; must still be the latest")
    plan: dict[str, Any] = Field(description="the plan as data (redaction.plan.Plan.as_json: format, "
                                             "original_sha256, detector, note, tracks, ranges)")
    why: str = Field(default="", max_length=2000, pattern=LINES)


class TrackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["accepted", "rejected"]
    why: str = Field(default="", max_length=2000, pattern=LINES)
    base_version: int | None = Field(default=None, ge=1, description="if given, refused unless still the latest")


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(default=None, ge=1, description="the version to render; the latest if absent")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    why: str = Field(default="", max_length=2000, pattern=LINES)


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    render_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=100)


class DetectOut(BaseModel):
    detection_id: int
    plan_id: int
    job_id: int | None
    state: str


# ---------------------------------------------------------------------------- access


def _may_view(archive: Archive, db: Session, p: access.Principal, request: Request) -> str:
    """The first of ``VIEW`` that ``p`` holds (a role with none is refused as for ``redaction.release``)."""
    for action in VIEW:
        if p.may(action):
            return action
    access.require(archive, db, p, VIEW[0], request)
    raise AssertionError("unreachable")  # require raised


def _plan(archive: Archive, db: Session, p: access.Principal, plan_id: int, action: str | None,
          request: Request) -> tuple[RedactionPlan, Evidence]:
    """Plan ``plan_id`` if ``p`` may ``action`` on its recording (None: any of ``VIEW``); another
    unit's answers exactly like a missing one."""
    action = action or _may_view(archive, db, p, request)
    access.require(archive, db, p, action, request)
    row = db.get(RedactionPlan, plan_id)
    if row is None:
        access.missing(archive, db, p, what="redaction_plan", ident=plan_id, request=request)
        raise service.unknown_plan(plan_id)
    ev = db.get_one(Evidence, row.evidence_id)
    if not p.scope.allows(ev):
        access.denied(archive, db, p, permission=action, reason="unit", request=request, evidence=ev)
        raise service.unknown_plan(plan_id)
    return row, ev


def _render(archive: Archive, db: Session, p: access.Principal, render_id: int, action: str | None,
            request: Request) -> tuple[RedactionRender, Evidence]:
    action = action or _may_view(archive, db, p, request)
    access.require(archive, db, p, action, request)
    r = db.get(RedactionRender, render_id)
    if r is None:
        access.missing(archive, db, p, what="redaction_render", ident=render_id, request=request)
        raise service.unknown_render(render_id)
    ev = db.get_one(Evidence, r.evidence_id)
    if not p.scope.allows(ev):
        access.denied(archive, db, p, permission=action, reason="unit", request=request, evidence=ev)
        raise service.unknown_render(render_id)
    return r, ev


# ---------------------------------------------------------------------------- plans


@router.post("/evidence/{evidence_id}/redaction", status_code=201, summary="Make a redaction plan of a recording")
def create(evidence_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request,
           body: Annotated[CreateIn | None, Body()] = None) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "redaction.edit", request)
        row = service.create(archive, db, evidence=ev, actor=p.actor, title=body.title if body else "")
        return service.plan_summary(db, row)


@router.get("/evidence/{evidence_id}/redaction", summary="The redaction plans of a recording")
def list_plans(evidence_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> list[dict[str, Any]]:
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, _may_view(archive, db, p, request), request)
        return [service.plan_summary(db, row) for row in service.plans_of(db, ev.id)]


@router.get("/redaction/{plan_id}", summary="A redaction plan: its latest version, versions, approvals, renders")
def show(plan_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        row, _ = _plan(archive, db, p, plan_id, None, request)
        return service.plan_summary(db, row)


@router.put("/redaction/{plan_id}", summary="Save the next version of a plan (409 if base_version is not the latest)")
def save(plan_id: Id, body: SaveIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:  # who may, which plan, which version: then the plan itself is read
        row, _ = _plan(archive, db, p, plan_id, "redaction.edit", request)
        service.save(archive, db, plan_id=row.id, base_version=body.base_version, plan=body.plan, actor=p.actor,
                     why=body.why)
        return service.plan_summary(db, row)


@router.post("/redaction/{plan_id}/tracks/{track_id}", summary="Accept or reject one track (a new version)")
def decide_track(plan_id: Id, track_id: TrackId, body: TrackIn, archive: ArchiveDep, p: CurrentUser,
                 request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        row, _ = _plan(archive, db, p, plan_id, "redaction.edit", request)
        service.decide_track(archive, db, plan_id=row.id, track_id=track_id, state=body.state, actor=p.actor,
                             why=body.why, base_version=body.base_version)
        return service.plan_summary(db, row)


@router.post("/redaction/{plan_id}/detect", status_code=202, response_model=DetectOut,
             summary="Detect faces (and plates) as a job; its tracks become a new version, proposed")
def detect(plan_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> DetectOut:
    with archive.sessions.begin() as db:
        row, _ = _plan(archive, db, p, plan_id, "redaction.edit", request)
        d = service.ask_detect(archive, db, plan_id=row.id, actor=p.actor)
        return DetectOut(detection_id=d.id, plan_id=row.id, job_id=d.job_id, state=d.state)


@router.post("/redaction/{plan_id}/render", status_code=202, summary="Render a version (the latest if none) as a job")
def render(plan_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request,
           body: Annotated[RenderIn | None, Body()] = None) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        row, _ = _plan(archive, db, p, plan_id, "redaction.edit", request)
        r = service.ask_render(archive, db, plan_id=row.id, actor=p.actor, version=body.version if body else None)
        return service.render_summary(db, r)


@router.post("/redaction/{plan_id}/approve", summary="Approve a version (four eyes: never by its editors)")
def approve(plan_id: Id, body: ApproveIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        row, _ = _plan(archive, db, p, plan_id, "redaction.approve", request)
        service.approve(archive, db, plan_id=row.id, version=body.version, actor=p.actor, why=body.why)
        return service.plan_summary(db, row)


@router.get("/redaction/{plan_id}/preview", response_class=Response, responses={200: {"content": _JPEG}},
            summary="A JPEG of the redacted render at time t (of a version; the latest if none)")
def preview(plan_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request,
            t: Annotated[float, Query(ge=0, le=86400)] = 0.0,
            version: Annotated[int | None, Query(ge=1)] = None) -> Response:
    from redaction.render import preview_frame

    s = archive.settings.redaction
    with archive.sessions.begin() as db:
        row, ev = _plan(archive, db, p, plan_id, None, request)
        v = service.version_row(db, row.id, version) if version is not None else service.latest(db, row.id)
        plan = service.content(v)
        with tempfile.TemporaryDirectory(prefix="liuhen-preview-") as tmp:
            data = preview_frame(service.original_path(archive, ev, Path(tmp)), plan, t, pad=s.pad, cells=s.cells)
        access.record(archive, db, p, "redaction_previewed", evidence=ev,
                      detail={"plan_id": row.id, "version": v.version, "t": t})
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


# ---------------------------------------------------------------------------- renders and release


@router.get("/redaction/renders/{render_id}", summary="A render's state, progress, hashes, commands")
def render_status(render_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> dict[str, Any]:
    with archive.sessions.begin() as db:
        r, _ = _render(archive, db, p, render_id, None, request)
        return service.render_summary(db, r)


@router.get("/redaction/renders/{render_id}/log", response_class=Response,
            responses={200: {"content": {"application/json": {}}}}, summary="A render's redaction log (JSON)")
def render_log(render_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> Response:
    with archive.sessions.begin() as db:
        r, _ = _render(archive, db, p, render_id, None, request)
        data = service.read_log(archive, r)
    return Response(data, media_type="application/json", headers={"X-Content-SHA256": r.log_sha256 or ""})


@router.get("/redaction/renders/{render_id}/download", response_class=StreamingResponse,
            responses={200: {"content": _MP4}, 409: {"model": ErrorOut, "description": "redaction_not_approved"}},
            summary="Download an approved redacted copy (a release: a custody event)")
def download(render_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> StreamingResponse:
    access.no_cross_site(p, request)
    with archive.sessions.begin() as db:
        r, _ = _render(archive, db, p, render_id, "redaction.release", request)
        service.record_release(archive, db, renders=[r], what="download", sha256=r.sha256 or "", size=r.size or 0,
                               actor=p.actor, detail=p.where())
        f = service.open_copy(archive, r)
        name, size, sha = f"redacted-{r.evidence_id}-plan{r.plan_id}-v{r.version}.mp4", r.size or 0, r.sha256 or ""

    def body() -> Any:
        with f:
            yield from iter(lambda: f.read(1 << 20), b"")

    return StreamingResponse(body(), media_type="video/mp4", headers={
        "Content-Length": str(size), "X-Content-SHA256": sha, "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/redaction/release", response_class=StreamingResponse, responses={200: {"content": _ZIP}},
             summary="A release bag (BagIt zip) of approved redacted copies, their logs and a signed manifest")
def release(body: ReleaseIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> StreamingResponse:
    tmp = Path(tempfile.mkdtemp(prefix="liuhen-release-"))
    try:
        with archive.sessions.begin() as db:
            renders = [_render(archive, db, p, i, "redaction.release", request)[0] for i in body.render_ids]
            bag, _ = service.release_bag(archive, db, render_ids=[r.id for r in renders], actor=p.actor, workdir=tmp)
    except BaseException:
        service.remove_tree(tmp)
        raise
    return StreamingResponse(service.stream_file(bag.path), media_type="application/zip", headers={
        "Content-Length": str(bag.size), "X-Content-SHA256": bag.sha256, "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="{bag.name}"'})


__all__ = ["router"]
