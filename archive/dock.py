"""What the docking stations report of their bays, kept for the console's dock dashboard.

A station sends the state of each bay (the docked recorder, every file of this docking with its
progress, status and, for a refusal, the reason and what to do) every second or so while it
works; remote stations through ``POST /api/v1/intake/status``, the embedded one in-process.
This is a picture of work in progress, not evidence: the files themselves are accounted for by
the station's ledger and the custody log, so a lost report loses nothing but a frame of the
picture, and the next report replaces it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archive.context import Archive
from archive.models import BayStatus, Evidence, Station
from archive.sniff import note_said
from auth.models import Unit
from ingest.wire import ATTENTION, FINAL, StationReport
from liuhen.db import utcnow

STALE_AFTER = dt.timedelta(seconds=30)  # a station silent this long is shown as offline
def store_report(archive: Archive, *, station_id: str, report: StationReport) -> None:
    """Replace what is known of ``station_id``'s bays with ``report`` (bays not named are gone)."""
    with archive.sessions.begin() as db:
        st = db.get(Station, station_id)
        if st is None:
            return
        st.last_seen_at = utcnow()
        names = [b.bay for b in report.bays]
        db.execute(delete(BayStatus).where(BayStatus.station_id == station_id, BayStatus.bay.not_in(names)))
        for b in report.bays:
            row = db.get(BayStatus, (station_id, b.bay))
            if row is None:
                row = BayStatus(station_id=station_id, bay=b.bay)
                db.add(row)
            row.device_id = b.device_id
            row.state = b.state
            row.snapshot = b.model_dump_json()
            row.updated_at = utcnow()
            # (a report is not signed: where a recorder was docked is learnt only from signed manifests,
            # at intake — roster.note_docked — never from here)


@dataclass(frozen=True)
class StationView:
    station_id: str
    unit_id: int | None
    unit_code: str | None
    last_seen_at: dt.datetime | None
    online: bool
    bays: list[dict[str, Any]]


def dock_view(db: Session, *, units: frozenset[int] | None, unattributed: bool) -> list[StationView]:
    """Stations (of ``units``; None = all; a station with no unit only with ``unattributed``) with their
    bays, the recorder's officer (only an officer of ``units``) and file counts.

    The bay's officer is the recorder's assignee (the roster, as the operator last set it), else the
    officer the files name; ``officer_source`` says which, and ``file_officer_no`` is what the files
    name when that differs. ``officer_unknown``: the officer shown is in no unit's roster (the fix:
    assign the recorder, or add the officer). Each file with an evidence id also gets what the
    archive knows of it now — ``media_state``/``media_note`` (an empty or broken file),
    ``playback``/``playback_note`` (unplayable, with the reason) and ``important`` — so the page
    shows the stored state, never an earlier picture of it."""
    from roster.models import Officer, Recorder

    q = select(Station).order_by(Station.id)
    stations = [s for s in db.scalars(q)
                if units is None or (s.unit_id in units if s.unit_id is not None else unattributed)]
    unit_codes = {uid: code for uid, code in db.execute(select(Unit.id, Unit.code))}
    now = utcnow()
    out = []
    for st in stations:
        bays = []
        for row in db.scalars(select(BayStatus).where(BayStatus.station_id == st.id).order_by(BayStatus.bay)):
            snap = json.loads(row.snapshot)
            named = snap.get("officer_no")  # what the recorder wrote into its file names
            rec = db.get(Recorder, row.device_id) if row.device_id else None
            assigned = rec.officer_no if rec is not None and rec.officer_no else None
            officer_no, source = (assigned, "assigned") if assigned else (named, "file" if named else None)
            officer = db.scalar(select(Officer).where(Officer.officer_no == officer_no)) if officer_no else None
            unknown = officer_no is not None and officer is None
            if officer is not None and units is not None and officer.unit_id not in units:
                officer = None  # another unit's officer: neither their number nor their name is shown
                officer_no, source = named, "file" if named else None  # (what the recorder itself wrote)
                unknown = False
            files = _with_evidence(db, snap.get("files", []))
            final = FINAL
            bays.append({
                "bay": row.bay, "state": row.state, "device_id": row.device_id,
                "officer_no": officer_no, "officer_name": officer.name if officer else None,
                "officer_source": source, "officer_unknown": unknown,
                "file_officer_no": named if named and named != officer_no else None,
                "updated_at": row.updated_at.isoformat(),
                "speed_bps": snap.get("speed_bps") if row.state == "offloading" else None,
                "eta_s": snap.get("eta_s") if row.state == "offloading" else None,
                "files_total": len(files),
                "files_done": sum(f["status"] in final for f in files),
                "files_failed": sum(f["status"] in ATTENTION for f in files),
                "bytes_total": sum(f.get("size") or 0 for f in files),
                "bytes_done": sum((f.get("size") or 0) if f["status"] in final else f.get("done", 0) for f in files),
                "files": files,
            })
        seen = st.last_seen_at
        code = unit_codes.get(st.unit_id) if st.unit_id is not None else None
        out.append(StationView(station_id=st.id, unit_id=st.unit_id, unit_code=code, last_seen_at=seen,
                               online=seen is not None and now - seen < STALE_AFTER, bays=bays))
    return out


def _with_evidence(db: Session, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reported files with what the archive knows of their evidence now (see ``dock_view``), in
    one query."""
    ids = {f["evidence_id"] for f in files if f.get("evidence_id")}
    evs = {e.id: e for e in db.scalars(select(Evidence).where(Evidence.id.in_(ids)))} if ids else {}
    out = []
    for f in files:
        f = {**f, "empty": f.get("size") == 0 and f.get("status") in FINAL}
        ev = evs.get(f.get("evidence_id") or 0)
        if ev is not None:
            f.update(empty=ev.size == 0 or ev.media_state == "empty", media_state=ev.media_state,
                     media_note=str(note_said(ev.media_note)) if ev.media_note else None,  # ("中文 / English")
                     playback=ev.playback, playback_note=ev.playback_note,
                     important=ev.important)
        out.append(f)
    return out
