"""The shapes the API answers with (published in the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, Field

from archive.audit import Trail
from archive.models import Evidence, Sighting
from archive.query import Page
from archive.views import EvidenceView
from cases.models import Case
from cases.views import CaseView, LinkView
from liuhen.words import said
from roster.models import Certificate, Officer
from roster.service import certificate_state

MAX_ID = 2**53 - 1  # ids a JSON client (a browser's Number) reads exactly; the databases hold 64-bit ids, far above any archive's count
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
_EARLIEST = dt.datetime(1000, 1, 1, tzinfo=dt.UTC)


def _written_time(v: Any) -> Any:
    if isinstance(v, (int, float)) or (isinstance(v, str) and re.fullmatch(r"\s*[-+]?[0-9.]+\s*", v)):
        raise ValueError("a time is written as ISO 8601 with its offset, e.g. 2026-11-23T09:30:00+08:00, "
                         "not as a number")
    return v


# A time in a query: ISO 8601 only (pydantic would also read a bare number as seconds since 1970).
Time = Annotated[dt.datetime, BeforeValidator(_written_time)]


def _written_day(v: Any) -> Any:
    if not (isinstance(v, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v)):
        raise ValueError("a date is written YYYY-MM-DD, e.g. 2026-11-23")
    return v


# A calendar date in a query: YYYY-MM-DD only (pydantic would also read a number as a timestamp);
# documented as ``format: date``, so a well-formed but impossible day (2026-02-30) is a 422 like any
# other invalid value.
Day = Annotated[dt.date, BeforeValidator(_written_day)]


def utc_bound(t: dt.datetime | None) -> dt.datetime | None:
    """A time from a query as a bound in UTC. A time without a zone is refused (400); one so far in
    the past or future that it has no UTC ``datetime`` is the earliest or latest time there is."""
    from archive.errors import BadQuery

    if t is None:
        return None
    if t.tzinfo is None:
        raise BadQuery(said("查询中的时间缺少时区", "A time in the query has no time zone."),
                       said("请带时区给出时间，例如 2026-11-23T09:30:00+08:00。", "Give times with their offset, e.g. 2026-11-23T09:30:00+08:00."))
    try:
        u = t.astimezone(dt.UTC)
    except OverflowError:
        return _EARLIEST if t.year == 1 else dt.datetime.max.replace(tzinfo=dt.UTC)
    return max(u, _EARLIEST)


class ErrorOut(BaseModel):
    """Every error: a stable English code and a sentence saying what failed and what to do —
    ``message`` in the request's language (the ``lang`` cookie, else ``Accept-Language``, else
    Simplified Chinese), ``detail`` in both languages (as it read before ``message`` existed)."""

    code: str
    detail: str
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorOut, "description": d} for s, d in (
        (400, "the request cannot be carried out as asked"),
        (401, "not signed in, or the session or token is no longer valid"),
        (403, "the role does not allow this (the refusal is in the custody log)"),
        (404, "no such object that this user may see (a refusal is in the custody log)"),
        (422, "the request was not understood"),
        (503, "not served: its custody event could not be recorded (code custody_unavailable; header "
              "Retry-After), or the store or database is unavailable"),
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


class HoldOut(BaseModel):
    hold_id: int
    scope_kind: str
    reason: str
    placed_by: str
    placed_at: dt.datetime
    added_at: dt.datetime | None


class DisposalStateOut(BaseModel):
    disposal_id: int
    state: str = Field(description="pending | restored | destroying | destroyed")
    scheduled_at: dt.datetime
    scheduled_by: str
    due_at: dt.datetime = Field(description="end of the grace period (restorable until then)")
    approved_by: list[str]
    restored_at: dt.datetime | None
    restored_by: str | None
    restore_reason: str | None
    destroyed_at: dt.datetime | None


class RetentionOut(BaseModel):
    """One evidence's retention (保存期限): ``keep`` says what keeps it — a date (``until``, then
    ``retain_until``), an open case (``open_case``), a legal hold (``held``) or ``permanent``."""

    class_: str = Field(alias="class", description="its retention class (the default class when none was set)")
    class_label: str
    class_set: bool = Field(description="whether a person set the class (false: the default applies)")
    keep: str = Field(description="until | open_case | held | permanent")
    retain_until: dt.datetime | None = Field(description="kept until then (keep = until); else null")
    reasons: list[dict[str, Any]] = Field(description="every reason that applies, each with its own end")
    computed: bool = Field(description="false: never stored yet (evidence from before retention), decided now")
    holds: list[HoldOut]
    disposal: DisposalStateOut | None = Field(description="its newest disposal, if it was ever scheduled")

    model_config = {"populate_by_name": True}


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
    attribution_review: list[str] = Field(default_factory=list, description=(
        "why the recording's attribution waits for review (empty: nothing in question): "
        "officer_of_another_unit (the file names an officer number registered in a unit outside the offloading "
        "station's unit tree), recorder_assigned_in_another_unit (the recorder is assigned there); the recording "
        "stays with the station's unit"))
    sightings: list[SightingOut]
    derived: list[DerivedOut]
    notes: list[NoteOut]
    gps_track: list[GpsPoint]
    gps_source_evidence_id: int | None
    last_fixity: FixityOut | None
    retention: RetentionOut | None = None


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


class CertificateOut(BaseModel):
    """An enforcement certificate (行政执法证件); ``state`` is its validity today (the station's time zone)."""

    number: str
    category: str
    area: str
    valid_from: dt.date
    valid_until: dt.date
    revoked_at: dt.datetime | None
    state: Literal["valid", "expired", "not_yet_valid", "revoked"]


class OfficerOut(BaseModel):
    officer_no: str
    name: str
    unit_id: int
    unit_code: str
    active: bool
    certificates: list[CertificateOut] = Field(default_factory=list,
                                               description="the officer's certificates, earliest validity first")


# ---------------------------------------------------------------------------- cases


class PartyOut(BaseModel):
    kind: str
    name: str
    id_number: str | None
    phone: str | None
    address: str | None


class CaseSummary(BaseModel):
    case_id: int
    number: str
    category: str
    title: str
    status: str
    unit_id: int
    unit_code: str
    created_at: dt.datetime
    created_by: str


class LinkOut(BaseModel):
    link_id: int
    evidence: EvidenceSummary
    start_s: float | None
    end_s: float | None
    linked_by: str
    linked_at: dt.datetime


class VersionOut(BaseModel):
    version: int
    sha256: str
    size: int
    mime: str
    file_name: str
    form: bool
    key_id: str
    created_at: dt.datetime
    created_by: str


class RecordOut(BaseModel):
    record_id: int
    step_id: int | None
    kind: str
    title: str
    versions: list[VersionOut]


class GapOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    seconds: float


class PieceOut(BaseModel):
    evidence_id: int | None = Field(description="null: a recording of another unit (it still counts)")
    start: dt.datetime
    end: dt.datetime


class CoverageOut(BaseModel):
    status: str
    requirement: str
    flagged: bool
    covered_s: float
    total_s: float
    gaps: list[GapOut]
    pieces: list[PieceOut]
    unplaced: list[int]
    reason: str = Field(description="the finding in both languages, Chinese / English (its code is status)")
    reason_zh: str = Field("", description="the finding in Simplified Chinese")
    reason_en: str = Field("", description="the finding in English")


class StepOut(BaseModel):
    step_id: int
    kind: str
    place: str | None
    started_at: dt.datetime
    ended_at: dt.datetime
    officers: list[str]
    links: list[LinkOut]
    coverage: CoverageOut


class CaseDetail(CaseSummary):
    parties: list[PartyOut]
    steps: list[StepOut]
    records: list[RecordOut]
    flagged_steps: list[int]


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


def custody(e: Any, detail: dict[str, Any] | None = None) -> CustodyOut:
    """A custody event; with ``detail``, that detail instead of the event's own (``archive.audit``)."""
    return CustodyOut(seq=e.seq, at=e.at, actor=e.actor, action=e.action, outcome=e.outcome,
                      evidence_id=e.evidence_id, object_sha256=e.object_sha256, tool=e.tool,
                      tool_version=e.tool_version, detail=json.loads(e.detail) if detail is None else detail,
                      hash=e.hash)


def custody_page(trail: Trail) -> CustodyPage:
    return CustodyPage(items=[custody(e, detail) for e, detail in trail.items], page=trail.page,
                       per_page=trail.per_page, has_more=trail.has_more)


def evidence_detail(view: EvidenceView, retention: dict[str, Any] | None = None) -> EvidenceDetail:
    """The evidence record; ``retention``: its retention (``retention.report.evidence_retention``)."""
    ev, unit, fix = view.evidence, view.unit, view.last_fixity
    return EvidenceDetail(
        **summary(ev, view.extras).model_dump(), recorded_at_source=ev.recorded_at_source, created_at=ev.created_at,
        width=ev.width, height=ev.height, video_codec=ev.video_codec, audio_codec=ev.audio_codec,
        media_note=ev.media_note, unit_code=unit.code if unit else None, unit_name=unit.name if unit else None,
        attribution_review=ev.attribution_review.split(",") if ev.attribution_review else [],
        sightings=[sighting(s, valid) for s, valid in view.sightings],
        derived=[DerivedOut(kind=d.kind, sha256=d.sha256, size=d.size, mime=d.mime, tool=d.tool,
                            tool_version=d.tool_version, path_taken=json.loads(d.detail).get("path"),
                            created_at=d.created_at) for d in view.derived],
        notes=[note(n) for n in view.notes],
        gps_track=[GpsPoint(t=x.t, lat=x.lat, lon=x.lon) for x in view.gps_track],
        gps_source_evidence_id=view.gps_source_evidence_id,
        last_fixity=FixityOut(outcome=fix.outcome, at=fix.at, actor=fix.actor) if fix else None,
        retention=RetentionOut.model_validate(retention) if retention is not None else None)


def note(n: Any) -> NoteOut:
    return NoteOut(note_id=n.id, text=n.text, author=n.author, created_at=n.created_at)


def certificate(c: Certificate, today: dt.date) -> CertificateOut:
    return CertificateOut(number=c.number, category=c.category, area=c.area, valid_from=c.valid_from,
                          valid_until=c.valid_until, revoked_at=c.revoked_at,
                          state=certificate_state(c, today))  # type: ignore[arg-type]


def officer(o: Officer, unit_code: str, certificates: Sequence[Certificate] = (),
            today: dt.date | None = None) -> OfficerOut:
    return OfficerOut(officer_no=o.officer_no, name=o.name, unit_id=o.unit_id, unit_code=unit_code, active=o.active,
                      certificates=[certificate(c, today or dt.date.today()) for c in certificates])


def case_summary(c: Case, unit_code: str) -> CaseSummary:
    return CaseSummary(case_id=c.id, number=c.number, category=c.category, title=c.title, status=c.status,
                       unit_id=c.unit_id, unit_code=unit_code, created_at=c.created_at, created_by=c.created_by)


def link(lv: LinkView) -> LinkOut:
    lk = lv.link
    return LinkOut(link_id=lk.id, evidence=summary(lv.evidence, lv.extras), start_s=lk.start_s, end_s=lk.end_s,
                   linked_by=lk.linked_by, linked_at=lk.linked_at)


def case_detail(view: CaseView) -> CaseDetail:
    c = view.case
    steps = [StepOut(step_id=sv.step.id, kind=sv.step.kind, place=sv.step.place, started_at=sv.step.started_at,
                     ended_at=sv.step.ended_at, officers=sv.officers, links=[link(lv) for lv in sv.links],
                     coverage=CoverageOut(status=cov.status, requirement=cov.requirement, flagged=cov.flagged,
                                          covered_s=cov.covered_s, total_s=cov.total_s,
                                          gaps=[GapOut(start=g.start, end=g.end, seconds=round(g.seconds, 3))
                                                for g in cov.gaps],
                                          pieces=[PieceOut(evidence_id=x.evidence_id, start=x.start, end=x.end)
                                                  for x in cov.pieces],
                                          unplaced=cov.unplaced, reason=cov.reason,
                                          reason_zh=cov.reason_zh, reason_en=cov.reason_en))
             for sv in view.steps for cov in (sv.coverage,)]
    records = [RecordOut(record_id=r.id, step_id=r.step_id, kind=r.kind, title=r.title,
                         versions=[VersionOut(version=v.version, sha256=v.sha256, size=v.size, mime=v.mime,
                                              file_name=v.file_name, form=v.form, key_id=v.key_id,
                                              created_at=v.created_at, created_by=v.created_by) for v in r.versions])
               for r in view.records]
    return CaseDetail(**case_summary(c, view.unit_code).model_dump(),
                      parties=[PartyOut(kind=x.kind, name=x.name, id_number=x.id_number, phone=x.phone,
                                        address=x.address) for x in view.parties],
                      steps=steps, records=records, flagged_steps=view.flagged_steps)
