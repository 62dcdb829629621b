"""Decision notices (事后公示). Nothing here is deleted: a draft is published, a published notice is
withdrawn (撤回) and stays, marked so, with its reason; the custody log says who did what.

A notice holds only what may be public: its fields are made from the decision's structured fields
after the personal-data detectors (``redaction.pii``) and the name rule have masked them, so no
clear personal data is ever written here (the decision document itself stays a signed text record
of the case). ``masks`` is JSON ``{field: [[start, end, kind], ...]}``: where in each field a mask
stands (a detector's kind, ``name`` or ``hand`` for one the publisher added), so the console can
highlight them. ``public_no`` is the notice's public number; the public site shows no other id."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
STATES = ("draft", "published", "withdrawn", "superseded")
FIELDS = ("doc_number", "party", "facts", "legal_basis", "decision")  # the masked, public text fields


class Notice(Base):
    __tablename__ = "publication_notices"
    __table_args__ = (
        CheckConstraint("state IN ('draft', 'published', 'withdrawn', 'superseded')", name="ck_publication_state"),
        CheckConstraint("(state IN ('published', 'withdrawn')) = (published_at IS NOT NULL)",
                        name="ck_publication_published"),
        CheckConstraint("(state = 'withdrawn') = (withdrawn_at IS NOT NULL)", name="ck_publication_withdrawn"),
        Index("ix_publication_unit_state", "unit_id", "state"),
        Index("ix_publication_published", "published_at", "id"),  # the public list: newest published first
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    public_no: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    record_id: Mapped[int] = mapped_column(ForeignKey("text_records.id"), index=True)
    record_version: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32))  # the case's category (执法类别)
    decision_kind: Mapped[str | None] = mapped_column(String(64))
    doc_number: Mapped[str] = mapped_column(Text, default="")
    party: Mapped[str] = mapped_column(Text, default="")
    facts: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(Text, default="")
    agency: Mapped[str] = mapped_column(Text)
    decided_on: Mapped[dt.date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)  # statutory working days it had ([publication] deadlines)
    # the last working day to publish it; NULL: it falls in a year the holiday calendar does not cover yet
    # (never guessed: the notice is listed as deadline_unknown until [review.holidays.<year>] or
    # chinesecalendar covers it, and ``refresh_deadlines`` fills it in)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    masks: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    published_by: Mapped[str | None] = mapped_column(String(128))
    published_on: Mapped[dt.date | None] = mapped_column(Date)  # the local date it was published (late or not)
    html_sha256: Mapped[str | None] = mapped_column(String(64))  # the checked public page, as published
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(128))
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
