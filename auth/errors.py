"""Refusals of the accounts package, each a sentence the person at the screen can act on.

Login and session messages put Chinese first, then English, because they are read on the
console's sign-in page.
"""

from __future__ import annotations

from liuhen.errors import LiuhenError, NotFound


class AuthFailed(LiuhenError):
    """Wrong user name or password, an unknown or revoked token: who is asking is not known (HTTP 401)."""

    code = "auth_failed"


class AccountDisabled(AuthFailed):
    """An administrator disabled the account (``liuhen users disable``): it cannot sign in, and its
    sessions and tokens are refused, until it is enabled again. Said only to whoever gave its right
    password (or holds its session or token)."""

    code = "account_disabled"


class PasswordChangeRequired(AuthFailed):
    """The password was reset by an administrator: the user must choose a new one to sign in."""

    code = "password_change_required"


class LoginBusy(LiuhenError):
    """Every password-checking worker stayed busy for ``[auth] login_wait_s``: try again (HTTP 503).
    Said before any password is checked, so it tells nothing about the account."""

    code = "busy"


class SessionExpired(AuthFailed):
    """The console session was signed out, or idle longer than ``[auth] idle_minutes``."""

    code = "session_expired"


class Forbidden(LiuhenError):
    """Who is asking is known, but their role or units do not allow this (HTTP 403)."""

    code = "forbidden"


class InvalidAccount(LiuhenError):
    """An account or unit cannot be created as asked (HTTP 400 / CLI exit non-zero)."""

    code = "invalid_account"


class UnknownRole(InvalidAccount):
    code = "unknown_role"


class UnknownUnit(InvalidAccount):
    code = "unknown_unit"


class WeakPassword(InvalidAccount):
    code = "weak_password"


class AlreadyExists(InvalidAccount):
    code = "already_exists"


class UnknownUser(NotFound):
    code = "unknown_user"
