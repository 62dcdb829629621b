"""The HTTP intake: a remote station offloads to the real API, served by uvicorn on a real port.

Runs against the ``archive`` fixture on SQLite and PostgreSQL, with a real Ed25519 station key,
signed manifests and real media from ffmpeg.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from app.web import create_app
from archive.context import Archive
from archive.errors import (
    DigestMismatch,
    IntakeRefused,
    StationMismatch,
    StationNotEnrolled,
    TokenRefused,
)
from archive.models import Evidence, Sighting
from archive.stations import add_station
from hashing import keys
from hashing.digest import Digest
from hashing.models import CustodyEvent
from ingest.errors import ArchiveUnreachable
from ingest.http_intake import HttpIntake
from ingest.station import Station
from ingest.wire import Manifest
from liuhen.config import Settings
from liuhen.errors import NotFound
from tests.docks import BAY3_BINDING, build_multi_bay_dock

CHUNK = 64 * 1024
INTAKE = "/api/v1/intake"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(BAY3_BINDING)


@pytest.fixture
def server(archive: Archive) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(archive), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(15)
        sock.close()


@dataclass(frozen=True)
class Offload:
    manifest: bytes
    signature: bytes
    path: Path
    m: Manifest


@pytest.fixture
def clip(make_clip: Callable[..., Path]) -> Path:
    p = make_clip(seconds=3.0, size="640x480")
    assert p.stat().st_size > 4 * CHUNK, "the clip must span several chunks"
    return p


def offload(src: Path, key: keys.SigningKey, folder: Path, *, station_id: str = "st1") -> Offload:
    """Stage a copy of ``src`` the way a station does: its own copy, a manifest, a signature."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.mp4"
    shutil.copyfile(src, path)
    data = path.read_bytes()
    now = dt.datetime.now(dt.UTC).isoformat()
    m = Manifest(manifest_id=str(uuid.uuid4()), station_id=station_id, station_key_id=key.key_id, bay="b1",
                 layout="pattern", original_path="DEV1_OFF1_20240501120000_1.mp4",
                 original_path_hex=b"DEV1_OFF1_20240501120000_1.mp4".hex(), path_encoding="utf-8",
                 sha256=Digest.of_bytes(data).hex, size=len(data), file_mtime=now, staged_at=now,
                 tool="liuhen-station", tool_version="0.1", hash_tool="hashlib.sha256")
    body = m.to_bytes()
    return Offload(body, key.sign(body), path, m)


@pytest.fixture
def token(archive: Archive) -> str:
    return add_station(archive, station_id="st1")


@pytest.fixture
def key(tmp_path: Path) -> keys.SigningKey:
    return keys.load_or_create(tmp_path / "station" / "st1.ed25519")


@pytest.fixture
def intake(server: str, token: str, key: keys.SigningKey) -> Iterator[HttpIntake]:
    with HttpIntake(server, token, chunk_bytes=CHUNK, backoff=0.01) as i:
        i.register(station_id="st1", public_pem=key.public_pem)
        yield i


def counts(archive: Archive) -> tuple[int, int]:
    with archive.sessions() as db:
        return (db.scalar(select(func.count()).select_from(Evidence)) or 0,
                db.scalar(select(func.count()).select_from(Sighting)) or 0)


def uploads_left(archive: Archive) -> list[Path]:
    root = archive.settings.archive.upload_path
    return list(root.iterdir()) if root.exists() else []


def open_raw(server: str, token: str, o: Offload) -> httpx.Response:
    return httpx.post(f"{server}{INTAKE}/uploads", headers={"Authorization": f"Bearer {token}"},
                      json={"manifest_b64": base64.b64encode(o.manifest).decode(),
                            "signature_b64": base64.b64encode(o.signature).decode()})


class CountingTransport(httpx.HTTPTransport):
    """A real transport that notes each PATCH's offset and size (to prove what was re-sent)."""

    def __init__(self) -> None:
        super().__init__()
        self.patches: list[tuple[int, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            self.patches.append((int(request.headers["Upload-Offset"]), len(request.content)))
        return super().handle_request(request)


# ---------------------------------------------------------------------------- behaviour


def test_upload_over_http_archives_the_original_byte_for_byte(
        archive: Archive, intake: HttpIntake, clip: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    o = offload(clip, key, tmp_path / "staging")
    receipt = intake.submit(manifest=o.manifest, signature=o.signature, path=o.path)

    assert receipt.status == "archived"
    assert receipt.sha256 == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert receipt.size == clip.stat().st_size and receipt.manifest_id == o.m.manifest_id
    with archive.sessions() as db:
        ev = db.get(Evidence, receipt.evidence_id)
        assert ev is not None
        with archive.store.open(ev.store_key, ev.store_version) as f:
            assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(clip.read_bytes()).hexdigest()
        assert ev.sightings[0].manifest == o.manifest and ev.sightings[0].signature == o.signature
    assert uploads_left(archive) == []
    assert o.path.exists(), "the station's staged copy stays until it releases it"

    intake.release(station_id="st1", manifest_id=o.m.manifest_id, action="kept")
    with archive.sessions() as db:
        s = db.execute(select(Sighting).where(Sighting.manifest_id == o.m.manifest_id)).scalar_one()
        assert s.release_action == "kept" and s.released_at is not None


def test_offering_an_archived_manifest_again_returns_the_same_receipt(
        archive: Archive, intake: HttpIntake, clip: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    o = offload(clip, key, tmp_path / "staging")
    first = intake.submit(manifest=o.manifest, signature=o.signature, path=o.path)
    again = intake.submit(manifest=o.manifest, signature=o.signature, path=o.path)
    assert again == first
    assert counts(archive) == (1, 1)
    assert uploads_left(archive) == []


def test_interrupted_upload_resumes_from_the_archive_offset_without_resending(
        archive: Archive, server: str, token: str, intake: HttpIntake, clip: Path, key: keys.SigningKey,
        tmp_path: Path) -> None:
    o = offload(clip, key, tmp_path / "staging")
    auth = {"Authorization": f"Bearer {token}"}
    r = open_raw(server, token, o)
    assert r.status_code == 200, r.text
    uid = r.json()["upload_id"]
    assert r.json()["offset"] == 0 and r.headers["Upload-Offset"] == "0"
    data = o.path.read_bytes()
    for n in range(3):  # the station sends three chunks, then its connection drops
        p = httpx.patch(f"{server}{INTAKE}/uploads/{uid}", content=data[n * CHUNK:(n + 1) * CHUNK],
                        headers={**auth, "Upload-Offset": str(n * CHUNK)})
        assert p.status_code == 200, p.text
        assert p.headers["Upload-Offset"] == str((n + 1) * CHUNK)

    head = httpx.head(f"{server}{INTAKE}/uploads/{uid}", headers=auth)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(3 * CHUNK)
    assert head.headers["Upload-Length"] == str(len(data))
    assert open_raw(server, token, o).json()["upload_id"] == uid, "the same manifest finds the same upload"

    spy = CountingTransport()
    with HttpIntake(server, token, chunk_bytes=CHUNK, transport=spy) as resumed:
        receipt = resumed.submit(manifest=o.manifest, signature=o.signature, path=o.path)
    assert receipt.status == "archived"
    assert spy.patches[0][0] == 3 * CHUNK, "resumed where the archive's copy ends"
    assert sum(n for _, n in spy.patches) == len(data) - 3 * CHUNK, "no accepted byte was sent twice"
    with archive.sessions() as db:
        ev = db.get(Evidence, receipt.evidence_id)
        assert ev is not None
        with archive.store.open(ev.store_key, ev.store_version) as f:
            assert f.read() == data
    assert uploads_left(archive) == []


def test_a_connection_dropped_mid_chunk_keeps_a_true_prefix_and_resumes(
        archive: Archive, server: str, token: str, intake: HttpIntake, clip: Path, key: keys.SigningKey,
        tmp_path: Path) -> None:
    o = offload(clip, key, tmp_path / "staging")
    uid = open_raw(server, token, o).json()["upload_id"]
    data = o.path.read_bytes()
    sent = CHUNK + 123
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:  # promises 3 chunks, sends 1 and a bit, vanishes
        s.sendall(f"PATCH {INTAKE}/uploads/{uid} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                  f"Upload-Offset: 0\r\nContent-Length: {3 * CHUNK}\r\n\r\n".encode() + data[:sent])
        time.sleep(0.3)

    held = int(httpx.head(f"{server}{INTAKE}/uploads/{uid}",
                          headers={"Authorization": f"Bearer {token}"}).headers["Upload-Offset"])
    assert 0 <= held <= sent
    spy = CountingTransport()
    with HttpIntake(server, token, chunk_bytes=CHUNK, transport=spy, backoff=0.05) as resumed:
        receipt = resumed.submit(manifest=o.manifest, signature=o.signature, path=o.path)
    assert receipt.status == "archived" and receipt.sha256 == hashlib.sha256(data).hexdigest()
    assert sum(n for _, n in spy.patches) == len(data) - spy.patches[0][0]
    assert spy.patches[0][0] >= held


def test_chunk_at_the_wrong_offset_is_refused_with_the_archive_offset(
        archive: Archive, server: str, token: str, intake: HttpIntake, clip: Path, key: keys.SigningKey,
        tmp_path: Path) -> None:
    o = offload(clip, key, tmp_path / "staging")
    auth = {"Authorization": f"Bearer {token}"}
    uid = open_raw(server, token, o).json()["upload_id"]
    data = o.path.read_bytes()
    assert httpx.patch(f"{server}{INTAKE}/uploads/{uid}", content=data[:CHUNK],
                       headers={**auth, "Upload-Offset": "0"}).status_code == 200

    for wrong in (0, 2 * CHUNK):  # a repeat of the first chunk, and a gap
        r = httpx.patch(f"{server}{INTAKE}/uploads/{uid}", content=data[wrong:wrong + CHUNK],
                        headers={**auth, "Upload-Offset": str(wrong)})
        assert r.status_code == 409
        assert r.headers["Upload-Offset"] == str(CHUNK)
        assert r.json()["code"] == "upload_conflict" and f"Resume from byte {CHUNK}" in r.json()["detail"]
    assert httpx.head(f"{server}{INTAKE}/uploads/{uid}", headers=auth).headers["Upload-Offset"] == str(CHUNK)

    r = httpx.post(f"{server}{INTAKE}/uploads/{uid}/complete", headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "upload_conflict", "an incomplete upload is not archived"
    assert counts(archive) == (0, 0)


def test_bytes_changed_after_signing_are_refused_and_nothing_is_archived(
        archive: Archive, intake: HttpIntake, clip: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    o = offload(clip, key, tmp_path / "staging")
    with open(o.path, "r+b") as f:
        f.seek(o.m.size // 2)
        b = f.read(1)
        f.seek(o.m.size // 2)
        f.write(bytes([b[0] ^ 0x01]))

    with pytest.raises(DigestMismatch) as err:
        intake.submit(manifest=o.manifest, signature=o.signature, path=o.path)
    assert o.m.sha256 in err.value.diagnostics() and "offload the file again" in err.value.diagnostics()
    assert counts(archive) == (0, 0)
    assert uploads_left(archive) == []
    with archive.sessions() as db:
        refused = db.execute(select(CustodyEvent).where(CustodyEvent.action == "refused")).scalars().all()
    assert len(refused) == 1 and refused[0].object_sha256 == o.m.sha256


def test_wrong_token_gets_401_with_code_and_detail(server: str, token: str, key: keys.SigningKey) -> None:
    for auth in ({"Authorization": "Bearer not-a-token"}, {}):
        r = httpx.post(f"{server}{INTAKE}/register", headers=auth, json={"public_key_pem": key.public_pem})
        assert r.status_code == 401
        assert set(r.json()) == {"code", "detail", "message"} and r.json()["code"] == "token_refused"
        assert "liuhen stations add" in r.json()["detail"]
        assert r.headers["WWW-Authenticate"] == "Bearer"

    with HttpIntake(server, "not-a-token") as intake, pytest.raises(TokenRefused):
        intake.register(station_id="st1", public_pem=key.public_pem)


def test_manifest_signed_by_another_key_is_refused_before_any_byte(
        archive: Archive, server: str, token: str, intake: HttpIntake, clip: Path, tmp_path: Path) -> None:
    other = keys.load_or_create(tmp_path / "impostor.ed25519")
    o = offload(clip, other, tmp_path / "staging")
    r = open_raw(server, token, o)
    assert r.status_code == 422 and r.json()["code"] == "intake_refused"
    assert "not signed by station st1" in r.json()["detail"]
    with pytest.raises(IntakeRefused):
        intake.submit(manifest=o.manifest, signature=o.signature, path=o.path)
    assert counts(archive) == (0, 0) and uploads_left(archive) == []


def test_station_key_is_bound_on_first_registration_and_another_refused(
        archive: Archive, server: str, token: str, intake: HttpIntake, key: keys.SigningKey, tmp_path: Path) -> None:
    intake.register(station_id="st1", public_pem=key.public_pem)  # the same key again is fine
    other = keys.load_or_create(tmp_path / "reinstalled.ed25519")
    with pytest.raises(IntakeRefused) as err:
        intake.register(station_id="st1", public_pem=other.public_pem)
    assert key.key_id in err.value.diagnostics() and other.key_id in err.value.diagnostics()


def test_station_must_register_its_key_before_uploading(
        archive: Archive, server: str, token: str, clip: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    o = offload(clip, key, tmp_path / "staging")
    with HttpIntake(server, token, chunk_bytes=CHUNK) as intake, pytest.raises(StationNotEnrolled):
        intake.submit(manifest=o.manifest, signature=o.signature, path=o.path)


def test_a_station_token_cannot_act_for_another_station(
        archive: Archive, server: str, intake: HttpIntake, clip: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    st2_token = add_station(archive, station_id="st2")
    o = offload(clip, key, tmp_path / "staging")  # a genuine st1 manifest, sent with st2's token
    r = open_raw(server, st2_token, o)
    assert r.status_code == 403 and r.json()["code"] == "station_mismatch"

    with HttpIntake(server, st2_token, chunk_bytes=CHUNK) as st2:
        with pytest.raises(StationMismatch):
            st2.submit(manifest=o.manifest, signature=o.signature, path=o.path)
        with pytest.raises(StationMismatch):
            st2.register(station_id="st1", public_pem=key.public_pem)

    receipt = intake.submit(manifest=o.manifest, signature=o.signature, path=o.path)
    with HttpIntake(server, st2_token) as st2:
        with pytest.raises(StationMismatch):
            st2.release(station_id="st1", manifest_id=receipt.manifest_id, action="wiped")
        with pytest.raises(NotFound):  # nor release st1's file in its own name
            st2.release(station_id="st2", manifest_id=receipt.manifest_id, action="wiped")
    assert counts(archive) == (1, 1)


def test_unreachable_archive_raises_archive_unreachable(token: str, key: keys.SigningKey) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with (HttpIntake(f"http://127.0.0.1:{port}", token, retries=2, backoff=0.01, timeout=2) as intake,
          pytest.raises(ArchiveUnreachable) as err):
        intake.register(station_id="st1", public_pem=key.public_pem)
    assert err.value.code == "archive_unreachable"
    assert f"The archive at http://127.0.0.1:{port} cannot be reached" in err.value.diagnostics()
    assert "stay safely on the station" in err.value.diagnostics()


def test_a_station_offloads_a_whole_dock_through_the_http_intake(
        settings: Settings, archive: Archive, server: str, make_clip: Callable[..., Path]) -> None:
    token = add_station(archive, station_id=settings.station.id)
    files = build_multi_bay_dock(settings.station.dock_root, make_clip)
    station = Station(settings.station, HttpIntake(server, token, chunk_bytes=CHUNK))
    try:
        results = station.offload_once(settings.station.dock_root)
    finally:
        station.close()

    statuses = sorted(r.status for r in results)
    assert len(results) == len(files)
    assert statuses.count("duplicate") == 1 and statuses.count("archived") == len(files) - 1
    assert {r.sha256 for r in results} == {f.sha256 for f in files}
    assert counts(archive) == (len({f.sha256 for f in files}), len(files))
    with archive.sessions() as db:
        assert all(s.release_action == "kept" for s in db.execute(select(Sighting)).scalars())
    assert [p.name for p in settings.station.staging_path.iterdir()] == ["partial"]
    assert uploads_left(archive) == []


def test_health_and_openapi_are_published(server: str) -> None:
    # (the schema is built on the first request: generous time, the machine may be busy)
    assert httpx.get(f"{server}/api/v1/health", timeout=60).json()["status"] == "ok"
    spec = httpx.get(f"{server}/api/v1/openapi.json", timeout=60).json()
    assert spec["info"]["title"] == "liuhen"
    assert {"/api/v1/intake/uploads", "/api/v1/intake/uploads/{upload_id}",
            "/api/v1/intake/uploads/{upload_id}/complete", "/api/v1/intake/register",
            "/api/v1/intake/release"} <= set(spec["paths"])
    assert httpx.get(f"{server}/api/v1/docs", timeout=60).status_code == 200


def test_abandoned_uploads_are_swept_and_fresh_ones_kept(archive):
    from archive.uploads import sweep_abandoned

    root = archive.settings.archive.upload_path
    old, fresh = root / ("a" * 32), root / ("b" * 32)
    for d in (old, fresh):
        d.mkdir(parents=True)
        (d / "data").write_bytes(b"partial")
    week_ago = time.time() - 8 * 86400
    os.utime(old / "data", (week_ago, week_ago))
    assert sweep_abandoned(archive) == 1
    assert not old.exists() and fresh.exists()
