"""Retention records: the computed keep-until of each evidence, legal holds and what they hold,
disposals (pending → destroyed, or restored) with their approvals, and the history of every
keep-until change.

Nothing here is deleted (triggers refuse it): a hold is released, a disposal restored or carried
out; a destroyed evidence keeps its row, links and custody as a tombstone."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

# why an evidence is kept: until a date, or without end for one of three reasons
KEEPS = ("until", "open_case", "held", "permanent")
DISPOSAL_STATES = ("pending", "restored", "destroying", "destroyed")
HOLD_SCOPES = ("evidence", "case", "officer", "search")


class RetentionState(Base):
    """One evidence's retention: its class (chosen by a user; NULL: the default class), and the
    keep-until computed from every reason that applies (``retention.rules``). ``keep`` says which
    reason wins: a date (``until``), or no end while a case is open, a hold stands, or for ever.
    ``lock_until`` and ``lock_hold`` are what the store's Object Lock was last set to."""

    __tablename__ = "evidence_retention"
    __table_args__ = (
        CheckConstraint("keep IN ('until', 'open_case', 'held', 'permanent')", name="ck_evidence_retention_keep"),
        Index("ix_evidence_retention_due", "keep", "retain_until"),
    )

    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), primary_key=True)
    class_name: Mapped[str | None] = mapped_column(String(64))
    keep: Mapped[str] = mapped_column(String(16))
    retain_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reasons: Mapped[str] = mapped_column(Text, default="[]")  # JSON: every reason with its own date
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lock_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lock_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class RetentionChange(Base):
    """One change of an evidence's keep-until: old and new (``keep`` and date), why, and the custody
    event (``seq``) that recorded it (one event may record the changes of many evidence)."""

    __tablename__ = "retention_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    old: Mapped[str | None] = mapped_column(String(64))  # "until:2027-05-01T..." | "open_case" | ... | NULL (first)
    new: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


class LegalHold(Base):
    """A legal hold (保全/冻结): nothing it holds can be disposed until it is released, with a reason."""

    __tablename__ = "legal_holds"
    __table_args__ = (CheckConstraint("scope_kind IN ('evidence', 'case', 'officer', 'search')",
                                      name="ck_legal_holds_scope"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)  # whose hold it is
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(Text)  # JSON: {"evidence": [...]} | {"case_id": n} | {"officer", "from", "to"} | {"query": {...}}
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(128))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(128))
    release_reason: Mapped[str | None] = mapped_column(Text)


class HoldItem(Base):
    """One evidence a hold holds (resolved from its scope when placed; a case hold also takes what is
    linked to the case later, an officer hold footage of its range that arrives later)."""

    __tablename__ = "hold_items"
    __table_args__ = (UniqueConstraint("hold_id", "evidence_id", name="uq_hold_items_hold_evidence"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("legal_holds.id"), index=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Disposal(Base):
    """One evidence's way out: ``pending`` (scheduled, restorable until ``due_at``), then
    ``destroying`` (its destruction record is committed, its bytes are going) and ``destroyed``; or
    ``restored`` (kept, with a reason). ``rule`` is the retention that made it due, as scheduled."""

    __tablename__ = "disposals"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'restored', 'destroying', 'destroyed')", name="ck_disposals_state"),
        # at most one disposal under way per evidence
        Index("uq_disposals_active", "evidence_id", unique=True,
              sqlite_where=text("state IN ('pending', 'destroying', 'destroyed')"),
              postgresql_where=text("state IN ('pending', 'destroying', 'destroyed')")),
        Index("ix_disposals_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    rule: Mapped[str] = mapped_column(Text)  # JSON: class, keep-until, reasons as they stood when scheduled
    scheduled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    scheduled_by: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # end of the grace period
    restored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    restored_by: Mapped[str | None] = mapped_column(String(128))
    restore_reason: Mapped[str | None] = mapped_column(Text)
    destroy_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    destroyed_keys: Mapped[str | None] = mapped_column(Text)  # JSON: every store key whose bytes were removed


class DisposalApproval(Base):
    """A person's approval of one disposal (two people sign each destruction: whoever scheduled it,
    when a person did, and an approver who is never that person)."""

    __tablename__ = "disposal_approvals"
    __table_args__ = (UniqueConstraint("disposal_id", "actor", name="uq_disposal_approvals_actor"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    disposal_id: Mapped[int] = mapped_column(ForeignKey("disposals.id"), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
