"""The shapes the API answers with (published in the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, Field

from archive.models import Evidence, Sighting
from archive.query import Page


MAX_ID = 2**63 - 1  # ids are 64-bit integers on PostgreSQL (and SQLite)
EvidenceId = Annotated[int, Path(ge=1, le=MAX_ID, description="the evidence's number")]
# Text a person types: no control characters (PostgreSQL cannot store NUL; the rest is never meant).
LINE = r"^[^\x00-\x1f\x7f]*$"
# Multi-line text (notes): tabs and line breaks allowed, other control characters not.
LINES = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# Not blank: at least one character that is not white space.
LINE_NOT_BLANK = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
LINES_NOT_BLANK = (r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x1f\x7f]"
                   r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
# SQLite holds times as text, and years before 1000 would be written without leading zeros and so
# compare wrongly; no recording is that old, so an earlier bound means "from the beginning".
_EARLIEST = dt.datetime(1000, 1, 1, tzinfo=dt.timezone.utc)


def _written_time(v: Any) -> Any:
    if isinstance(v, (int, float)) or (isinstance(v, str) and re.fullmatch(r"\s*[-+]?[0-9.]+\s*", v)):
        raise ValueError("a time is written as ISO 8601 with its offset, e.g. 2026-11-23T09:30:00+08:00, "
                         "not as a number")
    return v


# A time in a query: ISO 8601 only (pydantic would also read a bare number as seconds since 1970).
Time = Annotated[dt.datetime, BeforeValidator(_written_time)]


def utc_bound(t: dt.datetime | None) -> dt.datetime | None:
    """A time from a query as a bound in UTC. A time without a zone is refused (400); one so far in
    the past or future that it has no UTC ``datetime`` is the earliest or latest time there is."""
    from archive.errors import BadQuery

    if t is None:
        return None
    if t.tzinfo is None:
        raise BadQuery("A time in the query has no time zone.",
                       "Give times with their offset, e.g. 2026-11-23T09:30:00+08:00.")
    try:
        u = t.astimezone(dt.timezone.utc)
    except OverflowError:
        return _EARLIEST if t.year == 1 else dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    return max(u, _EARLIEST)


class ErrorOut(BaseModel):
    """Every error: a stable code and a sentence saying what failed and what to do."""

    code: str
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorOut, "description": d} for s, d in (
        (400, "the request cannot be carried out as asked"),
        (401, "not signed in, or the session or token is no longer valid"),
        (403, "the role does not allow this (the refusal is in the custody log)"),
        (404, "no such object that this user may see (a refusal is in the custody log)"),
        (422, "the request was not understood"),
    )
}


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    role_label: str
    unit_id: int
    unit_code: str
    unit_name: str
    permissions: list[str]
    csrf_token: str | None = None


class EvidenceSummary(BaseModel):
    evidence_id: int
    sha256: str
    file_name: str
    size: int
    media_kind: str
    media_state: str
    playback: str
    playback_note: str | None
    recorded_at: dt.datetime | None
    duration_s: float | None
    device_id: str | None
    officer_id: str | None
    officer_name: str | None
    unit_id: int | None
    important: bool
    tags: list[str]
    previews: list[str] = Field(description="derived files that exist: proxy, poster, sprite, vtt, waveform, preview")


class SearchPage(BaseModel):
    items: list[EvidenceSummary]
    page: int
    per_page: int
    has_more: bool
    total: int
    total_capped: bool = Field(description="true when there are more than `total` results")


class SightingOut(BaseModel):
    sighting_id: int
    station_id: str
    bay: str
    device_id: str | None
    officer_id: str | None
    layout: str
    original_path: str
    original_path_hex: str
    received_at: dt.datetime
    released_at: dt.datetime | None
    release_action: str | None
    station_key_id: str
    signature_valid: bool


class DerivedOut(BaseModel):
    kind: str
    sha256: str
    size: int
    mime: str
    tool: str
    tool_version: str
    path_taken: str | None
    created_at: dt.datetime


class NoteOut(BaseModel):
    note_id: int
    text: str
    author: str
    created_at: dt.datetime


class GpsPoint(BaseModel):
    t: str | None = None
    lat: float
    lon: float


class FixityOut(BaseModel):
    outcome: str
    at: dt.datetime
    actor: str


class EvidenceDetail(EvidenceSummary):
    recorded_at_source: str | None
    created_at: dt.datetime
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    media_note: str | None
    unit_code: str | None
    unit_name: str | None
    sightings: list[SightingOut]
    derived: list[DerivedOut]
    notes: list[NoteOut]
    gps_track: list[GpsPoint]
    gps_source_evidence_id: int | None
    last_fixity: FixityOut | None


class CustodyOut(BaseModel):
    seq: int
    at: dt.datetime
    actor: str
    action: str
    outcome: str
    evidence_id: int | None
    object_sha256: str | None
    tool: str
    tool_version: str
    detail: dict[str, Any]
    hash: str


class CustodyPage(BaseModel):
    items: list[CustodyOut]
    page: int
    per_page: int
    has_more: bool


class VerifyOut(BaseModel):
    evidence_id: int
    ok: bool
    outcome: str
    failures: list[str]


class ImportantIn(BaseModel):
    important: bool


class TagIn(BaseModel):
    tag: str = Field(min_length=1, max_length=64, pattern=LINE_NOT_BLANK, examples=["现场检查"])


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000, pattern=LINES_NOT_BLANK)


def summary(ev: Evidence, extra: dict[str, Any]) -> EvidenceSummary:
    return EvidenceSummary(
        evidence_id=ev.id, sha256=ev.sha256, file_name=ev.file_name, size=ev.size, media_kind=ev.media_kind,
        media_state=ev.media_state, playback=ev.playback, playback_note=ev.playback_note,
        recorded_at=ev.recorded_at, duration_s=ev.duration_s, device_id=ev.device_id, officer_id=ev.officer_id,
        officer_name=extra.get("officer_name"), unit_id=ev.unit_id, important=bool(ev.important),
        tags=list(extra.get("tags", [])), previews=sorted(extra.get("derived", [])))


def search_page(page: Page) -> SearchPage:
    return SearchPage(items=[summary(e, page.extras.get(e.id, {})) for e in page.items], page=page.page,
                      per_page=page.per_page, has_more=page.has_more, total=page.total,
                      total_capped=page.total_capped)


def sighting(s: Sighting, valid: bool) -> SightingOut:
    return SightingOut(sighting_id=s.id, station_id=s.station_id, bay=s.bay, device_id=s.device_id,
                       officer_id=s.officer_id, layout=s.layout, original_path=s.original_path,
                       original_path_hex=s.original_path_hex, received_at=s.received_at,
                       released_at=s.released_at, release_action=s.release_action,
                       station_key_id=s.station_key_id, signature_valid=valid)


def custody(e: Any) -> CustodyOut:
    return CustodyOut(seq=e.seq, at=e.at, actor=e.actor, action=e.action, outcome=e.outcome,
                      evidence_id=e.evidence_id, object_sha256=e.object_sha256, tool=e.tool,
                      tool_version=e.tool_version, detail=json.loads(e.detail), hash=e.hash)
