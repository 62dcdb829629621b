"""Review records. Nothing here is deleted (triggers refuse it): a round is decided, a mark is
superseded by a later one, a notice is read; the custody log says who did what.

``review_cases`` is what the database itself knows of a case's review (its major flag and why),
kept by the service in the transaction of every change that can move it, so that the triggers of
migration 0013 can refuse a decision on a major case that did not pass review."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from liuhen.config import OUTCOMES
from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
OUTCOME_LIST = ", ".join(f"'{o}'" for o in OUTCOMES)
ANSWERS = ("yes", "no", "na")  # 符合 | 不符合 | 不适用
ROUND_STATES = ("submitted", "in_review", "decided")


class ReviewCase(Base):
    """A case's review standing: major or not, and why (JSON list of the reasons' labels)."""

    __tablename__ = "review_cases"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    major: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    reasons: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewMark(Base):
    """A case marked major (or no longer major) by hand, with a reason; the latest mark counts."""

    __tablename__ = "review_marks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    major: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    marked_by: Mapped[str] = mapped_column(String(128))
    marked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewRound(Base):
    """One submission (提请法制审核) and its review. A resubmission is a new round; old rounds stay.

    The proposal (kind, content, legal basis, discretion, amount in fen) is hashed as
    ``proposal_sha256`` (``review.service.proposal_hash``); for 变更 the reviewer's changed proposal is
    kept beside it and ``final_sha256`` is its hash, else ``final_sha256`` is the proposal's own. A
    decision may be recorded only with content hashing to the latest passing round's ``final_sha256``.
    ``materials`` is the canonical JSON of what was pinned (every text-record version, linked
    recording and the coverage report, each with its SHA-256); ``materials_sha256`` hashes it."""

    __tablename__ = "review_rounds"
    __table_args__ = (
        UniqueConstraint("case_id", "round_no", name="uq_review_rounds_case_round"),
        CheckConstraint("state IN ('submitted', 'in_review', 'decided')", name="ck_review_rounds_state"),
        CheckConstraint(f"outcome IS NULL OR outcome IN ({OUTCOME_LIST})", name="ck_review_rounds_outcome"),
        CheckConstraint("(state = 'decided') = (outcome IS NOT NULL)", name="ck_review_rounds_decided"),
        Index("ix_review_rounds_queue", "reviewer_unit_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    round_no: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # the handling unit (the case's)
    reviewer_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # whose queue it is in
    state: Mapped[str] = mapped_column(String(16), default="submitted")
    major: Mapped[bool] = mapped_column(Boolean, default=True)
    major_reasons: Mapped[str] = mapped_column(Text, default="[]")
    # the proposed decision
    decision_kind: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    discretion: Mapped[str] = mapped_column(Text, default="")  # 裁量基准 applied
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)  # 罚没金额, in fen (分)
    statement: Mapped[str] = mapped_column(Text)  # the handler's statement (承办人说明)
    proposal_sha256: Mapped[str] = mapped_column(String(64))
    materials: Mapped[str] = mapped_column(Text)
    materials_sha256: Mapped[str] = mapped_column(String(64))
    submitted_by: Mapped[str] = mapped_column(String(128))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_on: Mapped[dt.date] = mapped_column(Date)  # the last working day of the review
    # the review
    reviewer: Mapped[str | None] = mapped_column(String(128))
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    opinion: Mapped[str | None] = mapped_column(Text)
    changed_kind: Mapped[str | None] = mapped_column(String(64))  # 变更: the changed proposal
    changed_content: Mapped[str | None] = mapped_column(Text)
    changed_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    final_sha256: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    opinion_record_id: Mapped[int | None] = mapped_column(ForeignKey("text_records.id"))


class ReviewAnswer(Base):
    """The reviewer's answer to one element of the checklist, with liuhen's own pre-filled finding
    beside it (``prefill``, ``prefill_reason``); changed in place until the round is decided."""

    __tablename__ = "review_answers"
    __table_args__ = (
        UniqueConstraint("round_id", "element", name="uq_review_answers_round_element"),
        CheckConstraint("answer IS NULL OR answer IN ('yes', 'no', 'na')", name="ck_review_answers_answer"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("review_rounds.id"), index=True)
    element: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str | None] = mapped_column(String(8))
    comment: Mapped[str] = mapped_column(Text, default="")
    prefill: Mapped[str | None] = mapped_column(String(8))
    prefill_reason: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ReviewDecision(Base):
    """A decision recorded on a reviewed case (a 决定 step or a 决定书 version): the round it rests on
    and the hash of its content, which the database compares with the round's ``final_sha256``."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("review_rounds.id"))
    what: Mapped[str] = mapped_column(String(8))  # step | record
    kind: Mapped[str] = mapped_column(String(64))
    decision_sha256: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewGateKind(Base):
    """The step kinds and text-record kinds that are decisions (``[review] decision_steps`` and
    ``decision_records``), mirrored from config at start so that the triggers know them."""

    __tablename__ = "review_gate_kinds"

    what: Mapped[str] = mapped_column(String(8), primary_key=True)  # step | record
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)


class ReviewNotice(Base):
    """A notice to the handling unit (a round decided, materials asked for), shown in the console."""

    __tablename__ = "review_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    round_id: Mapped[int] = mapped_column(ForeignKey("review_rounds.id"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    read_by: Mapped[str | None] = mapped_column(String(128))
