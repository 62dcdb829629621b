"""Officers and recorders.

An officer is identified by the number recorders write into file names (警号 / 执法证号). A
recorder is identified by its device id; ``officer_no`` is whom it is assigned to now. The
history of assignments is in the custody log (``recorder_assigned`` events).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Officer(Base):
    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    officer_no: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Recorder(Base):
    __tablename__ = "recorders"

    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    officer_no: Mapped[str | None] = mapped_column(String(128), index=True)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    assigned_by: Mapped[str | None] = mapped_column(String(128))
    last_station_id: Mapped[str | None] = mapped_column(String(64))
    last_bay: Mapped[str | None] = mapped_column(String(128))
    last_docked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Certificate(Base):
    """An officer's enforcement certificate (行政执法证件): number, category, area, validity. An
    officer may hold several over time; the one valid on a step's date is what counts (法制审核 checks
    执法资格 against it). Changed by ``roster.service.update_certificate``, each change an event."""

    __tablename__ = "officer_certificates"
    __table_args__ = (UniqueConstraint("number", name="uq_officer_certificates_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))  # 执法证号
    category: Mapped[str] = mapped_column(Text, default="")  # 执法类别, e.g. 市场监管
    area: Mapped[str] = mapped_column(Text, default="")  # 执法区域, e.g. 某某县
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="")
