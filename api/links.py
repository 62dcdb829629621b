"""One-time download links (``auth.links``): ``POST .../link`` checks the download now and returns a
URL that works once, for the same user, for ``[web] link_seconds``; ``GET /api/v1/links/{token}``
checks again, records the download and sends the bytes.

So no download leaves a custody event on a bare GET another site could trigger: the POST needs the
CSRF header (console) or a bearer token (API), and a GET without a live token — none, used,
expired, another user's — gets 404 ``link_gone``, no bytes and no event. The proxy player's media
stay plain GETs (a ``<video>`` element can send neither header nor POST, and seeks need Range):
a play is recorded at most once per 30 minutes per user and recording, and a session cookie is
``SameSite=Lax``, so a foreign page cannot embed the player's requests with it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api import access
from api import cases as case_routes
from api import evidence as evidence_routes
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, MAX_ID, EvidenceId
from archive.context import Archive
from auth import links
from liuhen.errors import NotFound
from liuhen.words import said

router = APIRouter(tags=["downloads"], responses={**ERRORS}, dependencies=[StrictQuery])
# (the routes of ``api.cases`` under /evidence — the cases a recording is linked to — are served from this
# router, which is mounted at the API's root)
router.include_router(case_routes.evidence_router)
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
Token = Annotated[str, PathParam(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class LinkOut(BaseModel):
    url: str  # GET it once, with the same session or token, before expires_at
    expires_at: dt.datetime


class LinkGone(NotFound):
    code = "link_gone"


def _issue(archive: Archive, p: access.Principal, what: str, target_id: int, version: int | None = None) -> LinkOut:
    with archive.sessions.begin() as db:
        token, expires = links.issue(db, user_id=p.user_id, what=what, target_id=target_id, version=version,
                                     seconds=archive.settings.web.link_seconds)
    return LinkOut(url=f"/api/v1/links/{token}", expires_at=expires)


@router.post("/evidence/{evidence_id}/original/link", response_model=LinkOut, status_code=201,
             summary="A one-time link to download the original")
def original_link(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> LinkOut:
    with archive.sessions.begin() as db:
        access.evidence(archive, db, p, evidence_id, "evidence.download_original", request)
    return _issue(archive, p, "original", evidence_id)


@router.post("/evidence/{evidence_id}/export/link", response_model=LinkOut, status_code=201,
             summary="A one-time link to download the evidence's verified BagIt export")
def export_link(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> LinkOut:
    with archive.sessions.begin() as db:
        access.evidence(archive, db, p, evidence_id, "evidence.export", request)
    return _issue(archive, p, "export", evidence_id)


@router.post("/cases/records/{record_id}/versions/{version}/link", response_model=LinkOut, status_code=201,
             summary="A one-time link to download one version of a text record")
def record_link(record_id: Id, version: Annotated[int, PathParam(ge=1, le=1_000_000)], archive: ArchiveDep,
                p: CurrentUser, request: Request) -> LinkOut:
    with archive.sessions.begin() as db:
        case_routes.record_version(archive, db, p, request, record_id, version)
    return _issue(archive, p, "record", record_id, version)


@router.post("/cases/{case_id}/export/link", response_model=LinkOut, status_code=201,
             summary="A one-time link to download the case's bag")
def case_export_link(case_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> LinkOut:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "evidence.export", request)  # (every role that has it may view cases)
        access.case(archive, db, p, case_id, "evidence.export", request)
    return _issue(archive, p, "case_export", case_id)


@router.post("/exports/{export_id}/download/link", response_model=LinkOut, status_code=201,
             summary="A one-time link to download a finished export (yours only)")
def export_file_link(export_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> LinkOut:
    from api import exports

    with archive.sessions.begin() as db:
        exports.own(archive, db, p, export_id, request)
    return _issue(archive, p, "export_file", export_id)


@router.get("/links/{token}", response_class=FileResponse,
            responses={200: {"description": "the file the link was issued for",
                             "content": {"application/octet-stream": {}, "application/zip": {}}}},
            summary="Use a one-time download link (once, by the user it was issued to, before it expires)")
def use_link(token: Token, archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    with archive.sessions.begin() as db:
        link = links.redeem(db, token=token, user_id=p.user_id)
        found = (link.what, link.target_id, link.version) if link is not None else None
    if found is None:
        raise LinkGone(said("这个下载链接无效、已用过或已过期", "This download link is unknown, used or expired."),
                       said("请重新申请：再按一次下载按钮（每个链接只能使用一次，有效一分钟）。", "Ask for a new one: press the download button again (each link works once, for a minute)."))
    what, target, version = found
    if what == "original":
        return evidence_routes.send_original(archive, p, request, target)
    if what == "export":
        return evidence_routes.send_export(archive, p, request, target)
    if what == "record":
        assert version is not None
        return case_routes.send_record(archive, p, request, target, version)
    if what == "export_file":
        from api import exports

        return exports.send_file(archive, p, request, target)
    return case_routes.send_case_export(archive, p, request, target)
