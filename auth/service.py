"""Accounts, logins, console sessions and API tokens: plain keyword-only functions on a session.

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher`` defaults, RFC 9106's
low-memory profile: 64 MiB, 3 passes, 4 lanes, a random salt per hash) and re-hashed on the next
good login when those parameters change. Session and API tokens are 256 random bits handed out
once; only their SHA-256 is stored, so a copy of the database lets nobody sign in.

A refusal that changes state — a failed login counted, an account locked, a session marked
expired — is COMMITTED before the error is raised, so that the caller's ``with
sessions.begin():`` rolling back on the error cannot undo a lockout. Let the error leave that
block (do not catch it inside and go on using the same session).

An administrator's act on accounts (a user added, an account unlocked, an API token issued) is a
custody event, recorded here in the caller's transaction with the ``actor`` the caller names.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
import re
import secrets
from typing import Any, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.errors import (
    AccountLocked,
    AlreadyExists,
    AuthFailed,
    Forbidden,
    InvalidAccount,
    SessionExpired,
    UnknownRole,
    UnknownUnit,
    UnknownUser,
    WeakPassword,
)
from auth.models import ApiToken, Unit, UnitGrant, User
from auth.models import Session as LoginSession
from auth.policy import ROLE_LABELS, ROLES
from hashing.custody import CustodyLog
from liuhen import __version__
from liuhen.config import AuthSettings
from liuhen.db import utcnow

log = logging.getLogger("liuhen.auth")

TOOL = "liuhen"  # the tool named in the custody events of account administration

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 takes any length; this only bounds the work one request can ask for
_NAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,64}$")  # user names: no spaces or control characters
_UNIT_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")

_WRONG = ("用户名或密码错误 / Wrong user name or password.",
          "请重试；连续多次错误将锁定账户 / Try again; several failures in a row lock the account.")
_LOCKED = ("账户已锁定 / account locked: ask an administrator to unlock it.",
           "请联系系统管理员解锁 / An administrator can unlock it with `unlock`.")


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user name is unknown, so that it takes as long as a real one."""
    return _hasher().hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except InvalidHashError:
        log.error("a stored password hash is not an argon2 hash; that account cannot sign in")
        return False
    except VerificationError:  # VerifyMismatchError included
        return False


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a session or API token: what the database holds instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _commit_then_raise(db: Session, err: Exception) -> NoReturn:
    db.commit()
    raise err


# ------------------------------------------------------------------ units and users


def add_unit(db: Session, *, code: str, name: str, parent_code: str | None = None) -> Unit:
    """Create a unit (单位), optionally below ``parent_code`` in the unit tree."""
    if not _UNIT_CODE.fullmatch(code):
        raise InvalidAccount(f"Unit code {code!r} is not valid.",
                             "Use 1–64 letters, digits, '.', '_' or '-', e.g. 110101-JT.")
    if not name.strip():
        raise InvalidAccount(f"Unit {code} has an empty name.", "Give the unit its name, e.g. 东城分局交警大队.")
    if db.scalars(select(Unit).where(Unit.code == code)).one_or_none() is not None:
        raise AlreadyExists(f"Unit {code} already exists.", "Choose another code, or use the existing unit.")
    parent_id = None
    if parent_code is not None:
        parent_id = get_unit(db, code=parent_code).id
    unit = Unit(code=code, name=name.strip(), parent_id=parent_id)
    db.add(unit)
    db.flush()
    return unit


def get_unit(db: Session, *, code: str) -> Unit:
    unit = db.scalars(select(Unit).where(Unit.code == code)).one_or_none()
    if unit is None:
        raise UnknownUnit(f"There is no unit with code {code!r}.",
                          "Check the code, or create the unit first (add_unit).")
    return unit


def get_user(db: Session, *, username: str) -> User:
    user = db.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise UnknownUser(f"There is no user named {username!r}.", "Check the user name.")
    return user


def _event(custody: CustodyLog, db: Session, actor: str, action: str, **detail: Any) -> None:
    custody.record(db, actor=actor, action=action, tool=TOOL, tool_version=__version__, detail=detail)


def add_user(db: Session, custody: CustodyLog, *, username: str, password: str, role: str, unit_code: str,
             actor: str, display_name: str | None = None) -> User:
    """Create a local account in ``unit_code`` with ``role`` (one of ``policy.ROLES``); custody
    event ``user_added``."""
    if not _NAME.fullmatch(username):
        raise InvalidAccount(f"User name {username!r} is not valid.",
                             "Use 1–64 characters without spaces or control characters.")
    if role not in ROLES:
        raise UnknownRole(f"There is no role {role!r}.",
                          "Use one of: " + ", ".join(f"{r} ({ROLE_LABELS[r]})" for r in ROLES) + ".")
    unit = get_unit(db, code=unit_code)
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"The password for {username} has {len(password)} characters; at least "
                           f"{MIN_PASSWORD} are required.", "Choose a longer password.")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"The password for {username} is longer than {MAX_PASSWORD} characters.",
                           "Choose a shorter password.")
    if db.scalars(select(User).where(User.username == username)).one_or_none() is not None:
        raise AlreadyExists(f"User {username} already exists.", "Choose another user name.")
    user = User(username=username, display_name=(display_name or username), role=role, unit_id=unit.id,
                password_hash=_hasher().hash(password), failed_logins=0)
    db.add(user)
    db.flush()
    _event(custody, db, actor, "user_added", username=user.username, role=user.role, unit=unit_code)
    return user


def grant_unit(db: Session, *, username: str, unit_code: str) -> UnitGrant:
    """Let ``username`` also see the evidence of ``unit_code`` and the units below it (idempotent)."""
    user = get_user(db, username=username)
    unit = get_unit(db, code=unit_code)
    grant = db.get(UnitGrant, (user.id, unit.id))
    if grant is None:
        grant = UnitGrant(user_id=user.id, unit_id=unit.id)
        db.add(grant)
        db.flush()
    return grant


# ------------------------------------------------------------------ logins


def authenticate(db: Session, *, username: str, password: str, ip: str | None = None,
                 settings: AuthSettings) -> User:
    """Return the user if the password is right; else count the failure and raise.

    ``settings.lockout_attempts`` failures in a row lock the account (``AccountLocked``); a locked
    account refuses even the right password until ``unlock`` (or, with ``lockout_minutes`` > 0,
    until that long has passed). An unknown user name costs the same argon2 work as a known one
    and gets the same message as a wrong password.
    """
    user = db.scalars(select(User).where(User.username == username).with_for_update()).one_or_none()
    if user is None:
        _verify(_dummy_hash(), password)
        log.warning("failed login for unknown user %r from %s", username, ip)
        raise AuthFailed(*_WRONG)
    now = utcnow()
    if user.locked_at is not None:
        lifts = settings.lockout_minutes > 0 and now - user.locked_at >= dt.timedelta(
            minutes=settings.lockout_minutes)
        if not lifts:
            _verify(user.password_hash, password)  # same time as any other attempt
            log.warning("login refused for locked user %r from %s", username, ip)
            raise AccountLocked(*_LOCKED)
        user.locked_at = None
        user.failed_logins = 0
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        log.warning("failed login %d for user %r from %s", user.failed_logins, username, ip)
        if user.failed_logins >= settings.lockout_attempts:
            user.locked_at = now
            _commit_then_raise(db, AccountLocked(*_LOCKED))
        _commit_then_raise(db, AuthFailed(*_WRONG))
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
    user.failed_logins = 0
    user.last_login_at = now
    return user


def unlock(db: Session, custody: CustodyLog, *, username: str, actor: str) -> User:
    """Lift a lock and forget past failed logins (an administrator's act); custody event
    ``user_unlocked``."""
    user = get_user(db, username=username)
    user.locked_at = None
    user.failed_logins = 0
    _event(custody, db, actor, "user_unlocked", username=username)
    return user


# ------------------------------------------------------------------ console sessions


def start_session(db: Session, *, user: User, ip: str | None, user_agent: str | None) -> tuple[str, LoginSession]:
    """Open a console session; returns the token for the cookie (the only time it exists in the
    clear) and the stored session, whose ``csrf_token`` goes into every form."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    s = LoginSession(id=token_digest(token), user_id=user.id, created_at=now, last_seen_at=now,
                     csrf_token=secrets.token_urlsafe(32), ip=ip,
                     user_agent=user_agent[:512] if user_agent else None)
    db.add(s)
    db.flush()
    return token, s


def current_session(db: Session, *, token: str, settings: AuthSettings, touch: bool = True) -> LoginSession:
    """The live session of ``token``, touched (``last_seen_at`` = now) unless ``touch`` is False
    (a page refreshing itself is not the person doing something: it must not keep the session alive).

    Signed out or idle longer than ``settings.idle_minutes`` → ``SessionExpired`` (the idle one is
    marked expired); its user locked meanwhile → the session is ended and ``AccountLocked``.
    """
    s = db.get(LoginSession, token_digest(token)) if token else None
    if s is None:
        raise AuthFailed("未登录 / Not signed in.", "请登录 / Sign in.")
    now = utcnow()
    if s.expired_at is not None:
        raise SessionExpired("会话已结束 / Your session has ended.", "请重新登录 / Sign in again.")
    if now - s.last_seen_at > dt.timedelta(minutes=settings.idle_minutes):
        s.expired_at = now
        _commit_then_raise(db, SessionExpired(
            f"会话因超过 {settings.idle_minutes:g} 分钟无操作已结束 / Your session ended after "
            f"{settings.idle_minutes:g} idle minutes.", "请重新登录 / Sign in again."))
    if s.user.locked_at is not None:
        s.expired_at = now
        _commit_then_raise(db, AccountLocked(*_LOCKED))
    if touch:
        s.last_seen_at = now
    return s


def session_user(db: Session, *, token: str, settings: AuthSettings) -> User:
    """The user of a live console session (see ``current_session``)."""
    return current_session(db, token=token, settings=settings).user


def check_csrf(session: LoginSession, csrf_token: str | None) -> None:
    """Return if a form's CSRF token is the session's, else raise ``Forbidden``."""
    if not csrf_token or not hmac.compare_digest(session.csrf_token.encode(), csrf_token.encode()):
        raise Forbidden("表单已失效 / This form is stale or did not come from the console.",
                        "请刷新页面后重新提交 / Reload the page and submit it again.")


def end_session(db: Session, *, token: str) -> None:
    """Sign out (idempotent; an unknown token is ignored)."""
    s = db.get(LoginSession, token_digest(token)) if token else None
    if s is not None and s.expired_at is None:
        s.expired_at = utcnow()


def sign_in(db: Session, custody: CustodyLog, *, username: str, password: str, ip: str | None,
            user_agent: str | None, settings: AuthSettings, tool: str) -> tuple[str, LoginSession]:
    """Check the password and open a console session, recording ``signed_in``; returns what
    ``start_session`` returns. A refusal raises ``AuthFailed`` (see ``sign_in_failed``)."""
    user = authenticate(db, username=username, password=password, ip=ip, settings=settings)
    token, s = start_session(db, user=user, ip=ip, user_agent=user_agent)
    custody.record(db, actor=f"user:{user.username}", action="signed_in", tool=tool, tool_version=__version__,
                   detail={"ip": ip, "user_agent": (user_agent or "")[:200]})
    return token, s


def sign_in_failed(db: Session, custody: CustodyLog, *, username: str, ip: str | None, reason: str,
                   tool: str) -> None:
    """Record a refused sign-in (``sign_in_failed``), in its own transaction after the refusal."""
    custody.record(db, actor=f"user:{username[:64]}", action="sign_in_failed", outcome="denied", tool=tool,
                   tool_version=__version__, detail={"ip": ip, "reason": reason})


def sign_out(db: Session, custody: CustodyLog, *, token: str, csrf: str | None, settings: AuthSettings,
             tool: str) -> None:
    """End the console session of ``token`` (its form's CSRF token checked), recording ``signed_out``."""
    s = current_session(db, token=token, settings=settings)
    check_csrf(s, csrf)
    end_session(db, token=token)
    custody.record(db, actor=f"user:{s.user.username}", action="signed_out", tool=tool, tool_version=__version__,
                   detail={})


# ------------------------------------------------------------------ API tokens


def issue_api_token(db: Session, custody: CustodyLog, *, user: User, name: str, actor: str) -> str:
    """A new bearer token for ``user``, named for whoever uses it; returned once, stored hashed.
    Custody event ``api_token_issued`` (naming the token, never holding it)."""
    if not name.strip():
        raise InvalidAccount("An API token needs a name.", "Name it for its use, e.g. 案件系统对接.")
    token = "lh_" + secrets.token_urlsafe(32)
    db.add(ApiToken(token_sha256=token_digest(token), user_id=user.id, name=name.strip()))
    db.flush()
    _event(custody, db, actor, "api_token_issued", username=user.username, name=name)
    return token


def revoke_api_token(db: Session, *, token: str) -> None:
    """Revoke a token (idempotent)."""
    row = db.scalars(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token))).one_or_none()
    if row is None:
        raise AuthFailed("API token not recognised.", "Check that the whole token was copied.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def token_user(db: Session, *, token: str) -> User:
    """The user of a live API token (``last_used_at`` touched); unknown or revoked → ``AuthFailed``."""
    row = (db.scalars(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token))).one_or_none()
           if token else None)
    if row is None:
        raise AuthFailed("API token not recognised.",
                         "Send the whole token as `Authorization: Bearer <token>`; ask an administrator for "
                         "a new one if it was lost.")
    if row.revoked_at is not None:
        raise AuthFailed(f"API token {row.name!r} was revoked.", "Ask an administrator for a new token.")
    if row.user.locked_at is not None:
        raise AccountLocked(*_LOCKED)
    row.last_used_at = utcnow()
    return row.user
