"""The redaction editor (隐私遮蔽) in the console: ``/evidence/{id}/redaction``.

The page is the player of the recording's proxy with the plan drawn over it (``static/redaction.js``);
everything it changes goes through the redaction API (``/api/v1/evidence/{id}/redaction``,
``/api/v1/redaction/...``) with the session cookie and the CSRF header, so every check (role, unit,
stale version, four eyes) and every custody event is the API's. The page itself only shows: it is open
to whoever may edit, approve or release redacted copies (``redaction.edit``, ``redaction.approve``,
``redaction.release``) of evidence of their units — another unit's evidence answers as missing, with the
refusal logged (``api.access``) — and opening it is a ``viewed`` event like the evidence page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import access
from api.deps import ArchiveDep
from api.schemas import EvidenceId, evidence_detail
from archive import views
from console.pages import _user, render
from console.records import evidence_retention

router = APIRouter(include_in_schema=False)
REDACTION_ACTIONS = ("redaction.edit", "redaction.approve", "redaction.release")


def may_open(p: access.Principal) -> bool:
    """Whether ``p``'s role may open the editor (the evidence page links it only then)."""
    return any(p.may(a) for a in REDACTION_ACTIONS)


@router.get("/evidence/{evidence_id}/redaction")
def redaction_page(evidence_id: EvidenceId, request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    with archive.reads.begin() as db:
        if not may_open(p):
            access.require(archive, db, p, "redaction.edit", request)  # refused: logged, 403 in words
        ev = access.evidence(archive, db, p, evidence_id, "evidence.view", request)
        detail = evidence_detail(views.evidence_view(db, ev, visible=p.scope.allows))
        retention = evidence_retention(db, archive.settings.retention, ev)
        access.record(archive, db, p, "viewed", evidence=ev, detail={"what": "redaction editor"})
    playable = (not retention.destroyed and detail.media_kind == "video" and "proxy" in set(detail.previews)
                and p.may("evidence.play"))
    resp = render(request, "redaction.html", user=p, ev=detail, playable=playable, destroyed=retention.destroyed)
    # the preview of a redacted moment is fetched by the script (its refusal said in words) and shown as a blob
    csp = resp.headers["Content-Security-Policy"]
    resp.headers["Content-Security-Policy"] = csp.replace("img-src 'self' data:;", "img-src 'self' data: blob:;")
    return resp
