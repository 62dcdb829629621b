"""``stream_bag``: the evidence bag as a zip, made while it is sent, in memory that does not grow
with the evidence.

The zip holds one BagIt bag under one top folder (``evidence-7/``, ``case/``, ...), the same
payload as ``archive.export.export_bag`` writes to a folder: the originals (and, only when asked,
their proxies, posters and thumbnails), the stations' signed manifests and keys, the custody
events with their inclusion proofs, ``VERIFY.txt`` and ``verify_bag.py``.

* Media and stored documents are **stored** in the zip (``ZIP_STORED``): video does not shrink, and
  compressing it only cost the user time. Small text files liuhen writes (JSON, manifests) are
  deflated. Entries larger than 4 GiB, and zips larger than 4 GiB, are zip64.
* Each stored file is read once, in ``CHUNK`` pieces, hashed while it is sent and compared with
  the SHA-256 recorded at intake; ``manifest-sha256.txt`` is written at the end of the zip from
  those recorded hashes (a bag from this stream has SHA-256 manifests only; the folder export of
  ``liuhen export`` keeps SHA-256 and SHA-512).
* A damage found before sending (the newest fixity check of an original failed, a signed manifest
  that no longer verifies) refuses the export (``ExportFixityFailed``) with nothing sent. A damage
  found while sending (the bytes no longer hash to the recorded SHA-256) is a ``fixity_failed``
  custody event and stops the stream: the zip the client holds then has no central directory and
  no manifests, so no unzip program takes it for a whole bag.

Nothing here records the ``exported`` event: the caller does, once the last byte was handed on
(``Streamed.finished``), so the custody log never claims an export that did not happen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

import liuhen
from archive.context import Archive
from archive.errors import ExportFixityFailed
from archive.export import (
    VERIFIER,
    _bag_info,
    _check_manifests,
    _Derived,
    _fixity_failed,
    _Item,
    _records,
    _Snapshot,
    _snapshot,
)
from archive.models import FixityState
from hashing.custody import iso_utc
from hashing.digest import CHUNK
from hashing.models import CustodyEvent
from liuhen.errors import LiuhenError

BAGIT_TXT = b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"
TOOL = "liuhen-bagstream"  # the zip writer of this module (zipfile), recorded with the export
TOOL_VERSION = liuhen.__version__
Progress = Callable[[int, int], None]  # (payload bytes sent, payload bytes in all)


@dataclass(frozen=True)
class Stored:
    """A file kept in the store (an original, a derived file, a text record's document)."""

    key: str
    version: str | None
    size: int
    sha256: str
    item: _Item | None = None  # the evidence it belongs to (for the fixity_failed event)
    label: str = ""


@dataclass(frozen=True)
class Local:
    """A file liuhen wrote for this bag on local disk (a case's part), hashed when it was planned:
    the manifest (deflated) must be the same in ``zip_size``'s dry run as when it is sent."""

    path: Path
    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Local:
        h = hashlib.sha256()
        n = 0
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                n += len(chunk)
        return cls(path, n, h.hexdigest())


Source = bytes | Stored | Local


@dataclass
class Plan:
    """What goes into one zip: the snapshot of the evidence and the payload, by path under ``data/``."""

    top: str
    snap: _Snapshot
    payload: dict[str, Source]
    info: dict[str, Any]
    proxies: bool
    made_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def payload_bytes(self) -> int:
        return sum(_size(s) for s in self.payload.values())

    @property
    def payload_oxum(self) -> str:
        return f"{self.payload_bytes}.{len(self.payload)}"

    @property
    def evidence_ids(self) -> list[int]:
        return [it.evidence_id for it in self.snap.items]


@dataclass
class Streamed:
    """What a finished stream made (read it after the iterator ended)."""

    finished: bool = False
    zip_bytes: int = 0
    tagmanifest_sha256: str = ""
    payload_sha256: dict[str, str] = field(default_factory=dict)


def _size(s: Source) -> int:
    return len(s) if isinstance(s, bytes) else s.size


def plan_bag(archive: Archive, refs: list[str], *, top: str, proxies: bool = False,
             also_prove: list[int] | None = None, extra: dict[str, Source] | None = None,
             extra_info: dict[str, Any] | None = None) -> Plan:
    """The plan of a bag of the evidence ``refs`` (ids or SHA-256): read now, in one transaction
    (``archive.export._snapshot``); checked (fixity, signed manifests) before a byte is sent.
    ``proxies``: the derived files (proxy, poster, thumbnails) too; by default only the originals,
    which are the evidence. ``extra``: further payload (a case's part), by path under ``data/``."""
    snap = _snapshot(archive, refs, also_prove or ())
    if not proxies:
        snap = replace(snap, items=tuple(replace(it, derived=()) for it in snap.items))
    payload: dict[str, Source] = {}
    for it in snap.items:
        payload[it.original] = Stored(it.store_key, it.store_version, it.size, it.sha256, it, "original")
        for d in it.derived:
            payload[it.derived_path(d)] = _derived_source(it, d)
    payload.update(_records(archive, snap))
    payload.update(extra or {})
    info = _bag_info(archive, snap)
    info.update(extra_info or {})
    plan = Plan(top=top, snap=snap, payload=payload, info=info, proxies=proxies)
    _check_before(archive, plan)
    return plan


def _derived_source(it: _Item, d: _Derived) -> Stored:
    return Stored(d.store_key, d.store_version, d.size, d.sha256, it, f"derived {d.kind}")


def _check_before(archive: Archive, plan: Plan) -> None:
    """Refuse before sending anything: a signed manifest that does not verify (a ``fixity_failed``
    event, as the folder export writes), or an original whose newest fixity check failed."""
    actor = "system:export"
    for it in plan.snap.items:
        _check_manifests(archive, it, plan.snap.stations, actor)
    keys = [it.store_key for it in plan.snap.items]
    with archive.sessions() as db:
        failed = {k for (k,) in db.execute(select(FixityState.store_key).where(
            FixityState.store_key.in_(keys), FixityState.last_outcome == "failure"))}
        newest: dict[int, str] = {}
        for eid, outcome in db.execute(
                select(CustodyEvent.evidence_id, CustodyEvent.outcome)
                .where(CustodyEvent.evidence_id.in_(plan.evidence_ids),
                       CustodyEvent.action.in_(("verified", "fixity_failed", "fixity_checked")))
                .order_by(CustodyEvent.seq)):
            if eid is not None:
                newest[eid] = outcome
    for it in plan.snap.items:
        if it.store_key in failed or newest.get(it.evidence_id) == "failure":
            raise ExportFixityFailed(
                f"Evidence {it.evidence_id} ({it.record['file_name']}) was not exported: its newest fixity "
                "check found the stored original damaged.",
                "Restore the original from backup and run `liuhen verify` (or the evidence page's verify "
                "button); export again once it passes. Nothing was exported.")


class _Sink:
    """Where ``zipfile`` writes: a buffer handed on and emptied after every piece. It can tell its
    position but not seek, so ``zipfile`` writes the sizes after each entry (data descriptors)."""

    def __init__(self, *, keep: bool = True) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._keep = keep

    def write(self, b: bytes) -> int:
        if self._keep:
            self._buf += b
        self._pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self._pos

    def seek(self, *_: Any) -> int:
        raise OSError("a streamed zip cannot seek")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        out = bytes(self._buf)
        self._buf.clear()
        return out


def _entry(name: str, size: int, *, stored: bool, when: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=when)
    zi.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    zi.file_size = size  # decides zip64 for the entry before its header is written
    zi.external_attr = 0o644 << 16
    return zi


def _tag_text(lines: dict[str, str]) -> bytes:
    from bagit import _encode_filename  # the manifest's file name escaping (CR, LF), as bagit.py reads it

    return "".join(f"{digest}  {_encode_filename(path)}\n" for path, digest in sorted(lines.items())).encode()


def _bag_info_text(info: dict[str, Any]) -> bytes:
    out = []
    for k, v in info.items():
        for one in (v if isinstance(v, list) else [v]):
            out.append(f"{k}: {one}\n")
    return "".join(out).encode("utf-8")


def zip_size(plan: Plan) -> int:
    """The exact size of ``plan``'s zip, before it is made (for ``Content-Length``): the zip is built
    once with zeros in place of the stored files' bytes, which are not read, and thrown away as it
    goes. Stored entries make the size independent of the bytes; the rest is known in advance."""
    result = Streamed()
    for _ in stream_bag(None, plan, actor="", result=result, dry=True):
        pass
    return result.zip_bytes


_ZEROS = bytes(CHUNK)


def _zeros(size: int) -> Iterator[bytes]:
    view = memoryview(_ZEROS)
    while size > 0:
        n = min(size, CHUNK)
        yield view[:n].tobytes() if n < CHUNK else _ZEROS
        size -= n


def stream_bag(archive: Archive | None, plan: Plan, *, actor: str, result: Streamed,
               progress: Progress | None = None, dry: bool = False) -> Iterator[bytes]:
    """The zip of ``plan``, piece by piece (each at most about ``CHUNK`` bytes). ``result`` is
    filled in as it goes and says ``finished`` once the last piece was yielded. ``dry``: nothing is
    read and nothing yielded but empty pieces (``zip_size``)."""
    sink = _Sink(keep=not dry)
    when = plan.made_at.timetuple()[:6]
    top = plan.top.strip("/")
    total = plan.payload_bytes
    done = 0
    payload_sha: dict[str, str] = {}
    with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:
        for rel, src in plan.payload.items():
            path = f"data/{rel}"
            if isinstance(src, bytes):
                zf.writestr(_entry(f"{top}/{path}", len(src), stored=False, when=when), src)
                payload_sha[path] = hashlib.sha256(src).hexdigest()
                done += len(src)
            else:
                with zf.open(_entry(f"{top}/{path}", src.size, stored=True, when=when), "w") as out:
                    if dry:
                        chunks = _zeros(src.size)
                    elif isinstance(src, Stored):
                        assert archive is not None
                        chunks = _read(archive, src, actor)
                    else:
                        chunks = _read_local(src)
                    for chunk in chunks:
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
                        yield sink.take()
                payload_sha[path] = src.sha256
            yield sink.take()
        info = {**plan.info, "Payload-Oxum": plan.payload_oxum,
                "Bagging-Date": plan.made_at.date().isoformat()}
        tags: dict[str, bytes] = {
            "bagit.txt": BAGIT_TXT,
            "bag-info.txt": _bag_info_text(info),
            "manifest-sha256.txt": _tag_text(payload_sha),
            "verify_bag.py": VERIFIER.read_bytes(),
        }
        for name, data in tags.items():
            zf.writestr(_entry(f"{top}/{name}", len(data), stored=False, when=when), data)
        tagmanifest = _tag_text({n: hashlib.sha256(d).hexdigest() for n, d in tags.items()})
        zf.writestr(_entry(f"{top}/tagmanifest-sha256.txt", len(tagmanifest), stored=False, when=when), tagmanifest)
        result.tagmanifest_sha256 = hashlib.sha256(tagmanifest).hexdigest()
        result.payload_sha256 = payload_sha
    tail = sink.take()
    result.zip_bytes = sink.tell()
    if progress is not None:
        progress(total, total)
    result.finished = True
    yield tail


def _read_local(src: Local) -> Iterator[bytes]:
    with open(src.path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def _read(archive: Archive, src: Stored, actor: str) -> Iterator[bytes]:
    """The stored bytes, hashed as they go; a short, long or changed file stops the stream (and,
    for evidence, is a ``fixity_failed`` event)."""
    h = hashlib.sha256()
    n = 0
    what = (f"Evidence {src.item.evidence_id} ({src.item.record['file_name']}, {src.label})"
            if src.item is not None else f"The stored file {src.key}")
    try:
        f = archive.store.open(src.key, src.version)
    except LiuhenError as e:
        if src.item is not None:
            _fixity_failed(archive, _as(src), actor, {"object": src.label, "problem": e.detail})
        raise ExportFixityFailed(f"{what} was not exported: {e.detail}",
                                 (e.action or "Restore it from backup.") + " The export stopped.") from e
    with f:
        while True:
            try:
                chunk = f.read(CHUNK)
            except OSError as e:
                if src.item is not None:
                    _fixity_failed(archive, _as(src), actor, {"object": src.label, "problem": str(e), "read_bytes": n})
                raise ExportFixityFailed(f"{what} was not exported: reading it failed after {n} bytes.",
                                         "Check the store's disk and run `liuhen verify`. The export stopped.") from e
            if not chunk:
                break
            n += len(chunk)
            if n > src.size:
                break
            h.update(chunk)
            yield chunk
    if n != src.size or h.hexdigest() != src.sha256:
        if src.item is not None:
            _fixity_failed(archive, _as(src), actor, {"object": src.label, "expected_sha256": src.sha256,
                                                      "expected_size": src.size, "got_size": n,
                                                      "got_sha256": h.hexdigest() if n == src.size else None})
        raise ExportFixityFailed(
            f"{what} was not exported: the stored file {src.key} no longer matches the SHA-256 recorded at intake.",
            "The stored copy is damaged: restore it from backup and run `liuhen verify`. The export stopped; "
            "the partial zip has no manifests and must be deleted.")


def _as(src: Stored) -> _Item:
    assert src.item is not None
    return replace(src.item, sha256=src.sha256, size=src.size, store_key=src.key, store_version=src.version)


def event_detail(plan: Plan, result: Streamed, **more: Any) -> dict[str, Any]:
    """The ``exported`` event's detail for one streamed bag."""
    return {"bag": plan.top, "files": len(plan.payload), "bytes": plan.payload_bytes,
            "payload_oxum": plan.payload_oxum, "tagmanifest_sha256": result.tagmanifest_sha256,
            "zip_bytes": result.zip_bytes, "proxies": plan.proxies, "evidence_ids": plan.evidence_ids,
            "checksums": ["sha256"], "stored_uncompressed": True, "liuhen": liuhen.__version__,
            "at": iso_utc(dt.datetime.now(dt.UTC)), **more}


__all__ = ["Local", "Plan", "Stored", "Streamed", "event_detail", "plan_bag", "stream_bag", "zip_size"]
