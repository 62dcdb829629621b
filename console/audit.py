"""The console's audit page (``/audit``): the custody log as the reader may read it."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import access
from api.deps import ArchiveDep
from api.schemas import custody_page
from archive import audit
from console.pages import _user, render

router = APIRouter(include_in_schema=False)


@router.get("/audit")
def audit_view(request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    f = request.query_params
    try:
        page = max(1, int(f.get("page") or 1))
    except ValueError:
        page = 1
    outcome = f.get("outcome") or None
    if outcome not in (None, "success", "failure", "denied"):
        outcome = None
    evidence_id = int(f["evidence_id"]) if (f.get("evidence_id") or "").isdigit() else None
    with archive.reads.begin() as db:
        access.require(archive, db, p, "audit.view", request)
        rows = custody_page(audit.trail(db, scope=p.scope, sees_evidence=p.may("evidence.view"),
                                        actor=f.get("actor") or None, action=f.get("action") or None,
                                        outcome=outcome, evidence_id=evidence_id, page=page, per_page=100))
        access.record(archive, db, p, "audit_viewed", detail={"filters": {k: v for k, v in f.items() if v},
                                                              "page": page})
    args = {k: v for k, v in f.items() if k != "page" and v}
    return render(request, "audit.html", user=p, rows=rows, form=dict(f),
                  prev_url=f"/audit?{urlencode({**args, 'page': page - 1})}" if page > 1 else None,
                  next_url=f"/audit?{urlencode({**args, 'page': page + 1})}" if rows.has_more else None)


