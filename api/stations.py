"""``/api/v1/stations``: the docking stations of the administrator's units (``users.manage``): enrol one
with its unit (its token shown once), issue it a new token (the old one stops at once), move it to another
unit, disable it (its token withdrawn: every intake request of it is refused). The services
(``archive.stations``) record each as a custody event (``station_enrolled``, ``station_token_reissued``,
``station_unit_set``, ``station_disabled``); this only translates.

A station of another unit answers exactly like a station that is not enrolled (404 ``unknown_station``,
an ``access_denied`` event); a unit of another unit's tree to put a station under is refused (403).
Stations with no unit yet are seen only by administrators of a top-level unit (``Scope.unattributed``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser, Principal
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, ErrorOut
from api.users import UNIT_CODE
from archive import stations
from archive.context import Archive
from archive.models import Station
from auth.models import Unit

router = APIRouter(responses={**ERRORS}, dependencies=[StrictQuery])
STATION_ID = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"
StationId = Annotated[str, Path(min_length=1, max_length=64, pattern=STATION_ID,
                                description="the station's id, as in its config.toml ([station] id)")]


class StationOut(BaseModel):
    station_id: str
    unit_code: str | None = Field(description="the unit that runs it (null: none yet)")
    key_bound: bool = Field(description="the station has presented its signing key (its first start)")
    enabled: bool = Field(description="it holds a live token (false: disabled, every intake request is refused)")
    created_at: dt.datetime
    last_seen_at: dt.datetime | None


class StationIn(BaseModel):
    station_id: str = Field(min_length=1, max_length=64, pattern=STATION_ID)
    unit_code: str = Field(min_length=1, max_length=64, pattern=UNIT_CODE, description="one of the administrator's units")


class StationUnitIn(BaseModel):
    unit_code: str = Field(min_length=1, max_length=64, pattern=UNIT_CODE, description="one of the administrator's units")


class StationTokenOut(BaseModel):
    station_id: str
    token: str = Field(description="shown this once: put it in the station's config.toml ([station] token = ...)")


def station_out(db: Session, st: Station) -> StationOut:
    unit = db.get(Unit, st.unit_id) if st.unit_id is not None else None
    return StationOut(station_id=st.id, unit_code=unit.code if unit is not None else None,
                      key_bound=st.key_id != stations.UNBOUND, enabled=st.token_sha256 is not None,
                      created_at=st.created_at, last_seen_at=st.last_seen_at)


def managed(archive: Archive, db: Session, p: Principal, station_id: str, request: Request | None) -> Station:
    """The station ``p`` may manage (``users.manage``, one of ``p``'s units); another unit's answers like none."""
    access.require(archive, db, p, "users.manage", request)
    st = db.get(Station, station_id)
    if st is None:
        access.missing(archive, db, p, what="station", ident=station_id, request=request)
        raise stations.unknown_station(station_id)
    if not (st.unit_id in p.scope.units if st.unit_id is not None else p.scope.unattributed):
        access.denied(archive, db, p, permission="users.manage", reason="unit", request=request)
        raise stations.unknown_station(station_id)
    return st


def enrol(archive: Archive, db: Session, p: Principal, station_id: str, unit_code: str,
          request: Request | None) -> str:
    unit = access.own_unit(archive, db, p, "users.manage", unit_code, request)
    return stations.issue_token(archive, db, station_id=station_id, actor=p.actor, unit_id=unit.id, new=True)


@router.get("/stations", response_model=list[StationOut], tags=["stations"],
            summary="The docking stations of the administrator's units")
def list_stations(archive: ArchiveDep, p: CurrentUser, request: Request) -> list[StationOut]:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "users.manage", request)
        return [station_out(db, st) for st in stations.stations_of(db, units=p.scope.units,
                                                                    unattributed=p.scope.unattributed)]


@router.post("/stations", response_model=StationTokenOut, status_code=201, tags=["stations"],
             summary="Enrol a station with its unit (its token is in this answer only)",
             responses={409: {"model": ErrorOut, "description": "a station with this id is enrolled"}})
def create_station(body: StationIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> StationTokenOut:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "users.manage", request)
        token = enrol(archive, db, p, body.station_id, body.unit_code, request)
        return StationTokenOut(station_id=body.station_id, token=token)


@router.post("/stations/{station_id}/token", response_model=StationTokenOut, tags=["stations"],
             summary="Issue a station a new token (the old one is refused from now on; shown once)")
def reissue_token(station_id: StationId, archive: ArchiveDep, p: CurrentUser, request: Request) -> StationTokenOut:
    with archive.sessions.begin() as db:
        st = managed(archive, db, p, station_id, request)
        return StationTokenOut(station_id=st.id,
                               token=stations.issue_token(archive, db, station_id=st.id, actor=p.actor, new=False))


@router.put("/stations/{station_id}/unit", response_model=StationOut, tags=["stations"],
            summary="Put a station under another unit (what it offloaded with no unit follows it)")
def set_unit(station_id: StationId, body: StationUnitIn, archive: ArchiveDep, p: CurrentUser,
             request: Request) -> StationOut:
    with archive.sessions.begin() as db:
        st = managed(archive, db, p, station_id, request)
        unit = access.own_unit(archive, db, p, "users.manage", body.unit_code, request)
        stations.set_unit_in(archive, db, station=st, unit_id=unit.id, actor=p.actor)
        return station_out(db, st)


@router.post("/stations/{station_id}/disable", response_model=StationOut, tags=["stations"],
             summary="Disable a station (its token is withdrawn; a new token brings it back)")
def disable(station_id: StationId, archive: ArchiveDep, p: CurrentUser, request: Request) -> StationOut:
    with archive.sessions.begin() as db:
        st = managed(archive, db, p, station_id, request)
        return station_out(db, stations.disable_station(archive, db, station_id=st.id, actor=p.actor))
