"""Case records. Nothing here is ever deleted: a case is closed, a link is ended (``unlinked_at``),
a text record gets a new version; the old rows stay, and the custody log says who did what."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class CaseCounter(Base):
    """The next registration number of one unit in one year; locked while a case takes a number, in
    the same transaction that inserts the case, so numbers are gap-free and never reused."""

    __tablename__ = "case_counters"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="ck_cases_status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(128), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    source: Mapped[str | None] = mapped_column(String(32))  # 巡查 | 举报 | 交办 | 移送 | ...
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    parties: Mapped[list[Party]] = relationship(order_by="Party.id")
    steps: Mapped[list[Step]] = relationship(order_by="Step.id")


class Party(Base):
    """当事人. ``id_number``, ``phone`` and ``address`` are personal data: never published (公示)."""

    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # person | organisation
    # personal data, sealed (nonce || AES-GCM ciphertext, ``hashing.keys.DataKey``); opened by
    # ``cases.service.party_data`` — the database alone holds no party's name or number in clear text
    name: Mapped[bytes] = mapped_column(LargeBinary)
    id_number: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone: Mapped[bytes | None] = mapped_column(LargeBinary)
    address: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_with: Mapped[str | None] = mapped_column(String(16))  # the data key's id; NULL: clear text (before 0010)


class Step(Base):
    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    place: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    officers: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of officer numbers
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))

    links: Mapped[list[EvidenceLink]] = relationship(order_by="EvidenceLink.id")


class EvidenceLink(Base):
    """A recording (or the part from ``start_s`` to ``end_s`` seconds into it) linked to a step."""

    __tablename__ = "case_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("case_steps.id"), index=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    linked_by: Mapped[str] = mapped_column(String(128))
    unlinked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    unlinked_by: Mapped[str | None] = mapped_column(String(128))


class TextRecord(Base):
    """A text record (执法文书) of a step: an uploaded document or a filled form, in versions."""

    __tablename__ = "text_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("case_steps.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))  # 现场检查笔录, 询问笔录, 查封扣押决定书, ...
    title: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))

    versions: Mapped[list[TextRecordVersion]] = relationship(order_by="TextRecordVersion.version")


class TextRecordVersion(Base):
    """One version, stored write-once like an original and signed by the archive's key: ``manifest``
    is the canonical JSON that was signed (sha256, size, record, version, who, when)."""

    __tablename__ = "text_record_versions"
    __table_args__ = (CheckConstraint("length(sha256) = 64", name="ck_trv_sha256_len"),
                      UniqueConstraint("record_id", "version", name="uq_text_record_versions_record_version"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("text_records.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(128))
    file_name: Mapped[str] = mapped_column(Text)
    store_key: Mapped[str] = mapped_column(String(512))
    store_version: Mapped[str | None] = mapped_column(String(1024))
    form: Mapped[bool] = mapped_column(Boolean, default=False)  # made from a structured form
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
