"""Resumable uploads from remote stations: offset-checked chunks on disk, then ``receive``.

One upload per (station, manifest), in ``<upload_path>/<upload_id>/``: ``manifest.json`` and
``manifest.sig`` exactly as the station signed them, and ``data``, the bytes received so far.
The station's signature is checked when the upload is opened, so a forged manifest is refused
before a single byte is sent. A chunk is appended only if it starts exactly where ``data``
ends, and is fsynced before its new offset is acknowledged, so a station that lost its
connection (or an archive that crashed) resumes from bytes the archive really holds. ``complete`` hands the file to ``archive.service.receive``, which re-hashes every
byte against the signed manifest, and then removes the upload.

Each upload's ``data`` file is ``flock``-ed by whoever writes or completes it; a second
transfer for the same upload meanwhile gets ``UploadConflict`` and retries.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archive.context import Archive
from archive.errors import (
    IntakeRefused,
    StationMismatch,
    StoreError,
    StoreFull,
    UploadConflict,
)
from archive.models import Sighting
from archive.service import check_signature, receive
from archive.stations import bound_station, refused
from ingest.wire import Manifest, Receipt
from liuhen.durable import fsync_path, private_dir, write_durable
from liuhen.errors import NotFound
from liuhen.words import said

_ID = re.compile(r"^[0-9a-f]{32}$")
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
DATA = "data"


@dataclass(frozen=True)
class Upload:
    upload_id: str
    manifest_id: str
    size: int  # bytes the manifest promises
    offset: int  # bytes the archive holds durably
    receipt: Receipt | None = None  # set when the manifest was already archived

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def upload_id_for(station_id: str, manifest_id: str) -> str:
    """The same station and manifest always give the same upload, so a station can resume."""
    return hashlib.sha256(f"{station_id}\0{manifest_id}".encode()).hexdigest()[:32]


def _root(archive: Archive) -> Path:
    return archive.settings.archive.upload_path


def _folder(archive: Archive, upload_id: str) -> Path:
    if not _ID.match(upload_id):
        raise _gone(upload_id)
    return _root(archive) / upload_id


def _gone(upload_id: str) -> NotFound:
    return NotFound(said(f"本档案库没有正在进行的上传 {upload_id}", f"There is no upload {upload_id} in progress on this archive."),
                    said("请重新打开上传（用同一清单 POST /api/v1/intake/uploads）：将从档案库已收到的位置继续，已归档的则返回回执。", "Open the upload again (POST /api/v1/intake/uploads with the same manifest): "
                         "it resumes from what the archive holds, or returns the receipt if it is archived."))






def _disk_error(e: OSError, archive: Archive, what: str) -> StoreError:
    where = _root(archive)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(said(f"档案库上传文件夹 {where} 已满，无法写入{what}", f"The archive's upload folder {where} is full; {what} could not be written."),
                         said("请在档案库释放磁盘空间后重新采集：采集站保留该文件，并从上传中断处继续。", "Free disk space on the archive, then offload again: the station keeps the file "
                              "and resumes where the upload stopped."))
    return StoreError(said(f"向档案库上传文件夹 {where} 写入{what}失败：{e.strerror}", f"Writing {what} to the archive's upload folder {where} failed: {e.strerror}."),
                      said("请检查档案库上该磁盘及其权限，然后重新采集。", "Check that disk and its permissions on the archive, then offload again."))


def _read(folder: Path, upload_id: str) -> tuple[bytes, bytes, Manifest]:
    try:
        body = (folder / MANIFEST).read_bytes()
        sig = (folder / SIGNATURE).read_bytes()
    except FileNotFoundError as e:
        raise _gone(upload_id) from e
    return body, sig, Manifest.parse(body)


def _own(m: Manifest, station_id: str) -> None:
    if m.station_id != station_id:
        raise StationMismatch(said(f"{m.original_path} 的清单写的是采集站 {m.station_id}，但令牌属于采集站 {station_id}", f"The manifest for {m.original_path} names station {m.station_id}, but the token "
                                   f"belongs to station {station_id}."),
                              said("每个采集站须用自己的令牌采集：请检查采集站 config.toml 中 [station] 的 id 和 token。", "Each station must offload with its own token: check [station] id and token "
                                   "in the station's config.toml."))


def _lock(folder: Path, upload_id: str) -> int:
    """Open ``data`` for writing and take its exclusive lock; the caller closes the descriptor."""
    path = folder / DATA
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError as e:
        raise _gone(upload_id) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise UploadConflict(said(f"上传 {upload_id} 的另一次传输仍在进行", f"Another transfer for upload {upload_id} is still running."),
                                 said("请稍候，从档案库报告的位置继续。", "Wait a moment and resume from the offset the archive reports."),
                                 offset=os.fstat(fd).st_size) from e
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # completed (and removed) while we waited
            raise _gone(upload_id)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _recorded(archive: Archive, manifest_id: str) -> bool:
    with archive.sessions() as db:
        return db.execute(select(Sighting.id).where(Sighting.manifest_id == manifest_id)).first() is not None


def open_upload(archive: Archive, *, station_id: str, manifest_bytes: bytes, signature: bytes) -> Upload:
    """Start (or find again) the upload for one signed manifest; refuse a bad signature now, before
    anything is written (each refusal a custody event, ``archive.stations.refused``)."""
    m = Manifest.parse(manifest_bytes)
    try:
        _own(m, station_id)
    except StationMismatch:
        refused(archive, station_id=station_id, reason=f"manifest of station {m.station_id}",
                where={"manifest_id": m.manifest_id})
        raise
    bound_station(archive, station_id=station_id)
    try:
        with archive.sessions() as db:
            check_signature(db, m, manifest_bytes, signature)
    except IntakeRefused:
        refused(archive, station_id=station_id, reason="manifest signature does not verify with the station's key",
                where={"manifest_id": m.manifest_id, "sha256": m.sha256})
        raise
    upload_id = upload_id_for(station_id, m.manifest_id)
    folder = _root(archive) / upload_id

    if _recorded(archive, m.manifest_id):
        # Archived already (the station did not hear the answer): the receipt, nothing to send.
        receipt = receive(archive, manifest_bytes=manifest_bytes, signature=signature, path=folder / DATA)
        shutil.rmtree(folder, ignore_errors=True)
        return Upload(upload_id, m.manifest_id, m.size, m.size, receipt)

    try:
        private_dir(_root(archive))
        if folder.exists() and (folder / MANIFEST).read_bytes() != manifest_bytes:
            # The station re-signed this manifest id (e.g. re-staged the file): start over with it.
            fd = _lock(folder, upload_id)
            try:
                shutil.rmtree(folder)
            finally:
                os.close(fd)
        if not folder.exists():
            tmp = _root(archive) / f".{upload_id}.{uuid.uuid4().hex}.tmp"
            tmp.mkdir(mode=0o700)
            write_durable(tmp / MANIFEST, manifest_bytes)
            write_durable(tmp / SIGNATURE, signature)
            write_durable(tmp / DATA, b"")
            fsync_path(tmp)
            try:
                os.rename(tmp, folder)  # atomic, whole; fails if a parallel request created it first
            except OSError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            fsync_path(_root(archive))
        held = (folder / DATA).stat().st_size
    except FileNotFoundError as e:
        raise UploadConflict(said(f"{m.original_path} 的上传在打开时发生了变化", f"The upload of {m.original_path} changed while it was being opened."),
                             said("请重新打开。", "Open it again."), offset=0) from e
    except OSError as e:
        raise _disk_error(e, archive, f"the upload of {m.original_path}") from e
    return Upload(upload_id, m.manifest_id, m.size, held)


def upload_state(archive: Archive, *, station_id: str, upload_id: str) -> Upload:
    folder = _folder(archive, upload_id)
    _, _, m = _read(folder, upload_id)
    _own(m, station_id)
    try:
        held = (folder / DATA).stat().st_size
    except FileNotFoundError as e:
        raise _gone(upload_id) from e
    return Upload(upload_id, m.manifest_id, m.size, held)


class ChunkWriter:
    """Appends one chunk to an upload it holds locked; ``close`` makes what arrived durable.

    Bytes that arrived before a dropped connection are kept (they are the start of what the
    station sent), so the station resumes after them.
    """

    def __init__(self, archive: Archive, fd: int, upload: Upload, what: str) -> None:
        self.archive = archive
        self.fd = fd
        self.upload = upload
        self.what = what
        self.offset = upload.offset
        self._dirty = False

    def write(self, data: bytes) -> None:
        if self.offset + len(data) > self.upload.size:
            raise IntakeRefused(said(f"{self.what} 的上传超出了其清单所说的 {self.upload.size} 字节", f"The upload of {self.what} went past the {self.upload.size} bytes its manifest "
                                     "promises."), said("请从记录仪重新采集该文件。", "Offload the file again from the recorder."))
        view = memoryview(data)
        try:
            while view:
                n = os.pwrite(self.fd, view, self.offset)
                self.offset += n
                self._dirty = True
                view = view[n:]
        except OSError as e:
            raise _disk_error(e, self.archive, self.what) from e

    def finish(self) -> int:
        """fsync and return the new offset (to be acknowledged only after this)."""
        if self._dirty:
            try:
                os.fsync(self.fd)
            except OSError as e:
                raise _disk_error(e, self.archive, self.what) from e
            self._dirty = False
        return self.offset

    def state(self) -> Upload:
        return Upload(self.upload.upload_id, self.upload.manifest_id, self.upload.size, self.offset)

    def close(self) -> None:
        try:
            if self._dirty:
                os.fsync(self.fd)
        finally:
            os.close(self.fd)  # releases the lock


def begin_chunk(archive: Archive, *, station_id: str, upload_id: str, offset: int,
                length: int | None) -> ChunkWriter:
    """Lock the upload for one chunk that must start at ``offset``; ``UploadConflict`` if not."""
    folder = _folder(archive, upload_id)
    _, _, m = _read(folder, upload_id)
    _own(m, station_id)
    fd = _lock(folder, upload_id)
    try:
        held = os.fstat(fd).st_size
        if offset != held:
            raise UploadConflict(said(f"该数据块从 {m.original_path} 的第 {offset} 字节开始，但档案库已有其 {held} 字节", f"The chunk starts at byte {offset} of {m.original_path}, but the archive holds "
                                      f"{held} bytes of it."), said(f"请从第 {held} 字节继续（Upload-Offset 头）。", f"Resume from byte {held} (header Upload-Offset)."),
                                 offset=held)
        if length is not None and offset + length > m.size:
            raise IntakeRefused(said(f"第 {offset} 字节处 {length} 字节的数据块会超出 {m.original_path} 的清单所说的 {m.size} 字节", f"A chunk of {length} bytes at byte {offset} would go past the {m.size} bytes "
                                     f"the manifest of {m.original_path} promises."),
                                said("请从记录仪重新采集该文件。", "Offload the file again from the recorder."))
    except BaseException:
        os.close(fd)
        raise
    return ChunkWriter(archive, fd, Upload(upload_id, m.manifest_id, m.size, held), m.original_path)


def complete(archive: Archive, *, station_id: str, upload_id: str) -> Receipt:
    """Archive the uploaded file (``receive``) and remove the upload; idempotent by manifest."""
    folder = _folder(archive, upload_id)
    body, sig, m = _read(folder, upload_id)
    _own(m, station_id)
    fd = _lock(folder, upload_id)
    try:
        held = os.fstat(fd).st_size
        if held != m.size and not _recorded(archive, m.manifest_id):
            raise UploadConflict(said(f"档案库只有 {m.original_path} 的 {m.size} 字节中的 {held} 字节", f"The archive holds {held} of the {m.size} bytes of {m.original_path}."),
                                 said(f"请从第 {held} 字节起发送其余部分，然后再完成上传。", f"Send the rest from byte {held}, then complete again."), offset=held)
        try:
            receipt = receive(archive, manifest_bytes=body, signature=sig, path=folder / DATA, consume=True)
        except IntakeRefused:
            shutil.rmtree(folder, ignore_errors=True)  # final for this upload (e.g. its bytes do not match)
            raise
        shutil.rmtree(folder, ignore_errors=True)
        return receipt
    finally:
        os.close(fd)


def sweep_abandoned(archive: Archive, *, older_than_s: float = 7 * 86400) -> int:
    """Remove uploads no station has touched for ``older_than_s`` (default a week).

    Safe: an upload is only ever a copy of what the station still holds staged and signed; a
    station that comes back later simply opens the upload again and sends it from the start.
    """
    import time

    root = _root(archive)
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for d in root.iterdir():
        if not _ID.match(d.name) or not d.is_dir():
            continue
        newest = max((p.stat().st_mtime for p in d.iterdir()), default=d.stat().st_mtime)
        if newest < cutoff:
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed
