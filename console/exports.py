"""The console pages of exports: 我的导出 (``/exports``, the user's recent exports) and one export
(``/exports/{id}``: its state, a progress bar the page refreshes, the download button when ready).

An export is its maker's only (``api.exports.own``): anybody else's answers the error page as a
missing one, with the refusal recorded. Showing a page changes nothing; the download goes through
a one-time link (``POST /api/v1/exports/{id}/download/link``) and is a custody event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from api import access
from api import exports as exporting
from api.deps import ArchiveDep
from api.schemas import MAX_ID
from console.pages import _user, render

router = APIRouter(include_in_schema=False)
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


@router.get("/exports")
def exports_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "evidence.export", request)
        exporting.sweep(archive, db)
        rows = exporting.recent(db, p.user_id, 50)
    return render(request, "exports.html", user=p, rows=rows)


@router.get("/exports/{export_id}")
def export_page(export_id: Id, request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    with archive.sessions.begin() as db:
        exporting.sweep(archive, db)
        x = exporting.status(archive, db, p, export_id, request)
    return render(request, "export.html", user=p, x=x)
