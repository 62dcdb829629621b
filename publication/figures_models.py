"""Approved annual figures (年度行政执法数据): the frozen snapshot a publisher approved for one unit and
one year. Rows are never changed or deleted: a new approval of the same unit and year is a new row
naming the one it supersedes (``supersedes_id``), so the history of approvals stays; the public site
shows the newest. ``snapshot`` is the canonical JSON of ``publication.figures.Figures.to_dict()``
at approval, ``sha256`` its SHA-256."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class FiguresApproval(Base):
    __tablename__ = "publication_figures"
    __table_args__ = (
        CheckConstraint("length(sha256) = 64", name="ck_publication_figures_sha256"),
        CheckConstraint("year BETWEEN 1 AND 9999", name="ck_publication_figures_year"),
        Index("ix_publication_figures_unit_year", "unit_id", "year", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    year: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[str] = mapped_column(Text)  # canonical JSON of the figures as approved
    sha256: Mapped[str] = mapped_column(String(64))  # of ``snapshot`` (UTF-8)
    approved_by: Mapped[str] = mapped_column(String(128))
    approved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("publication_figures.id"))
