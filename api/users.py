"""``/api/v1/users`` and ``/api/v1/users/{username}/…`` (administrators, ``users.manage``, users of their
own units) and ``/api/v1/me/password`` (anyone signed in): list and add accounts, disable and enable
one, reset a password (the user must change it at the next sign-in), clear a login throttle, list,
issue (shown once) and revoke API tokens, set a user's role, own unit, granted units, legal
qualification (法律职业资格) and own officer number (``PATCH /users/{username}``), change one's own
password. The service (``auth.service``) records each as a custody event; this only translates.

A user outside the administrator's units answers exactly like a user that does not exist (and the
refusal is in the custody log).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser, Principal
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, ErrorOut
from archive.context import Archive
from auth import policy
from auth import service as accounts
from auth.credentials import MAX_PASSWORD
from auth.errors import Forbidden, UnknownUser
from auth.models import User
from liuhen.words import said

router = APIRouter(responses={**ERRORS, 503: {"model": ErrorOut, "description": "busy: try again in a moment"}},
                   dependencies=[StrictQuery])
Role = Literal["operator", "investigator", "legal_reviewer", "records_manager", "auditor", "admin"]  # policy.ROLES
UNIT_CODE = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"  # auth.service
NAME = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"  # not blank, no control characters
Username = Path(min_length=1, max_length=64, description="the user's name (compared ignoring case and width)")


class AccountOut(BaseModel):
    username: str
    role: str
    disabled: bool
    must_change_password: bool
    legal_qualification: bool = Field(description="holds the legal professional qualification (法律职业资格)")
    officer_no: str | None = Field(description="the user's own officer number (警号), if they have one")


class AccountChangeIn(BaseModel):
    role: Role | None = Field(default=None, description="the new role (not for one's own account)")
    unit_code: str | None = Field(default=None, min_length=1, max_length=64, pattern=UNIT_CODE,
                                  description="the new own unit (one of the administrator's)")
    grants: list[Annotated[str, Field(min_length=1, max_length=64, pattern=UNIT_CODE)]] | None = Field(
        default=None, max_length=50, description="the whole set of units granted beyond the own unit ([]: none)")
    legal_qualification: bool | None = Field(default=None, description="法律职业资格: true or false")
    officer_no: str | None = Field(default=None, max_length=128, pattern=r"^([0-9A-Za-z][0-9A-Za-z._-]{0,127})?$",
                                   description="the user's own officer number (警号); \"\" clears it")


class UserOut(AccountOut):
    display_name: str
    unit_code: str = Field(description="the user's own unit (单位)")
    grants: list[str] = Field(description="units granted to the user beyond their own (with the units below them)")
    locked: bool = Field(description="sign-ins with this name are held back by the login throttle now (unlock)")
    last_login_at: dt.datetime | None


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=NAME, description="the sign-in name")
    display_name: str | None = Field(default=None, max_length=200, pattern=NAME,
                                     description="the name shown in the console; the user name if left out")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD,
                          description="a first password; the user must choose their own at the first sign-in")
    role: Role
    unit_code: str = Field(min_length=1, max_length=64, pattern=UNIT_CODE, description="the user's own unit")
    grants: list[Annotated[str, Field(min_length=1, max_length=64, pattern=UNIT_CODE)]] = Field(
        default_factory=list, max_length=50, description="units the user may also see (with the units below them)")
    legal_qualification: bool = False
    officer_no: str | None = Field(default=None, max_length=128, pattern=r"^([0-9A-Za-z][0-9A-Za-z._-]{0,127})?$",
                                   description="the user's own officer number (警号)")


class TokenOut(BaseModel):
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=NAME, description="what the token is for, e.g. 案件系统对接")


class IssuedOut(BaseModel):
    username: str
    name: str
    token: str = Field(description="the token, shown this once: send it as `Authorization: Bearer <token>`")


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=MAX_PASSWORD, description="the new password")


class PasswordChangeIn(BaseModel):
    old_password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class RevokeIn(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200,
                             description="the token's name; leave out to revoke every token of the user")


class RevokedOut(BaseModel):
    username: str
    revoked: int


def _out(u: User) -> AccountOut:
    return AccountOut(username=u.username, role=u.role, disabled=u.disabled_at is not None,
                      must_change_password=u.must_change_password, legal_qualification=u.legal_qualification,
                      officer_no=u.officer_no)


def user_out(db: Session, u: User) -> UserOut:
    return UserOut(**_out(u).model_dump(), display_name=u.display_name, unit_code=u.unit.code,
                   grants=[g.code for g in accounts.grants_of(db, u)], locked=accounts.is_locked(db, u),
                   last_login_at=u.last_login_at)


def own_units(archive: Archive, db: Session, p: Principal, codes: Iterable[str], request: Request | None) -> None:
    """Each of ``codes`` is one of ``p``'s units (else refused, 403, and logged; an unknown code is 404)."""
    for code in codes:
        access.own_unit(archive, db, p, "users.manage", code, request)


def add_user(archive: Archive, db: Session, p: Principal, body: UserIn, request: Request | None) -> User:
    """Add an account for ``p`` (``users.manage``; its unit and granted units must be ``p``'s)."""
    own_units(archive, db, p, [body.unit_code, *body.grants], request)
    u = accounts.add_user(db, archive.custody, username=body.username, password=body.password, role=body.role,
                          unit_code=body.unit_code, actor=p.actor, settings=archive.settings.auth,
                          display_name=body.display_name or None, legal_qualification=body.legal_qualification,
                          officer_no=body.officer_no or None)
    # a first password is one the administrator knows: the user must choose their own (as after a reset)
    u.must_change_password = True
    if body.grants:
        accounts.update_user(db, archive.custody, username=u.username, grants=body.grants, actor=p.actor)
    db.flush()
    return u


def change_user(archive: Archive, db: Session, p: Principal, user: User, body: AccountChangeIn,
                request: Request | None) -> User:
    """``PATCH /users/{username}`` for ``p``: a role change never on one's own account; every unit named
    must be ``p``'s."""
    if body.role is not None and body.role != user.role:
        _not_self(archive, db, p, user, request)
    own_units(archive, db, p, [c for c in [body.unit_code, *(body.grants or [])] if c], request)
    return accounts.update_user(db, archive.custody, username=user.username, role=body.role,
                                unit_code=body.unit_code, grants=body.grants,
                                legal_qualification=body.legal_qualification, officer_no=body.officer_no,
                                actor=p.actor)


def _managed(archive: Archive, db: Session, p: Principal, username: str, request: Request | None) -> User:
    """The user ``p`` may manage: ``users.manage`` and one of ``p``'s units; else refused and logged."""
    access.require(archive, db, p, "users.manage", request)
    missing = UnknownUser(said(f"没有用户 {username}", f"There is no user {username!r} that you may manage."),
                          said("请核对用户名；您只能管理本单位的用户。", "Check the user name; you manage users of your own units only."))
    try:
        user = accounts.get_user(db, username=username)
    except UnknownUser:
        raise missing from None
    if user.unit_id not in p.scope.units:
        access.denied(archive, db, p, permission="users.manage", reason="unit", request=request)
        raise missing
    # an account that reaches beyond the administrator's units (a grant given higher up) is not theirs
    # to manage: changing, resetting or issuing a token for it would lend them that reach
    if any(u.id not in p.scope.units for u in accounts.grants_of(db, user)):
        access.denied(archive, db, p, permission="users.manage", reason="unit (granted units beyond yours)",
                      request=request)
        raise missing
    return user


def _not_self(archive: Archive, db: Session, p: Principal, user: User, request: Request | None) -> None:
    if user.id == p.user_id:
        access.denied(archive, db, p, permission="users.manage", reason="own account", request=request)
        raise Forbidden(cast(str, said("不能停用、重置自己的账户或更改自己的角色",
                                       "You cannot disable or reset your own account, nor change your own role.")),
                        cast(str, said("请另一位系统管理员办理；修改自己的密码请用 /api/v1/me/password",
                                       "Ask another administrator; change your own password at /api/v1/me/password.")))

def sees_evidence(archive: Archive, db: Session, p: Principal, user: User, request: Request | None) -> None:
    """Refuse a token for someone else's account that sees evidence: the administrator would hold a key
    that plays and takes footage unnoticed (separation of duties). Such users make their own tokens
    (``liuhen users token`` on the archive's host)."""
    if user.id != p.user_id and policy.allowed(user.role, "evidence.view"):
        access.denied(archive, db, p, permission="users.manage", reason="token for an account that sees evidence",
                      request=request)
        raise Forbidden(said(f"不能为 {user.username} 签发令牌：该账户可查看证据",
                             f"You cannot issue a token for {user.username}: that account sees evidence."),
                        said("职责分离：可查看证据的账户的令牌须由本人申请（在档案库主机上运行 liuhen users token）。",
                             "Separation of duties: a token for an account that sees evidence is made for its "
                             "holder on the archive's host (liuhen users token)."))


managed = _managed
not_self = _not_self


@router.get("/users", response_model=list[UserOut], tags=["accounts"],
            summary="The accounts of the administrator's units")
def list_users(archive: ArchiveDep, p: CurrentUser, request: Request) -> list[UserOut]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "users.manage", request)
        return [user_out(db, u) for u in accounts.users_of(db, p.scope.units)]


@router.post("/users", response_model=UserOut, status_code=201, tags=["accounts"],
             summary="Add an account (the user must choose their own password at the first sign-in)",
             responses={409: {"model": ErrorOut, "description": "the user name or officer number is taken"}})
def create_user(body: UserIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> UserOut:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "users.manage", request)
        return user_out(db, add_user(archive, db, p, body, request))


@router.patch("/users/{username}", response_model=AccountOut, tags=["accounts"],
              summary="Set a user's role, own unit, granted units, legal qualification (法律职业资格) and own "
                      "officer number",
              responses={409: {"model": ErrorOut, "description": "another user has this officer number"}})
def change(body: AccountChangeIn, archive: ArchiveDep, p: CurrentUser, request: Request,
           username: str = Username) -> AccountOut:
    with archive.sessions.begin() as db:
        user = _managed(archive, db, p, username, request)
        return _out(change_user(archive, db, p, user, body, request))


@router.get("/users/{username}/tokens", response_model=list[TokenOut], tags=["accounts"],
            summary="A user's API tokens, live and revoked (never the tokens themselves)")
def list_tokens(archive: ArchiveDep, p: CurrentUser, request: Request, username: str = Username) -> list[TokenOut]:
    with archive.reads.begin() as db:
        user = _managed(archive, db, p, username, request)
        return [TokenOut(name=t.name, created_at=t.created_at, last_used_at=t.last_used_at, revoked_at=t.revoked_at)
                for t in accounts.tokens_of(db, user)]


@router.post("/users/{username}/tokens", response_model=IssuedOut, status_code=201, tags=["accounts"],
             summary="Issue an API token for a user (shown in this answer only)")
def issue_token(body: TokenIn, archive: ArchiveDep, p: CurrentUser, request: Request,
                username: str = Username) -> IssuedOut:
    with archive.sessions.begin() as db:
        user = _managed(archive, db, p, username, request)
        sees_evidence(archive, db, p, user, request)
        token = accounts.issue_api_token(db, archive.custody, user=user, name=body.name, actor=p.actor)
        return IssuedOut(username=user.username, name=body.name.strip(), token=token)


@router.post("/users/{username}/disable", response_model=AccountOut, tags=["accounts"],
             summary="Disable an account (its sessions end, its tokens are refused)")
def disable(archive: ArchiveDep, p: CurrentUser, request: Request, username: str = Username) -> AccountOut:
    with archive.sessions.begin() as db:
        user = _managed(archive, db, p, username, request)
        _not_self(archive, db, p, user, request)
        return _out(accounts.disable(db, archive.custody, username=user.username, actor=p.actor))


@router.post("/users/{username}/enable", response_model=AccountOut, tags=["accounts"],
             summary="Enable a disabled account")
def enable(archive: ArchiveDep, p: CurrentUser, request: Request, username: str = Username) -> AccountOut:
    with archive.sessions.begin() as db:
        user = _managed(archive, db, p, username, request)
        return _out(accounts.enable(db, archive.custody, username=user.username, actor=p.actor))


@router.post("/users/{username}/password", response_model=AccountOut, tags=["accounts"],
             summary="Reset a password (the user must change it at the next sign-in)")
def reset_password(body: PasswordIn, archive: ArchiveDep, p: CurrentUser, request: Request,
                   username: str = Username) -> AccountOut:
    with archive.sessions.begin() as db:
        user = _managed(archive, db, p, username, request)
        _not_self(archive, db, p, user, request)
        return _out(accounts.reset_password(db, archive.custody, username=user.username, new_password=body.password,
                                            actor=p.actor, settings=archive.settings.auth))


@router.post("/users/{username}/unlock", response_model=AccountOut, tags=["accounts"],
             summary="Clear the login throttle of a user name")
def unlock(archive: ArchiveDep, p: CurrentUser, request: Request, username: str = Username) -> AccountOut:
    with archive.sessions.begin() as db:
        user = _managed(archive, db, p, username, request)
        return _out(accounts.unlock(db, archive.custody, username=user.username, actor=p.actor))


@router.post("/users/{username}/tokens/revoke", response_model=RevokedOut, tags=["accounts"],
             summary="Revoke a user's API tokens (one by name, or all)")
def revoke_tokens(body: RevokeIn, archive: ArchiveDep, p: CurrentUser, request: Request,
                  username: str = Username) -> RevokedOut:
    with archive.sessions.begin() as db:
        user = _managed(archive, db, p, username, request)
        n = accounts.revoke_api_tokens(db, archive.custody, username=user.username, name=body.name, actor=p.actor)
        return RevokedOut(username=user.username, revoked=n)


@router.post("/me/password", response_model=AccountOut, tags=["accounts"],
             summary="Change your own password (every session of yours ends)")
def change_password(body: PasswordChangeIn, archive: ArchiveDep, p: CurrentUser) -> AccountOut:
    # no transaction open here: the old password's argon2 check holds no database lock
    u = accounts.change_password(archive.sessions, archive.custody, username=p.username,
                                 old_password=body.old_password, new_password=body.new_password, ip=p.ip,
                                 settings=archive.settings.auth, tool=access.TOOL)
    return _out(u)
