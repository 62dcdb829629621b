"""Archive records: stations, evidence (one row per distinct content), sightings, derived files
(proxies, posters, sprites made from an original and stored like one), what users add to evidence
(tags, notes), the search index, and what stations report of their bays."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str | None] = mapped_column(String(64))
    # the unit (单位) that runs the station: footage of recorders with no known officer belongs to it
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Evidence(Base):
    """One distinct content, stored once however often it was offloaded."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint("length(sha256) = 64", name="ck_evidence_sha256_len"),
        CheckConstraint("size >= 0", name="ck_evidence_size"),
        Index("ix_evidence_unit_recorded", "unit_id", "recorded_at", "id"),  # (the search's order: recorded_at, id)
        Index("ix_evidence_officer_recorded", "officer_id", "recorded_at"),
        Index("ix_evidence_device_recorded", "device_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    store_key: Mapped[str] = mapped_column(String(512))
    store_version: Mapped[str | None] = mapped_column(String(1024))
    file_name: Mapped[str] = mapped_column(Text)
    media_kind: Mapped[str] = mapped_column(String(16))  # video | audio | photo | sidecar | other
    media_state: Mapped[str] = mapped_column(String(16))  # ok | broken | empty | unknown
    media_note: Mapped[str | None] = mapped_column(Text)
    device_id: Mapped[str | None] = mapped_column(String(128), index=True)
    officer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    important: Mapped[bool] = mapped_column(Boolean, default=False)
    # whose footage it is: its officer's unit within the station's unit tree, else the station's; NULL = the
    # station had no unit (archive.attribution)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # why the attribution waits for review (archive.attribution), None when nothing is in question
    attribution_review: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # filled by the media jobs (probe, render)
    recorded_at_source: Mapped[str | None] = mapped_column(String(16))  # container | file_name | axis
    # pending | ready | unplayable | none (not media)
    playback: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    playback_note: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    video_codec: Mapped[str | None] = mapped_column(String(32))
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    probe_json: Mapped[str | None] = mapped_column(Text)
    gps_json: Mapped[str | None] = mapped_column(Text)

    sightings: Mapped[list[Sighting]] = relationship(back_populates="evidence", order_by="Sighting.id")


class Sighting(Base):
    """One time a recorder file was offloaded: the station's signed manifest, kept byte for byte."""

    __tablename__ = "sightings"
    __table_args__ = (Index("ix_sightings_station_evidence", "station_id", "evidence_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    manifest_id: Mapped[str] = mapped_column(String(36), unique=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"))
    bay: Mapped[str] = mapped_column(String(128))
    device_id: Mapped[str | None] = mapped_column(String(128))
    officer_id: Mapped[str | None] = mapped_column(String(128))
    layout: Mapped[str] = mapped_column(String(32))
    original_path: Mapped[str] = mapped_column(Text)
    original_path_hex: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    file_mtime: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    station_key_id: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    release_action: Mapped[str | None] = mapped_column(String(16))

    evidence: Mapped[Evidence] = relationship(back_populates="sightings")


class EvidenceTag(Base):
    """A label a user put on evidence (e.g. 现场检查, 查封扣押), searchable."""

    __tablename__ = "evidence_tags"

    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EvidenceNote(Base):
    """A note a user wrote on evidence; notes are only ever added, never edited."""

    __tablename__ = "evidence_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SearchTerm(Base):
    """One term of evidence's searchable text (``archive.terms.terms``): words, their prefixes,
    and single characters and pairs of Chinese text, so that 张三 finds 张三 with an index look-up."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), primary_key=True, index=True)


class BayStatus(Base):
    """What a station last reported of one bay: the docked recorder and its files' progress (JSON)."""

    __tablename__ = "bay_status"

    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    bay: Mapped[str] = mapped_column(String(128), primary_key=True)
    device_id: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))  # empty | waiting | offloading | done | error
    snapshot: Mapped[str] = mapped_column(Text)  # JSON: counts, bytes and the files of this docking
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


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


class FixityState(Base):
    """Where the continuous fixity audit stands for one stored object (an original or a derived
    file, by store key): when it was last re-hashed and with what outcome, and which audit holds it
    now (a claim under a lease, so that audits on several hosts never check one object twice).
    Progress lives here, so an audit that is stopped continues where it stopped. No foreign key: the
    object's evidence row may be gone (that is for ``liuhen verify`` to name), the state stays."""

    __tablename__ = "fixity_state"
    __table_args__ = (
        CheckConstraint("kind IN ('original', 'derived')", name="ck_fixity_state_kind"),
        Index("ix_fixity_state_due", "last_checked_at"),
    )

    store_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    evidence_id: Mapped[int | None] = mapped_column(BigId)
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_outcome: Mapped[str | None] = mapped_column(String(16))  # success | failure
    last_detail: Mapped[str | None] = mapped_column(Text)  # what failed, for `liuhen fixity status`
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
