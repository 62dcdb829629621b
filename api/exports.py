"""``/api/v1/exports``: exports of several recordings or of a whole case, made by a job.

* ``POST /exports`` with ``{"evidence_ids": [...]}`` or ``{"case_id": N}`` (and ``"proxies": bool``,
  false by default) checks every recording or the case now (another unit's answers 404 like a
  missing one) and answers ``202 {"export_id", "state"}``; the export row and its job (kind
  ``export``, on the durable job queue) commit together.
* The job streams the bag (``archive.bagstream``: media stored, not compressed; memory flat) into
  ``[exports] path``, counting the payload bytes done; once the zip is whole it is renamed into
  place in the transaction that marks the export ``done`` and writes the ``exported`` custody event
  of every recording in it (and ``case_exported`` for a case).
* ``GET /exports/{id}`` says the state, the bytes done and in all, and what went wrong in words;
  ``GET /exports/{id}/download`` sends the zip (one byte range if asked), each time a
  ``downloaded`` custody event of every recording (and of the case). A console session fetches it
  through a one-time link (``POST /exports/{id}/download/link``), as every download.
* An export is its maker's only: anybody else's, whatever their role or unit, answers 404 exactly
  like one that does not exist (an ``access_denied`` event). Making one needs ``evidence.export``.
* The zip is removed ``[exports] keep_hours`` after it was made (the export then reads
  ``expired``); the row stays.

A single recording is not a job: ``GET /evidence/{id}/export`` streams its bag at once (``send_bag``
here), with ``Content-Length`` so the browser shows its own progress.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Body, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

import liuhen
from api import access, streaming
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, MAX_ID, ErrorOut
from archive import bagstream
from archive.bagstream import Plan, Streamed, event_detail, plan_bag, stream_bag, zip_size
from archive.context import Archive
from archive.errors import ExportError, ExportNotReady
from archive.models import Evidence
from auth.models import User
from jobs import queue
from jobs.errors import LeaseLost
from jobs.models import FAILED, Export, Job
from jobs.worker import JobContext
from liuhen.db import utcnow
from liuhen.errors import LiuhenError, NotFound
from liuhen.words import said

router = APIRouter(tags=["exports"], responses={**ERRORS}, dependencies=[StrictQuery])
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
KIND = "export"
MAX_IDS = 1000
_ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}


def _s(zh: str, en: str) -> str:
    """A sentence in both languages for an error (``liuhen.words.said``)."""
    return cast(str, said(zh, en))


class ExportNotFound(NotFound):
    code = "export_not_found"


def _not_found(export_id: int) -> ExportNotFound:
    return ExportNotFound(_s(f"没有编号为 {export_id} 的导出，或它不是您的导出", f"There is no export {export_id} of yours."),
                          _s("导出只有发起人本人可以查看和下载；请在“我的导出”中查看您的导出。",
                             "An export is seen and downloaded only by whoever asked for it; see your exports "
                             "under My exports."))


# ---------------------------------------------------------------------------- the API's shapes


class EvidenceExportIn(BaseModel):
    """Export these recordings (1 to 1000, of the user's units)."""

    model_config = ConfigDict(extra="forbid")
    evidence_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=MAX_IDS)
    proxies: bool = False  # also the playable proxies, posters and thumbnails (by default: the originals only)


class CaseExportIn(BaseModel):
    """Export this case's bag (its records, linked recordings the user may see, coverage, custody)."""

    model_config = ConfigDict(extra="forbid")
    case_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    proxies: bool = False


ExportIn = EvidenceExportIn | CaseExportIn  # name the recordings or the case, not both


class ExportStarted(BaseModel):
    export_id: int
    state: str


class ExportOut(BaseModel):
    export_id: int
    state: Literal["pending", "running", "done", "failed", "expired"]
    evidence_ids: list[int]
    case_id: int | None
    proxies: bool
    bytes_done: int  # payload bytes written so far
    bytes_total: int  # payload bytes in all (0 until the job starts)
    error: str | None  # what went wrong, in words (state failed)
    file_name: str | None
    size: int | None  # the zip's size, once done
    sha256: str | None  # the zip's SHA-256, once done
    created_at: dt.datetime
    finished_at: dt.datetime | None
    expires_at: dt.datetime | None  # when the zip is removed
    download: str | None  # the download route, once done


def _out(x: Export, job: Job | None) -> ExportOut:
    state, error = x.state, x.error
    if state in ("pending", "running") and job is not None and job.state == FAILED:
        state, error = "failed", error or job.last_error
    return ExportOut(export_id=x.id, state=cast(Any, state), evidence_ids=json.loads(x.evidence_ids),
                     case_id=x.case_id, proxies=x.proxies, bytes_done=x.bytes_done, bytes_total=x.bytes_total,
                     error=error, file_name=x.file_name, size=x.size, sha256=x.sha256, created_at=x.created_at,
                     finished_at=x.finished_at, expires_at=x.expires_at,
                     download=f"/api/v1/exports/{x.id}/download" if state == "done" else None)


# ---------------------------------------------------------------------------- the service


def folder(archive: Archive) -> Path:
    return Path(archive.settings.exports.path)


def zip_path(archive: Archive, x: Export) -> Path:
    assert x.file_name is not None
    return folder(archive) / f"{x.id}-{x.file_name}"


def sweep(archive: Archive, db: Session) -> int:
    """Remove the zips of exports past their ``expires_at`` (state ``expired``), in the caller's
    transaction; how many. A zip already gone (removed by hand) is no error."""
    n = 0
    for x in db.scalars(select(Export).where(Export.state == "done", Export.expires_at < utcnow())):
        try:
            zip_path(archive, x).unlink(missing_ok=True)
        except OSError:
            continue  # tried again next time
        x.state = "expired"
        n += 1
    return n


def own(archive: Archive, db: Session, p: access.Principal, export_id: int, request: Request | None) -> Export:
    """The export ``export_id`` if ``p`` made it; anybody else's answers exactly like a missing one
    (an ``access_denied`` event: reason ``unit`` when its maker's unit is not one ``p`` sees,
    ``owner`` when it is)."""
    access.require(archive, db, p, "evidence.export", request)
    x = db.get(Export, export_id)
    if x is None:
        access.missing(archive, db, p, what="export", ident=export_id, request=request)
        raise _not_found(export_id)
    if x.user_id != p.user_id:
        maker = db.get(User, x.user_id)
        reason = "owner" if maker is not None and maker.unit_id in p.scope.units else "unit"
        access.denied(archive, db, p, permission="evidence.export", reason=reason, request=request)
        raise _not_found(export_id)
    return x


def start(archive: Archive, db: Session, p: access.Principal, body: ExportIn, request: Request | None) -> Export:
    """Check what is asked now and add the export and its job, in the caller's transaction."""
    access.require(archive, db, p, "evidence.export", request)
    case_id: int | None = None
    if isinstance(body, CaseExportIn):
        access.require(archive, db, p, "cases.view", request)
        case_id = access.case(archive, db, p, body.case_id, "evidence.export", request).id
        ids: list[int] = []
    else:
        ids = list(dict.fromkeys(body.evidence_ids))
        for eid in ids:
            access.evidence(archive, db, p, eid, "evidence.export", request)
    job_id = queue.enqueue_new(db, kind=KIND)
    x = Export(user_id=p.user_id, actor=p.actor, evidence_ids=json.dumps(ids), case_id=case_id,
               proxies=body.proxies, state="pending", job_id=job_id, bytes_done=0, bytes_total=0)
    db.add(x)
    db.flush()
    return x


# ---------------------------------------------------------------------------- the job


def _fail(archive: Archive, export_id: int, error: str) -> None:
    with archive.sessions.begin() as db:
        x = db.get_one(Export, export_id)
        x.state, x.error, x.finished_at = "failed", error, utcnow()


def _case_name(number: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in number)


def export_job(ctx: JobContext[Any]) -> None:
    """Make one export's zip (job kind ``export``). A refusal (a recording no longer the user's to
    see, destroyed, damaged) fails it for good, in words; anything else is retried by the queue."""
    archive = cast(Archive, ctx.archive)
    with archive.sessions.begin() as db:
        sweep(archive, db)
        x = db.scalars(select(Export).where(Export.job_id == ctx.job.id)).one_or_none()
        if x is None:
            queue.fail(archive, ctx.job, error=f"job {ctx.job.id} has no export", permanent=True)
            return
        export_id, case_id, proxies = x.id, x.case_id, x.proxies
        ids = [int(i) for i in json.loads(x.evidence_ids)]
        user = db.get_one(User, x.user_id)
        scope = access.scope_of(db, user)
        actor = x.actor
        refusal = _still_allowed(db, user, case_id, ids, scope)
        if refusal is not None:  # the maker lost the right (or the unit) since it was queued: said, recorded
            why, error = refusal
            x.state, x.error, x.finished_at = "failed", error.diagnostics(), utcnow()
            archive.custody.record(db, actor=actor, action="access_denied", outcome="denied", tool=access.TOOL,
                                   tool_version=liuhen.__version__,
                                   detail={"permission": "evidence.export", "reason": why, "export_id": export_id,
                                           "via": "job", "role": user.role})
        else:
            x.state, x.error, x.bytes_done = "running", None, 0
    if refusal is not None:
        queue.fail(archive, ctx.job, error=refusal[1].diagnostics(), permanent=True)
        return
    try:
        plan, on_done = _plan(archive, ctx.workdir, export_id=export_id, case_id=case_id, ids=ids, proxies=proxies,
                              scope=scope, actor=actor)
        _write_zip(archive, ctx, export_id, plan, on_done, actor=actor)
    except LeaseLost:
        raise  # another worker has the job now: it writes the export's state
    except LiuhenError as e:
        _fail(archive, export_id, e.diagnostics())
        queue.fail(archive, ctx.job, error=e.diagnostics(), permanent=True)


def _still_allowed(db: Session, user: User, case_id: int | None, ids: list[int],
                   scope: Any) -> tuple[str, ExportError] | None:
    """Why the export's maker may no longer have it made (the reason code and the error to show),
    checked when the job runs: their account disabled, their role without ``evidence.export`` (or
    ``cases.view`` for a case), or the case no longer of their units. (A recording no longer theirs
    to see is refused by ``_plan``.) None: they still may."""
    from auth import policy
    from cases.models import Case

    again = _s("如仍需要，请在权限恢复后重新导出；如有疑问请联系管理员。",
               "If it is still needed, export again once the right is restored, or ask an administrator.")
    if user.disabled_at is not None:
        return "disabled", ExportError(_s(f"发起人 {user.username} 的账号已停用，导出未进行",
                                          f"The account {user.username} that asked for it is disabled; nothing was "
                                          "exported."), again)
    needed = ("evidence.export", "cases.view") if case_id is not None else ("evidence.export",)
    for action in needed:
        if not policy.allowed(user.role, action):
            return "role", ExportError(_s(f"发起人 {user.username} 现在的角色已无导出权限，导出未进行",
                                          f"The role of {user.username} no longer allows exporting; nothing was "
                                          "exported."), again)
    if case_id is not None:
        c = db.get(Case, case_id)
        if c is None or c.unit_id not in scope.units:
            return "unit", ExportError(_s(f"案件 {case_id} 已不在发起人的单位范围内，导出未进行",
                                          f"Case {case_id} is no longer of the units of whoever asked for it; nothing "
                                          "was exported."), again)
    for eid in ids:
        ev = db.get(Evidence, eid)
        if ev is None or not scope.allows(ev):
            return "unit", ExportError(_s(f"证据 {eid} 已不在发起人的查看范围内，导出未进行",
                                          f"Evidence {eid} is no longer one that whoever asked for it may see; "
                                          "nothing was exported."), _s("请去掉这条证据后重新导出。",
                                                                       "Export again without it."))
    return None


Done = Callable[[Session, Plan, Streamed, str], None]


def _plan(archive: Archive, workdir: Path, *, export_id: int, case_id: int | None, ids: list[int], proxies: bool,
          scope: Any, actor: str) -> tuple[Plan, Done]:
    from retention.service import destroyed, refuse_destroyed

    if case_id is not None:
        from cases.export import plan_case, prepare_case, record_case_exported
        from publication.bag import bag_part

        ce = prepare_case(archive, case_id, visible=scope.allows, destroyed=destroyed, extra=bag_part(archive.settings))
        plan = plan_case(archive, ce, workdir / "case-part", proxies=proxies)

        def case_done(db: Session, plan: Plan, result: Streamed, name: str) -> None:
            _exported(archive, db, plan, result, actor=actor, export_id=export_id, name=name)
            record_case_exported(archive, db, ce, actor=actor,
                                 detail={"bag": name, "export_id": export_id, "payload_oxum": plan.payload_oxum,
                                         "zip_bytes": result.zip_bytes, "proxies": plan.proxies})

        return plan, case_done
    with archive.sessions() as db:
        for eid in ids:  # still the user's to see, and not destroyed since it was asked for
            ev = db.get(Evidence, eid)
            if ev is None or not scope.allows(ev):
                raise ExportError(_s(f"证据 {eid} 已不在您的查看范围内，未导出", f"Evidence {eid} is no longer one you may see; "
                                     "nothing was exported."), _s("请去掉这条证据后重新导出。",
                                                                  "Export again without it."))
        refuse_destroyed(db, ids)
        shas = [db.get_one(Evidence, i).sha256 for i in ids]
    plan = plan_bag(archive, shas, top=f"liuhen-export-{export_id}", proxies=proxies)

    def done(db: Session, plan: Plan, result: Streamed, name: str) -> None:
        _exported(archive, db, plan, result, actor=actor, export_id=export_id, name=name)

    return plan, done


def _exported(archive: Archive, db: Session, plan: Plan, result: Streamed, *, actor: str, export_id: int,
              name: str) -> None:
    for it in plan.snap.items:
        archive.custody.record(db, actor=actor, action="exported", evidence_id=it.evidence_id,
                               object_sha256=it.sha256, tool=bagstream.TOOL, tool_version=bagstream.TOOL_VERSION,
                               detail={**event_detail(plan, result, export_id=export_id, file=name),
                                       "original": f"data/{it.original}"})


def _write_zip(archive: Archive, ctx: JobContext[Any], export_id: int, plan: Plan, on_done: Done, *,
               actor: str) -> None:
    out_dir = folder(archive)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{plan.top}.zip" if plan.top != "case" else f"liuhen-export-{export_id}-case.zip"
    if plan.top == "case":
        number = plan.info.get("Liuhen-Case-Number")
        if isinstance(number, str):
            name = f"liuhen-export-{export_id}-case-{_case_name(number)}.zip"
    final = out_dir / f"{export_id}-{name}"
    total = plan.payload_bytes
    with archive.sessions.begin() as db:
        db.get_one(Export, export_id).bytes_total = total
    last = [0.0]

    def progress(done: int, all_: int) -> None:
        ctx.progress(done / all_ if all_ else 1.0, note=f"{done}/{all_}")
        now = time.monotonic()
        if now - last[0] >= 0.5 or done == all_:
            last[0] = now
            with archive.sessions.begin() as db:
                db.get_one(Export, export_id).bytes_done = done
        if ctx.lost.is_set():
            raise LeaseLost(f"export {export_id}: the job was taken over", "")

    result = Streamed()
    h = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{export_id}-", suffix=".partial", dir=out_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in stream_bag(archive, plan, actor=actor, result=result, progress=progress):
                f.write(piece)
                h.update(piece)
            f.flush()
            os.fsync(f.fileno())
        with ctx.commit() as db:
            x = db.get_one(Export, export_id)
            now = utcnow()
            x.state, x.bytes_done, x.bytes_total = "done", total, total
            x.file_name, x.size, x.sha256, x.payload_oxum = name, result.zip_bytes, h.hexdigest(), plan.payload_oxum
            x.finished_at = now
            x.expires_at = now + dt.timedelta(hours=archive.settings.exports.keep_hours)
            on_done(db, plan, result, name)
            os.replace(tmp, final)  # in the transaction: a failed commit takes it back below
    except BaseException:
        tmp.unlink(missing_ok=True)
        if final.exists() and not _is_done(archive, export_id):
            final.unlink(missing_ok=True)
        raise


def _is_done(archive: Archive, export_id: int) -> bool:
    with archive.sessions() as db:
        return db.get_one(Export, export_id).state == "done"


HANDLERS = {KIND: export_job}


# ---------------------------------------------------------------------------- streaming a bag now


def send_bag(archive: Archive, p: access.Principal, plan: Plan, *, filename: str,
             done: Callable[[Session, Streamed], None]) -> StreamingResponse:
    """``plan``'s zip streamed now, with its exact ``Content-Length``; ``done`` (in a transaction)
    records the events once the last byte was handed on. A client that goes away midway leaves an
    ``export_interrupted`` event instead, with how far it got; never ``exported``."""
    size = zip_size(plan)
    result = Streamed()
    sent = [0]

    def body() -> Iterator[bytes]:
        completed = False
        try:
            for piece in stream_bag(archive, plan, actor=p.actor, result=result):
                yield piece
                sent[0] += len(piece)  # (counted once handed on: the server asks for the next piece)
            completed = True  # the last piece (manifests, central directory) was handed on too
        finally:
            with archive.sessions.begin() as db:
                if completed and result.finished:
                    done(db, result)
                else:
                    for it in plan.snap.items:
                        access.write_event(archive, db, actor=p.actor, action="export_interrupted",
                                           outcome="failure", tool=access.TOOL, tool_version=liuhen.__version__,
                                           evidence_id=it.evidence_id, object_sha256=it.sha256,
                                           detail={"bag": plan.top, "sent_bytes": sent[0], "zip_bytes": size,
                                                   **p.where()})

    return StreamingResponse(body(), media_type="application/zip", headers={
        "Content-Length": str(size), "Cache-Control": "private, no-store",
        "Content-Disposition": _disposition(filename)})


# ---------------------------------------------------------------------------- routes


@router.post("/exports", response_model=ExportStarted, status_code=202,
             responses={410: {"model": ErrorOut, "description": "a recording named was destroyed under the "
                                                                "retention rules (its record stays)"}},
             summary="Export several recordings or a case as a job (202; follow GET /exports/{id})")
def create(body: Annotated[ExportIn, Body()], archive: ArchiveDep, p: CurrentUser, request: Request) -> ExportStarted:
    with archive.sessions.begin() as db:
        sweep(archive, db)
        x = start(archive, db, p, body, request)
        return ExportStarted(export_id=x.id, state=x.state)


@router.get("/exports", response_model=list[ExportOut], summary="Your recent exports, newest first")
def list_exports(archive: ArchiveDep, p: CurrentUser, request: Request,
                 limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[ExportOut]:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "evidence.export", request)
        sweep(archive, db)
        return recent(db, p.user_id, limit)


def recent(db: Session, user_id: int, limit: int) -> list[ExportOut]:
    rows = db.execute(select(Export, Job).outerjoin(Job, Job.id == Export.job_id).where(Export.user_id == user_id)
                      .order_by(Export.id.desc()).limit(limit)).all()
    return [_out(x, j) for x, j in rows]


def status(archive: Archive, db: Session, p: access.Principal, export_id: int, request: Request | None) -> ExportOut:
    x = own(archive, db, p, export_id, request)
    return _out(x, db.get(Job, x.job_id) if x.job_id is not None else None)


@router.get("/exports/{export_id}", response_model=ExportOut, summary="An export's state and progress")
def get_export(export_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> ExportOut:
    with archive.sessions.begin() as db:
        sweep(archive, db)
        return status(archive, db, p, export_id, request)


_DOWNLOAD: dict[int | str, dict[str, Any]] = {200: {"description": "the export's zip", "content": _ZIP},
             206: {"description": "one byte range of the zip", "content": _ZIP},
             409: {"model": ErrorOut, "description": "not made yet, failed, or removed after [exports] keep_hours"},
             416: {"model": ErrorOut, "description": "the range asked for lies outside the zip"}}


@router.get("/exports/{export_id}/download", response_class=StreamingResponse, responses={**_DOWNLOAD},
            summary="Download a finished export (one byte range if asked); each time a custody event")
def download(export_id: Id, archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    access.no_cross_site(p, request)
    return send_file(archive, p, request, export_id)


def send_file(archive: Archive, p: access.Principal, request: Request, export_id: int) -> Any:
    """The finished zip, checked and recorded (``downloaded``) now; for the route and its one-time link."""
    with archive.sessions.begin() as db:
        sweep(archive, db)
        x = own(archive, db, p, export_id, request)
        if x.state != "done" or x.file_name is None:
            raise ExportNotReady(
                _s(f"导出 {export_id} 还不能下载（{_STATE_ZH.get(x.state, x.state)}）",
                   f"Export {export_id} cannot be downloaded: it is {x.state}."),
                _s("进行中请稍候；失败或已过期请重新导出。",
                   "Wait while it runs; if it failed or expired, export again."))
        path = zip_path(archive, x)
        if not path.is_file():  # (removed by hand, or swept): nothing is sent, so nothing is recorded as sent
            raise ExportNotReady(
                _s(f"导出 {export_id} 的文件已不存在", f"The file of export {export_id} is gone."),
                _s("请重新导出。", "Export again."))
        size = x.size or 0
        header = request.headers.get("range")
        rng = streaming.parse_range(header, size)
        detail = {"what": "export", "export_id": x.id, "file": x.file_name, "size": size, "sha256": x.sha256,
                  "payload_oxum": x.payload_oxum, "range": header}
        for eid in _exported_ids(db, x):
            ev = db.get(Evidence, eid)
            access.record(archive, db, p, "downloaded", evidence=ev, detail=detail)
        if x.case_id is not None:
            access.record(archive, db, p, "case_downloaded", detail={**detail, "case_id": x.case_id})
        name, sha = x.file_name, x.sha256
    resp = _file_response(path, size, rng, name)
    if sha:
        resp.headers["X-Content-SHA256"] = sha
    return resp


def _exported_ids(db: Session, x: Export) -> list[int]:
    """The recordings in the zip: as asked, or (a case) as the job's ``exported`` events name them."""
    ids = [int(i) for i in json.loads(x.evidence_ids)]
    if ids or x.case_id is None:
        return ids
    from hashing.models import CustodyEvent

    out: list[int] = []
    for eid, detail in db.execute(select(CustodyEvent.evidence_id, CustodyEvent.detail).where(
            CustodyEvent.action == "exported", CustodyEvent.actor == x.actor,
            CustodyEvent.detail.like(f'%"export_id":{x.id},%'))):
        if eid is not None and json.loads(detail).get("export_id") == x.id:
            out.append(eid)
    return out


def _disposition(name: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(name)}"


_STATE_ZH = {"pending": "排队中", "running": "正在生成", "failed": "失败", "expired": "已过期并删除"}


def _file_response(path: Path, size: int, rng: tuple[int, int] | None, name: str) -> StreamingResponse:
    start, end = rng if rng is not None else (0, size - 1)
    length = max(0, end - start + 1)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ExportNotReady(_s("导出文件已不在服务器上", "The export's zip is no longer on the server."),
                             _s("请重新导出。", "Export again.")) from e

    def body() -> Iterator[bytes]:
        with f:
            f.seek(start)
            left = length
            while left > 0:
                chunk = f.read(min(streaming.CHUNK * 4, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

    headers = {"Content-Length": str(length), "Accept-Ranges": "bytes", "Cache-Control": "private, no-store",
               "Content-Disposition": _disposition(name)}
    if rng is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(body(), status_code=206 if rng is not None else 200, media_type="application/zip",
                             headers=headers)


__all__ = ["HANDLERS", "CaseExportIn", "EvidenceExportIn", "ExportIn", "ExportOut", "export_job", "router", "send_bag", "send_file"]
