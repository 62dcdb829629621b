"""The console's pages: sign-in, dock dashboard, evidence, jobs, cases (search: ``console.search``,
audit: ``console.audit``).

Every page authenticates like the API (``api.access``), checks the same permissions and writes
the same custody events (``searched``, ``viewed``, ``audit_viewed``, ``access_denied``). A page
that needs a sign-in redirects to ``/login``; any other refusal is shown as a page with the
sentence to act on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

import liuhen
from api import access
from api.deps import ArchiveDep
from api.schemas import (
    EvidenceId,  # (a positive 64-bit id; the same bounds for a case's id)
    OfficerOut,
    case_detail,
    case_summary,
    evidence_detail,
    officer,
)
from archive import attribution, views
from archive.context import Archive
from archive.errors import BadQuery
from auth import policy
from auth import service as accounts
from auth.errors import AuthFailed, Forbidden, InvalidAccount, LoginBusy, PasswordChangeRequired, WeakPassword
from cases import service as case_service
from cases import views as case_views
from cases.records import FORMS
from console.i18n import js_words, lang_of, translator
from liuhen.errors import LiuhenError, as_said
from liuhen.words import said
from media.errors import unplayable_code

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "liuhen_login_csrf"
LANG_COOKIE = "lang"


def _lang(request: Request) -> str:
    return lang_of(request.cookies.get(LANG_COOKIE))


def _fmt_time(t: dt.datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if t else "—"


def _fmt_dur(s: float | None) -> str:
    if s is None:
        return "—"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _fmt_size(n: int | None) -> str:
    if n is None:
        return "—"
    f = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if f < 1024 or unit == "TB":
            return f"{int(f)} B" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1024
    return f"{f:.1f} TB"


def render(request: Request, name: str, *, status: int = 200, user: access.Principal | None = None,
           **ctx: Any) -> HTMLResponse:
    archive: Archive = request.app.state.archive
    lang = _lang(request)
    tz = ZoneInfo(archive.settings.station.timezone)
    ctx.update(request=request, t=translator(lang), lang=lang, user=user, version=liuhen.__version__,
               js_words=js_words(lang),
               may=(lambda action: user is not None and user.may(action)),
               role_label=policy.ROLE_LABELS.get(user.role, user.role) if user else None,
               unplayable_code=unplayable_code, said_in=lambda text: as_said(text).in_(lang) if text else "",
               fmt_time=lambda t: _fmt_time(t, tz), fmt_dur=_fmt_dur,
               fmt_size=_fmt_size, quote=lambda part: quote(part, safe=""),  # (one path segment or query value)
               station_tz=archive.settings.station.timezone,  # (console.js shows times in it: fmtTime)
               csrf=user.csrf_token if user else None)
    resp = templates.TemplateResponse(request, name, ctx, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; media-src 'self'; "
                                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'")
    return resp


_ERROR_TITLES = {404: "error.title.not_found", 403: "error.title.forbidden", 400: "error.title.invalid",
                 422: "error.title.invalid", 409: "error.title.conflict", 410: "error.title.gone",
                 503: "error.title.unavailable", 507: "error.title.unavailable"}


def html_error(request: Request, err: LiuhenError, status: int) -> Response:
    """How a refusal looks on a console page: sign-in problems go to the sign-in page; anything else
    is a page in the user's language with the sentence (what failed, what to do), a way back and,
    for something that is not there, where to look for it."""
    if isinstance(err, AuthFailed):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target, 'why': err.code})}", status_code=303)
    user: access.Principal | None = getattr(request.state, "principal", None)
    back = request.headers.get("referer", "")
    origin = f"{request.url.scheme}://{request.url.netloc}/"
    back = "/" + back[len(origin):] if back.startswith(origin) and back != str(request.url) else ""
    look = None
    if status == 404 and request.url.path.startswith(("/cases", "/review")):
        look = ("/cases", "error.cases") if user is None or user.may("cases.view") else None
    elif status == 404:
        look = ("/search", "error.search") if user is None or user.may("evidence.search") else None
    return render(request, "error.html", status=status, user=user, message=err.message(_lang(request)),
                  code=err.code, heading=_ERROR_TITLES.get(status, "error.title"),
                  back=_safe_next(back) if back else None, look=look)


def _officers(db: Session, p: access.Principal) -> list[OfficerOut]:
    return [officer(o, code) for o, code in attribution.officers_of(db, units=p.scope.units)]


def _people(db: Session, actors: set[str]) -> dict[str, str]:
    """Who each actor (``user:NAME``) is, as a person reads it: 「display name（account）」."""
    from auth.models import User

    names = {a.removeprefix("user:") for a in actors if a.startswith("user:")}
    if not names:
        return {}
    return {f"user:{u.username}": (f"{u.display_name}（{u.username}）" if u.display_name and u.display_name != u.username
                                   else u.username)
            for u in db.scalars(select(User).where(User.username.in_(sorted(names))))}


def _user(archive: Archive, request: Request) -> access.Principal:
    p = access.authenticate_request(archive, request, check_csrf=False)
    request.state.principal = p
    return p


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# ---------------------------------------------------------------------------- sign-in


_WEAK = (("short", "at least"), ("long", "longer than"), ("repeated", "different characters"),
         ("name", "contains the user name"), ("common", "common passwords"))


def _login_refusal(t: Callable[..., str], e: LiuhenError, lang: str) -> str:
    """A sign-in refusal in the page's language, by the error's code (and, for a new password the
    policy refuses, by the rule it breaks); an error no word knows keeps its own sentence."""
    detail = str(e.detail)
    if isinstance(e, WeakPassword):
        n = re.search(r"at least (\d+)", detail)
        for rule, phrase in _WEAK:
            if phrase in detail:
                return t(f"login.err.weak.{rule}").format(n=n.group(1) if n else "")
    if isinstance(e, InvalidAccount) and "is the old one" in detail:
        return t("login.err.same_password")
    return t(f"login.err.{e.code}", e.message(lang))


@router.get("/login")
def login_page(request: Request, next: str = "/", why: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(16)
    t = translator(_lang(request))
    message = t("login.expired") if why in ("session_expired", "account_disabled") else None
    resp = render(request, "login.html", next=_safe_next(next), login_csrf=token, message=message)
    resp.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return resp


@router.post("/login")
async def login(request: Request, archive: ArchiveDep, username: str = Form(""), password: str = Form(""),
                next: str = Form("/"), login_csrf: str = Form(""), new_password: str = Form(""),
                new_password_again: str = Form("")) -> Response:
    expected = request.cookies.get(LOGIN_CSRF)
    if not expected or not secrets.compare_digest(expected, login_csrf):
        with archive.sessions.begin() as db:  # a forged or stale sign-in form: refused, and a custody event
            accounts.sign_in_failed(db, archive.custody, username=username,
                                    ip=request.client.host if request.client else None, reason="login_csrf",
                                    tool=access.TOOL)
        return render(request, "login.html", status=403, next=_safe_next(next), login_csrf=expected or "",
                      message=translator(_lang(request))("login.err.form_expired"))
    ip = request.client.host if request.client else None
    ua = request.headers.get("user-agent")
    if new_password and new_password != new_password_again:
        return render(request, "login.html", status=400, next=_safe_next(next), login_csrf=expected,
                      username=username, change=True,
                      message=translator(_lang(request))("login.err.passwords_differ"))
    started = time.monotonic()
    try:
        # in a worker thread with no transaction open: sign_in keeps argon2 outside its own short ones
        token, _ = await run_in_threadpool(
            accounts.sign_in, archive.sessions, archive.custody, username=username, password=password, ip=ip,
            user_agent=ua, settings=archive.settings.auth, tool=access.TOOL, new_password=new_password or None)
    except (AuthFailed, LoginBusy, InvalidAccount) as e:
        # every refusal takes at least refusal_delay_s, waited without holding a thread: a wrong
        # password, an unknown name, a throttled or a busy attempt look alike, and a flood's
        # senders, waiting for their answers, slow down
        await asyncio.sleep(max(0.0, archive.settings.auth.refusal_delay_s - (time.monotonic() - started)))
        status = 503 if isinstance(e, LoginBusy) else 400 if isinstance(e, InvalidAccount) else 401
        return render(request, "login.html", status=status, next=_safe_next(next), login_csrf=expected,
                      message=_login_refusal(translator(_lang(request)), e, _lang(request)), username=username,
                      change=isinstance(e, (PasswordChangeRequired, InvalidAccount)))
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(archive.settings.auth.session_cookie, token, httponly=True, samesite="lax",
                    secure=request.url.scheme == "https", path="/")
    resp.delete_cookie(LOGIN_CSRF)
    return resp


@router.post("/logout")
def logout(request: Request, archive: ArchiveDep, csrf: str = Form("")) -> Response:
    token = request.cookies.get(archive.settings.auth.session_cookie)
    if token:
        try:
            with archive.sessions.begin() as db:
                accounts.sign_out(db, archive.custody, token=token, csrf=csrf, settings=archive.settings.auth,
                                  tool=access.TOOL)
        except Forbidden:  # a forged sign-out form (wrong csrf): refused, and a custody event like every refusal
            p = access.authenticate_request(archive, request, check_csrf=False)
            with archive.sessions.begin() as db:
                access.denied(archive, db, p, permission="csrf", reason="missing or wrong csrf form field",
                              request=request)
            raise
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(archive.settings.auth.session_cookie, path="/")
    return resp


@router.get("/lang/{code}")
def set_lang(code: str, request: Request, next: str = "/") -> Response:
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(LANG_COOKIE, lang_of(code), samesite="lax", max_age=3600 * 24 * 365)
    return resp


@router.get("/")
def home(request: Request, archive: ArchiveDep) -> Response:
    p = _user(archive, request)
    for action, target in (("dock.view", "/dock"), ("evidence.search", "/search"), ("audit.view", "/audit"),
                           ("jobs.view", "/jobs")):
        if p.may(action):
            return RedirectResponse(target, status_code=303)
    return render(request, "error.html", user=p, status=403, code="forbidden",
                  message=translator(_lang(request))("home.no_page"))


# ---------------------------------------------------------------------------- dock and jobs


@router.get("/dock")
def dock_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    with archive.reads.begin() as db:
        access.require(archive, db, p, "dock.view", request)
        officers = [o.model_dump() for o in _officers(db, p)]
    return render(request, "dock.html", user=p, officers=officers)


@router.get("/jobs")
def jobs_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    with archive.reads.begin() as db:
        access.require(archive, db, p, "jobs.view", request)
    return render(request, "jobs.html", user=p)


# ---------------------------------------------------------------------------- times from forms


def _local_time(value: str | None, tz: ZoneInfo) -> dt.datetime | None:
    """A time from a form field: with an offset as given, else in the station's time zone."""
    from api.schemas import utc_bound

    if not value or not value.strip():
        return None
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError as e:
        raise BadQuery(said(f"「{value}」不是有效时间", f"{value!r} is not a time."),
                                 said("请使用 2026-11-23 09:30 的格式", "Use the form 2026-11-23 09:30.")) from e
    return utc_bound(t if t.tzinfo else t.replace(tzinfo=tz))


# ---------------------------------------------------------------------------- evidence


def _track_svg(points: list[Any], width: int = 480, height: int = 320) -> dict[str, Any] | None:
    """The GPS track as an SVG polyline, scaled to fit (equirectangular, corrected for latitude)."""
    import math

    if len(points) < 1:
        return None
    lats = [pt.lat for pt in points]
    lons = [pt.lon for pt in points]
    k = math.cos(math.radians(sum(lats) / len(lats)))
    xs = [lon * k for lon in lons]
    span = max(max(xs) - min(xs), max(lats) - min(lats), 1e-6)
    pad = 20
    scale = (min(width, height) - 2 * pad) / span
    pts = [(pad + (x - min(xs)) * scale, height - pad - (lat - min(lats)) * scale) for x, lat in zip(xs, lats)]
    return {"width": width, "height": height, "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in pts),
            "start": pts[0], "end": pts[-1], "n": len(points),
            "first": points[0], "last": points[-1]}


CUSTODY_PER_PAGE = 50  # custody events on the evidence page; older ones a link away


@router.get("/evidence/{evidence_id}")
def evidence_page(evidence_id: EvidenceId, request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    raw = request.query_params.get("custody_before") or ""
    before = int(raw) if raw.isdigit() and len(raw) < 19 else None
    more = False
    with archive.reads.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.view", request)
        detail = evidence_detail(views.evidence_view(db, ev, visible=p.scope.allows))
        events: list[dict[str, Any]] | None = None
        if p.may("custody.view"):
            rows, more = views.custody_page(db, evidence_id=ev.id, before=before, limit=CUSTODY_PER_PAGE)
            events = [dict(seq=e.seq, at=e.at, actor=e.actor, action=e.action, outcome=e.outcome, tool=e.tool,
                           tool_version=e.tool_version) for e in rows]
        from console.records import evidence_retention

        retention = evidence_retention(db, archive.settings.retention, ev)
        linked = case_views.evidence_cases(db, ev.id, units=p.scope.units) if p.may("cases.view") else None
        authors = _people(db, {n.author for n in detail.notes} | {r.link.linked_by for r in linked or []} | {p.actor})
        access.record(archive, db, p, "viewed", evidence=ev,
                      detail={"what": "evidence page" + (" with custody history" if events is not None else ""),
                              **({"custody_before": before} if before is not None and events is not None else {}),
                              **({"cases": sorted({r.case.id for r in linked})} if linked is not None else {})})
    until = (detail.recorded_at + dt.timedelta(seconds=detail.duration_s)
             if detail.recorded_at and detail.duration_s else None)
    older_url = (f"/evidence/{evidence_id}?{urlencode({'custody_before': events[-1]['seq']})}"
                 if events and more else None)
    newest_url = f"/evidence/{evidence_id}" if before is not None else None
    return render(request, "evidence.html", user=p, ev=detail, events=events, until=until,
                  track=_track_svg(detail.gps_track), media=set() if retention.destroyed else set(detail.previews),
                  older_url=older_url, newest_url=newest_url, retention=retention,
                  classes=archive.settings.retention.classes, done=request.query_params.get("done"),
                  linked=linked, authors=authors)


# ---------------------------------------------------------------------------- cases


@router.get("/cases")
def cases_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    f = request.query_params
    status = f.get("status") if f.get("status") in ("open", "closed") else None
    raw = f.get("page") or ""
    page = int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1
    with archive.reads.begin() as db:
        access.require(archive, db, p, "cases.view", request)
        found = case_service.cases_of(db, units=p.scope.units, status=status, q=f.get("q") or None,
                                      limit=CASES_PER_PAGE + 1, offset=(page - 1) * CASES_PER_PAGE)
        rows = [case_summary(c, case_views.unit_code(db, c)) for c in found[:CASES_PER_PAGE]]
        units = [(u.code, u.name) for u in access.visible_unit_rows(db, p)]
        unit_names = {code: name for code, name in case_views.unit_names(db, {r.unit_id for r in rows}).values()}
    args = {k: v for k, v in f.items() if k != "page" and v}
    return render(request, "cases.html", user=p, rows=rows, form=dict(f), units=units, unit_names=unit_names,
                  categories=archive.settings.cases.categories,
                  prev_url=f"/cases?{urlencode({**args, 'page': page - 1})}" if page > 1 else None,
                  next_url=f"/cases?{urlencode({**args, 'page': page + 1})}" if len(found) > CASES_PER_PAGE else None)


CASES_PER_PAGE = 100


def _offset(step_start: dt.datetime, ev: Any) -> float:
    """Seconds into the recording where the step starts (0 if the recording starts later)."""
    if ev.recorded_at is None:
        return 0.0
    return max(0.0, float((step_start - ev.recorded_at).total_seconds()))


@router.get("/cases/{case_id}")
def case_page(case_id: EvidenceId, request: Request, archive: ArchiveDep) -> HTMLResponse:
    return case_response(request, archive, case_id)


def case_response(request: Request, archive: Archive, case_id: int, *, error: str | None = None,
                  status: int = 200) -> HTMLResponse:
    """The case page; ``error``: a refusal of an action on it (e.g. legal review's gate), shown at the top."""
    from console.review import case_block

    p = _user(archive, request)
    with archive.reads.begin() as db:
        c = access.case(archive, db, p, case_id, "cases.view", request)
        view = case_views.case_view(db, c, archive.settings.cases, tz=archive.settings.station.timezone,
                                    visible=p.scope.allows, data_key=archive.data_key,
                                    masked=not p.may("cases.personal_data"))
        detail = case_detail(view)
        access.record(archive, db, p, "case_viewed", detail={"case_id": c.id, "number": c.number,
                                                             "shown": view.shown_evidence})
        officers = [o.model_dump() for o in _officers(db, p)]
        review = case_block(db, archive, p, c) if p.may("review.view") else None
        unit = case_views.unit_names(db, {c.unit_id}).get(c.unit_id, ("", ""))
        officer_names = case_views.officer_names(db, {n for st in view.steps for n in st.officers},
                                                 units=p.scope.units)
    timeline = []
    for st in detail.steps:
        total = max(1e-6, (st.ended_at - st.started_at).total_seconds())
        bar = []
        for piece in st.coverage.pieces:  # placed by the coverage check itself
            a, b = max(piece.start, st.started_at), min(piece.end, st.ended_at)
            if b > a:
                bar.append({"x": 100 * (a - st.started_at).total_seconds() / total,
                            "w": 100 * (b - a).total_seconds() / total, "evidence_id": piece.evidence_id})
        gaps = [{"x": 100 * (g.start - st.started_at).total_seconds() / total,
                 "w": 100 * g.seconds / total, "seconds": g.seconds} for g in st.coverage.gaps]
        docs = [r for r in detail.records if r.step_id == st.step_id]
        # where in each recording the step begins (not before the linked part)
        offsets = {lk.link_id: max(lk.start_s or 0.0, _offset(st.started_at, lk.evidence)) for lk in st.links}
        first = st.links[0] if st.links else None
        jump = f"/evidence/{first.evidence.evidence_id}?t={offsets[first.link_id]:.1f}" if first else None
        timeline.append({"step": st, "bar": bar, "gaps": gaps, "docs": docs, "jump": jump, "offsets": offsets})
    loose = [r for r in detail.records if r.step_id is None]
    return render(request, "case.html", status=status, user=p, case=detail, timeline=timeline, loose=loose,
                  forms=FORMS, steps=archive.settings.cases.steps, officers=officers,
                  requirement=archive.settings.cases.requirement, tolerance=archive.settings.cases.gap_tolerance_s,
                  review=review, error=error, done=request.query_params.get("done"), unit=unit,
                  officer_names=officer_names, closed_at=c.closed_at)
