"""The publishers' console (行政执法公示): ``/publication``, the notices of the user's units and where
each stands; ``/publication/{id}``, one notice as it will be public, every mask highlighted.

The pages call ``publication.service`` as the API (``api.publication``) does, with the same checks:
the permission first, and another unit's notice answers exactly like a missing one (404, with an
``access_denied`` event). Whoever may read notices (``publication.view``) sees them; a publisher
(``publication.publish``) masks more of a draft, publishes it and withdraws a published one, each by a
form POST carrying the session's CSRF token. The service records every custody event (a mask, a
publication, a refused publication, a withdrawal); a refusal (``personal_data_found``,
``notice_state``, a mask that is not in the draft) is said on the notice's page, in the user's language.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access
from api.deps import ArchiveDep
from api.schemas import EvidenceId
from archive.context import Archive
from archive.errors import BadQuery
from auth.models import Unit
from cases.models import Case
from console.pages import _user, render
from console.records import _form_user
from liuhen.db import utcnow
from liuhen.words import said
from publication import service
from publication.errors import NoticeState, PersonalDataFound, PublicationError, UnknownNotice
from publication.models import FIELDS, Notice

router = APIRouter(include_in_schema=False)
STATUSES = ("due", "overdue", "late", "on_time", "deadline_unknown", "withdrawn")  # (the filter's choices)
COUNTED = ("due", "overdue", "late", "deadline_unknown")  # the counts at the top of the list
# the public page's rows, in its order: (label key, attribute); the masked fields are FIELDS
ROWS = (("public_no", "public_no"), ("doc_number", "doc_number"), ("agency", "agency"), ("party", "party"),
        ("category", "category"), ("decision_kind", "decision_kind"), ("facts", "facts"),
        ("legal_basis", "legal_basis"), ("decision", "decision"))


@dataclass(frozen=True)
class Piece:
    """A run of a field as shown: its text and, for a mask, why it stands there (a detector's kind,
    ``name`` or ``hand``)."""

    text: str
    kind: str | None = None


def pieces(value: str, spans: list[list[Any]]) -> list[Piece]:
    """``value`` cut at its masks (``[[start, end, kind], ...]``, as ``Notice.masks`` holds them)."""
    out: list[Piece] = []
    pos = 0
    for start, end, kind in sorted((int(s), int(e), str(k)) for s, e, k in spans):
        if start < pos or end > len(value):  # (overlapping or out of range: never written so; shown plain)
            continue
        if start > pos:
            out.append(Piece(value[pos:start]))
        out.append(Piece(value[start:end], kind))
        pos = end
    if pos < len(value):
        out.append(Piece(value[pos:]))
    return out


def _today(archive: Archive) -> dt.date:
    return utcnow().astimezone(ZoneInfo(archive.settings.station.timezone)).date()


def _notice(archive: Archive, db: Session, p: access.Principal, notice_id: int, action: str, request: Request, *,
            lock: bool = False) -> Notice:
    """The notice ``p`` may act on with ``action``: of one of their units; another unit's answers like one
    that does not exist (the refusal logged), as the API's does."""
    access.require(archive, db, p, action, request)
    try:
        n = service.get(db, notice_id, lock=lock)
    except UnknownNotice:
        access.missing(archive, db, p, what="notice", ident=notice_id, request=request)
        raise
    if n.unit_id not in p.scope.units:
        access.denied(archive, db, p, permission=action, reason="unit", request=request)
        raise service.unknown(notice_id)
    return n


# ---------------------------------------------------------------------------- the list


@router.get("/publication")
def notices_page(request: Request, archive: ArchiveDep,
                 status: Annotated[str, Query(max_length=32)] = "") -> HTMLResponse:
    """公示: the notices of the user's units, per unit, drafts first (soonest deadline first), then the
    published ones (newest first), with where each stands;
    the counts of those due, overdue, published late and without a known deadline at the top."""
    p = _user(archive, request)
    today = _today(archive)
    with archive.reads.begin() as db:
        access.require(archive, db, p, "publication.view", request)
        if status and status not in STATUSES:
            raise BadQuery(said(f"没有「{status}」这种公示状态", f"There is no notice status {status!r}."),
                           said("请从筛选列表中选择状态。", "Choose a status from the filter."))
        notices = service.notices_of(db, units=p.scope.units)
        where = {n.id: service.status(n, today) for n in notices}
        counts = service.counts(db, units=p.scope.units, today=today)  # every notice, not only those listed
        shown = [n for n in notices if not status or where[n.id] == status]
        cases = {c.id: c.number for c in db.scalars(select(Case).where(Case.id.in_({n.case_id for n in shown})))}
        units = {u.id: u for u in db.scalars(select(Unit).where(Unit.id.in_({n.unit_id for n in shown})))}
        groups: dict[int, list[dict[str, Any]]] = {}
        for n in shown:
            groups.setdefault(n.unit_id, []).append({"n": n, "status": where[n.id], "case_number": cases.get(n.case_id)})
        per_unit = sorted(((units[u].name, units[u].code, rows) for u, rows in groups.items()), key=lambda g: g[1])
    return render(request, "publication.html", user=p, per_unit=per_unit, counts={k: counts.get(k, 0) for k in COUNTED},
                  statuses=STATUSES, chosen=status, total=len(shown), today=today)


# ---------------------------------------------------------------------------- one notice


def _notice_page(request: Request, archive: Archive, p: access.Principal, notice_id: int, *,
                 error: PublicationError | None = None, status: int = 200) -> HTMLResponse:
    today = _today(archive)
    with archive.reads.begin() as db:
        n = _notice(archive, db, p, notice_id, "publication.view", request)
        case = db.get(Case, n.case_id)
        masks = service.masks_of(n)
        shown = [(key, pieces(str(getattr(n, attr) or ""), masks.get(attr, []) if attr in FIELDS else []))
                 for key, attr in ROWS]
        kinds = Counter(str(k) for spans in masks.values() for _, _, k in spans)
        view = {"id": n.id, "public_no": n.public_no, "state": n.state, "status": service.status(n, today),
                "case_id": n.case_id, "case_number": case.number if case is not None else "",
                "decided_on": n.decided_on, "due_on": n.due_on, "days": n.days, "published_on": n.published_on,
                "published_by": n.published_by, "withdrawn_at": n.withdrawn_at, "withdrawn_by": n.withdrawn_by,
                "withdraw_reason": n.withdraw_reason, "created_at": n.created_at, "created_by": n.created_by,
                "record_version": n.record_version}
    return render(request, "publication_notice.html", status=status, user=p, notice=view, rows=shown,
                  kinds=sorted(kinds.items()), fields=FIELDS, error=error, done=request.query_params.get("done"),
                  today=today)


@router.get("/publication/{notice_id}")
def notice_page(notice_id: EvidenceId, request: Request, archive: ArchiveDep) -> HTMLResponse:
    """One notice: the public page's fields with every mask highlighted and a legend of why; for a
    publisher, the forms that fit its state (mask more and publish a draft, withdraw a published one)."""
    return _notice_page(request, archive, _user(archive, request), notice_id)


def _done(notice_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/publication/{notice_id}?{urlencode({'done': done})}", status_code=303)


def _refused(request: Request, archive: Archive, p: access.Principal, notice_id: int,
             e: PublicationError) -> HTMLResponse:
    """A refusal said on the notice's page: 422 for personal data, 409 for a notice in the wrong state."""
    status = 422 if isinstance(e, PersonalDataFound) else 409 if isinstance(e, NoticeState) else 400
    return _notice_page(request, archive, p, notice_id, error=e, status=status)


@router.post("/publication/{notice_id}/mask")
def mask(notice_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""),
         field: str = Form(""), text: str = Form("")) -> Response:
    """遮盖: every occurrence of ``text`` in ``field`` of a draft becomes stars (``notice_masked``)."""
    p = _form_user(archive, request, csrf, "publication.publish")
    try:
        with archive.sessions.begin() as db:
            n = _notice(archive, db, p, notice_id, "publication.publish", request, lock=True)
            service.mask(db, archive.custody, notice=n, field=field, text=text, actor=p.actor)
    except PublicationError as e:
        return _refused(request, archive, p, notice_id, e)
    return _done(notice_id, "masked")


@router.post("/publication/{notice_id}/publish")
def publish(notice_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form("")) -> Response:
    """发布: the public page is rendered and checked once more; personal data found publishes nothing
    (``notice_publish_refused``) and the page says which kinds."""
    p = _form_user(archive, request, csrf, "publication.publish")
    try:
        with archive.sessions.begin() as db:
            n = _notice(archive, db, p, notice_id, "publication.publish", request, lock=True)
            service.publish(db, archive.custody, archive.settings, notice=n, actor=p.actor)
    except PublicationError as e:
        return _refused(request, archive, p, notice_id, e)
    return _done(notice_id, "published")


@router.post("/publication/{notice_id}/withdraw")
def withdraw(notice_id: EvidenceId, request: Request, archive: ArchiveDep, csrf: str = Form(""),
             reason: str = Form("")) -> Response:
    """撤回: a published notice, with its reason; the public page then says it was withdrawn and why."""
    p = _form_user(archive, request, csrf, "publication.publish")
    try:
        with archive.sessions.begin() as db:
            n = _notice(archive, db, p, notice_id, "publication.publish", request, lock=True)
            service.withdraw(db, archive.custody, notice=n, reason=reason, actor=p.actor)
    except PublicationError as e:
        return _refused(request, archive, p, notice_id, e)
    return _done(notice_id, "withdrawn")

