"""The console page 年度行政执法数据 (annual enforcement figures): a year's figures of the user's units
(``publication.figures``) as tables and server-drawn inline SVG bar charts (the pattern of
``console.review_figures``: ``role="img"`` with its ``aria-label``, and the table beside it), the CSV,
and for a publisher the approval of one unit's figures: when and by whom they were approved, and
whether they changed since.

For ``publication.view``; approving takes ``publication.publish`` and the form's CSRF token; every
refusal is an ``access_denied`` event. Reading changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from api import access
from api.deps import ArchiveDep
from archive.errors import BadQuery
from auth.models import Unit
from console.i18n import translator
from console.pages import _lang, _user, render
from console.records import _form_user
from console.review_figures import BAR_W, ROW_H, Bar, Chart
from liuhen.db import utcnow
from liuhen.words import said
from publication import figures
from publication.errors import PublicationError, UnknownFiguresUnit
from review.figures import Row

router = APIRouter(include_in_schema=False)
COLOURS = {"kind": "#3a6fd9", "unit": "#6a4fc9", "category": "#3aa35b", "outcome": "#d98a2e", "status": "#d93a2e"}


def chart(id: str, rows: Sequence[Row]) -> Chart:
    """A horizontal bar chart of ``rows`` (one bar each, the largest count the full width)."""
    top = max((r.count for r in rows), default=0) or 1
    return Chart(id=id, colour=COLOURS[id], bars=tuple(
        Bar(label=r.label or r.key, count=r.count, y=i * ROW_H, width=max(1.0, BAR_W * r.count / top) if r.count else 0)
        for i, r in enumerate(rows)))


def _year(value: str | None, today: dt.date) -> int:
    if not value or not value.strip():
        return today.year - 1  # the year whose figures are due by 31 January
    text = value.strip()
    if not text.isdigit() or not 2000 <= int(text) <= 9998:
        raise BadQuery(said(f"年度「{value}」无效", f"{value!r} is not a year."),
                       said("请填写 2000 至 9998 之间的年份，例如 2025。", "Give a year from 2000 to 9998, e.g. 2025."))
    return int(text)


@router.get("/publication/figures")
def figures_page(request: Request, archive: ArchiveDep, year: str | None = None, unit: str | None = None,
                 format: str | None = None, done: str | None = None, error: str | None = None) -> Response:
    p = _user(archive, request)
    tz = archive.settings.station.timezone
    today = utcnow().astimezone(ZoneInfo(tz)).date()
    y = _year(year, today)
    code = (unit or "").strip() or None
    with archive.reads.begin() as db:
        access.require(archive, db, p, "publication.view", request)
        units = list(db.scalars(select(Unit).where(Unit.id.in_(sorted(p.scope.units))).order_by(Unit.code)))
        if code is not None:
            try:
                ids = [figures.unit_of(db, code, p.scope.units).id]
            except UnknownFiguresUnit:
                if any(True for _ in db.scalars(select(Unit.id).where(Unit.code == code))):
                    access.denied(archive, db, p, permission="publication.view", reason="unit", request=request)
                raise
        else:
            ids = sorted(p.scope.units)
        f = figures.compute(db, archive.store, archive.settings, year=y, units=ids, today=today)
        history = figures.approvals(db, unit_id=ids[0], year=y) if code is not None else []
        changed = figures.changed_since(history[0], f) if history else None
    if format == "csv":
        return Response(f.to_csv().encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{figures.csv_name(y, [u.key for u in f.units])}"',
                                 "Cache-Control": "no-store"})
    query = {"year": str(y), **({"unit": code} if code else {})}
    t = translator(_lang(request))  # the archive's own words in the reader's language; the data's as they are
    kinds = [Row(r.key, r.count, t("pf.kind.unstated")) if r.key == figures.UNSTATED else r for r in f.by_kind]
    statuses = [Row(r.key, r.count, t(f"pf.status.{r.key}", r.label)) for r in f.by_status]
    charts = [chart("kind", kinds), chart("unit", f.by_unit), chart("category", f.by_category),
              chart("outcome", f.reviews.by_outcome), chart("status", statuses)]
    return render(request, "publication_figures.html", user=p, f=f, year=y, unit=code, units=units, charts=charts,
                  history=history, changed=changed, amount=figures.yuan(f.amounts.total_fen),
                  csv_href="/publication/figures?" + urlencode({**query, "format": "csv"}),
                  done=done == "approved", error=error)


@router.post("/publication/figures/approve")
def approve(request: Request, archive: ArchiveDep, csrf: str = Form(""), year: str = Form(""),
            unit: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "publication.publish")
    tz = archive.settings.station.timezone
    y = _year(year, utcnow().astimezone(ZoneInfo(tz)).date())
    back = {"year": str(y), "unit": unit}
    try:
        with archive.sessions.begin() as db:
            try:
                target = figures.unit_of(db, unit.strip(), p.scope.units)
            except UnknownFiguresUnit:
                if any(True for _ in db.scalars(select(Unit.id).where(Unit.code == unit.strip()))):
                    access.denied(archive, db, p, permission="publication.publish", reason="unit", request=request)
                raise
            figures.approve(db, archive.custody, archive.settings, archive.store, unit=target, year=y, actor=p.actor)
    except PublicationError as e:
        return RedirectResponse("/publication/figures?" + urlencode({**back, "error": e.code}), status_code=303)
    return RedirectResponse("/publication/figures?" + urlencode({**back, "done": "approved"}), status_code=303)
