"""Derived files (proxies, posters, thumbnail sprites, waveforms, previews) and what the probe found."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class DerivedFile(Base):
    """A file made from an original, stored like one, pointing back to it, with the command that made it."""

    __tablename__ = "derived_files"
    __table_args__ = (UniqueConstraint("evidence_id", "kind", name="uq_derived_evidence_kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # proxy | poster | sprite | vtt | waveform | preview
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(64))
    store_key: Mapped[str] = mapped_column(String(512))
    store_version: Mapped[str | None] = mapped_column(String(1024))
    tool: Mapped[str] = mapped_column(String(64))
    tool_version: Mapped[str] = mapped_column(String(256))
    command: Mapped[str] = mapped_column(Text)  # JSON list of arguments
    detail: Mapped[str] = mapped_column(Text)  # JSON: path taken (remux/transcode), times, tile, ...
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
