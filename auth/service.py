"""Accounts, logins, console sessions and API tokens: plain keyword-only functions.

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher`` defaults, RFC 9106's
low-memory profile: 64 MiB, 3 passes, 4 lanes, a random salt per hash) and re-hashed on the next
good login when those parameters change. Session and API tokens are 256 random bits handed out
once; only their SHA-256 is stored, so a copy of the database lets nobody sign in.

**A password check never holds the database.** ``authenticate``, ``sign_in`` and
``change_password`` take the session *factory*, not a session: they read the user and the
throttles in one short transaction, check the password with no transaction open (on SQLite every
transaction holds the write lock, and argon2 takes tens of milliseconds of a core), then write the
outcome in a second short transaction. The checks run in a bounded pool (``LoginGate``: at most
``[auth] login_workers`` at once, by default one fewer than the cores, so signed-in users keep a
core); a login that waits longer than ``login_wait_s`` for a worker is refused as ``LoginBusy``.

**Failed logins are throttled, never locked for good.** Failures are counted per user name (known
or not) and per client address (``LoginThrottle``); past the free attempts each further one must
wait, doubling up to ``throttle_max_s``. A throttled attempt is refused without checking the
password, with exactly the answer of a wrong password or an unknown user; a good login clears the
name's count, and so does an administrator's ``unlock``.

Every other function runs in the caller's transaction. An administrator's act on accounts (a user
added, disabled, enabled, a password reset, a throttle cleared, an API token issued or revoked) is
a custody event, recorded here with the ``actor`` the caller names; so are sign-in, a refused
sign-in, sign-out and a password change, with the user as actor.

A refusal that changes state (a session marked expired) is COMMITTED before the error is raised,
so that the caller's ``with sessions.begin():`` rolling back on the error cannot undo it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import unicodedata
from collections.abc import Collection, Iterator
from typing import Any, NoReturn, cast

from argon2 import PasswordHasher
from argon2 import low_level as argon2_ll
from argon2.exceptions import InvalidHashError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from auth.credentials import MAX_PASSWORD, check_name, check_password, name_key, normalize
from auth.errors import (
    AccountDisabled,
    AlreadyExists,
    AuthFailed,
    Forbidden,
    InvalidAccount,
    LoginBusy,
    PasswordChangeRequired,
    SessionExpired,
    UnknownRole,
    UnknownUnit,
    UnknownUser,
)
from auth.models import ApiToken, LoginThrottle, Unit, UnitGrant, User
from auth.models import Session as LoginSession
from auth.policy import ROLE_LABELS, ROLES
from hashing.custody import CustodyLog
from liuhen import __version__
from liuhen.config import AuthSettings
from liuhen.db import utcnow
from liuhen.words import said

log = logging.getLogger("liuhen.auth")

TOOL = "liuhen"  # the tool named in the custody events of account administration

_UNIT_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")
_OFFICER_NO = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$")  # as roster.service.OFFICER_NO (auth knows no roster)

# One answer for a wrong password, an unknown user name and a throttled attempt.
_WRONG = (said("用户名或密码错误", "Wrong user name or password."),
          said("请稍后重试；连续错误后每次重试需等待更久。", "Try again; after several failures each new try must wait "
               "longer."))
_DISABLED = (said("账户已停用", "This account is disabled."),
             said("请联系系统管理员启用（liuhen users enable）。", "Ask an administrator to enable it (`liuhen users enable`)."))
_BUSY = (said("登录繁忙", "Too many sign-ins are being checked right now."), said("请稍后重试。", "Try again in a moment."))


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user name is unknown, so that it takes as long as a real one."""
    return _hasher().hash(secrets.token_urlsafe(16))


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _verify_on_one_core(encoded: str, password: str) -> bool:
    """Check ``password`` against an argon2id PHC string on ONE thread.

    argon2's own verify runs as many threads as the hash has lanes (4 by default), so a single
    check takes every core of a small server; the bounded pool (``LoginGate``) could not then keep
    a core for signed-in users. The result does not depend on the thread count (RFC 9106 §3.4),
    so this recomputes the hash through argon2's core with ``threads = 1`` and compares in
    constant time.
    """
    _, kind, version, params, salt64, hash64 = encoded.split("$")
    if kind != "argon2id" or not version.startswith("v="):
        raise InvalidHashError(encoded[:16])
    cost = {k: int(v) for k, v in (kv.split("=") for kv in params.split(","))}
    salt, digest, pwd = _b64(salt64), _b64(hash64), password.encode("utf-8")
    out = argon2_ll.ffi.new("uint8_t[]", len(digest))
    c_pwd, c_salt = argon2_ll.ffi.new("uint8_t[]", pwd), argon2_ll.ffi.new("uint8_t[]", salt)
    ctx = argon2_ll.ffi.new("argon2_context *", {
        "out": out, "outlen": len(digest), "pwd": c_pwd, "pwdlen": len(pwd), "salt": c_salt, "saltlen": len(salt),
        "secret": argon2_ll.ffi.NULL, "secretlen": 0, "ad": argon2_ll.ffi.NULL, "adlen": 0,
        "t_cost": cost["t"], "m_cost": cost["m"], "lanes": cost["p"], "threads": 1,
        "version": int(version[2:]), "allocate_cbk": argon2_ll.ffi.NULL, "free_cbk": argon2_ll.ffi.NULL,
        "flags": 0})  # argon2.h: ARGON2_DEFAULT_FLAGS
    if argon2_ll.core(ctx, argon2_ll.Type.ID.value) != 0:  # argon2.h: ARGON2_OK
        raise InvalidHashError(encoded[:16])
    return hmac.compare_digest(bytes(argon2_ll.ffi.buffer(out, len(digest))), digest)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _verify_on_one_core(password_hash, password)
    except (InvalidHashError, ValueError, KeyError):
        log.error("a stored password hash is not an argon2id hash; that account cannot sign in")
        return False


def _say(zh: str, en: str) -> str:
    """A sentence in both languages for an error (``liuhen.words.Said``; typed as the error base takes it now)."""
    return cast(str, said(zh, en))


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a session or API token: what the database holds instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _commit_then_raise(db: Session, err: Exception) -> NoReturn:
    db.commit()
    raise err


# ------------------------------------------------------------------ units and users


def add_unit(db: Session, *, code: str, name: str, parent_code: str | None = None,
             custody: CustodyLog | None = None, actor: str | None = None) -> Unit:
    """Create a unit (单位), optionally below ``parent_code`` in the unit tree; with ``custody`` (an
    administrator's act, as the console's and the API's are) the custody event ``unit_added``."""
    if not _UNIT_CODE.fullmatch(code):
        raise InvalidAccount(said(f"单位代码 {code!r} 无效", f"Unit code {code!r} is not valid."),
                             said("请使用 1–64 个字母、数字、'.'、'_' 或 '-'，例如 110101-JT。", "Use 1–64 letters, digits, '.', '_' or '-', e.g. 110101-JT."))
    if not name.strip():
        raise InvalidAccount(said(f"单位 {code} 的名称为空", f"Unit {code} has an empty name."), said("请填写单位名称，例如 东城分局交警大队。", "Give the unit its name, e.g. 东城分局交警大队."))
    if db.scalars(select(Unit).where(Unit.code == code)).one_or_none() is not None:
        raise AlreadyExists(said(f"单位 {code} 已存在", f"Unit {code} already exists."), said("请换一个代码，或使用已有的单位。", "Choose another code, or use the existing unit."))
    parent_id = None
    if parent_code is not None:
        parent_id = get_unit(db, code=parent_code).id
    unit = Unit(code=code, name=name.strip(), parent_id=parent_id)
    db.add(unit)
    db.flush()
    if custody is not None:
        _event(custody, db, actor or "unknown", "unit_added", unit=unit.code, name=unit.name, parent=parent_code)
    return unit


def rename_unit(db: Session, custody: CustodyLog, *, code: str, name: str, actor: str) -> Unit:
    """Give a unit a new name (its code, which users, officers and footage refer to, stays); custody event
    ``unit_renamed`` with the old and the new name. The same name is refused."""
    unit = get_unit(db, code=code)
    new = name.strip()
    if not new:
        raise InvalidAccount(_say(f"单位 {code} 的名称不能为空", f"Unit {code} would have an empty name."),
                             _say("请填写单位名称，例如 东城分局交警大队", "Give the unit its name, e.g. 东城分局交警大队."))
    if new == unit.name:
        raise InvalidAccount(_say(f"单位 {code} 已叫这个名称", f"Unit {code} already has this name."),
                             _say("请填写一个不同的名称", "Give a different name."))
    before, unit.name = unit.name, new
    db.flush()
    _event(custody, db, actor, "unit_renamed", unit=unit.code, changes={"name": [before, new]})
    return unit


def units_below(db: Session, unit_ids: Collection[int]) -> list[Unit]:
    """The units of ``unit_ids`` (an administrator's scope), by code."""
    return list(db.scalars(select(Unit).where(Unit.id.in_(list(unit_ids))).order_by(Unit.code)))


def users_of(db: Session, unit_ids: Collection[int]) -> list[User]:
    """The accounts whose own unit is one of ``unit_ids``, by name."""
    return list(db.scalars(select(User).where(User.unit_id.in_(list(unit_ids))).order_by(User.username)))


def grants_of(db: Session, user: User) -> list[Unit]:
    """The units granted to ``user`` beyond their own (``UnitGrant``), by code."""
    return list(db.scalars(select(Unit).join(UnitGrant, UnitGrant.unit_id == Unit.id)
                           .where(UnitGrant.user_id == user.id).order_by(Unit.code)))


def is_locked(db: Session, user: User) -> bool:
    """Whether sign-ins with ``user``'s name are held back now by the login throttle (``unlock`` clears it)."""
    return _throttled(db, _keys(user.username, None)[:1], utcnow())


def tokens_of(db: Session, user: User) -> list[ApiToken]:
    """``user``'s API tokens, live and revoked, newest first (the token itself is never kept)."""
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                           .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def get_unit(db: Session, *, code: str) -> Unit:
    unit = db.scalars(select(Unit).where(Unit.code == code)).one_or_none()
    if unit is None:
        raise UnknownUnit(said(f"没有代码为 {code!r} 的单位", f"There is no unit with code {code!r}."),
                          said("请核对代码，或先创建该单位。", "Check the code, or create the unit first (add_unit)."))
    return unit


def get_user(db: Session, *, username: str) -> User:
    """The user whose name is ``username`` as names compare (NFKC, case-folded)."""
    user = db.scalars(select(User).where(User.username_key == name_key(username[:200]))).one_or_none()
    if user is None:
        raise UnknownUser(said(f"没有名为 {username!r} 的用户", f"There is no user named {username!r}."), said("请核对用户名。", "Check the user name."))
    return user


def _event(custody: CustodyLog, db: Session, actor: str, action: str, **detail: Any) -> None:
    custody.record(db, actor=actor, action=action, tool=TOOL, tool_version=__version__, detail=detail)


def add_user(db: Session, custody: CustodyLog, *, username: str, password: str, role: str, unit_code: str,
             actor: str, settings: AuthSettings, display_name: str | None = None, legal_qualification: bool = False,
             officer_no: str | None = None) -> User:
    """Create a local account in ``unit_code`` with ``role`` (one of ``policy.ROLES``); custody
    event ``user_added``. The name is checked and stored as ``auth.credentials`` says, the password
    against the policy there. ``legal_qualification`` (法律职业资格) and ``officer_no`` (the user's own
    officer number, so that nobody reviews a case they acted in) as ``update_user`` checks them."""
    stored = check_name(username)
    if officer_no is not None:
        _check_officer_no(db, officer_no, None)
    if role not in ROLES:
        raise UnknownRole(said(f"没有角色 {role!r}", f"There is no role {role!r}."),
                          said("请使用以下之一：" + "、".join(f"{r}（{ROLE_LABELS[r]}）" for r in ROLES) + "。", "Use one of: " + ", ".join(f"{r} ({ROLE_LABELS[r]})" for r in ROLES) + "."))
    unit = get_unit(db, code=unit_code)
    check_password(password, username=stored, role=role, settings=settings)
    key = name_key(stored)
    same = db.scalars(select(User).where(User.username_key == key)).one_or_none()
    if same is not None:
        raise AlreadyExists(said(f"用户 {stored} 已存在" + (f"（即 {same.username}：比较用户名时不区分大小写和全半角）" if same.username != stored else ""), f"User {stored} already exists" + (f" (as {same.username}: names are compared "
                                 "ignoring case and width)" if same.username != stored else "") + "."),
                            said("请换一个用户名。", "Choose another user name."))
    user = User(username=stored, username_key=key, display_name=(display_name or stored), role=role,
                unit_id=unit.id, password_hash=_hash(settings, password), failed_logins=0,
                password_changed_at=utcnow(), legal_qualification=legal_qualification, officer_no=officer_no)
    db.add(user)
    db.flush()
    _event(custody, db, actor, "user_added", username=user.username, role=user.role, unit=unit_code,
           legal_qualification=user.legal_qualification, officer_no=user.officer_no)
    return user


def _check_officer_no(db: Session, officer_no: str, user_id: int | None) -> None:
    if not _OFFICER_NO.fullmatch(officer_no):
        raise InvalidAccount(said(f"警号 {officer_no!r} 无效", f"Officer number {officer_no!r} is not valid."),
                             said("请使用该用户记录仪写入文件名的警号，例如 000123。", "Use the number the user's recorder writes into file names (警号), e.g. 000123."))
    other = db.scalar(select(User.username).where(User.officer_no == officer_no, User.id != (user_id or 0)))
    if other is not None:
        raise AlreadyExists(said(f"警号 {officer_no} 已属于用户 {other}", f"Officer number {officer_no} is already the "
                                 f"number of user {other}."), said("一个警号只对应一个人，请核对警号。", "One officer number is one person: check the number."))


def update_user(db: Session, custody: CustodyLog, *, username: str, actor: str,
                legal_qualification: bool | None = None, officer_no: str | None = None, role: str | None = None,
                unit_code: str | None = None, grants: Collection[str] | None = None) -> User:
    """Set a user's legal qualification (法律职业资格, which a first-time reviewer of penalty decisions
    must have), own officer number ("" clears it), role, own unit, and/or the units granted to them
    beyond it (``grants``: the whole set of unit codes; empty: none); custody event ``user_changed``
    naming each change. A new role or unit takes effect at the user's next request. Nothing to change
    is refused."""
    user = get_user(db, username=username)
    changes: dict[str, list[Any]] = {}
    if role is not None and role != user.role:
        if role not in ROLES:
            raise UnknownRole(f"There is no role {role!r}.",
                              "Use one of: " + ", ".join(f"{r} ({ROLE_LABELS[r]})" for r in ROLES) + ".")
        changes["role"] = [user.role, role]
        user.role = role
    if unit_code is not None:
        unit = get_unit(db, code=unit_code)
        if unit.id != user.unit_id:
            changes["unit"] = [user.unit.code, unit.code]
            user.unit_id = unit.id
    if grants is not None:
        before = [u.code for u in grants_of(db, user)]
        wanted = sorted({get_unit(db, code=c).code for c in grants})
        if wanted != before:
            for u in grants_of(db, user):
                if u.code not in wanted:
                    db.delete(db.get(UnitGrant, (user.id, u.id)))
            db.flush()
            for c in wanted:
                if c not in before:
                    db.add(UnitGrant(user_id=user.id, unit_id=get_unit(db, code=c).id))
            changes["grants"] = [before, wanted]
    if legal_qualification is not None and legal_qualification != user.legal_qualification:
        changes["legal_qualification"] = [user.legal_qualification, legal_qualification]
        user.legal_qualification = legal_qualification
    if officer_no is not None:
        new = officer_no or None
        if new is not None:
            _check_officer_no(db, new, user.id)
        if new != user.officer_no:
            changes["officer_no"] = [user.officer_no, new]
            user.officer_no = new
    if not changes:
        raise InvalidAccount(said(f"用户 {user.username} 没有变化", f"Nothing to change for user {user.username}."),
                             said("请给出与已记录不同的角色、单位、授权单位、法律职业资格或警号。",
                                  "Give a role, unit, granted units, legal qualification or officer number that "
                                  "differs from the recorded one."))
    db.flush()
    db.refresh(user)
    _event(custody, db, actor, "user_changed", username=user.username, changes=changes)
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


# ------------------------------------------------------------------ the password-checking pool


class LoginGate:
    """At most ``workers`` password checks at once in this process; a check that cannot start
    within ``wait_s`` is refused (``LoginBusy``) rather than queued behind a flood."""

    def __init__(self, workers: int, wait_s: float) -> None:
        self.workers = workers
        self.wait_s = wait_s
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._busy = 0

    @property
    def busy(self) -> int:
        """How many password checks are running now."""
        return self._busy

    def acquire(self) -> bool:
        """Take a worker, waiting at most ``wait_s``; False if none came free."""
        if not self._slots.acquire(timeout=self.wait_s):
            return False
        with self._lock:
            self._busy += 1
        return True

    def release(self) -> None:
        with self._lock:
            self._busy -= 1
        self._slots.release()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a worker for the block; ``LoginBusy`` if none came free in time."""
        if not self.acquire():
            raise LoginBusy(*_BUSY)
        try:
            yield
        finally:
            self.release()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def _gate(workers: int, wait_s: float) -> LoginGate:
    return LoginGate(workers, wait_s)


def login_gate(settings: AuthSettings) -> LoginGate:
    """The process's password-checking pool for ``settings`` (one per process: the cores are)."""
    return _gate(settings.login_workers or max(1, _cores() - 1), settings.login_wait_s)


def _hash(settings: AuthSettings, password: str) -> str:
    with login_gate(settings).slot():
        return _hasher().hash(password)


# ------------------------------------------------------------------ throttles


def _keys(username: str, ip: str | None) -> list[str]:
    keys = ["name:" + name_key(username[:200])[:180]]
    if ip:
        keys.append("addr:" + ip[:180])
    return keys


def _throttled(db: Session, keys: list[str], now: dt.datetime) -> bool:
    rows = db.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    return any(r.blocked_until is not None and r.blocked_until > now for r in rows)


def _count_failure(db: Session, keys: list[str], now: dt.datetime, settings: AuthSettings) -> None:
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    forget = dt.timedelta(minutes=settings.throttle_forget_minutes)
    for key in keys:
        db.execute(insert(LoginThrottle).values(key=key, failures=0, last_failure_at=now)
                   .on_conflict_do_nothing(index_elements=["key"]))
        row = db.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).one()
        if now - row.last_failure_at > forget:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        free = settings.account_free_attempts if key.startswith("name:") else settings.address_free_attempts
        if row.failures >= free:
            wait = min(settings.throttle_base_s * 2.0 ** min(row.failures - free, 40), settings.throttle_max_s)
            row.blocked_until = now + dt.timedelta(seconds=wait)


def _clear(db: Session, key: str) -> None:
    row = db.get(LoginThrottle, key)
    if row is not None:
        db.delete(row)


# ------------------------------------------------------------------ logins


def _check_password(sessions: sessionmaker[Session], *, username: str, password: str, ip: str | None,
                    settings: AuthSettings) -> tuple[User, str | None]:
    """The user whose password this is, and a new hash if theirs needs re-hashing; else count the
    failure and raise ``AuthFailed`` (the one answer). No transaction is open while argon2 runs."""
    keys = _keys(username, ip)
    now = utcnow()
    with sessions() as db:  # short: read and let go (on SQLite this holds the write lock)
        throttled = _throttled(db, keys, now)
        user = db.scalars(select(User).where(User.username_key == name_key(username[:200]))).one_or_none()
    if throttled:
        log.warning("throttled login for %r from %s", username[:64], ip)
        raise AuthFailed(*_WRONG)  # refused without the argon2 work: a flood costs no cores
    ok, rehash = False, None
    gate = login_gate(settings)
    if not gate.acquire():
        if ip:  # busy answers count for the address: a flood from one soon waits for its throttle instead
            with sessions.begin() as db:
                _count_failure(db, keys[1:], utcnow(), settings)
        raise LoginBusy(*_BUSY)
    try:
        if len(password) <= MAX_PASSWORD:
            ok = _verify(user.password_hash if user is not None else _dummy_hash(), password) and user is not None
        if ok and user is not None and _hasher().check_needs_rehash(user.password_hash):
            rehash = _hasher().hash(password)
    finally:
        gate.release()
    if not ok or user is None:
        with sessions.begin() as db:
            _count_failure(db, keys, utcnow(), settings)
        log.warning("failed login for %r from %s", username[:64], ip)
        raise AuthFailed(*_WRONG)
    return user, rehash


def _after_good_login(db: Session, user: User, rehash: str | None, username: str) -> User:
    u = db.get(User, user.id)
    assert u is not None
    _clear(db, _keys(username, None)[0])
    if rehash is not None:
        u.password_hash = rehash
    u.last_login_at = utcnow()
    return u


def authenticate(sessions: sessionmaker[Session], *, username: str, password: str, ip: str | None = None,
                 settings: AuthSettings) -> User:
    """Return the user if the password is right and the account may sign in; else raise.

    A wrong password, an unknown user name (which costs the same argon2 work) and a throttled
    attempt all raise ``AuthFailed`` with one message; a disabled account with its right password
    ``AccountDisabled``, one whose password was reset ``PasswordChangeRequired``. Runs its own
    short transactions (see the module's docstring): call it with no transaction open.
    """
    user, rehash = _check_password(sessions, username=username, password=password, ip=ip, settings=settings)
    if user.disabled_at is not None:
        raise AccountDisabled(*_DISABLED)
    if user.must_change_password:
        raise PasswordChangeRequired(said("需要修改密码", "Your password was reset: choose a new one to sign in."),
                                     said("请输入新密码", "Enter a new password with the one you were given."))
    with sessions.begin() as db:
        return _after_good_login(db, user, rehash, username)


def _end_sessions(db: Session, user_id: int) -> None:
    db.execute(update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.expired_at.is_(None))
               .values(expired_at=utcnow()))


def _set_password(db: Session, user: User, password_hash: str, *, must_change: bool) -> None:
    user.password_hash = password_hash
    user.must_change_password = must_change
    user.password_changed_at = utcnow()
    _end_sessions(db, user.id)


def change_password(sessions: sessionmaker[Session], custody: CustodyLog, *, username: str, old_password: str,
                    new_password: str, ip: str | None, settings: AuthSettings, tool: str = TOOL) -> User:
    """A user changes their own password, proving the old one (throttled like a login); every
    session of theirs ends. Custody event ``password_changed``. Its own short transactions."""
    user, _ = _check_password(sessions, username=username, password=old_password, ip=ip, settings=settings)
    if user.disabled_at is not None:
        raise AccountDisabled(*_DISABLED)
    check_password(new_password, username=user.username, role=user.role, settings=settings)
    if new_password == old_password:
        raise InvalidAccount(said("新密码与旧密码相同", "The new password is the old one."), said("请选择不同的密码。", "Choose a different password."))
    new_hash = _hash(settings, new_password)
    with sessions.begin() as db:
        u = _after_good_login(db, user, None, username)
        _set_password(db, u, new_hash, must_change=False)
        custody.record(db, actor=f"user:{u.username}", action="password_changed", tool=tool,
                       tool_version=__version__, detail={"username": u.username, "ip": ip})
    return u


def reset_password(db: Session, custody: CustodyLog, *, username: str, new_password: str, actor: str,
                   settings: AuthSettings) -> User:
    """An administrator sets a password the user must change at their next sign-in; every session
    of theirs ends and the name's throttle is cleared. Custody event ``password_reset``."""
    user = get_user(db, username=username)
    check_password(new_password, username=user.username, role=user.role, settings=settings)
    _set_password(db, user, _hash(settings, new_password), must_change=True)
    _clear(db, _keys(user.username, None)[0])
    _event(custody, db, actor, "password_reset", username=user.username)
    return user


def disable(db: Session, custody: CustodyLog, *, username: str, actor: str) -> User:
    """Disable an account: no sign-in, its sessions end, its tokens are refused (kept, so that
    ``enable`` brings them back). Custody event ``user_disabled``."""
    user = get_user(db, username=username)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
    _end_sessions(db, user.id)
    _event(custody, db, actor, "user_disabled", username=user.username)
    return user


def enable(db: Session, custody: CustodyLog, *, username: str, actor: str) -> User:
    """Enable a disabled account again. Custody event ``user_enabled``."""
    user = get_user(db, username=username)
    user.disabled_at = None
    _event(custody, db, actor, "user_enabled", username=user.username)
    return user


def unlock(db: Session, custody: CustodyLog, *, username: str, actor: str) -> User:
    """Clear the login throttle of ``username`` (an administrator's act); custody event
    ``user_unlocked``."""
    user = get_user(db, username=username)
    _clear(db, _keys(user.username, None)[0])
    _event(custody, db, actor, "user_unlocked", username=user.username)
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

    Signed out, idle longer than ``settings.idle_minutes`` or older than ``session_max_hours`` →
    ``SessionExpired`` (marked expired); its user disabled meanwhile → the session is ended and
    ``AccountDisabled``.
    """
    s = db.get(LoginSession, token_digest(token)) if token else None
    if s is None:
        raise AuthFailed(said("未登录", "Not signed in."), said("请登录", "Sign in."))
    now = utcnow()
    if s.expired_at is not None:
        raise SessionExpired(said("会话已结束", "Your session has ended."), said("请重新登录", "Sign in again."))
    if now - s.last_seen_at > dt.timedelta(minutes=settings.idle_minutes):
        s.expired_at = now
        _commit_then_raise(db, SessionExpired(
            said(f"会话因超过 {settings.idle_minutes:g} 分钟无操作已结束", "Your session ended after "
                 f"{settings.idle_minutes:g} idle minutes."), said("请重新登录", "Sign in again.")))
    if now - s.created_at > dt.timedelta(hours=settings.session_max_hours):
        s.expired_at = now
        _commit_then_raise(db, SessionExpired(
            said(f"会话已超过 {settings.session_max_hours:g} 小时", f"Your session ended {settings.session_max_hours:g} "
                 "hours after you signed in."), said("请重新登录", "Sign in again.")))
    if s.user.disabled_at is not None:
        s.expired_at = now
        _commit_then_raise(db, AccountDisabled(*_DISABLED))
    if touch:
        s.last_seen_at = now
    return s


TOUCH_EVERY = dt.timedelta(seconds=30)  # a session's last_seen_at / a token's last_used_at, written at most this often


def session_if_unchanged(db: Session, *, token: str, settings: AuthSettings, touch: bool = True) -> LoginSession | None:
    """The live session of ``token`` when checking it needs no write (a read transaction may call it):
    ``None`` when ``current_session`` would write (to touch it, seen more than ``TOUCH_EVERY`` ago, or to
    end it): the caller then calls that in a writing transaction. Raises what ``current_session`` raises
    for a session that is unknown or already ended."""
    s = db.get(LoginSession, token_digest(token)) if token else None
    if s is None:
        raise AuthFailed(said("未登录", "Not signed in."), said("请登录", "Sign in."))
    if s.expired_at is not None:
        raise SessionExpired(said("会话已结束", "Your session has ended."), said("请重新登录", "Sign in again."))
    now = utcnow()
    if (now - s.last_seen_at > dt.timedelta(minutes=settings.idle_minutes)
            or now - s.created_at > dt.timedelta(hours=settings.session_max_hours)
            or s.user.disabled_at is not None or (touch and now - s.last_seen_at >= TOUCH_EVERY)):
        return None
    return s


def token_user_if_unchanged(db: Session, *, token: str, settings: AuthSettings) -> User | None:
    """``token_user`` without its write: ``None`` when ``last_used_at`` is older than ``TOUCH_EVERY`` (or the
    token is not live: ``token_user`` then says why) and the caller must call ``token_user`` to write it."""
    row = (db.scalars(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token))).one_or_none()
           if token else None)
    now = utcnow()
    if (row is None or row.revoked_at is not None or row.last_used_at is None
            or now - row.created_at > dt.timedelta(days=settings.token_max_days)
            or row.user.disabled_at is not None or now - row.last_used_at >= TOUCH_EVERY):
        return None
    return row.user


def session_user(db: Session, *, token: str, settings: AuthSettings) -> User:
    """The user of a live console session (see ``current_session``)."""
    return current_session(db, token=token, settings=settings).user


def check_csrf(session: LoginSession, csrf_token: str | None) -> None:
    """Return if a form's CSRF token is the session's, else raise ``Forbidden``."""
    if not csrf_token or not hmac.compare_digest(session.csrf_token.encode(), csrf_token.encode()):
        raise Forbidden(said("表单已失效", "This form is stale or did not come from the console."),
                        said("请刷新页面后重新提交", "Reload the page and submit it again."))


def end_session(db: Session, *, token: str) -> None:
    """Sign out (idempotent; an unknown token is ignored)."""
    s = db.get(LoginSession, token_digest(token)) if token else None
    if s is not None and s.expired_at is None:
        s.expired_at = utcnow()


def sign_in(sessions: sessionmaker[Session], custody: CustodyLog, *, username: str, password: str, ip: str | None,
            user_agent: str | None, settings: AuthSettings, tool: str,
            new_password: str | None = None) -> tuple[str, LoginSession]:
    """Check the password and open a console session, recording ``signed_in``; returns what
    ``start_session`` returns. With ``new_password`` the password is changed first (as a user whose
    password was reset must; ``password_changed``). Every refusal (``AuthFailed`` and its kinds,
    ``LoginBusy``) is recorded as ``sign_in_failed`` before it is raised. Runs its own short
    transactions, none of them open while argon2 runs: call it with no transaction open."""
    try:
        user, rehash = _check_password(sessions, username=username, password=password, ip=ip, settings=settings)
        if user.disabled_at is not None:
            raise AccountDisabled(*_DISABLED)
        new_hash = None
        if new_password is not None:
            check_password(new_password, username=user.username, role=user.role, settings=settings)
            if new_password == password:
                raise InvalidAccount(said("新密码与旧密码相同", "The new password is the old one."), said("请选择不同的密码。", "Choose a different password."))
            new_hash = _hash(settings, new_password)
        elif user.must_change_password:
            raise PasswordChangeRequired(said("需要修改密码", "Your password was reset: choose a new one to sign in."),
                                         said("请输入新密码", "Enter a new password with the one you were given."))
    except (AuthFailed, LoginBusy) as e:
        with sessions.begin() as db:
            sign_in_failed(db, custody, username=username, ip=ip, reason=e.code, tool=tool)
        raise
    with sessions.begin() as db:
        u = _after_good_login(db, user, rehash, username)
        if new_hash is not None:
            _set_password(db, u, new_hash, must_change=False)
            custody.record(db, actor=f"user:{u.username}", action="password_changed", tool=tool,
                           tool_version=__version__, detail={"username": u.username, "ip": ip})
        token, s = start_session(db, user=u, ip=ip, user_agent=user_agent)
        custody.record(db, actor=f"user:{u.username}", action="signed_in", tool=tool, tool_version=__version__,
                       detail={"ip": ip, "user_agent": (user_agent or "")[:200]})
    return token, s


def sign_in_failed(db: Session, custody: CustodyLog, *, username: str, ip: str | None, reason: str,
                   tool: str) -> None:
    """Record a refused sign-in (``sign_in_failed``), in its own transaction after the refusal. The
    name is logged NFKC-normalised, and escaped (``ascii``) if it holds an invisible character, so
    that a look-alike never reads like another user's name in the log."""
    shown = normalize(username[:200])[:64]
    if any(unicodedata.category(ch)[0] in "CZ" for ch in shown):
        shown = ascii(shown)
    custody.record(db, actor=f"user:{shown}", action="sign_in_failed", outcome="denied", tool=tool,
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
        raise InvalidAccount(said("API 令牌需要一个名称", "An API token needs a name."), said("请按用途命名，例如 案件系统对接。", "Name it for its use, e.g. 案件系统对接."))
    token = "lh_" + secrets.token_urlsafe(32)
    db.add(ApiToken(token_sha256=token_digest(token), user_id=user.id, name=name.strip()))
    db.flush()
    _event(custody, db, actor, "api_token_issued", username=user.username, name=name)
    return token


def revoke_api_token(db: Session, *, token: str) -> None:
    """Revoke a token its holder presents (idempotent)."""
    row = db.scalars(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token))).one_or_none()
    if row is None:
        raise AuthFailed(said("无法识别该 API 令牌", "API token not recognised."), said("请检查是否复制了完整的令牌。", "Check that the whole token was copied."))
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def revoke_api_tokens(db: Session, custody: CustodyLog, *, username: str, name: str | None, actor: str) -> int:
    """Revoke ``username``'s live API tokens named ``name`` (all of them if ``name`` is None);
    returns how many. Custody event ``api_token_revoked``; a name with no live token is
    ``InvalidAccount``."""
    user = get_user(db, username=username)
    q = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if name is not None:
        q = q.where(ApiToken.name == name.strip())
    rows = list(db.scalars(q))
    if name is not None and not rows:
        raise InvalidAccount(said(f"用户 {user.username} 没有名为 {name!r} 的有效 API 令牌", f"User {user.username} has no live API token named {name!r}."),
                             said("请核对令牌名称（即 liuhen users token --name 所给的名称）。", "Check the token's name (as given to `liuhen users token --name`)."))
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    _event(custody, db, actor, "api_token_revoked", username=user.username, name=name, count=len(rows))
    return len(rows)


def token_user(db: Session, *, token: str, settings: AuthSettings) -> User:
    """The user of a live API token (``last_used_at`` touched); unknown, revoked or older than
    ``token_max_days`` → ``AuthFailed``; its user disabled → ``AccountDisabled``."""
    row = (db.scalars(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token))).one_or_none()
           if token else None)
    if row is None:
        raise AuthFailed(said("无法识别该 API 令牌", "API token not recognised."),
                         said("请以 Authorization: Bearer <令牌> 发送完整令牌；如已遗失，请向管理员申请新令牌。", "Send the whole token as `Authorization: Bearer <token>`; ask an administrator for "
                              "a new one if it was lost."))
    if row.revoked_at is not None:
        raise AuthFailed(said(f"API 令牌 {row.name!r} 已被吊销", f"API token {row.name!r} was revoked."), said("请向管理员申请新令牌。", "Ask an administrator for a new token."))
    if utcnow() - row.created_at > dt.timedelta(days=settings.token_max_days):
        raise AuthFailed(said(f"API 令牌 {row.name!r} 已在签发 {settings.token_max_days:g} 天后过期", f"API token {row.name!r} expired {settings.token_max_days:g} days after it was issued."),
                         said("请向管理员申请新令牌。", "Ask an administrator for a new token."))
    if row.user.disabled_at is not None:
        raise AccountDisabled(*_DISABLED)
    row.last_used_at = utcnow()
    return row.user
