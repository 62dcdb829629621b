"""The archive as the console and the API show it: one evidence record with everything around it,
its custody history, the media jobs of a user's evidence.

Read-only queries bounded by what the reader may see (``visible``, a ``Scope``); they return rows
and small frozen values, and the front ends turn them into pages or JSON (``api.schemas``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from archive import query as searching
from archive.models import DerivedFile, Evidence, EvidenceNote, Sighting, Station
from archive.verify import sighting_problem
from auth.models import Unit
from hashing.models import CustodyEvent
from jobs.models import Job

Visible = Callable[[Evidence], bool]


@dataclass(frozen=True)
class TrackPoint:
    """One point of a GPS track: where the recorder was, and when (ISO 8601, as the sidecar said)."""

    t: Any
    lat: Any
    lon: Any


@dataclass(frozen=True)
class EvidenceView:
    """One evidence record and what is around it, as ``visible`` may see it."""

    evidence: Evidence
    extras: dict[str, Any]  # archive.query.extras: tags, officer's name, previews
    unit: Unit | None
    sightings: list[tuple[Sighting, bool]]  # each with whether its signed manifest proves this content
    derived: list[DerivedFile]
    notes: list[EvidenceNote]
    last_fixity: CustodyEvent | None  # the newest "verified" event
    gps_track: list[TrackPoint]
    gps_source_evidence_id: int | None  # the evidence the track came from (itself, or a trail beside it)


def gps_track(db: Session, ev: Evidence, sightings: list[Sighting],
              visible: Visible) -> tuple[list[TrackPoint], int | None]:
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
    pts = [TrackPoint(t=x.get("time"), lat=x["lat"], lon=x["lon"]) for x in raw if "lat" in x and "lon" in x]
    if source is not ev:
        assert ev.recorded_at is not None and ev.duration_s
        t0, t1 = ev.recorded_at, ev.recorded_at + dt.timedelta(seconds=ev.duration_s)
        pts = [x for x in pts if x.t and t0 <= dt.datetime.fromisoformat(x.t) <= t1]
        if not pts:
            return [], None
    return pts, source.id


def evidence_view(db: Session, ev: Evidence, *, visible: Visible) -> EvidenceView:
    """Everything the evidence page shows of ``ev`` (which the caller has checked ``visible``)."""
    extras = searching.extras(db, [ev.id])[ev.id]
    stations = {s.id: s for s in db.scalars(select(Station))}
    sightings = list(db.scalars(select(Sighting).where(Sighting.evidence_id == ev.id).order_by(Sighting.id)))
    derived = list(db.scalars(select(DerivedFile).where(DerivedFile.evidence_id == ev.id).order_by(DerivedFile.id)))
    notes = list(db.scalars(select(EvidenceNote).where(EvidenceNote.evidence_id == ev.id)
                            .order_by(EvidenceNote.id)))
    unit = db.get(Unit, ev.unit_id) if ev.unit_id is not None else None
    fix = db.scalars(select(CustodyEvent).where(CustodyEvent.evidence_id == ev.id, CustodyEvent.action == "verified")
                     .order_by(CustodyEvent.seq.desc()).limit(1)).first()
    gps, gps_from = gps_track(db, ev, sightings, visible)
    return EvidenceView(
        evidence=ev, extras=extras, unit=unit,
        sightings=[(s, sighting_problem(s, stations.get(s.station_id), ev.sha256) is None) for s in sightings],
        derived=derived, notes=notes, last_fixity=fix, gps_track=gps, gps_source_evidence_id=gps_from)


def custody_page(db: Session, *, evidence_id: int, before: int | None = None,
                 limit: int = 50) -> tuple[list[CustodyEvent], bool]:
    """The evidence's ``limit`` newest custody events before sequence number ``before`` (all when None),
    newest first, and whether there are older ones: a page costs the same however often it was viewed."""
    q = select(CustodyEvent).where(CustodyEvent.evidence_id == evidence_id)
    if before is not None:
        q = q.where(CustodyEvent.seq < before)
    rows = list(db.scalars(q.order_by(CustodyEvent.seq.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def derived_file(db: Session, *, evidence_id: int, kind: str) -> DerivedFile | None:
    """The evidence's derived file of ``kind`` (proxy, poster …), if the media jobs made one."""
    return db.scalars(select(DerivedFile).where(DerivedFile.evidence_id == evidence_id,
                                                DerivedFile.kind == kind)).first()


def job_list(db: Session, *, where: ColumnElement[bool] | None = None, state: str | None = None,
             newest_first: bool = False, limit: int | None = None) -> list[tuple[Job, Evidence]]:
    """The media jobs with the evidence each works on (``where``: a condition on the evidence, e.g.
    a reader's scope), oldest first unless ``newest_first``."""
    q = select(Job, Evidence).join(Evidence, Evidence.id == Job.evidence_id)
    if where is not None:
        q = q.where(where)
    if state:
        q = q.where(Job.state == state)
    q = q.order_by(Job.id.desc() if newest_first else Job.id)
    if limit is not None:
        q = q.limit(limit)
    return [(j, e) for j, e in db.execute(q).all()]
