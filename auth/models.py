"""Account records: units (单位, a tree), users, extra unit grants, console sessions, API tokens.

No secret is stored in the clear: passwords as argon2id hashes, session and API tokens as the
SHA-256 of the random token handed out once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from auth.policy import ROLES
from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

_ROLE_LIST = ", ".join(f"'{r}'" for r in ROLES)


class Unit(Base):
    """An organisational unit (单位), e.g. code ``110101-JT``; ``parent_id`` builds the tree."""

    __tablename__ = "units"
    __table_args__ = (CheckConstraint("parent_id IS NULL OR parent_id <> id", name="ck_units_parent"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({_ROLE_LIST})", name="ck_users_role"),
        CheckConstraint("failed_logins >= 0", name="ck_users_failed_logins"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # NFKC-normalised (auth.credentials)
    username_key: Mapped[str] = mapped_column(String(64), unique=True)  # NFKC + case-folded: what must be unique
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(512))  # argon2id, PHC string format
    role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # unused since 0009 (see LoginThrottle)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # set: no sign-in, no session, no token
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)  # after an administrator's reset
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    legal_qualification: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))  # 法律职业资格
    officer_no: Mapped[str | None] = mapped_column(String(128))  # the user's own officer number (separation of duties)

    unit: Mapped[Unit] = relationship()


class UnitGrant(Base):
    """A unit, beyond their own, whose evidence a user may also see (with the units below it)."""

    __tablename__ = "unit_grants"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Session(Base):
    """A console login. ``id`` is the SHA-256 (hex) of the cookie's token; the token itself is
    never stored."""

    __tablename__ = "user_sessions"
    __table_args__ = (CheckConstraint("length(id) = 64", name="ck_user_sessions_id_len"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    csrf_token: Mapped[str] = mapped_column(String(64))
    expired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A bearer token for the API, shown once when issued; only its SHA-256 (hex) is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("length(token_sha256) = 64", name="ck_api_tokens_sha256_len"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Failed logins counted for one user name (``name:<key>``, whether the user exists or not) or
    one client address (``addr:<ip>``): past the free attempts each further one must wait until
    ``blocked_until`` (doubling, bounded). Cleared by a good login or an administrator's unlock."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class DownloadLink(Base):
    """A one-time download link (``auth.links``): issued by a POST, used by one GET of its user
    before ``expires_at``; only the token's SHA-256 (hex) is kept."""

    __tablename__ = "download_links"
    __table_args__ = (CheckConstraint("length(token_sha256) = 64", name="ck_download_links_sha256_len"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    what: Mapped[str] = mapped_column(String(32))  # original | export | record | case_export | export_file
    target_id: Mapped[int] = mapped_column(BigInteger)  # the evidence, text record or case
    version: Mapped[int | None] = mapped_column(Integer)  # a text record's version
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
