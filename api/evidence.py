"""``/api/v1/evidence``: search, the record, its media (seekable), the original, verify, annotate.

Every route checks the role and the user's units (``api.access``) and leaves a custody event:
``searched`` (with the query and the ids shown), ``viewed``, ``played`` (when playback starts — the
console's player asks ``POST .../play`` first and reads nothing before — once per play, not per seek;
never for opening a page or a metadata preload), ``previewed`` (posters and thumbnails), ``downloaded``, ``exported``, ``verified``,
``marked_important``, ``tagged``, ``noted`` — and ``access_denied`` for every refusal.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access, streaming
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import (
    ERRORS,
    LINE,
    CustodyOut,
    ErrorOut,
    EvidenceDetail,
    EvidenceId,
    EvidenceSummary,
    ImportantIn,
    NoteIn,
    NoteOut,
    SearchPage,
    TagIn,
    Time,
    VerifyOut,
    custody,
    evidence_detail,
    note,
    search_page,
    summary,
    utc_bound,
)
from archive import annotations as annotating
from archive import query as searching
from archive import views
from archive.context import Archive
from archive.models import Evidence
from cases.models import Case, EvidenceLink, Step
from liuhen.db import utcnow
from liuhen.errors import NotFound
from liuhen.words import said
from retention.report import evidence_retention

PLAY_WINDOW = dt.timedelta(minutes=30)
router = APIRouter(tags=["evidence"], responses={**ERRORS}, dependencies=[StrictQuery])
MediaKind = Literal["proxy", "poster", "sprite", "vtt", "waveform", "preview"]
_BYTES = {"schema": {"type": "string", "format": "binary"}}
_HEADERS = {
    "Accept-Ranges": {"schema": {"type": "string", "enum": ["bytes"]}, "required": True},
    "Content-Length": {"schema": {"type": "integer", "minimum": 0}, "required": True},
}
_RANGE_HEADERS = {**_HEADERS, "Content-Range": {"schema": {"type": "string"}, "required": True,
                                                "description": "bytes FIRST-LAST/SIZE"}}


def _file_responses(types: tuple[str, ...]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": "the whole file", "content": {t: _BYTES for t in types}, "headers": _HEADERS},
        206: {"description": "the requested byte range (header Range)", "content": {t: _BYTES for t in types},
              "headers": _RANGE_HEADERS},
        416: {"model": ErrorOut, "description": "the byte range is outside the file (header Content-Range: "
                                               "bytes */SIZE)"},
        503: {"model": ErrorOut, "description": "the store could not be read"},
    }


# what the media jobs make (media.render): the proxy, its poster and thumbnails, the audio and photo previews
_MEDIA_RESPONSES = _file_responses(("video/mp4", "audio/mp4", "image/jpeg", "image/png", "text/vtt"))
_ORIGINAL_RESPONSES = _file_responses(("application/octet-stream",))
_ORIGINAL_RESPONSES[200]["headers"] = {**_HEADERS, "X-Content-SHA256": {
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "required": True,
    "description": "the SHA-256 the original was archived with"}}
_ORIGINAL_RESPONSES[206]["headers"] = {**_RANGE_HEADERS, **{"X-Content-SHA256": _ORIGINAL_RESPONSES[200]["headers"]
                                                            ["X-Content-SHA256"]}}


# ---------------------------------------------------------------------------- search


@router.get("", response_model=SearchPage, summary="Search evidence")
def search_evidence(
    archive: ArchiveDep, p: CurrentUser, request: Request,
    q: Annotated[str | None, Query(max_length=200, pattern=LINE, description="free text: names, tags, notes, "
                                   "officer (every word must match)")] = None,
    officer: Annotated[str | None, Query(max_length=128, pattern=LINE, description="officer number or name")] = None,
    device: Annotated[str | None, Query(max_length=128, pattern=LINE)] = None,
    station: Annotated[str | None, Query(max_length=64, pattern=LINE)] = None,
    important: bool | None = None,
    playback: Literal["pending", "ready", "unplayable", "none"] | None = None,
    media_kind: Literal["video", "audio", "photo", "sidecar", "other"] | None = None,
    start: Annotated[Time | None, Query(description="recorded at or after (ISO 8601 with its offset); a "
                                        "recording with no recording time: archived at or after")] = None,
    end: Annotated[Time | None, Query(description="recorded at or before (ISO 8601 with its offset); a "
                                      "recording with no recording time: archived at or before")] = None,
    tag: Annotated[str | None, Query(max_length=64, pattern=LINE, description="a tag, exactly")] = None,
    case: Annotated[str | None, Query(max_length=128, pattern=LINE, description="linked to a case whose number or "
                                      "title contains this (needs cases.view)")] = None,
    sort: Annotated[Literal["recorded", "archived", "duration", "officer"], Query(
        description="recorded: newest recording first; archived: newest archived first; duration: longest "
                    "first; officer: by officer number")] = "recorded",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 25,
) -> SearchPage:
    start, end = utc_bound(start), utc_bound(end)
    with archive.reads.begin() as db:
        query = searching.Query(q=q, officer=officer, device=device, station=station, important=important,
                                playback=playback, media_kind=media_kind, start=start, end=end, tag=tag,
                                case=case, evidence_in=case_evidence(archive, db, p, case, request), sort=sort,
                                page=page, per_page=per_page)
        if query.finds_nothing():
            # nothing can match: text with no letter, digit or Chinese character; a time range that ends
            # before it starts (the search is still a search: checked and recorded)
            access.require(archive, db, p, "evidence.search", request)
            access.record(archive, db, p, "searched", detail={"query": query.describe(), "shown": []})
            return SearchPage(items=[], page=page, per_page=per_page, has_more=False, total=0, total_capped=False)
        return search_page(access.search(archive, db, p, query, request))


def case_evidence(archive: Archive, db: Session, p: access.Principal, case: str | None,
                  request: Request | None = None) -> Any:
    """The evidence linked (now) to the cases of ``p``'s units whose number or title contains ``case``,
    as a SELECT of ids for ``archive.query.Query.evidence_in``; None without ``case``. Filtering by
    case needs ``cases.view`` (a refusal is recorded like any other)."""
    if not (case and case.strip()):
        return None
    access.require(archive, db, p, "cases.view", request)
    like = "%" + case.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return (select(EvidenceLink.evidence_id).join(Step, Step.id == EvidenceLink.step_id)
            .join(Case, Case.id == Step.case_id)
            .where(Case.unit_id.in_(sorted(p.scope.units)), EvidenceLink.unlinked_at.is_(None),
                   Case.number.like(like, escape="\\") | Case.title.like(like, escape="\\")))


# ---------------------------------------------------------------------------- the record


@router.get("/{evidence_id}", response_model=EvidenceDetail, summary="One evidence record")
def get_evidence(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> EvidenceDetail:
    with archive.reads.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.view", request)
        out = evidence_detail(views.evidence_view(db, ev, visible=p.scope.allows),
                              evidence_retention(db, archive.settings.retention, ev.id))
        access.record(archive, db, p, "viewed", evidence=ev, detail={"what": "record"})
        return out


@router.get("/{evidence_id}/custody", response_model=list[CustodyOut],
            summary="Custody history of one evidence, newest first, a page at a time (header Link: the next page)")
def get_custody(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request, response: Response,
                limit: Annotated[int, Query(ge=1, le=500, description="events per page")] = 50,
                before: Annotated[int | None, Query(ge=1, le=2**62, description="only events with a sequence "
                                                     "number below this (the cursor of the next page)")] = None,
                ) -> list[CustodyOut]:
    with archive.reads.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "custody.view", request)
        rows, more = views.custody_page(db, evidence_id=ev.id, before=before, limit=limit)
        out = [custody(e) for e in rows]
        access.record(archive, db, p, "viewed", evidence=ev, detail={
            "what": "custody history", "limit": limit, **({"before": before} if before is not None else {})})
    if more:
        nxt = request.url.include_query_params(limit=limit, before=rows[-1].seq)
        response.headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'
    return out


# ---------------------------------------------------------------------------- media and the original


@router.get("/{evidence_id}/media/{kind}", responses=_MEDIA_RESPONSES, response_class=FileResponse,
            summary="A derived file: the browser proxy (seekable), poster, thumbnail sprite and its WebVTT, "
                    "waveform or photo preview")
def get_media(evidence_id: EvidenceId, kind: MediaKind, archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    with archive.reads.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.play", request)
        d = views.derived_file(db, evidence_id=ev.id, kind=kind)
        if d is None:
            raise NotFound(said(f"证据 {ev.id} 还没有 {kind} 文件" + (f"（{ev.playback_note}）" if ev.playback_note else ""),
                                f"Evidence {ev.id} has no {kind} yet"
                                + (f" ({ev.playback_note})" if ev.playback_note else "") + "."),
                           said("媒体任务完成后即可播放；若标记为无法播放，请下载原始文件", "It appears when the media jobs "
                                "finish; if it is marked unplayable, download the original instead."))
        header = request.headers.get("range")
        rng = streaming.parse_range(header, d.size)  # a range outside the file is refused before any event
        # a play is one event, not one per seek or re-read: inside a play session opened by POST .../play
        # (the console's player asks for one when playback starts, before it reads a byte) no read is
        # another play; outside one, a read from the start is a play, and so is any read when this
        # user has not played this recording in the last PLAY_WINDOW (so no read of the media goes
        # unrecorded)
        if kind != "proxy" or not _in_play_session(db, p, ev.id) and (
                streaming.is_first_read(rng) or not access.recently(db, p, "played", ev.id, PLAY_WINDOW)):
            access.record(archive, db, p, "played" if kind == "proxy" else "previewed", evidence=ev,
                          detail={"kind": kind, "sha256": d.sha256, "range": header,
                                  **({"session": "read"} if kind == "proxy" else {})})
        key, version, size, mime = d.store_key, d.store_version, d.size, d.mime
    return streaming.stream(request, archive.store, key=key, version=version, size=size, mime=mime, rng=rng)


def _in_play_session(db: Session, p: access.Principal, evidence_id: int) -> bool:
    """Whether ``p`` pressed play on ``evidence_id`` (POST .../play) within ``PLAY_WINDOW``."""
    from hashing.models import CustodyEvent

    return db.scalar(select(CustodyEvent.seq).where(
        CustodyEvent.evidence_id == evidence_id, CustodyEvent.action == "played", CustodyEvent.actor == p.actor,
        CustodyEvent.at >= utcnow() - PLAY_WINDOW,
        CustodyEvent.detail.contains('"session":"play"', autoescape=True)).limit(1)) is not None


class PlayOut(BaseModel):
    evidence_id: int
    src: str = Field(description="the proxy to read now (HTTP Range), inside this play session")
    mime: str
    session_until: dt.datetime = Field(description="reads of the proxy until then are this play (no further event)")


@router.post("/{evidence_id}/play", response_model=PlayOut,
             responses={404: {"model": ErrorOut, "description": "no such evidence, or it has no proxy (yet)"}},
             summary="Start playing: records ``played`` and opens this user's play session for the proxy")
def start_play(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> PlayOut:
    """The player calls this when playback starts (the ``play`` event), before it reads the proxy: each
    call is one play, one ``played`` event (detail ``session: "play"``); the reads that follow within
    ``PLAY_WINDOW`` (seeks, the browser re-reading from byte 0) are that play and record nothing more."""
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.play", request)
        d = views.derived_file(db, evidence_id=ev.id, kind="proxy")
        if d is None:
            # (cast: the error base takes a ``Said`` once it carries both languages; ``str()`` of one until then)
            raise NotFound(cast(str, said(f"证据 {ev.id} 还没有可播放的文件" + (f"（{ev.playback_note}）" if ev.playback_note else "")
                                + "。", f"Evidence {ev.id} has no proxy to play yet"
                                + (f" ({ev.playback_note})" if ev.playback_note else "") + ".")),
                           cast(str, said("媒体任务完成后即可播放；若标记为无法播放，请下载原始文件。",
                                "It appears when the media jobs finish; if it is marked unplayable, download the "
                                "original instead.")))
        access.record(archive, db, p, "played", evidence=ev,
                      detail={"kind": "proxy", "sha256": d.sha256, "session": "play"})
        return PlayOut(evidence_id=ev.id, src=f"/api/v1/evidence/{ev.id}/media/proxy", mime=d.mime,
                       session_until=utcnow() + PLAY_WINDOW)


@router.get("/{evidence_id}/original", responses=_ORIGINAL_RESPONSES, response_class=FileResponse,
            summary="Download the original, bit for bit (header X-Content-SHA256)")
def get_original(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    access.no_cross_site(p, request)
    return send_original(archive, p, request, evidence_id)


def send_original(archive: Archive, p: access.Principal, request: Request, evidence_id: int) -> Any:
    """The original, checked and recorded (``downloaded``) now; for the route and its one-time link."""
    with archive.reads.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.download_original", request)
        header = request.headers.get("range")
        rng = streaming.parse_range(header, ev.size)
        access.record(archive, db, p, "downloaded", evidence=ev, detail={"range": header})  # every part of it
        key, version, size, name, sha = ev.store_key, ev.store_version, ev.size, ev.file_name, ev.sha256
    resp = streaming.stream(request, archive.store, key=key, version=version, size=size, rng=rng,
                            mime="application/octet-stream", filename=name, inline=False, cache="private, no-store")
    resp.headers["X-Content-SHA256"] = sha
    return resp


@router.get("/{evidence_id}/export", response_class=FileResponse,
            responses={200: {"description": "a zip of a BagIt bag", "content": {"application/zip": _BYTES}},
                       409: {"model": ErrorOut, "description": "the stored original or a signed manifest no "
                                                               "longer matches what was archived (nothing exported; "
                                                               "the failure is in the custody log)"},
                       503: {"model": ErrorOut, "description": "the store could not be read, or the bag could "
                                                               "not be written"}},
            summary="A verified copy: a BagIt bag (zip) with the original, its signed manifests, the station "
                    "keys and the custody events, checkable without liuhen")
def export_evidence(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request,
                    proxies: bool = False) -> Any:
    access.no_cross_site(p, request)
    return send_export(archive, p, request, evidence_id, proxies=proxies)


def send_export(archive: Archive, p: access.Principal, request: Request, evidence_id: int, *,
                proxies: bool = False) -> Any:
    """The bag, checked now and streamed as it is made (``api.exports.send_bag``: media stored, not
    compressed; memory flat); ``exported`` and ``downloaded`` are recorded once the last byte was sent.
    For the route and its one-time link. ``proxies``: the proxy, poster and thumbnails too."""
    from api.exports import send_bag
    from archive import bagstream
    from archive.bagstream import event_detail, plan_bag

    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.export", request)
        sha = ev.sha256
    # (by SHA-256: an id could read as a digest prefix)
    plan = plan_bag(archive, [sha], top=f"evidence-{evidence_id}", proxies=proxies)
    name = f"liuhen-evidence-{evidence_id}-{sha[:12]}.zip"

    def done(db: Session, result: Any) -> None:
        it = plan.snap.items[0]
        archive.custody.record(db, actor=p.actor, action="exported", evidence_id=it.evidence_id,
                               object_sha256=it.sha256, tool=bagstream.TOOL, tool_version=bagstream.TOOL_VERSION,
                               detail={**event_detail(plan, result), "original": f"data/{it.original}"})
        access.record(archive, db, p, "downloaded", evidence=db.get_one(Evidence, evidence_id), detail={
            "what": "export", "file": name, "size": result.zip_bytes, "payload_oxum": plan.payload_oxum,
            "tagmanifest_sha256": result.tagmanifest_sha256, "proxies": proxies})

    return send_bag(archive, p, plan, filename=name, done=done)


@router.post("/{evidence_id}/verify", response_model=VerifyOut, summary="Re-hash the original and check its "
             "signed manifests now")
def verify_now(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> VerifyOut:
    from archive.verify import Report, verify_evidence

    with archive.sessions.begin() as db:
        access.evidence(archive, db, p, evidence_id, "evidence.verify", request)
    from retention.errors import Destroyed
    from retention.service import refuse_destroyed
    from retention.verify import gone

    report = Report()
    outcome = verify_evidence(archive, evidence_id, report=report, actor=p.actor, detail=p.where(), gone=gone())
    failures = [f"{f.detail} {f.action}" for f in report.failures]
    if outcome == "destroyed":  # its bytes are gone by design: say when and by which disposal
        with archive.sessions() as db:
            try:
                refuse_destroyed(db, [evidence_id])
            except Destroyed as e:
                failures = [e.diagnostics()]
    return VerifyOut(evidence_id=evidence_id, ok=outcome == "success", outcome=outcome, failures=failures)


# ---------------------------------------------------------------------------- marking and annotating


@router.put("/{evidence_id}/important", response_model=EvidenceSummary, summary="Mark or unmark as important (重点标记)")
def set_important(evidence_id: EvidenceId, body: ImportantIn, archive: ArchiveDep, p: CurrentUser,
                  request: Request) -> EvidenceSummary:
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "dock.mark_important", request)
        annotating.set_important(db, archive.custody, evidence_id=ev.id, important=body.important, actor=p.actor,
                                  tool=access.TOOL, context=p.where())
        return summary(ev, searching.extras(db, [ev.id])[ev.id])


@router.post("/{evidence_id}/tags", response_model=list[str], summary="Add a tag")
def add_tag(evidence_id: EvidenceId, body: TagIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> list[str]:
    tag = annotating.clean_tag(body.tag)  # (an empty one is refused before the access check, as it always was)
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.annotate", request)
        return annotating.add_tag(db, archive.custody, evidence_id=ev.id, tag=tag, actor=p.actor,
                                   tool=access.TOOL, context=p.where())


@router.delete("/{evidence_id}/tags/{tag:path}", response_model=list[str],
               summary="Remove a tag (a / in it stays a /: tags/现场/检查 removes 现场/检查)")
def remove_tag(evidence_id: EvidenceId, tag: Annotated[str, PathParam(max_length=64, pattern=LINE)],
               archive: ArchiveDep, p: CurrentUser, request: Request) -> list[str]:
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.annotate", request)
        return annotating.remove_tag(db, archive.custody, evidence_id=ev.id, tag=tag, actor=p.actor,
                                      tool=access.TOOL, context=p.where())


@router.post("/{evidence_id}/notes", response_model=NoteOut, status_code=201, summary="Add a note (notes are never "
             "edited or removed)")
def add_note(evidence_id: EvidenceId, body: NoteIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> NoteOut:
    text = annotating.clean_note(body.text)  # (an empty one is refused before the access check, as it always was)
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.annotate", request)
        return note(annotating.add_note(db, archive.custody, evidence_id=ev.id, text=text, actor=p.actor,
                                         tool=access.TOOL, context=p.where()))
