"""One-time download links: a download that leaves a custody event is never a bare GET.

A browser sends the session cookie with any GET a foreign page triggers (a link, an image, a
redirect), so a GET that downloads an original or an export, and records it in the user's name,
could be made by another site. The console therefore asks for a link with a POST (which carries
the CSRF header) and then fetches it: ``issue`` returns a random token and keeps only its SHA-256
with the user and an expiry; ``redeem`` marks it used in the same statement that checks it, so it
works once, for its own user, before it expires. A missing, used, expired or foreign token is the
same ``None`` — and no event, no bytes.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from auth.models import DownloadLink
from auth.service import token_digest
from liuhen.db import utcnow

WHAT = ("original", "export", "record", "case_export", "export_file")


def issue(db: Session, *, user_id: int, what: str, target_id: int, version: int | None = None,
          seconds: float) -> tuple[str, dt.datetime]:
    """(token, expires_at) of a new link to ``what`` ``target_id`` for ``user_id``."""
    if what not in WHAT:
        raise ValueError(f"unknown download {what!r}")
    token = secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(seconds=seconds)
    db.add(DownloadLink(token_sha256=token_digest(token), user_id=user_id, what=what, target_id=target_id,
                        version=version, expires_at=expires))
    db.flush()
    return token, expires


def redeem(db: Session, *, token: str, user_id: int) -> DownloadLink | None:
    """The link, now used; None if there is no live one of ``user_id`` with this token."""
    now = utcnow()
    digest = token_digest(token)
    done = db.execute(update(DownloadLink).where(
        DownloadLink.token_sha256 == digest, DownloadLink.user_id == user_id, DownloadLink.used_at.is_(None),
        DownloadLink.expires_at > now).values(used_at=now).execution_options(synchronize_session=False))
    assert isinstance(done, CursorResult)
    if done.rowcount != 1:
        return None
    return db.scalars(select(DownloadLink).where(DownloadLink.token_sha256 == digest)).one()
