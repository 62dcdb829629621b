"""``export_bag``: evidence as a BagIt bag that anyone can check without liuhen.

The bag holds the original bytes, each station's signed manifest with its raw Ed25519
signature, the public keys, the custody events of the exported evidence and the archive's
signed checkpoints, each custody event's RFC 9162 inclusion proof against one signed checkpoint
note with the archive key and the anchors' receipts (``data/log/``), plus ``data/VERIFY.txt``
saying how to check it all with ``sha256sum`` and ``openssl``, and ``verify_bag.py`` at the top
(``archive/bag_verifier.py``, linked as ``tools/liuhen_verify_bag.py``: Python's standard library
and ``openssl`` only) that checks it
all. Every original is re-hashed while it is copied; a damaged one stops the export (and is a
custody event), it is never exported silently.

The bag is built in a hidden sibling folder and renamed into place only when it is complete,
in the same transaction that records the "exported" custody events, so a crash leaves either
no bag or a whole one.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import bagit
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import liuhen
from archive.context import Archive
from archive.errors import ExportError, ExportFixityFailed, ExportTargetNotEmpty
from archive.models import DerivedFile, Evidence, Station
from archive.service import evidence_dict, find_evidence
from hashing import digest as digesting
from hashing import keys, note
from hashing.custody import consistency_proof
from hashing.custody import iso_utc as custody_time
from hashing.digest import CHUNK, Digest
from hashing.errors import BadSignature
from hashing.models import CustodyAnchoring, CustodyCheckpoint, CustodyEvent
from ingest.wire import Manifest, ManifestInvalid
from liuhen.durable import fsync_path
from liuhen.errors import LiuhenError
from liuhen.words import said

TOOL = "bagit"
TOOL_VERSION = bagit.VERSION
CHECKSUMS = ["sha256", "sha512"]
_NAME_MAX_BYTES = 200  # well under the 255-byte limit of common file systems


@dataclass(frozen=True)
class ExportResult:
    path: Path
    evidence_ids: tuple[int, ...]
    files: int
    total_bytes: int
    payload_oxum: str
    tagmanifest_sha256: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["evidence_ids"] = list(self.evidence_ids)
        return d


@dataclass(frozen=True)
class _SignedManifest:
    manifest_id: str
    station_id: str
    original_path: str
    manifest: bytes
    signature: bytes


@dataclass(frozen=True)
class _Derived:
    """A proxy, poster, thumbnail sprite... exported beside its original."""

    kind: str
    sha256: str
    size: int
    store_key: str
    store_version: str | None
    file_name: str


_EXT = {"video/mp4": ".mp4", "audio/mp4": ".m4a", "image/jpeg": ".jpg", "image/png": ".png", "text/vtt": ".vtt"}


def _derived_name(kind: str, mime: str) -> str:
    """File names in the bag: the WebVTT index points at ``sprite.jpg`` by name."""
    return "thumbnails.vtt" if kind == "vtt" else f"{kind}{_EXT.get(mime, '.bin')}"


@dataclass(frozen=True)
class _Item:
    evidence_id: int
    sha256: str
    size: int
    store_key: str
    store_version: str | None
    folder: str  # data/originals/<folder>/<name>
    name: str
    record: dict[str, Any]  # evidence_dict(...)
    manifests: tuple[_SignedManifest, ...]
    derived: tuple[_Derived, ...] = ()

    @property
    def original(self) -> str:
        return f"originals/{self.folder}/{self.name}"

    def derived_path(self, d: _Derived) -> str:
        return f"originals/{self.folder}/derived/{d.file_name}"


@dataclass(frozen=True)
class _Snapshot:
    items: tuple[_Item, ...]
    stations: dict[str, str]  # station id -> public key PEM
    events: tuple[dict[str, Any], ...]
    checkpoints: tuple[dict[str, Any], ...]
    log: dict[str, Any] = field(default_factory=dict)  # the transparency-log proofs (``_prove``)


def export_bag(archive: Archive, refs: list[str], out_dir: Path, *, actor: str = "cli:local",
               extra: Callable[[Path], dict[str, Any]] | None = None, also_prove: Iterable[int] = ()) -> ExportResult:
    """Write the evidence named by ``refs`` (ids or SHA-256) as a complete BagIt bag at ``out_dir``.

    ``extra`` may add payload of its own (a case's documents and coverage report): it is called
    with the bag's payload folder before the bag is made, and returns fields for ``bag-info.txt``.
    ``also_prove`` names further custody events (by seq) that ``extra`` writes, whose inclusion
    proofs go into ``data/log/`` beside those of the evidence's own events.
    """
    if not refs and extra is None:
        raise ExportError(said("导出时没有指定证据", "No evidence was named for the export."),
                          said("请给出一个或多个证据编号或 SHA-256 摘要。", "Give one or more evidence ids or SHA-256 digests."))
    out_dir = Path(out_dir).absolute()
    _check_target(out_dir)
    snap = _snapshot(archive, refs, also_prove)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(said(f"无法创建文件夹 {out_dir.parent}：{e.strerror}", f"The folder {out_dir.parent} could not be created: {e.strerror}."),
                          said("请选择一个可写入磁盘上的导出文件夹。", "Choose an export folder on a disk you can write to.")) from e
    tmp = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:12]}"
    placed = False
    try:
        tmp.mkdir()
        for it in snap.items:
            _check_manifests(archive, it, snap.stations, actor)
            _copy_original(archive, it, tmp / it.original, actor)
            for d in it.derived:
                _copy_original(archive, it, tmp / it.derived_path(d), actor, derived=d)
        _write_records(archive, snap, tmp)
        info = _bag_info(archive, snap)
        if extra is not None:
            info.update(extra(tmp))
        bag = bagit.make_bag(str(tmp), bag_info=info, checksums=CHECKSUMS)
        _add_verifier(tmp)
        oxum = bag.info["Payload-Oxum"]
        total_bytes, files = (int(x) for x in oxum.split("."))
        tagmanifest = hashlib.sha256((tmp / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
        _fsync_tree(tmp)
        with archive.sessions.begin() as db:
            for it in snap.items:
                archive.custody.record(
                    db, actor=actor, action="exported", evidence_id=it.evidence_id, object_sha256=it.sha256,
                    tool=TOOL, tool_version=TOOL_VERSION,
                    detail={"bag": str(out_dir), "files": files, "bytes": total_bytes, "payload_oxum": oxum,
                            "tagmanifest_sha256": tagmanifest, "original": f"data/{it.original}",
                            "evidence_ids": [i.evidence_id for i in snap.items],
                            "checksums": CHECKSUMS, "liuhen": liuhen.__version__})
            archive.custody.checkpoint(db)
            _move_into_place(tmp, out_dir)
            placed = True
            # The transaction commits on leaving this block; if that fails the bag is taken back below.
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if placed:
            shutil.rmtree(out_dir, ignore_errors=True)
        if isinstance(e, (OSError, bagit.BagError)):
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise ExportError(
                said(f"写入 {out_dir} 的导出包失败：{why}。未导出任何内容", f"Writing the bag for {out_dir} failed: {why}. Nothing was exported."),
                said("请确认磁盘有足够空间容纳整个导出且您有写入权限，然后重新导出。", "Check that the disk has room for the whole export and that you may write there, "
                     "then export again.")) from e
        raise
    fsync_path(out_dir.parent)
    return ExportResult(path=out_dir, evidence_ids=tuple(i.evidence_id for i in snap.items), files=files,
                        total_bytes=total_bytes, payload_oxum=oxum, tagmanifest_sha256=tagmanifest)


# ---------------------------------------------------------------- reading the archive


def _check_target(out_dir: Path) -> None:
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if out_dir.is_dir() and not out_dir.is_symlink() and not any(out_dir.iterdir()):
        return
    raise ExportTargetNotEmpty(
        said(f"导出文件夹 {out_dir} 已存在且不是空文件夹，未导出任何内容", f"The export folder {out_dir} already exists and is not an empty folder; nothing was exported."),
        said("请换一个新的文件夹名称（将自动创建），或先清空该文件夹。", "Choose a new folder name (it will be created), or empty that folder first."))


def _snapshot(archive: Archive, refs: list[str], also_prove: Iterable[int] = ()) -> _Snapshot:
    """What goes into the bag, read in one transaction that first signs a checkpoint of the log (if
    it moved) while holding the log's head, so that checkpoint covers every event read here; the
    checkpoint is anchored when that transaction commits, and its receipts are read after."""
    with archive.sessions.begin() as db:
        archive.custody.checkpoint(db)
        found: dict[int, Evidence] = {}
        for ref in refs:
            ev = find_evidence(db, ref)
            found.setdefault(ev.id, ev)
        station_ids = {s.station_id for ev in found.values() for s in ev.sightings}
        stations = {st.id: st.public_key_pem
                    for st in db.execute(select(Station).where(Station.id.in_(station_ids))).scalars()}
        items = tuple(
            _Item(evidence_id=ev.id, sha256=ev.sha256, size=ev.size, store_key=ev.store_key,
                  store_version=ev.store_version, folder=f"{ev.id}_{ev.sha256[:12]}",
                  name=_safe_name(ev.file_name, fallback=f"{ev.sha256[:12]}.bin"),
                  record=evidence_dict(ev),
                  manifests=tuple(_SignedManifest(s.manifest_id, s.station_id, s.original_path,
                                                  s.manifest, s.signature) for s in ev.sightings),
                  derived=tuple(_Derived(d.kind, d.sha256, d.size, d.store_key, d.store_version,
                                         _derived_name(d.kind, d.mime))
                                for d in db.execute(select(DerivedFile).where(DerivedFile.evidence_id == ev.id)
                                                    .order_by(DerivedFile.id)).scalars()))
            for ev in found.values())
        ids = list(found)
        shas = [ev.sha256 for ev in found.values()]
        events = tuple(
            _event_row(e) for e in db.execute(
                select(CustodyEvent).where(or_(CustodyEvent.evidence_id.in_(ids),
                                               CustodyEvent.object_sha256.in_(shas)))
                .order_by(CustodyEvent.seq)).scalars())
        checkpoints = tuple(
            {"seq": cp.seq, "head_hash": cp.head_hash, "at": custody_time(cp.at), "key_id": cp.key_id,
             "public_key_pem": cp.public_key_pem, "statement": cp.statement, "signature": cp.signature}
            for cp in db.execute(select(CustodyCheckpoint).order_by(CustodyCheckpoint.seq)).scalars())
        log = _prove(archive, db, sorted({e["seq"] for e in events} | set(also_prove)))
    log["anchors"] = _receipts(archive, log["tree_size"])
    return _Snapshot(items=items, stations=stations, events=events, checkpoints=checkpoints, log=log)


_ANCHORED_HISTORY = 256  # consistency proofs from at most this many earlier anchored checkpoints


def _prove(archive: Archive, db: Session, seqs: list[int]) -> dict[str, Any]:
    """Inclusion proofs of events ``seqs`` against the newest signed checkpoint, and consistency
    proofs from the earlier checkpoints written to an anchor to that one (so a copy of one of them,
    kept by a witness, can be checked against the bag)."""
    cp = db.execute(select(CustodyCheckpoint).where(CustodyCheckpoint.note.is_not(None))
                    .order_by(CustodyCheckpoint.seq.desc()).limit(1)).scalar_one_or_none()
    if cp is None or cp.note is None or cp.root_hash is None:
        raise ExportError(said("保管链还没有签名检查点，导出包无法附带证明", "The custody log has no signed checkpoint, so the bag cannot carry proofs."),
                          said("请运行 liuhen log checkpoint，然后重新导出。", "Run `liuhen log checkpoint`, then export again."))
    proofs = []
    for seq in seqs:
        p = archive.custody.prove(db, seq)
        if p["tree_size"] != cp.seq:
            raise ExportError(said(f"保管事件 {seq} 不在 {cp.seq} 个事件的检查点范围内", f"Custody event {seq} is not covered by the checkpoint of {cp.seq} events."),
                              said("请运行 liuhen log checkpoint，然后重新导出。", "Run `liuhen log checkpoint`, then export again."))
        proofs.append({k: p[k] for k in ("seq", "leaf_index", "tree_size", "leaf", "leaf_hash", "proof")})
    earlier = sorted({s for (s,) in db.execute(
        select(CustodyAnchoring.checkpoint_seq).where(CustodyAnchoring.outcome == "success",
                                                      CustodyAnchoring.checkpoint_seq < cp.seq)
        .order_by(CustodyAnchoring.checkpoint_seq.desc()).limit(_ANCHORED_HISTORY))})
    roots = {s: r for s, r in db.execute(select(CustodyCheckpoint.seq, CustodyCheckpoint.root_hash)
                                         .where(CustodyCheckpoint.seq.in_(earlier)))}
    consistency = [{"from_size": m, "from_root": roots[m], "to_size": cp.seq,
                    "proof": [h.hex() for h in consistency_proof(db, m, cp.seq)]}
                   for m in earlier if roots.get(m)]
    return {"tree_size": cp.seq, "root_hash": cp.root_hash, "checkpoint": cp.note, "origin": archive.custody.origin,
            "key_id": archive.key.key_id,
            "verifier_key": note.verifier_key(archive.custody.origin, archive.key.public_pem),
            "proofs": proofs, "consistency": consistency}


def _receipts(archive: Archive, size: int) -> list[dict[str, Any]]:
    """Where the bag's checkpoint was anchored (read after the snapshot's transaction, which anchors it)."""
    with archive.sessions() as db:
        rows = db.execute(select(CustodyAnchoring.anchor, CustodyAnchoring.receipt, CustodyAnchoring.at)
                          .where(CustodyAnchoring.checkpoint_seq == size, CustodyAnchoring.outcome == "success")
                          .order_by(CustodyAnchoring.id)).all()
    out = []
    for name, receipt, at in rows:
        kind = name.split(":", 1)[0]
        r: dict[str, Any] = {"anchor": name, "kind": {"witness": "witness", "s3": "s3", "tsa": "tsa"}.get(kind, kind),
                             "at": custody_time(at)}
        if kind == "tsa":
            r["token_base64"] = receipt
        elif kind == "witness":
            r["file"] = receipt
            r["file_name"] = Path(receipt).name
        elif kind == "s3":
            key, _, version = receipt.partition("?versionId=")
            r["object"], r["version_id"] = key, version
        else:
            r["receipt"] = receipt
        out.append(r)
    return out


def _event_row(e: CustodyEvent) -> dict[str, Any]:
    # ``at`` in the exact form that was hashed, ``detail`` as the exact text that was hashed.
    return {"seq": e.seq, "at": custody_time(e.at), "actor": e.actor, "action": e.action,
            "evidence_id": e.evidence_id, "object_sha256": e.object_sha256, "outcome": e.outcome,
            "tool": e.tool, "tool_version": e.tool_version, "detail": e.detail,
            "prev_hash": e.prev_hash, "hash": e.hash}


def _safe_name(name: str, *, fallback: str) -> str:
    """A file or folder name that every file system, ``sha256sum -c`` and BagIt read back unchanged.

    The exact original name stays in ``evidence.json`` and in the signed manifests.
    """
    name = unicodedata.normalize("NFC", name)
    name = "".join("_" if c in "/\\" or unicodedata.category(c) in ("Cc", "Cf", "Cs") else c for c in name)
    name = name.strip()
    if name in ("", ".", ".."):
        return fallback
    if len(name.encode("utf-8")) > _NAME_MAX_BYTES:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext.encode("utf-8")) <= 16:
            ext = "." + ext
        else:
            stem, ext = name, ""
        while len((stem + ext).encode("utf-8")) > _NAME_MAX_BYTES:
            stem = stem[:-1]
        name = stem + ext
    return name


# ---------------------------------------------------------------- checking while copying


def _fixity_failed(archive: Archive, it: _Item, actor: str, detail: dict[str, Any]) -> None:
    with archive.sessions.begin() as db:
        archive.custody.record(db, actor=actor, action="fixity_failed", outcome="failure",
                               evidence_id=it.evidence_id, object_sha256=it.sha256, tool=digesting.TOOL,
                               tool_version=digesting.TOOL_VERSION,
                               detail={"during": "export", "store": archive.store.describe(), "key": it.store_key,
                                       **detail})


def _copy_original(archive: Archive, it: _Item, dst: Path, actor: str, derived: _Derived | None = None) -> None:
    """Copy the stored original (or one of its derived files) to ``dst``, hashing every byte;
    refuse if it no longer matches what was recorded."""
    if derived is not None:  # the same checks, for a proxy/poster/... of this original
        it = replace(it, sha256=derived.sha256, size=derived.size, store_key=derived.store_key,
                     store_version=derived.store_version)
    dst.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    n = 0
    try:
        src = archive.store.open(it.store_key, it.store_version)
    except LiuhenError as e:  # the store cannot give the original back (missing, unreachable)
        _fixity_failed(archive, it, actor, {"object": "original", "problem": e.detail})
        raise ExportFixityFailed(
            said(f"证据 {it.evidence_id}（{it.record['file_name']}）未导出：{e.said.zh}", f"Evidence {it.evidence_id} ({it.record['file_name']}) was not exported: {e.said.en}"),
            said((e.said_action.zh or "请从备份恢复原始文件。") + "未导出任何内容。", (e.said_action.en or "Restore the original from backup.") + " Nothing was exported.")) from e
    with src, open(dst, "xb", buffering=0) as fo:
        while True:
            try:
                chunk = src.read(CHUNK)
            except OSError as e:
                _fixity_failed(archive, it, actor, {"object": "original", "problem": str(e), "read_bytes": n})
                raise ExportFixityFailed(
                    said(f"证据 {it.evidence_id}（{it.record['file_name']}）未导出：读取存储的原始文件 {it.store_key} 在 {n} 字节后失败（{e.strerror or e}）", f"Evidence {it.evidence_id} ({it.record['file_name']}) was not exported: reading the "
                         f"stored original {it.store_key} failed after {n} bytes ({e.strerror or e})."),
                    said("请检查存储磁盘；如原始文件已损坏，请从备份恢复，并运行 liuhen verify。未导出任何内容。", "Check the store's disk, restore the original from backup if it is damaged, and run "
                         "`liuhen verify`. Nothing was exported.")) from e
            if not chunk:
                break
            h.update(chunk)
            fo.write(chunk)
            n += len(chunk)
    got = Digest(h.hexdigest())
    if got != Digest(it.sha256) or n != it.size:
        _fixity_failed(archive, it, actor, {"object": "original", "expected_sha256": it.sha256,
                                            "expected_size": it.size, "got_sha256": got.hex, "got_size": n})
        raise ExportFixityFailed(
            said(f"证据 {it.evidence_id}（{it.record['file_name']}）未导出：存储的原始文件 {it.store_key} 现在的哈希值为 {got.hex}（{n} 字节），而不是采集时记录的 {it.sha256}（{it.size} 字节）", f"Evidence {it.evidence_id} ({it.record['file_name']}) was not exported: the stored original "
                 f"{it.store_key} now hashes to {got.hex} ({n} bytes), not to the {it.sha256} ({it.size} bytes) "
                 f"recorded at intake."),
            said("存储的副本已损坏：请保留以供调查，从备份恢复原始文件或从记录仪重新采集，并运行 liuhen verify 查找其他损坏。未导出任何内容。", "The stored copy is damaged: keep it for investigation, restore the original from backup or "
                 "re-offload it from the recorder, and run `liuhen verify` to find any other damage. "
                 "Nothing was exported."))


def _check_manifests(archive: Archive, it: _Item, stations: dict[str, str], actor: str) -> None:
    """Every signed manifest must still verify and name this content, or the export is refused."""
    for m in it.manifests:
        try:
            pem = stations.get(m.station_id)
            if pem is None:
                raise BadSignature(said(f"采集站 {m.station_id} 未登记", f"station {m.station_id} is not registered"), "")
            keys.verify(pem, m.manifest, m.signature)
            parsed = Manifest.parse(m.manifest)
            if parsed.sha256 != it.sha256 or parsed.manifest_id != m.manifest_id:
                raise ManifestInvalid(said("签名的清单所指内容与证据记录不同", "the signed manifest names other content than the evidence record"), "")
        except (BadSignature, ManifestInvalid) as e:
            _fixity_failed(archive, it, actor, {"object": "manifest", "manifest_id": m.manifest_id,
                                                "station_id": m.station_id, "problem": e.detail})
            raise ExportFixityFailed(
                said(f"证据 {it.evidence_id}（{it.record['file_name']}）未导出：采集站 {m.station_id} 对 {m.original_path} 的清单 {m.manifest_id} 验证失败（{e.said.zh}）", f"Evidence {it.evidence_id} ({it.record['file_name']}) was not exported: station "
                     f"{m.station_id}'s manifest {m.manifest_id} for {m.original_path} does not verify ({e.said.en})."),
                said("该记录在采集后被改动：请从备份恢复数据库并运行 liuhen verify。未导出任何内容。", "The record was altered after intake: restore the database from backup and run "
                     "`liuhen verify`. Nothing was exported.")) from e


# ---------------------------------------------------------------- writing the payload


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as f:
        f.write(data)


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _jsonl(rows: tuple[dict[str, Any], ...]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
                    + b"\n" for r in rows)


def _manifest_file(m: _SignedManifest) -> str:
    return _safe_name(m.manifest_id, fallback=hashlib.sha256(m.manifest).hexdigest()[:16])


def _station_file(station_id: str) -> str:
    return f"station-{_safe_name(station_id, fallback=hashlib.sha256(station_id.encode()).hexdigest()[:16])}"


def _write_records(archive: Archive, snap: _Snapshot, root: Path) -> None:
    """Everything but the originals, laid out as the payload (``make_bag`` moves it under ``data/``)."""
    for rel, data in _records(archive, snap, sha512=True).items():
        _write(root / rel, data)


def _records(archive: Archive, snap: _Snapshot, *, sha512: bool = False) -> dict[str, bytes]:
    """Everything but the originals, by path in the payload (under ``data/``)."""
    out: dict[str, bytes] = {}
    for it in snap.items:
        for m in it.manifests:
            out[f"manifests/{_manifest_file(m)}.json"] = m.manifest
            out[f"manifests/{_manifest_file(m)}.sig"] = m.signature
    for sid, pem in sorted(snap.stations.items()):
        out[f"keys/{_station_file(sid)}.pem"] = pem.encode()
    out["keys/archive.pem"] = archive.key.public_pem.encode()
    out["custody/events.jsonl"] = _jsonl(snap.events)
    out["custody/checkpoints.jsonl"] = _jsonl(snap.checkpoints)
    out.update(_log_files(archive, snap.log))
    evidence = []
    for it in snap.items:
        evidence.append({**it.record, "bag": {
            "original": f"data/{it.original}",
            "derived": [f"data/{it.derived_path(d)}" for d in it.derived],
            "manifests": [{"manifest": f"data/manifests/{_manifest_file(m)}.json",
                           "signature": f"data/manifests/{_manifest_file(m)}.sig",
                           "station_key": f"data/keys/{_station_file(m.station_id)}.pem"} for m in it.manifests]}})
    out["evidence.json"] = _json({
        "liuhen": liuhen.__version__, "archive_key_id": archive.key.key_id,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(), "evidence": evidence})
    out["VERIFY.txt"] = _verify_text(snap, sha512=sha512).encode("utf-8")
    return out


def _log_files(archive: Archive, log: dict[str, Any]) -> dict[str, bytes]:
    """``data/log/``: the checkpoint note exactly as signed (and anchored), the archive's public key,
    an inclusion proof per custody event in the bag, consistency proofs from earlier anchored
    checkpoints, and the anchors' receipts (a time-stamp token also as its own ``.tsr`` file)."""
    out = {"log/checkpoint.note": log["checkpoint"].encode("utf-8"), "log/archive.pem": archive.key.public_pem.encode(),
           "log/proofs.jsonl": _jsonl(tuple(log["proofs"])), "log/consistency.jsonl": _jsonl(tuple(log["consistency"]))}
    anchors = []
    for i, a in enumerate(log["anchors"]):
        if "token_base64" in a:
            a = {**a, "token_file": f"data/log/tsa-{i}.tsr"}
            out[f"log/tsa-{i}.tsr"] = base64.b64decode(a["token_base64"])
        anchors.append(a)
    out["log/checkpoint.json"] = _json({
        "tree_size": log["tree_size"], "root_hash": log["root_hash"], "origin": log["origin"],
        "key_id": log["key_id"], "verifier_key": log["verifier_key"], "note": "data/log/checkpoint.note",
        "public_key": "data/log/archive.pem", "anchors": anchors})
    return out


# The stand-alone verifier ships inside this package (so an installed copy of liuhen has it);
# tools/liuhen_verify_bag.py in the source tree is a link to it.
VERIFIER = Path(__file__).with_name("bag_verifier.py")


def _add_verifier(bag_dir: Path) -> None:
    """Copy the stand-alone verifier to the bag's top folder as a tag file, listed in the tag manifests."""
    try:
        code = VERIFIER.read_bytes()
    except OSError as e:
        raise ExportError(said(f"无法读取导出包校验程序 {VERIFIER}：{e.strerror}", f"The bag verifier {VERIFIER} cannot be read: {e.strerror}."),
                          said("请重新安装 liuhen：校验程序随其 archive 包提供。", "Reinstall liuhen: the verifier ships in its archive package.")) from e
    _write(bag_dir / "verify_bag.py", code)
    for alg in CHECKSUMS:
        with open(bag_dir / f"tagmanifest-{alg}.txt", "a", encoding="utf-8") as f:
            f.write(f"{hashlib.new(alg, code).hexdigest()} verify_bag.py\n")


def _bag_info(archive: Archive, snap: _Snapshot) -> dict[str, Any]:
    ids = [str(i.evidence_id) for i in snap.items]
    return {
        "Source-Organization": "liuhen",
        "External-Description": (
            f"Evidence {', '.join(ids)} exported from a liuhen archive: original files, the stations' signed "
            "manifests and public keys, and the custody log with its inclusion proofs. How to check it: "
            "python3 verify_bag.py, or data/VERIFY.txt."),
        "Bagging-Date": dt.datetime.now(dt.UTC).date().isoformat(),
        "Bag-Software-Agent": f"liuhen {liuhen.__version__} (bagit.py {bagit.VERSION})",
        "Liuhen-Version": liuhen.__version__,
        "Liuhen-Archive-Key-Id": archive.key.key_id,
        "Liuhen-Evidence-Id": ids,
        "Liuhen-Evidence-Sha256": [i.sha256 for i in snap.items],
    }


def _verify_text(snap: _Snapshot, *, sha512: bool = True) -> str:
    text = _VERIFY_TEXT if sha512 else _VERIFY_TEXT.replace("（SHA-512 见 manifest-sha512.txt）", "").replace(
        " (SHA-512 in manifest-sha512.txt)", "")
    cmds = []
    for it in snap.items:
        for m in it.manifests:
            f = _manifest_file(m)
            cmds.append(f"  openssl pkeyutl -verify -pubin -inkey data/keys/{_station_file(m.station_id)}.pem "
                        f"-rawin -in data/manifests/{f}.json -sigfile data/manifests/{f}.sig")
    commands = "\n".join(cmds) if cmds else "  (none)"
    return text.replace("{commands}", commands)


_VERIFY_TEXT = """\
如何核验本证据包（无需安装 liuhen）
====================================

以下命令均在证据包的根目录（bagit.txt 所在目录）中执行。

1. 文件完整性：每个文件的 SHA-256 都记录在 manifest-sha256.txt 中（SHA-512 见 manifest-sha512.txt）。

  sha256sum -c manifest-sha256.txt
  sha256sum -c tagmanifest-sha256.txt

   每一行都应显示"成功"/"OK"。任何"失败"/"FAILED"都说明该文件在导出后被改动过。

2. 执法记录仪文件的来源：每个采集站对它卸载的每个文件签署一份清单（data/manifests/*.json，
   原样保存），签名为原始 64 字节 Ed25519 签名（同名 .sig 文件），采集站公钥在 data/keys/ 中。
   清单中的 sha256 必须与 data/originals/ 中对应原始文件的 SHA-256 一致。
   需要 OpenSSL 3.0 或更高版本：

{commands}

   每条命令都应输出 "Signature Verified Successfully"。

3. 保管链：data/custody/events.jsonl 是这些证据的全部保管事件（每行一个）。每个事件的 hash 等于
   SHA-256( prev_hash + 换行符 + JSON )，其中 JSON 为事件的 seq、at、actor、action、evidence_id、
   object_sha256、outcome、tool、tool_version、detail 十个字段，按键名排序、无空格、UTF-8。
   data/custody/checkpoints.jsonl 中的 statement 由归档密钥（data/keys/archive.pem）签名，
   signature 为 base64 编码。data/evidence.json 列出每项证据的记录及其在包内的位置。

How to check this bag (liuhen not needed)
=========================================

Run every command below in the bag's top folder (where bagit.txt is).

1. Fixity: the SHA-256 of every file is listed in manifest-sha256.txt (SHA-512 in manifest-sha512.txt).

  sha256sum -c manifest-sha256.txt
  sha256sum -c tagmanifest-sha256.txt

   Every line must say OK. Any FAILED line means that file was changed after the export.

2. Where each recorder file came from: a station signs a manifest for every file it offloads
   (data/manifests/*.json, kept byte for byte), with a raw 64-byte Ed25519 signature (the .sig file
   of the same name); the station's public key is in data/keys/. The manifest's sha256 must equal
   the SHA-256 of the matching file under data/originals/. This needs OpenSSL 3.0 or newer:

{commands}

   Each command must print "Signature Verified Successfully".

3. Custody: data/custody/events.jsonl holds every custody event of this evidence, one per line.
   Each event's hash is SHA-256( prev_hash + a newline + JSON ), where JSON is the event's ten
   fields seq, at, actor, action, evidence_id, object_sha256, outcome, tool, tool_version, detail
   with sorted keys, no spaces, UTF-8. Each statement in data/custody/checkpoints.jsonl is signed
   by the archive key (data/keys/archive.pem); the signature is base64. data/evidence.json lists
   each item's record and where its files are in this bag.

4. All of the above at once, plus each event's inclusion proof against the archive's signed
   checkpoint (data/log/): Python 3.9+ and OpenSSL 3.0+, nothing else:

  python3 verify_bag.py .                      (add --witness DIR to compare with a witness's copies,
                                                --tsa-ca FILE to check the time-stamp token)
"""


# ---------------------------------------------------------------- putting the bag in place


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fsync_path(os.path.join(folder, name))
        fsync_path(folder)


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    try:
        os.rename(tmp, out_dir)  # replaces only a missing or empty folder
    except OSError as e:
        raise ExportTargetNotEmpty(
            said(f"无法放置导出文件夹 {out_dir}（{e.strerror}）；导出期间有内容被写入该处。未导出任何内容", f"The export folder {out_dir} could not be put in place ({e.strerror}); something was written "
                 "there during the export. Nothing was exported."),
            said("请换一个新的文件夹名称，或清空该文件夹，然后重新导出。", "Choose a new folder name, or empty that folder, and export again.")) from e


__all__ = ["ExportError", "ExportFixityFailed", "ExportResult", "ExportTargetNotEmpty", "export_bag"]
