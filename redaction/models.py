"""Redaction records. Nothing here is deleted (triggers of migration 0015 refuse it), and a plan
version, an approval or a release never changes once written; a render changes only while its job
runs (pending → running → done | failed).

* ``RedactionPlan``: one plan of one recording (a recording may have several, e.g. one per release).
* ``RedactionVersion``: each saved state of a plan, numbered from 1: ``content`` is the plan's
  canonical JSON (``redaction.plan.Plan.canonical``) and ``sha256`` its hash; ``made_by``, ``why``
  and ``base_version`` (the version the edit started from) say who changed it and why.
* ``RedactionApproval``: a second person's approval of one version (the four-eyes rule is the
  service's, ``redaction.service.approve``).
* ``RedactionRender``: a redacted copy rendered from the original and one version, by a job (kind
  ``redaction_render``); once done, the copy and its log are stored like derived files (``derived/``
  namespace of the archive store) with their SHA-256, the exact ffmpeg commands and tool versions.
* ``RedactionRelease``: a release (a download or a release bag) of renders, by whom, with the bag's hash.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liuhen.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
RENDER_STATES = ("pending", "running", "done", "failed")


class RedactionPlan(Base):
    __tablename__ = "redaction_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    original_sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RedactionVersion(Base):
    __tablename__ = "redaction_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_redaction_versions_plan_version"),
                      CheckConstraint("version >= 1", name="ck_redaction_versions_version"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("redaction_plans.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)  # Plan.canonical(), UTF-8
    sha256: Mapped[str] = mapped_column(String(64))
    made_by: Mapped[str] = mapped_column(String(128))
    made_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    why: Mapped[str] = mapped_column(Text, default="")
    base_version: Mapped[int | None] = mapped_column(Integer)  # None: the first version


class RedactionApproval(Base):
    __tablename__ = "redaction_approvals"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_redaction_approvals_plan_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("redaction_plans.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))  # the approved version's content hash
    approved_by: Mapped[str] = mapped_column(String(128))
    approved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    why: Mapped[str] = mapped_column(Text, default="")


class RedactionRender(Base):
    __tablename__ = "redaction_renders"
    __table_args__ = (CheckConstraint("state IN ('pending', 'running', 'done', 'failed')",
                                      name="ck_redaction_renders_state"),
                      Index("ix_redaction_renders_plan", "plan_id", "version"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("redaction_plans.id"))
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    plan_sha256: Mapped[str] = mapped_column(String(64))
    source_sha256: Mapped[str] = mapped_column(String(64))  # the original's
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    asked_by: Mapped[str] = mapped_column(String(128))
    asked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    encoder: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))  # the redacted copy
    size: Mapped[int | None] = mapped_column(BigInteger)
    store_key: Mapped[str | None] = mapped_column(String(512))
    store_version: Mapped[str | None] = mapped_column(String(1024))
    log_sha256: Mapped[str | None] = mapped_column(String(64))  # the redaction log (JSON)
    log_size: Mapped[int | None] = mapped_column(BigInteger)
    log_store_key: Mapped[str | None] = mapped_column(String(512))
    log_store_version: Mapped[str | None] = mapped_column(String(1024))
    commands: Mapped[str | None] = mapped_column(Text)  # JSON list of the ffmpeg command lines
    tool_versions: Mapped[str | None] = mapped_column(Text)  # JSON object
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class RedactionRelease(Base):
    __tablename__ = "redaction_releases"
    __table_args__ = (CheckConstraint("what IN ('download', 'bag')", name="ck_redaction_releases_what"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    what: Mapped[str] = mapped_column(String(16))
    render_ids: Mapped[str] = mapped_column(Text)  # JSON list
    sha256: Mapped[str] = mapped_column(String(64))  # the file handed out (the copy, or the bag's zip)
    size: Mapped[int] = mapped_column(BigInteger)
    released_by: Mapped[str] = mapped_column(String(128))
    released_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RedactionDetection(Base):
    """A run of the detector over a plan's recording (job kind ``redaction_detect``), who asked for
    it, and the version it saved (``result_version``) once done."""

    __tablename__ = "redaction_detections"
    __table_args__ = (CheckConstraint("state IN ('pending', 'running', 'done', 'failed')",
                                      name="ck_redaction_detections_state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("redaction_plans.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    asked_by: Mapped[str] = mapped_column(String(128))
    asked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    result_version: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
