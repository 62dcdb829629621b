"""``/api/v1/intake``: the remote station's door, the HTTP form of ``ingest.wire.Intake``.

Every route takes the station from its bearer token and refuses to act for another station.
Uploads are resumable: open (``POST /uploads``), ask the offset (``HEAD /uploads/{id}``),
append chunks that start exactly there (``PATCH``), then ``POST /uploads/{id}/complete``.
The logic lives in ``archive.uploads`` and ``archive.stations``; the routes only translate.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from api.deps import ArchiveDep
from archive import dock, service, stations, uploads
from archive.context import Archive
from archive.errors import StationMismatch
from ingest.wire import ManifestInvalid, Receipt, StationReport
from liuhen.words import said

router = APIRouter(tags=["intake"])
_bearer = HTTPBearer(auto_error=False, description="The station token printed by `liuhen stations add`.")
WRITE_BYTES = 1024 * 1024  # buffered from the request stream before each write to disk


def current_station(archive: ArchiveDep, request: Request,
                    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """The station of the bearer token; a refusal is a custody event naming the request."""
    where = {"ip": request.client.host if request.client else None, "method": request.method,
             "path": request.url.path}
    return stations.authenticate(archive, creds.credentials if creds else None, where=where)


CurrentStation = Annotated[str, Depends(current_station)]


def _same_station(archive: Archive, station: str, claimed: str | None) -> None:
    if claimed is not None and claimed != station:
        stations.refused(archive, station_id=station, reason=f"request for station {claimed}")
        raise StationMismatch(said(f"请求声称来自采集站 {claimed}，但令牌属于采集站 {station}", f"The request is for station {claimed}, but the token belongs to station {station}."),
                              said("每个采集站须使用自己的令牌：请检查采集站 config.toml 中 [station] 的 id 和 token。", "Each station must use its own token: check [station] id and token in the "
                                   "station's config.toml."))


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ManifestInvalid(said(f"{what} 不是有效的 base64", f"The {what} is not valid base64."),
                              said("请将采集站软件升级到与档案库一致的版本，然后重新采集。", "Upgrade the station software to match the archive, then offload again.")) from e


class RegisterIn(BaseModel):
    public_key_pem: str
    station_id: str | None = None


class RegisterOut(BaseModel):
    station_id: str


class UploadIn(BaseModel):
    manifest_b64: str
    signature_b64: str


class ReleaseIn(BaseModel):
    manifest_id: str
    action: Literal["kept", "wiped"]
    station_id: str | None = None


def _offset_headers(response: Response, up: uploads.Upload) -> uploads.Upload:
    response.headers["Upload-Offset"] = str(up.offset)
    response.headers["Upload-Length"] = str(up.size)
    response.headers["Cache-Control"] = "no-store"
    return up


@router.post("/register", response_model=RegisterOut)
def register(body: RegisterIn, station: CurrentStation, archive: ArchiveDep) -> RegisterOut:
    """Bind the station's public key on first use; a different key later is refused (422)."""
    _same_station(archive, station, body.station_id)
    stations.bind_key(archive, station_id=station, public_pem=body.public_key_pem)
    return RegisterOut(station_id=station)


@router.post("/uploads", response_model=uploads.Upload)
def open_upload(body: UploadIn, station: CurrentStation, archive: ArchiveDep, response: Response) -> uploads.Upload:
    """Open (or find again) the upload of one signed manifest; the signature is checked now."""
    up = uploads.open_upload(archive, station_id=station, manifest_bytes=_b64(body.manifest_b64, "manifest"),
                             signature=_b64(body.signature_b64, "signature"))
    return _offset_headers(response, up)


@router.get("/uploads/{upload_id}", response_model=uploads.Upload, operation_id="upload_state")
@router.head("/uploads/{upload_id}", response_model=uploads.Upload, operation_id="upload_offset")
def upload_state(upload_id: str, station: CurrentStation, archive: ArchiveDep,
                 response: Response) -> uploads.Upload:
    """How many bytes the archive holds (header ``Upload-Offset``): resume from there."""
    return _offset_headers(response, uploads.upload_state(archive, station_id=station, upload_id=upload_id))


@router.patch("/uploads/{upload_id}", response_model=uploads.Upload,
              responses={409: {"description": "the chunk does not start at the archive's offset "
                                              "(header Upload-Offset says where to resume)"}})
async def append_chunk(upload_id: str, request: Request, station: CurrentStation, archive: ArchiveDep,
                       upload_offset: Annotated[int, Header(ge=0)], response: Response) -> uploads.Upload:
    """Append the raw request body, which must start at ``Upload-Offset``; fsynced before the answer."""
    length = request.headers.get("content-length")
    writer = await run_in_threadpool(uploads.begin_chunk, archive, station_id=station, upload_id=upload_id,
                                     offset=upload_offset, length=int(length) if length else None)
    buf = bytearray()
    try:
        try:
            async for piece in request.stream():
                buf += piece
                if len(buf) >= WRITE_BYTES:
                    await run_in_threadpool(writer.write, bytes(buf))
                    buf.clear()
        except ClientDisconnect:
            pass  # what arrived is kept (it is the start of what was sent); the station resumes after it
        if buf:
            await run_in_threadpool(writer.write, bytes(buf))
        await run_in_threadpool(writer.finish)
    finally:
        await run_in_threadpool(writer.close)
    return _offset_headers(response, writer.state())


@router.post("/uploads/{upload_id}/complete", response_model=Receipt)
def complete_upload(upload_id: str, station: CurrentStation, archive: ArchiveDep) -> Receipt:
    """Re-hash the whole upload against its manifest, archive it, and return the receipt."""
    return uploads.complete(archive, station_id=station, upload_id=upload_id)


@router.post("/release", status_code=204)
def release(body: ReleaseIn, station: CurrentStation, archive: ArchiveDep) -> Response:
    """Record that the station let go of the recorder file ("kept" or "wiped")."""
    _same_station(archive, station, body.station_id)
    service.release(archive, manifest_id=body.manifest_id, action=body.action, station_id=station)
    return Response(status_code=204)


@router.post("/status", status_code=204)
def report_status(body: StationReport, station: CurrentStation, archive: ArchiveDep) -> Response:
    """The station's bays now (docked recorder, files and their progress), for the dock dashboard."""
    _same_station(archive, station, body.station_id)
    dock.store_report(archive, station_id=station, report=body)
    return Response(status_code=204)
