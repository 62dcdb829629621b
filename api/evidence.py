"""``/api/v1/evidence``: search, the record, its media (seekable), the original, verify, annotate.

Every route checks the role and the user's units (``api.access``) and leaves a custody event:
``searched`` (with the query and the ids shown), ``viewed``, ``played`` (once per play, not per
seek), ``previewed`` (posters and thumbnails), ``downloaded``, ``exported``, ``verified``,
``marked_important``, ``tagged``, ``noted`` — and ``access_denied`` for every refusal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Callable, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from api import access, streaming
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import (ERRORS, LINE, CustodyOut, DerivedOut, EvidenceDetail, EvidenceId, EvidenceSummary,
                         ErrorOut, FixityOut, GpsPoint, ImportantIn, NoteIn, NoteOut, SearchPage, TagIn, VerifyOut,
                         Time, custody, search_page, sighting, summary, utc_bound)
from archive import query as searching
from archive import terms as term_index
from archive.errors import BadQuery
from archive.models import Evidence, EvidenceNote, EvidenceTag, Sighting, Station
from auth.models import Unit
from hashing.models import CustodyEvent
from liuhen.errors import NotFound
from archive.context import Archive
from archive.models import DerivedFile

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


def run_search(archive: Archive, db: Session, p: access.Principal, query: searching.Query,
               request: Request | None = None) -> searching.Page:
    """Search within ``p``'s units and write the ``searched`` custody event (ids shown, query)."""
    access.require(archive, db, p, "evidence.search", request)
    page = searching.search(db, query, p.scope)
    access.record(archive, db, p, "searched", detail={"query": query.describe(),
                                                      "shown": [e.id for e in page.items]})
    return page


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
    start: Annotated[Time | None, Query(description="recorded at or after (ISO 8601 with its offset)")] = None,
    end: Annotated[Time | None, Query(description="recorded at or before (ISO 8601 with its offset)")] = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 25,
) -> SearchPage:
    start, end = utc_bound(start), utc_bound(end)
    query = searching.Query(q=q, officer=officer, device=device, station=station, important=important,
                            playback=playback, media_kind=media_kind, start=start, end=end, page=page,
                            per_page=per_page)
    with archive.sessions.begin() as db:
        if (q and q.strip() and not term_index.query_terms(q)) or (start and end and start > end):
            # nothing can match: text with no letter, digit or Chinese character; a time range that ends
            # before it starts (the search is still a search: checked and recorded)
            access.require(archive, db, p, "evidence.search", request)
            access.record(archive, db, p, "searched", detail={"query": query.describe(), "shown": []})
            return SearchPage(items=[], page=page, per_page=per_page, has_more=False, total=0, total_capped=False)
        return search_page(run_search(archive, db, p, query, request))


# ---------------------------------------------------------------------------- the record


def _signature_valid(s: Sighting, stations: dict[str, Station], sha256: str) -> bool:
    from archive.verify import sighting_problem

    return sighting_problem(s, stations.get(s.station_id), sha256) is None


def _gps(db: Session, ev: Evidence, sightings: list[Sighting],
         visible: Callable[[Evidence], bool]) -> tuple[list[GpsPoint], int | None]:
    """The recording's GPS track: its own, else the trail the same recorder wrote beside it in the
    same folder (Axis ``*_gpstrail.json``, NMEA, GPX), cut to the recording's time. A trail of
    another recorder, of a unit the reader may not see, or with no point in the recording's time
    is not shown."""
    if ev.gps_json:
        source: Evidence | None = ev
    else:
        source = None
        if ev.device_id is None or ev.recorded_at is None or not ev.duration_s:
            return [], None
        for s in sightings:
            folder = str(PurePosixPath(s.original_path).parent)
            if folder in ("", "."):
                continue
            source = db.scalars(
                select(Evidence).join(Sighting, Sighting.evidence_id == Evidence.id)
                .where(Sighting.station_id == s.station_id, Sighting.bay == s.bay,
                       Sighting.original_path.startswith(folder + "/", autoescape=True),  # (a _ or % is a letter)
                       Evidence.device_id == ev.device_id, Evidence.gps_json.is_not(None))
                .order_by(Evidence.id).limit(1)).first()
            if source is not None:
                break
    if source is None or not source.gps_json or not visible(source):
        return [], None
    raw = json.loads(source.gps_json)
    pts = [GpsPoint(t=x.get("time"), lat=x["lat"], lon=x["lon"]) for x in raw if "lat" in x and "lon" in x]
    if source is not ev:
        assert ev.recorded_at is not None and ev.duration_s
        t0, t1 = ev.recorded_at, ev.recorded_at + dt.timedelta(seconds=ev.duration_s)
        pts = [x for x in pts if x.t and t0 <= dt.datetime.fromisoformat(x.t) <= t1]
        if not pts:
            return [], None
    return pts, source.id


def build_detail(db: Session, ev: Evidence, visible: Callable[[Evidence], bool]) -> EvidenceDetail:
    extras = searching.extras(db, [ev.id])[ev.id]
    stations = {s.id: s for s in db.scalars(select(Station))}
    sightings = list(db.scalars(select(Sighting).where(Sighting.evidence_id == ev.id).order_by(Sighting.id)))
    derived = list(db.scalars(select(DerivedFile).where(DerivedFile.evidence_id == ev.id).order_by(DerivedFile.id)))
    notes = list(db.scalars(select(EvidenceNote).where(EvidenceNote.evidence_id == ev.id)
                            .order_by(EvidenceNote.id)))
    unit = db.get(Unit, ev.unit_id) if ev.unit_id is not None else None
    fix = db.scalars(select(CustodyEvent).where(CustodyEvent.evidence_id == ev.id, CustodyEvent.action == "verified")
                     .order_by(CustodyEvent.seq.desc()).limit(1)).first()
    gps, gps_from = _gps(db, ev, sightings, visible)
    base = summary(ev, extras).model_dump()
    return EvidenceDetail(
        **base, recorded_at_source=ev.recorded_at_source, created_at=ev.created_at, width=ev.width,
        height=ev.height, video_codec=ev.video_codec, audio_codec=ev.audio_codec, media_note=ev.media_note,
        unit_code=unit.code if unit else None, unit_name=unit.name if unit else None,
        sightings=[sighting(s, _signature_valid(s, stations, ev.sha256)) for s in sightings],
        derived=[DerivedOut(kind=d.kind, sha256=d.sha256, size=d.size, mime=d.mime, tool=d.tool,
                            tool_version=d.tool_version, path_taken=json.loads(d.detail).get("path"),
                            created_at=d.created_at) for d in derived],
        notes=[NoteOut(note_id=n.id, text=n.text, author=n.author, created_at=n.created_at) for n in notes],
        gps_track=gps, gps_source_evidence_id=gps_from,
        last_fixity=FixityOut(outcome=fix.outcome, at=fix.at, actor=fix.actor) if fix else None)


@router.get("/{evidence_id}", response_model=EvidenceDetail, summary="One evidence record")
def get_evidence(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> EvidenceDetail:
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.view", request)
        out = build_detail(db, ev, p.scope.allows)
        access.record(archive, db, p, "viewed", evidence=ev, detail={"what": "record"})
        return out


def custody_events(db: Session, evidence_id: int) -> list[CustodyEvent]:
    return list(db.scalars(select(CustodyEvent).where(CustodyEvent.evidence_id == evidence_id)
                           .order_by(CustodyEvent.seq)))


@router.get("/{evidence_id}/custody", response_model=list[CustodyOut], summary="Custody history of one evidence")
def get_custody(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> list[CustodyOut]:
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "custody.view", request)
        out = [custody(e) for e in custody_events(db, ev.id)]
        access.record(archive, db, p, "viewed", evidence=ev, detail={"what": "custody history"})
        return out


# ---------------------------------------------------------------------------- media and the original


@router.get("/{evidence_id}/media/{kind}", responses=_MEDIA_RESPONSES, response_class=FileResponse,
            summary="A derived file: the browser proxy (seekable), poster, thumbnail sprite and its WebVTT, "
                    "waveform or photo preview")
def get_media(evidence_id: EvidenceId, kind: MediaKind, archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.play", request)
        d = db.scalars(select(DerivedFile).where(DerivedFile.evidence_id == ev.id, DerivedFile.kind == kind)).first()
        if d is None:
            raise NotFound(f"证据 {ev.id} 还没有 {kind} 文件 / Evidence {ev.id} has no {kind} yet"
                           + (f" ({ev.playback_note})" if ev.playback_note else "") + ".",
                           "媒体任务完成后即可播放；若标记为无法播放，请下载原始文件 / It appears when the media jobs "
                           "finish; if it is marked unplayable, download the original instead.")
        header = request.headers.get("range")
        rng = streaming.parse_range(header, d.size)  # a range outside the file is refused before any event
        # a play is one event, not one per seek: a read from the start, or any read when this user has
        # not played this recording in the last PLAY_WINDOW (so no range request reads it unrecorded)
        if kind != "proxy" or streaming.is_first_read(rng) or not access.recently(
                db, p, "played", ev.id, PLAY_WINDOW):
            access.record(archive, db, p, "played" if kind == "proxy" else "previewed", evidence=ev,
                          detail={"kind": kind, "sha256": d.sha256, "range": header})
        key, version, size, mime = d.store_key, d.store_version, d.size, d.mime
    return streaming.stream(request, archive.store, key=key, version=version, size=size, mime=mime, rng=rng)


@router.get("/{evidence_id}/original", responses=_ORIGINAL_RESPONSES, response_class=FileResponse,
            summary="Download the original, bit for bit (header X-Content-SHA256)")
def get_original(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    with archive.sessions.begin() as db:
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
def export_evidence(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    from archive.export import export_bag

    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.export", request)
        sha = ev.sha256
    work = Path(tempfile.mkdtemp(prefix="liuhen-export-"))
    try:
        bag = work / f"evidence-{evidence_id}"
        made = export_bag(archive, [sha], bag, actor=p.actor)  # (by SHA-256: an id could read as a digest prefix)
        zipped = shutil.make_archive(str(work / f"liuhen-evidence-{evidence_id}-{sha[:12]}"), "zip", work, bag.name)
        name = os.path.basename(zipped)
        with archive.sessions.begin() as db:
            # export_bag's "exported" event names the actor; this one says where the copy went
            access.record(archive, db, p, "downloaded", evidence=ev, detail={
                "what": "export", "file": name, "size": os.path.getsize(zipped),
                "payload_oxum": made.payload_oxum, "tagmanifest_sha256": made.tagmanifest_sha256})
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(zipped, media_type="application/zip", filename=name,
                        background=BackgroundTask(shutil.rmtree, work, True))


@router.post("/{evidence_id}/verify", response_model=VerifyOut, summary="Re-hash the original and check its "
             "signed manifests now")
def verify_now(evidence_id: EvidenceId, archive: ArchiveDep, p: CurrentUser, request: Request) -> VerifyOut:
    from archive.verify import Report, verify_evidence

    with archive.sessions.begin() as db:
        access.evidence(archive, db, p, evidence_id, "evidence.verify", request)
    report = Report()
    outcome = verify_evidence(archive, evidence_id, report=report, actor=p.actor, detail=p.where())
    return VerifyOut(evidence_id=evidence_id, ok=outcome == "success", outcome=outcome,
                     failures=[f"{f.detail} {f.action}" for f in report.failures])


# ---------------------------------------------------------------------------- marking and annotating


@router.put("/{evidence_id}/important", response_model=EvidenceSummary, summary="Mark or unmark as important (重点标记)")
def set_important(evidence_id: EvidenceId, body: ImportantIn, archive: ArchiveDep, p: CurrentUser,
                  request: Request) -> EvidenceSummary:
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "dock.mark_important", request)
        if bool(ev.important) != body.important:
            ev.important = body.important
            access.record(archive, db, p, "marked_important" if body.important else "unmarked_important",
                          evidence=ev)
        return summary(ev, searching.extras(db, [ev.id])[ev.id])


def _clean_tag(tag: str) -> str:
    t = " ".join(tag.split())
    if not t:
        raise BadQuery("The tag is empty.", "Type a word for the tag, e.g. 现场检查.")
    return t


@router.post("/{evidence_id}/tags", response_model=list[str], summary="Add a tag")
def add_tag(evidence_id: EvidenceId, body: TagIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> list[str]:
    tag = _clean_tag(body.tag)
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.annotate", request)
        if db.get(EvidenceTag, (ev.id, tag)) is None:
            db.add(EvidenceTag(evidence_id=ev.id, tag=tag, created_by=p.actor))
            db.flush()
            term_index.reindex(db, ev.id)
            access.record(archive, db, p, "tagged", evidence=ev, detail={"tag": tag})
        return list(db.scalars(select(EvidenceTag.tag).where(EvidenceTag.evidence_id == ev.id)
                               .order_by(EvidenceTag.tag)))


@router.delete("/{evidence_id}/tags/{tag:path}", response_model=list[str],
               summary="Remove a tag (a / in it stays a /: tags/现场/检查 removes 现场/检查)")
def remove_tag(evidence_id: EvidenceId, tag: Annotated[str, PathParam(max_length=64, pattern=LINE)],
               archive: ArchiveDep, p: CurrentUser, request: Request) -> list[str]:
    tag = " ".join(tag.split())  # as it was stored (add_tag)
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.annotate", request)
        row = db.get(EvidenceTag, (ev.id, tag))
        if row is not None:
            db.delete(row)
            db.flush()
            term_index.reindex(db, ev.id)
            access.record(archive, db, p, "untagged", evidence=ev, detail={"tag": tag})
        return list(db.scalars(select(EvidenceTag.tag).where(EvidenceTag.evidence_id == ev.id)
                               .order_by(EvidenceTag.tag)))


@router.post("/{evidence_id}/notes", response_model=NoteOut, status_code=201, summary="Add a note (notes are never "
             "edited or removed)")
def add_note(evidence_id: EvidenceId, body: NoteIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> NoteOut:
    text = body.text.strip()
    if not text:
        raise BadQuery("The note is empty.", "Write the note, then save it.")
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "evidence.annotate", request)
        n = EvidenceNote(evidence_id=ev.id, text=text, author=p.actor)
        db.add(n)
        db.flush()
        term_index.reindex(db, ev.id)
        access.record(archive, db, p, "noted", evidence=ev, detail={"note_id": n.id, "text": text})
        return NoteOut(note_id=n.id, text=n.text, author=n.author, created_at=n.created_at)
