"""Who is asking, what they may do, and the custody event every access (and every denial) leaves.

A request is made by a ``Principal``: a console session (cookie, plus the ``X-CSRF-Token``
header on anything that changes state) or an API token (``Authorization: Bearer``). Every
check goes through ``require`` (the role table in ``auth.policy``) and ``evidence`` or ``case``
(the role and the units the user may see). A refusal is written to the custody log as ``access_denied``
(with who, what, from where) in its own transaction before the error leaves, so no rollback can
hide it. Evidence outside the user's units answers exactly like evidence that does not exist, in
the same timing class: a lookup of a missing one writes and commits a ``not_found`` event (``missing``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

import liuhen
from api.deps import ArchiveDep
from archive import query as searching
from archive.context import Archive
from archive.models import Evidence
from archive.scope import Scope
from auth import policy
from auth import service as accounts
from auth.errors import AuthFailed, Forbidden
from auth.models import Unit, User
from cases.errors import UnknownCase
from cases.models import Case
from liuhen.db import is_read
from liuhen.errors import NotFound
from liuhen.words import said

TOOL = "liuhen-api"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
POLL_HEADER = "X-Liuhen-Poll"  # set by the console's own refreshing: it does not count as activity


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: str
    unit_id: int
    scope: Scope
    via: str  # session | token
    ip: str | None = None
    user_agent: str | None = None
    csrf_token: str | None = None

    @property
    def actor(self) -> str:
        return f"user:{self.username}"

    def where(self) -> dict[str, Any]:
        return {"ip": self.ip, "user_agent": (self.user_agent or "")[:200], "via": self.via, "role": self.role}

    def may(self, action: str) -> bool:
        return policy.allowed(self.role, action)


def scope_of(db: Session, user: User) -> Scope:
    """The user's units; footage that is no unit's yet (offloaded by a station with no unit) only for
    administrators of a top-level unit, who give the station its unit (other agencies never see it)."""
    unit = db.get(Unit, user.unit_id)
    return Scope(units=frozenset(policy.visible_units(db, user)),
                 unattributed=user.role == "admin" and unit is not None and unit.parent_id is None)


def principal_of(db: Session, user: User, *, via: str, ip: str | None, user_agent: str | None,
                 csrf_token: str | None = None) -> Principal:
    return Principal(user_id=user.id, username=user.username, display_name=user.display_name, role=user.role,
                     unit_id=user.unit_id, scope=scope_of(db, user), via=via, ip=ip, user_agent=user_agent,
                     csrf_token=csrf_token)


def _client(request: Request) -> tuple[str | None, str | None]:
    return (request.client.host if request.client else None), request.headers.get("user-agent")


def authenticate_request(archive: Archive, request: Request, *, check_csrf: bool = True) -> Principal:
    """The principal of ``request``; ``AuthFailed`` (401) without a live session or token.

    A GET (HEAD, OPTIONS) is checked in a read transaction, which takes no write lock; only when the
    session or token must be written (touched, at most every ``auth.service.TOUCH_EVERY``, or ended) is
    it checked again in a writing one. A request that changes state is checked in a writing one."""
    ip, ua = _client(request)
    auth = request.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    token = request.cookies.get(archive.settings.auth.session_cookie)
    touch = request.headers.get(POLL_HEADER) != "1"
    if bearer is None and not token:
        raise AuthFailed(said("未登录", "Not signed in."),
                         said("请先登录控制台，或使用 API 令牌", "Sign in to the console, or send an API token as "
                              "`Authorization: Bearer <token>`."))
    if request.method in SAFE_METHODS:
        with archive.reads.begin() as db:
            if bearer is not None:
                user = accounts.token_user_if_unchanged(db, token=bearer, settings=archive.settings.auth)
                if user is not None:
                    return principal_of(db, user, via="token", ip=ip, user_agent=ua)
            else:
                assert token is not None
                s = accounts.session_if_unchanged(db, token=token, settings=archive.settings.auth, touch=touch)
                if s is not None:
                    return principal_of(db, s.user, via="session", ip=ip, user_agent=ua, csrf_token=s.csrf_token)
    with archive.sessions.begin() as db:
        if bearer is not None:
            user = accounts.token_user(db, token=bearer, settings=archive.settings.auth)
            return principal_of(db, user, via="token", ip=ip, user_agent=ua)
        assert token is not None
        s = accounts.current_session(db, token=token, settings=archive.settings.auth, touch=touch)
        p = principal_of(db, s.user, via="session", ip=ip, user_agent=ua, csrf_token=s.csrf_token)
        if check_csrf and request.method not in SAFE_METHODS:
            try:
                accounts.check_csrf(s, request.headers.get(CSRF_HEADER))
            except Forbidden:  # a forged or stale form: refused, and in the custody log like every refusal
                denied(archive, db, p, permission="csrf", reason=f"missing or wrong {CSRF_HEADER} header",
                       request=request)
                raise
        return p


_bearer = HTTPBearer(auto_error=False, scheme_name="api_token",
                     description="An API token (`liuhen users token NAME`), or the console's session cookie.")


def current_principal(archive: ArchiveDep, request: Request,
                      _token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None) -> Principal:
    p = authenticate_request(archive, request)
    request.state.principal = p
    return p


CurrentUser = Annotated[Principal, Depends(current_principal)]


# ---------------------------------------------------------------------------- checks and events


def write_event(archive: Archive, db: Session, **fields: Any) -> None:
    """One custody event (``CustodyLog.record``'s arguments): in a read transaction (``liuhen.db.is_read``)
    through the archive's group-commit writer, returning once it is committed (``CustodyUnavailable``,
    503, if it could not be: the caller then serves nothing); else in the caller's transaction."""
    if is_read(db):
        archive.writer.append(**fields)
    else:
        archive.custody.record(db, **fields)


def denied(archive: Archive, db: Session, p: Principal, *, permission: str, reason: str,
           request: Request | None = None, evidence: Evidence | None = None) -> None:
    """Write the ``access_denied`` custody event and COMMIT it, so that the error the caller raises
    next cannot roll it back. (One session per request: on SQLite a second one would wait on the first.
    A read transaction hands it to the writer, which has committed it when this returns.)"""
    detail: dict[str, Any] = {"permission": permission, "reason": reason, **p.where()}
    if request is not None:
        detail.update(method=request.method, path=request.url.path)
    write_event(archive, db, actor=p.actor, action="access_denied", outcome="denied", tool=TOOL,
                tool_version=liuhen.__version__, detail=detail,
                evidence_id=evidence.id if evidence is not None else None,
                object_sha256=evidence.sha256 if evidence is not None else None)
    if not is_read(db):
        db.commit()


def missing(archive: Archive, db: Session, p: Principal, *, what: str, ident: int | str,
            request: Request | None = None) -> None:
    """Write a ``not_found`` custody event (outcome ``failure``) for a lookup of something that does not
    exist, and COMMIT it: so that a missing object costs what a foreign one costs (whose refusal is an
    ``access_denied`` event, ``denied``): the same answer, body and timing class for both. It is not a
    refusal; it shows who probes for ids."""
    detail: dict[str, Any] = {"what": what, "id": ident, **p.where()}
    if request is not None:
        detail.update(method=request.method, path=request.url.path)
    write_event(archive, db, actor=p.actor, action="not_found", outcome="failure", tool=TOOL,
                tool_version=liuhen.__version__, detail=detail)
    if not is_read(db):
        db.commit()


def require(archive: Archive, db: Session, p: Principal, action: str, request: Request | None = None) -> None:
    """Return if ``p``'s role allows ``action``; else log the denial and raise ``Forbidden`` (403)."""
    if not p.may(action):
        denied(archive, db, p, permission=action, reason="role", request=request)
        policy.require(p.role, action)  # raises Forbidden with the sentence to act on


def hidden(evidence_id: int) -> NotFound:
    return NotFound(said(f"没有编号为 {evidence_id} 的证据，或您无权查看", f"No evidence {evidence_id} that you may see."),
                    said("请核对编号；如需查看其他单位的证据，请联系管理员授权", "Check the number; to see another unit's "
                         "evidence, ask an administrator to grant you that unit."))


def evidence(archive: Archive, db: Session, p: Principal, evidence_id: int, action: str,
             request: Request | None = None) -> Evidence:
    """The evidence ``p`` may act on with ``action``; a role or unit refusal is logged and raised."""
    require(archive, db, p, action, request)
    ev = db.get(Evidence, evidence_id)
    if ev is None:
        missing(archive, db, p, what="evidence", ident=evidence_id, request=request)
        raise hidden(evidence_id)
    if not p.scope.allows(ev):
        denied(archive, db, p, permission=action, reason="unit", request=request, evidence=ev)
        raise hidden(evidence_id)
    if action in _BYTES:  # a destroyed evidence keeps its record, not its bytes: say so (410), not "missing"
        from retention.service import refuse_destroyed

        refuse_destroyed(db, [ev.id])
    return ev


_BYTES = frozenset({"evidence.play", "evidence.download_original", "evidence.export"})


def unknown_case(case_id: int) -> UnknownCase:
    return UnknownCase(said(f"没有案件 {case_id}", f"There is no case {case_id} that you may see."),
                       said("请在案件列表中核对。", "Check the case on the case list."))


def case(archive: Archive, db: Session, p: Principal, case_id: int, action: str,
         request: Request | None = None) -> Case:
    """The case ``p`` may act on with ``action``; a role or unit refusal is logged and raised. A case
    of another unit answers exactly like a case that does not exist."""
    require(archive, db, p, action, request)
    c = db.get(Case, case_id)
    if c is None:
        missing(archive, db, p, what="case", ident=case_id, request=request)
        raise unknown_case(case_id)
    if c.unit_id not in p.scope.units:
        denied(archive, db, p, permission=action, reason=f"unit (case {c.number})", request=request)
        raise unknown_case(case_id)
    return c


def own_unit(archive: Archive, db: Session, p: Principal, action: str, unit_code: str,
             request: Request | None = None) -> Unit:
    """The unit ``unit_code`` if ``p`` may ``action`` and the unit is one of theirs; a refusal is
    logged and raised (``Forbidden``), an unknown code is ``UnknownUnit``."""
    from auth.service import get_unit

    require(archive, db, p, action, request)
    unit = get_unit(db, code=unit_code)
    if unit.id not in p.scope.units:
        denied(archive, db, p, permission=action, reason="unit", request=request)
        raise Forbidden(said(f"单位 {unit.code} 不在您的范围", f"Unit {unit.code} is not one of yours."),
                        said("请由该单位或上级单位的管理员操作。", "An administrator of that unit or a unit above it does this.")
                        if p.role == "admin" else  # the administrator is who others would ask
                        said("只能为本单位操作；如需该单位的权限，请联系管理员授权。", "Act only for your own units, or ask an administrator to grant you that unit."))
    return unit


def no_cross_site(p: Principal, request: Request) -> None:
    """A download that leaves a custody event, asked for by a bare GET: with a console session (a
    cookie that any site can make the browser send) only with the ``X-CSRF-Token`` header, as every
    change. The console fetches through one-time links (``api.links``) instead. The refusal writes
    no event: it would be one more thing a foreign page could write in the user's name."""
    import hmac

    if p.via == "session" and not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), p.csrf_token or ""):
        raise Forbidden(said("下载需要一次性链接", f"A download with a console session needs the {CSRF_HEADER} header."),
                        said("请使用控制台的下载按钮（它会申请一次性链接），或 POST 到该地址的 /link 后打开返回的网址；API 客户端以 Authorization: Bearer 发送令牌。", "Use the download button of the console (it asks for a one-time link), or POST to the "
                             "route's /link and open the URL it returns; API clients send their token as "
                             "`Authorization: Bearer`."))


def recently(db: Session, p: Principal, action: str, evidence_id: int, window: dt.timedelta) -> bool:
    """Whether ``p`` has an ``action`` event on ``evidence_id`` within ``window``."""
    from hashing.models import CustodyEvent
    from liuhen.db import utcnow

    return db.scalar(select(CustodyEvent.seq).where(
        CustodyEvent.evidence_id == evidence_id, CustodyEvent.action == action, CustodyEvent.actor == p.actor,
        CustodyEvent.at >= utcnow() - window).limit(1)) is not None


def record(archive: Archive, db: Session, p: Principal, action: str, *, evidence: Evidence | None = None,
           detail: dict[str, Any] | None = None, tool: str = TOOL) -> None:
    """A custody event for something ``p`` did: in the caller's transaction, or, in a read transaction,
    committed by the writer before this returns (``write_event``)."""
    write_event(archive, db, actor=p.actor, action=action, tool=tool, tool_version=liuhen.__version__,
                evidence_id=evidence.id if evidence is not None else None,
                object_sha256=evidence.sha256 if evidence is not None else None,
                detail={**(detail or {}), **p.where()})


def search(archive: Archive, db: Session, p: Principal, query: searching.Query,
           request: Request | None = None) -> searching.Page:
    """Search (``archive.query.search``) within ``p``'s units and write the ``searched`` custody event
    (the query, the ids shown)."""
    require(archive, db, p, "evidence.search", request)
    page = searching.search(db, query, p.scope)
    record(archive, db, p, "searched", detail={"query": query.describe(), "shown": [e.id for e in page.items]})
    return page


def visible_unit_rows(db: Session, p: Principal) -> list[Unit]:
    return list(db.scalars(select(Unit).where(Unit.id.in_(sorted(p.scope.units))).order_by(Unit.code)))


__all__ = ["CurrentUser", "Principal", "Forbidden", "authenticate_request", "case", "denied", "evidence", "hidden",
           "record", "require"]
