"""The administrator's console (系统管理): users, units, officers, recorders and stations.

Pages list what the user's units hold; every action is a form POST carrying the session's CSRF token,
checked against the role table (``users.manage`` for accounts, units and stations; ``officers.manage``
for the roster, which records managers keep too; ``recorder.assign``) and carried out through the same
functions as the API (``api.users``, ``api.units``, ``api.stations``, ``api.officers``,
``api.recorders``), whose services record each custody event. A refusal is an ``access_denied`` event
and an error page; a user, station or officer of another unit answers like one that does not exist.

Actions that cannot be undone or that touch security (disable an account or a station, revoke a
token, issue a station a new token) first show a page saying what will happen; only its form, with
``confirmed=1``, does it. A token (a user's API token, a station's) is shown once, on the page that
answers the form that issued it, and never again.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote as _quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api import access
from api import officers as officer_api
from api import recorders as recorder_api
from api import stations as station_api
from api import units as unit_api
from api import users as user_api
from api.deps import ArchiveDep
from api.schemas import officer
from archive import attribution
from archive import stations as station_service
from auth import policy
from auth import service as accounts
from auth.errors import Forbidden, InvalidAccount
from console.pages import _user, render
from console.records import _form_user
from liuhen.words import said
from roster import service as roster

router = APIRouter(include_in_schema=False)
SECTIONS = (("users", "users.manage"), ("units", "users.manage"), ("officers", "officers.manage"),
            ("recorders", "dock.view"), ("stations", "users.manage"))


def may_administer(p: access.Principal) -> bool:
    return p.may("users.manage") or p.may("officers.manage")


def quote(part: str) -> str:
    """``part`` as one URL path segment: everything but unreserved characters percent-encoded (a
    ``/``, ``?``, ``#`` or ``%`` in a user name or an identifier included); the routes take the whole
    rest of the path (``:path``), so that a decoded ``/`` still names the same one."""
    return _quote(part, safe="")


def _page(request: Request, archive: Any, section: str, template: str, **ctx: Any) -> HTMLResponse:
    p = _user(archive, request)
    action = dict(SECTIONS)[section]
    with archive.reads.begin() as db:
        access.require(archive, db, p, action, request)
        ctx = {k: (v(db, p) if callable(v) else v) for k, v in ctx.items()}
    return render(request, template, user=p, section=section,
                  sections=[s for s, a in SECTIONS if p.may(a)], done=request.query_params.get("done"),
                  role_labels=policy.ROLE_LABELS, roles=policy.ROLES, **ctx)


def _back(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


def _confirm(request: Request, p: access.Principal, *, action: str, fields: dict[str, str], what: str,
             button: str, back: str) -> HTMLResponse:
    """The page that says what will happen, with the form that does it (the same fields and ``confirmed=1``)."""
    return render(request, "admin_confirm.html", user=p, action=action, fields=fields, what=what, button=button,
                  back=back)


@router.get("/admin")
def admin_home(request: Request, archive: ArchiveDep) -> Response:
    p = _user(archive, request)
    for section, action in SECTIONS:
        if p.may(action) and section != "recorders":
            return RedirectResponse(f"/admin/{section}", status_code=303)
    with archive.reads.begin() as db:
        access.require(archive, db, p, "users.manage", request)
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------- users


@router.get("/admin/users")
def users_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    return _page(request, archive, "users", "admin_users.html",
                 users=lambda db, p: [user_api.user_out(db, u) for u in accounts.users_of(db, p.scope.units)],
                 units=lambda db, p: unit_api.units_of(db, p))


@router.post("/admin/users")
def user_add(request: Request, archive: ArchiveDep, csrf: str = Form(""), username: str = Form(""),
             display_name: str = Form(""), password: str = Form(""), role: str = Form(""),
             unit_code: str = Form(""), grants: Annotated[list[str] | None, Form()] = None) -> Response:
    p = _form_user(archive, request, csrf, "users.manage")
    try:  # the API's checks of every field (names' length and characters), not a constructed bypass
        body = user_api.UserIn.model_validate(dict(
            username=username.strip(), display_name=display_name.strip() or None, password=password, role=role,
            unit_code=unit_code, grants=[g for g in grants or [] if g and g != unit_code],
            legal_qualification=False, officer_no=None))
    except ValidationError as e:
        fields = "、".join(str(err["loc"][-1]) for err in e.errors() if err.get("loc"))
        raise InvalidAccount(said(f"账户信息有误：{fields}", f"The account's details are not valid: {fields}."),
                             said("请检查用户名、姓名、密码、角色和单位后重试。",
                                  "Check the user name, name, password, role and unit, and try again.")) from None
    with archive.sessions.begin() as db:
        u = user_api.add_user(archive, db, p, body, request)
        name = u.username
    return _back(f"/admin/users/{quote(name)}", "added")


@router.get("/admin/users/{username:path}")
def user_page(request: Request, archive: ArchiveDep, username: str) -> HTMLResponse:
    p = _user(archive, request)
    with archive.reads.begin() as db:
        u = user_api.managed(archive, db, p, username, request)
        out = user_api.user_out(db, u)
        tokens = accounts.tokens_of(db, u)
        units = unit_api.units_of(db, p)
    return render(request, "admin_user.html", user=p, section="users",
                  sections=[s for s, a in SECTIONS if p.may(a)], done=request.query_params.get("done"),
                  role_labels=policy.ROLE_LABELS, roles=policy.ROLES, u=out, tokens=tokens, units=units,
                  own=u.id == p.user_id)


@router.post("/admin/users/{username:path}/change")
def user_change(request: Request, archive: ArchiveDep, username: str, csrf: str = Form(""), role: str = Form(""),
                unit_code: str = Form(""), grants: Annotated[list[str] | None, Form()] = None,
                officer_no: str = Form(""), legal_qualification: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        u = user_api.managed(archive, db, p, username, request)
        body = user_api.AccountChangeIn.model_construct(
            role=role or None, unit_code=unit_code or None, grants=[g for g in grants or [] if g and g != unit_code],
            officer_no=officer_no.strip(), legal_qualification=legal_qualification == "1")
        user_api.change_user(archive, db, p, u, body, request)
        name = u.username
    return _back(f"/admin/users/{quote(name)}", "changed")


@router.post("/admin/users/{username:path}/password")
def user_password(request: Request, archive: ArchiveDep, username: str, csrf: str = Form(""),
                  password: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        u = user_api.managed(archive, db, p, username, request)
        user_api.not_self(archive, db, p, u, request)
        accounts.reset_password(db, archive.custody, username=u.username, new_password=password, actor=p.actor,
                                settings=archive.settings.auth)
        name = u.username
    return _back(f"/admin/users/{quote(name)}", "reset")


@router.post("/admin/users/{username:path}/unlock")
def user_unlock(request: Request, archive: ArchiveDep, username: str, csrf: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        u = user_api.managed(archive, db, p, username, request)
        accounts.unlock(db, archive.custody, username=u.username, actor=p.actor)
        name = u.username
    return _back(f"/admin/users/{quote(name)}", "unlocked")


@router.post("/admin/users/{username:path}/disable")
def user_disable(request: Request, archive: ArchiveDep, username: str, csrf: str = Form(""),
                 confirmed: str = Form("")) -> Response:
    from console.i18n import translator
    from console.pages import _lang

    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        u = user_api.managed(archive, db, p, username, request)
        user_api.not_self(archive, db, p, u, request)
        name = u.username
        if confirmed != "1":
            t = translator(_lang(request))
            return _confirm(request, p, action=f"/admin/users/{quote(name)}/disable", fields={},
                            what=t("admin.confirm.disable").format(name=name), button=t("admin.user.disable"),
                            back=f"/admin/users/{quote(name)}")
        accounts.disable(db, archive.custody, username=name, actor=p.actor)
    return _back(f"/admin/users/{quote(name)}", "disabled")


@router.post("/admin/users/{username:path}/enable")
def user_enable(request: Request, archive: ArchiveDep, username: str, csrf: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        u = user_api.managed(archive, db, p, username, request)
        accounts.enable(db, archive.custody, username=u.username, actor=p.actor)
        name = u.username
    return _back(f"/admin/users/{quote(name)}", "enabled")


@router.post("/admin/users/{username:path}/tokens")
def token_issue(request: Request, archive: ArchiveDep, username: str, csrf: str = Form(""),
                name: str = Form("")) -> HTMLResponse:
    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        u = user_api.managed(archive, db, p, username, request)
        user_api.sees_evidence(archive, db, p, u, request)
        token = accounts.issue_api_token(db, archive.custody, user=u, name=name, actor=p.actor)
        who = u.username
    return render(request, "admin_token.html", user=p, kind="user", subject=who, token_name=name.strip(), token=token,
                  back=f"/admin/users/{quote(who)}")


@router.post("/admin/users/{username:path}/tokens/revoke")
def token_revoke(request: Request, archive: ArchiveDep, username: str, csrf: str = Form(""), name: str = Form(""),
                 confirmed: str = Form("")) -> Response:
    from console.i18n import translator
    from console.pages import _lang

    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        u = user_api.managed(archive, db, p, username, request)
        who = u.username
        if confirmed != "1":
            t = translator(_lang(request))
            return _confirm(request, p, action=f"/admin/users/{quote(who)}/tokens/revoke", fields={"name": name},
                            what=t("admin.confirm.revoke").format(name=name, user=who),
                            button=t("admin.token.revoke"), back=f"/admin/users/{quote(who)}")
        accounts.revoke_api_tokens(db, archive.custody, username=who, name=name, actor=p.actor)
    return _back(f"/admin/users/{quote(who)}", "revoked")


# ---------------------------------------------------------------------------- units


@router.get("/admin/units")
def units_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    return _page(request, archive, "units", "admin_units.html", units=lambda db, p: unit_api.units_of(db, p))


@router.post("/admin/units")
def unit_add(request: Request, archive: ArchiveDep, csrf: str = Form(""), code: str = Form(""),
             name: str = Form(""), parent_code: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        parent = access.own_unit(archive, db, p, "users.manage", parent_code, request)
        accounts.add_unit(db, code=code.strip(), name=name, parent_code=parent.code, custody=archive.custody,
                          actor=p.actor)
    return _back("/admin/units", "added")


@router.post("/admin/units/{code:path}/rename")
def unit_rename(request: Request, archive: ArchiveDep, code: str, csrf: str = Form(""),
                name: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        unit = access.own_unit(archive, db, p, "users.manage", code, request)
        accounts.rename_unit(db, archive.custody, code=unit.code, name=name, actor=p.actor)
    return _back("/admin/units", "renamed")


# ---------------------------------------------------------------------------- officers


@router.get("/admin/officers")
def officers_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    def officers(db: Any, p: access.Principal) -> list[Any]:
        rows = attribution.officers_of(db, units=p.scope.units, limit=1000)
        certs = roster.certificates_by_officer(db, [o.id for o, _ in rows])
        today = officer_api._today(archive)
        return [officer(o, code, certs[o.id], today) for o, code in rows]

    return _page(request, archive, "officers", "admin_officers.html", officers=officers,
                 units=lambda db, p: unit_api.units_of(db, p))


@router.post("/admin/officers")
def officer_add(request: Request, archive: ArchiveDep, csrf: str = Form(""), officer_no: str = Form(""),
                name: str = Form(""), unit_code: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "officers.manage")
    body = officer_api.OfficerIn.model_construct(officer_no=officer_no.strip(), name=name, unit_code=unit_code)
    with archive.sessions.begin() as db:
        officer_api.add(archive, db, p, body, request)
    return _back("/admin/officers", "added")


@router.post("/admin/officers/{officer_no:path}")
def officer_change(request: Request, archive: ArchiveDep, officer_no: str, csrf: str = Form(""),
                   name: str = Form(""), active: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "officers.manage")
    with archive.sessions.begin() as db:
        o = officer_api.managed(archive, db, p, officer_no, request)
        roster.update_officer(db, archive.custody, officer_no=o.officer_no, name=name or None,
                              active=None if active == "" else active == "1", actor=p.actor)
    return _back("/admin/officers", "changed")


# ---------------------------------------------------------------------------- recorders


@router.get("/admin/recorders")
def recorders_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    return _page(request, archive, "recorders", "admin_recorders.html",
                 recorders=lambda db, p: [recorder_api.recorder_out(db, r, p.scope)
                                          for r in attribution.recorders_of(db, scope=p.scope, limit=1000, offset=0)],
                 officers=lambda db, p: [o for o, _ in attribution.officers_of(db, units=p.scope.units, limit=1000)])


@router.post("/admin/recorders/{device_id:path}")
def recorder_assign(request: Request, archive: ArchiveDep, device_id: str, csrf: str = Form(""),
                    officer_no: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "recorder.assign")
    with archive.sessions.begin() as db:
        recorder_api.assign(archive, db, p, device_id, officer_no or None, request)
    return _back("/admin/recorders", "assigned")


# ---------------------------------------------------------------------------- stations


@router.get("/admin/stations")
def stations_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    return _page(request, archive, "stations", "admin_stations.html",
                 stations=lambda db, p: [station_api.station_out(db, s) for s in station_service.stations_of(
                     db, units=p.scope.units, unattributed=p.scope.unattributed)],
                 units=lambda db, p: unit_api.units_of(db, p))


@router.post("/admin/stations")
def station_add(request: Request, archive: ArchiveDep, csrf: str = Form(""), station_id: str = Form(""),
                unit_code: str = Form("")) -> HTMLResponse:
    p = _form_user(archive, request, csrf, "users.manage")
    sid = station_id.strip()
    with archive.sessions.begin() as db:
        token = station_api.enrol(archive, db, p, sid, unit_code, request)
    return render(request, "admin_token.html", user=p, kind="station", subject=sid, token_name="", token=token,
                  back="/admin/stations")


@router.post("/admin/stations/{station_id:path}/token")
def station_token(request: Request, archive: ArchiveDep, station_id: str, csrf: str = Form(""),
                  confirmed: str = Form("")) -> HTMLResponse:
    from console.i18n import translator
    from console.pages import _lang

    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        st = station_api.managed(archive, db, p, station_id, request)
        if confirmed != "1":
            t = translator(_lang(request))
            return _confirm(request, p, action=f"/admin/stations/{quote(st.id)}/token", fields={},
                            what=t("admin.confirm.rotate").format(station=st.id),
                            button=t("admin.station.rotate"), back="/admin/stations")
        token = station_service.issue_token(archive, db, station_id=st.id, actor=p.actor, new=False)
        sid = st.id
    return render(request, "admin_token.html", user=p, kind="station", subject=sid, token_name="", token=token,
                  back="/admin/stations")


@router.post("/admin/stations/{station_id:path}/unit")
def station_unit(request: Request, archive: ArchiveDep, station_id: str, csrf: str = Form(""),
                 unit_code: str = Form("")) -> Response:
    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        st = station_api.managed(archive, db, p, station_id, request)
        unit = access.own_unit(archive, db, p, "users.manage", unit_code, request)
        station_service.set_unit_in(archive, db, station=st, unit_id=unit.id, actor=p.actor)
    return _back("/admin/stations", "moved")


@router.post("/admin/stations/{station_id:path}/disable")
def station_disable(request: Request, archive: ArchiveDep, station_id: str, csrf: str = Form(""),
                    confirmed: str = Form("")) -> Response:
    from console.i18n import translator
    from console.pages import _lang

    p = _form_user(archive, request, csrf, "users.manage")
    with archive.sessions.begin() as db:
        st = station_api.managed(archive, db, p, station_id, request)
        if confirmed != "1":
            t = translator(_lang(request))
            return _confirm(request, p, action=f"/admin/stations/{quote(st.id)}/disable", fields={},
                            what=t("admin.confirm.station_disable").format(station=st.id),
                            button=t("admin.station.disable"), back="/admin/stations")
        station_service.disable_station(archive, db, station_id=st.id, actor=p.actor)
    return _back("/admin/stations", "disabled")


__all__ = ["Forbidden", "may_administer", "router"]
