"""``/api/v1/users/{username}/…`` (administrators, ``users.manage``, users of their own units) and
``/api/v1/me/password`` (anyone signed in): disable and enable an account, reset a password (the
user must change it at the next sign-in), clear a login throttle, revoke API tokens, set a user's
legal qualification (法律职业资格) and own officer number (``PATCH /users/{username}``), change one's
own password. The service (``auth.service``) records each as a custody event; this only translates.

A user outside the administrator's units answers exactly like a user that does not exist (and the
refusal is in the custody log).
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser, Principal
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, ErrorOut
from archive.context import Archive
from auth import service as accounts
from auth.credentials import MAX_PASSWORD
from auth.errors import Forbidden, UnknownUser
from auth.models import User
from liuhen.words import said

router = APIRouter(responses={**ERRORS, 503: {"model": ErrorOut, "description": "busy: try again in a moment"}},
                   dependencies=[StrictQuery])
Username = Path(min_length=1, max_length=64, description="the user's name (compared ignoring case and width)")


class AccountOut(BaseModel):
    username: str
    role: str
    disabled: bool
    must_change_password: bool
    legal_qualification: bool = Field(description="holds the legal professional qualification (法律职业资格)")
    officer_no: str | None = Field(description="the user's own officer number (警号), if they have one")


class AccountChangeIn(BaseModel):
    legal_qualification: bool | None = Field(default=None, description="法律职业资格: true or false")
    officer_no: str | None = Field(default=None, max_length=128, pattern=r"^([0-9A-Za-z][0-9A-Za-z._-]{0,127})?$",
                                   description="the user's own officer number (警号); \"\" clears it")


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


def _managed(archive: Archive, db: Session, p: Principal, username: str, request: Request) -> User:
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
    return user


def _not_self(archive: Archive, db: Session, p: Principal, user: User, request: Request) -> None:
    if user.id == p.user_id:
        access.denied(archive, db, p, permission="users.manage", reason="own account", request=request)
        raise Forbidden(said("不能停用自己的账户", "You cannot disable or reset your own account."),
                        said("请由另一位管理员操作，或在 /api/v1/me/password 修改自己的密码。", "Ask another administrator, or change your own password at /api/v1/me/password."))


@router.patch("/users/{username}", response_model=AccountOut, tags=["accounts"],
              summary="Set a user's legal qualification (法律职业资格) and own officer number",
              responses={409: {"model": ErrorOut, "description": "another user has this officer number"}})
def change(body: AccountChangeIn, archive: ArchiveDep, p: CurrentUser, request: Request,
           username: str = Username) -> AccountOut:
    with archive.sessions.begin() as db:
        user = _managed(archive, db, p, username, request)
        return _out(accounts.update_user(db, archive.custody, username=user.username,
                                         legal_qualification=body.legal_qualification, officer_no=body.officer_no,
                                         actor=p.actor))


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
