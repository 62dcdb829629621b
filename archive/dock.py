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
from archive.models import BayStatus, Station
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
    last_seen_at: dt.datetime | None
    online: bool
    bays: list[dict[str, Any]]


def dock_view(db: Session, *, units: frozenset[int] | None, unattributed: bool) -> list[StationView]:
    """Stations (of ``units``; None = all; a station with no unit only with ``unattributed``) with their
    bays, the recorder's officer (only an officer of ``units``) and file counts."""
    from roster.models import Officer, Recorder

    q = select(Station).order_by(Station.id)
    stations = [s for s in db.scalars(q)
                if units is None or (s.unit_id in units if s.unit_id is not None else unattributed)]
    now = utcnow()
    out = []
    for st in stations:
        bays = []
        for row in db.scalars(select(BayStatus).where(BayStatus.station_id == st.id).order_by(BayStatus.bay)):
            snap = json.loads(row.snapshot)
            officer_no = snap.get("officer_no")
            if row.device_id:
                rec = db.get(Recorder, row.device_id)
                if rec is not None and rec.officer_no:
                    officer_no = officer_no or rec.officer_no
            officer = db.scalar(select(Officer).where(Officer.officer_no == officer_no)) if officer_no else None
            if officer is not None and units is not None and officer.unit_id not in units:
                officer = None  # another unit's officer: neither their number nor their name is shown
                officer_no = snap.get("officer_no")  # (what the recorder itself wrote, which the dock shows)
            files = snap.get("files", [])
            final = FINAL
            bays.append({
                "bay": row.bay, "state": row.state, "device_id": row.device_id,
                "officer_no": officer_no, "officer_name": officer.name if officer else None,
                "updated_at": row.updated_at.isoformat(),
                "files_total": len(files),
                "files_done": sum(f["status"] in final for f in files),
                "files_failed": sum(f["status"] in ATTENTION for f in files),
                "bytes_total": sum(f.get("size") or 0 for f in files),
                "bytes_done": sum((f.get("size") or 0) if f["status"] in final else f.get("done", 0) for f in files),
                "files": files,
            })
        seen = st.last_seen_at
        out.append(StationView(station_id=st.id, unit_id=st.unit_id, last_seen_at=seen,
                               online=seen is not None and now - seen < STALE_AFTER, bays=bays))
    return out
