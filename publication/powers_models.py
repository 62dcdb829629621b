"""Powers and procedures (权责清单 / 执法流程, 事前公示): documents the agency provides, each upload a new
version of a titled document of a unit. Nothing is replaced or deleted: the newest version is the
current one on the public site, older ones are listed there as its history.

The document's bytes are kept in the row (``content``; a PDF or a plain-text/Markdown file of at most
``publication.powers.MAX_BYTES``) with their SHA-256, so the public site reads this one table and
nothing of the archive's store. ``public_id`` is the version's public name (a random string of
letters); the public site shows no row or unit id."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from liuhen.db import Base, UTCDateTime, utcnow
from publication.models import BigId

KINDS = ("权责清单", "执法流程", "服务指南", "其他")
MIMES = ("application/pdf", "text/plain", "text/markdown")


class PowersDocument(Base):
    __tablename__ = "publication_powers"
    __table_args__ = (
        UniqueConstraint("unit_id", "title", "version", name="uq_publication_powers_version"),
        CheckConstraint("version >= 1", name="ck_publication_powers_version"),
        CheckConstraint("size > 0", name="ck_publication_powers_size"),
        CheckConstraint("length(sha256) = 64", name="ck_publication_powers_sha256"),
        CheckConstraint("mime IN ('application/pdf', 'text/plain', 'text/markdown')", name="ck_publication_powers_mime"),
        Index("ix_publication_powers_unit_title", "unit_id", "title"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))  # 权责清单, 执法流程, 服务指南, 其他
    version: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))  # read only when the file is served
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")  # what changed in this version (optional)
