"""The confirmed masking of a text record's version (文书脱敏): what a person masked and why, and
the masked text it gives (``redaction.records`` writes and reads it)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashing.binding import Binding
from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class TextRedaction(Base):
    """One confirmed masking of one version of a text record; never changed (a new one replaces it).

    ``masks``: canonical JSON of ``[{"field", "start", "end", "kind"}, ...]`` (character offsets into
    the field's text); ``dropped``: the detector's findings the person did not keep (field, kind,
    start, end); ``content``: canonical JSON of ``{field: masked text}``, the release copy."""

    __tablename__ = "text_redactions"
    __table_args__ = (CheckConstraint("length(version_sha256) = 64", name="ck_text_redactions_version_sha256"),
                      CheckConstraint("length(content_sha256) = 64", name="ck_text_redactions_content_sha256"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("text_records.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    version_sha256: Mapped[str] = mapped_column(String(64))
    masks: Mapped[str] = mapped_column(Text)
    dropped: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    detector: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


TEXT_REDACTION = Binding("text_redactions", TextRedaction, (
    "record_id", "version", "version_sha256", "masks", "dropped", "why", "content", "content_sha256", "detector",
    "created_by", "created_at"))
BINDINGS = (TEXT_REDACTION,)
