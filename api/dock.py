"""``/api/v1/dock``: the stations of the user's units, their bays, the docked recorders and every
file's progress.

Admins and operators see the stations of their units; an admin, who sees no evidence, gets the
files' states and sizes without their paths, reasons, evidence ids, digests or what the archive
knows of their content (importance, playback). What the dock shows is what is stored now: the
recorder's assignee (not the officer a file name gives), each file's importance and playback as
the archive holds them, a file archived in an earlier run as that (``earlier``, with its evidence
id), an empty file as empty.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS
from archive import dock as docking

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])


class FileOut(BaseModel):
    path: str
    size: int | None
    done: int
    status: str
    reason: str | None = None
    reason_code: str | None = Field(None, description="why, as a stable code (the console shows its word)")
    evidence_id: int | None = None
    sha256: str | None = None
    earlier: bool = Field(default=False, description="archived in an earlier run of the station: evidence_id is it")
    empty: bool = Field(default=False, description="the file has no content (0 bytes); archived as it is")
    media_state: str | None = Field(default=None, description="ok, broken, empty or unknown (as sniffed at intake)")
    media_note: str | None = None
    playback: str | None = Field(default=None, description="pending, ready, unplayable or none, now")
    playback_note: str | None = Field(default=None, description="why it cannot be played")
    important: bool | None = Field(default=None, description="marked important (重点标记), now")


class BayOut(BaseModel):
    bay: str
    state: str
    device_id: str | None
    officer_no: str | None = Field(description="the recorder's assignee, else the officer the files name")
    officer_name: str | None
    officer_source: Literal["assigned", "file"] | None = None
    officer_unknown: bool = Field(default=False, description="officer_no is in no roster: assign the recorder "
                                                             "or add the officer")
    file_officer_no: str | None = Field(default=None, description="the officer the files name, where that is "
                                                                  "not officer_no")
    speed_bps: float | None = Field(default=None, description="while offloading: bytes a second off the recorder")
    eta_s: float | None = Field(default=None, description="while offloading: seconds left at that speed")
    updated_at: str
    files_total: int
    files_done: int
    files_failed: int
    bytes_total: int
    bytes_done: int
    files: list[FileOut]


class StationOut(BaseModel):
    station_id: str
    unit_id: int | None
    unit_code: str | None = None
    online: bool
    last_seen_at: dt.datetime | None
    bays: list[BayOut]


def dock_for(archive: Any, db: Session, p: access.Principal, request: Request | None = None) -> list[StationOut]:
    access.require(archive, db, p, "dock.view", request)
    views = docking.dock_view(db, units=p.scope.units, unattributed=p.scope.unattributed)
    out = [StationOut(station_id=v.station_id, unit_id=v.unit_id, unit_code=v.unit_code, online=v.online,
                      last_seen_at=v.last_seen_at, bays=[BayOut(**b) for b in v.bays]) for v in views]
    if not p.may("evidence.view"):  # the administrator runs docks but sees no evidence: states and sizes only
        for st in out:
            for bay in st.bays:
                bay.files = [f.model_copy(update={"path": "", "reason": None, "reason_code": None, "evidence_id": None,
                                                  "sha256": None, "media_note": None, "playback_note": None,
                                                  "important": None})
                             for f in bay.files]
    return out


@router.get("/dock", response_model=list[StationOut], tags=["dock"],
            summary="Stations of the user's units, their bays, the docked recorders and every file's progress")
def get_dock(archive: ArchiveDep, p: CurrentUser, request: Request) -> list[StationOut]:
    with archive.reads.begin() as db:
        return dock_for(archive, db, p, request)
