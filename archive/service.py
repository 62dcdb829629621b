"""Archive intake and read access.

``receive`` is the one door into the archive, used in-process by the embedded station and
through the HTTP intake API by remote ones. It acknowledges (returns a ``Receipt``) only after
the original is durable in the store AND its evidence row, sighting and custody events are
committed in one transaction. A crash anywhere before that leaves the station holding the file
and retrying; a retry of the same manifest is idempotent.

What the archive checked is said in the ``received`` custody event (``verified_by``): a remote
station's upload is re-hashed on receipt (``archive-rehash``); the embedded station's file, hashed
by the station as it copied it in this same process and hard-linked into the store, is stored on
that digest (``station-stream``, ``receive(..., trusted=True)``) and its own independent re-read
is queued as a fixity check (a ``fixity_state`` row, never checked, first in line) committed with
the evidence; ``verify_received`` runs it on demand (before a recorder is wiped).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

import liuhen
from archive import attribution, terms
from archive import sniff as sniffing
from archive.bindings import EVIDENCE, SIGHTING
from archive.context import Archive
from archive.errors import DigestMismatch, IntakeRefused
from archive.models import DerivedFile, Evidence, FixityState, Sighting, Station
from hashing import digest as digesting
from hashing import keys
from hashing.binding import bound
from hashing.custody import CustodyLog
from hashing.errors import BadSignature
from hashing.models import CustodyEvent
from ingest.wire import Manifest, Receipt
from jobs.queue import enqueue
from liuhen.db import utcnow
from liuhen.errors import NotFound
from liuhen.words import said
from roster import service as roster

ARCHIVE_ACTOR = "system:archive"
TOOL = "liuhen-archive"


def register_station(archive: Archive, *, station_id: str, public_pem: str,
                     token: str | None = None) -> Station:
    """Bind a station id to its public key (first use), refusing a different key later."""
    kid = keys.key_id_of(public_pem)
    with archive.sessions.begin() as db:
        st = db.get(Station, station_id)
        if st is None:
            st = Station(id=station_id, public_key_pem=public_pem, key_id=kid,
                         token_sha256=hashlib.sha256(token.encode()).hexdigest() if token else None)
            db.add(st)
            archive.custody.record(db, actor=f"station:{station_id}", action="station_registered",
                                   tool=TOOL, tool_version=liuhen.__version__,
                                   detail={"station_id": station_id, "key_id": kid})
        elif st.key_id != kid:
            raise IntakeRefused(
                said(f"采集站 {station_id} 出示的密钥为 {kid}，但档案库登记的密钥为 {st.key_id}", f"Station {station_id} presented key {kid}, but the archive knows it by key {st.key_id}."),
                said("如采集站已重装，须由管理员重新登记；否则请按冒充的采集站处理。", "If the station was reinstalled, an administrator must re-enrol it; otherwise treat this as an "
                     "impostor station."))
        return st


def check_signature(db: Session, m: Manifest, manifest_bytes: bytes, signature: bytes) -> Station:
    st = db.get(Station, m.station_id)
    if st is None:
        raise IntakeRefused(said(f"采集站 {m.station_id} 未在本档案库登记", f"Station {m.station_id} is not registered with this archive."),
                            said("请先登记采集站（liuhen stations add），然后重新采集。", "Enrol the station first (`liuhen stations add`), then offload again."))
    try:
        keys.verify(st.public_key_pem, manifest_bytes, signature)
    except BadSignature as e:
        raise IntakeRefused(said(f"{m.original_path} 的清单没有采集站 {m.station_id} 的密钥签名", f"The manifest for {m.original_path} is not signed by station {m.station_id}'s key."),
                            said("请从记录仪重新采集该文件；如反复出现，请检查采集站的密钥。", "Offload the file again from the recorder; if this repeats, check the station's key.")) from e
    return st


def _existing_sighting(db: Session, manifest_id: str) -> Sighting | None:
    return db.execute(select(Sighting).where(Sighting.manifest_id == manifest_id)).scalar_one_or_none()


def _receipt(s: Sighting, ev: Evidence, reason: str | None = None, verified_by: str | None = None) -> Receipt:
    first = s.id == min(x.id for x in ev.sightings)
    return Receipt(status="archived" if first else "duplicate", evidence_id=ev.id, sighting_id=s.id,
                   manifest_id=s.manifest_id, sha256=ev.sha256, size=ev.size, media_state=ev.media_state,
                   reason=reason if reason else (None if first else
                                                 f"the same content is already archived as evidence {ev.id}"),
                   verified_by=verified_by)


def _verified_by(db: Session, s: Sighting) -> str | None:
    """What the archive checked when it received this sighting (its ``received`` event), so that a
    repeated answer says the same as the first."""
    import json

    for (detail,) in db.execute(select(CustodyEvent.detail).where(
            CustodyEvent.evidence_id == s.evidence_id, CustodyEvent.action == "received")):
        d = json.loads(detail)
        if d.get("manifest_id") == s.manifest_id:
            got = d.get("verified_by", ARCHIVE_REHASH if d.get("rehashed") else None)
            return str(got) if got is not None else None
    return None


STATION_STREAM, ARCHIVE_REHASH, ALREADY_STORED = "station-stream", "archive-rehash", "already-stored"
AWAITING_CHECK = ("stored on the embedded station's stream digest; the archive's independent re-read "
                  "is due (liuhen fixity run)")


def receive(archive: Archive, *, manifest_bytes: bytes, signature: bytes, path: Path,
            consume: bool = False, trusted: bool = False) -> Receipt:
    """Take one offloaded file into the archive; return only once it is durable and recorded.

    ``trusted``: the caller is the embedded station, which hashed ``path``'s bytes while it wrote
    them, in this process, on this disk; a store that can hard-link the file keeps it without a
    second read, and the independent check is queued for the fixity audit (``verified_by``)."""
    m = Manifest.parse(manifest_bytes)
    with archive.sessions.begin() as db:
        check_signature(db, m, manifest_bytes, signature)
        prior = _existing_sighting(db, m.manifest_id)
        if prior is not None:
            return _receipt(prior, prior.evidence, verified_by=_verified_by(db, prior))
        refused = archive.refuse_content(db, m.sha256) if archive.refuse_content is not None else None
    if refused is not None:  # destroyed under the retention rules: its bytes are not taken back
        with archive.sessions.begin() as db:
            archive.custody.record(db, actor=ARCHIVE_ACTOR, action="refused", outcome="failure",
                                   object_sha256=m.sha256, tool=digesting.TOOL, tool_version=digesting.TOOL_VERSION,
                                   detail={"manifest_id": m.manifest_id, "station_id": m.station_id,
                                           "original_path": m.original_path, "reason": refused})
        raise IntakeRefused(f"{m.file_name}: {refused}",
                            said("未存储任何内容。请将该文件留在记录仪上、不纳入证据流程，并按本单位规定清除；如应保留，请联系档案管理员。", "Nothing was stored. Keep the file on the recorder out of the evidence flow and wipe it "
                                 "as your unit's rules say; ask the records manager (档案管理) if it should be kept."))

    digest = m.digest
    try:
        sniffed = sniffing.sniff(path, m.file_name)
        stored = archive.store.put_file(path, digest, m.size, consume=consume, trusted=trusted)
    except DigestMismatch as e:
        with archive.sessions.begin() as db:
            archive.custody.record(db, actor=ARCHIVE_ACTOR, action="refused", outcome="failure",
                                   object_sha256=m.sha256, tool=digesting.TOOL,
                                   tool_version=digesting.TOOL_VERSION,
                                   detail={"manifest_id": m.manifest_id, "station_id": m.station_id,
                                           "original_path": m.original_path, "reason": e.detail})
        raise

    for attempt in range(3):
        try:
            return _record(archive, m, manifest_bytes, signature, stored, sniffed)
        except IntegrityError:
            # Another intake recorded the same content or manifest at the same moment; its
            # transaction won, ours rolled back whole. Re-read and link to what it wrote.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _record(archive: Archive, m: Manifest, manifest_bytes: bytes, signature: bytes, stored: Any,
            sniffed: sniffing.Sniffed) -> Receipt:
    station_actor = f"station:{m.station_id}"
    verified_by = ARCHIVE_REHASH if stored.rehashed else (STATION_STREAM if stored.created else ALREADY_STORED)
    with archive.sessions.begin() as db:
        prior = _existing_sighting(db, m.manifest_id)
        if prior is not None:
            return _receipt(prior, prior.evidence, verified_by=_verified_by(db, prior))
        st = check_signature(db, m, manifest_bytes, signature)
        st.last_seen_at = utcnow()
        ev = db.execute(select(Evidence).where(Evidence.sha256 == m.sha256)
                        .options(selectinload(Evidence.sightings))).scalar_one_or_none()
        new = ev is None
        raw_hex = m.original_path_hex
        if ev is not None:
            same = [s for s in ev.sightings
                    if s.original_path_hex == raw_hex and s.station_id == m.station_id
                    and s.bay == m.bay and s.file_mtime == Manifest.parse_time(m.file_mtime)]
            if same:
                archive.custody.record(
                    db, actor=station_actor, action="reoffered", evidence_id=ev.id, object_sha256=ev.sha256,
                    tool=m.tool, tool_version=m.tool_version,
                    detail={"manifest_id": m.manifest_id, "sighting_id": same[0].id, "bay": m.bay,
                            "original_path": m.original_path})
                return _receipt(same[0], ev, reason=f"this recorder file was already archived as evidence {ev.id}",
                                verified_by=verified_by)
        if ev is None:
            ev = Evidence(sha256=m.sha256, size=m.size, store_key=stored.key, store_version=stored.version,
                          file_name=m.file_name, media_kind=sniffed.kind, media_state=sniffed.state,
                          media_note=sniffed.note, device_id=m.device_id, officer_id=m.officer_id,
                          recorded_at=Manifest.parse_time(m.recorded_at), important=False)
            how = attribution.attribute(db, ev, station=st)
            db.add(ev)
            db.flush()
            attribution.record_review(db, archive.custody, ev, actor=ARCHIVE_ACTOR, station_id=st.id)
        s = Sighting(evidence_id=ev.id, manifest_id=m.manifest_id, station_id=m.station_id, bay=m.bay,
                     device_id=m.device_id, officer_id=m.officer_id, layout=m.layout,
                     original_path=m.original_path, original_path_hex=raw_hex,
                     recorded_at=Manifest.parse_time(m.recorded_at),
                     file_mtime=Manifest.parse_time(m.file_mtime), manifest=manifest_bytes,
                     signature=signature, station_key_id=m.station_key_id)
        db.add(s)
        db.flush()
        terms.reindex(db, ev.id)
        if m.device_id:
            roster.note_docked(db, device_id=m.device_id, station_id=m.station_id, bay=m.bay)
        where = {"manifest_id": m.manifest_id, "sighting_id": s.id, "bay": m.bay,
                 "original_path": m.original_path, "device_id": m.device_id, "officer_id": m.officer_id}
        archive.custody.record(db, actor=station_actor, action="offloaded", evidence_id=ev.id,
                               object_sha256=ev.sha256, tool=m.tool, tool_version=m.tool_version,
                               detail={**where, "layout": m.layout, "staged_at": m.staged_at,
                                       "hash_tool": m.hash_tool})
        checked: dict[str, Any] = {"verified_by": verified_by, "rehashed": stored.rehashed}
        if verified_by == STATION_STREAM:
            checked["independent_check"] = "queued: fixity re-read of the stored original, after intake"
        elif verified_by == ALREADY_STORED:
            checked["independent_check"] = "the content was already stored; these bytes were not kept"
        archive.custody.record(db, actor=ARCHIVE_ACTOR, action="received", evidence_id=ev.id,
                               object_sha256=ev.sha256, tool=digesting.TOOL,
                               tool_version=digesting.TOOL_VERSION,
                               detail={**where, **checked, "size": m.size,
                                       "signature": f"{keys.ALGORITHM} key {m.station_key_id} valid",
                                       "signature_tool": keys.TOOL, "bound": bound((SIGHTING, s))})
        if new:
            # the follow-up media work commits with the evidence it is for (no crash can split them)
            enqueue(db, kind="probe", evidence_id=ev.id)
            if db.get(FixityState, ev.store_key) is None:  # the independent check, first in the audit's line
                db.add(FixityState(store_key=ev.store_key, kind="original", evidence_id=ev.id,
                                   last_detail=AWAITING_CHECK if verified_by == STATION_STREAM else None))
            archive.custody.record(db, actor=ARCHIVE_ACTOR, action="stored", evidence_id=ev.id,
                                   object_sha256=ev.sha256, tool=f"{TOOL} store:{archive.store.name}",
                                   tool_version=liuhen.__version__,
                                   detail={"store": archive.store.describe(), "key": stored.key,
                                           "version": stored.version, "media_kind": sniffed.kind,
                                           "media_state": sniffed.state, "media_note": sniffed.note,
                                           "attribution": how, "bound": bound((EVIDENCE, ev))})
        else:
            archive.custody.record(db, actor=ARCHIVE_ACTOR, action="duplicate", evidence_id=ev.id,
                                   object_sha256=ev.sha256, tool=TOOL, tool_version=liuhen.__version__,
                                   detail={**where, "stored_once_as": ev.store_key})
        db.flush()
        db.refresh(ev, ["sightings"])
        return _receipt(s, ev, verified_by=verified_by)


def verify_received(archive: Archive, *, manifest_id: str) -> bool:
    """Has the original a station handed in (by manifest) passed the archive's own re-read? True when
    it was re-hashed on receipt or a fixity check found it whole since; otherwise the fixity check of
    that object is run now (cold: its cached pages dropped first) and its outcome returned. A station
    wipes a recorder file only after this says True."""
    from archive import fixity

    with archive.sessions() as db:
        s = _existing_sighting(db, manifest_id)
        if s is None:
            raise NotFound(said(f"没有清单为 {manifest_id} 的采集记录", f"No sighting with manifest {manifest_id}."),
                           said("请先采集该文件；只有已归档的文件才能校验。", "Offload the file first; only an archived file can be verified."))
        ev = s.evidence
        received = db.execute(select(CustodyEvent.detail).where(
            CustodyEvent.evidence_id == ev.id, CustodyEvent.action == "received")
            .order_by(CustodyEvent.seq).limit(1)).scalar_one_or_none()
        state = db.get(FixityState, ev.store_key)
        key, version, sha, size, eid = ev.store_key, ev.store_version, ev.sha256, ev.size, ev.id
    import json

    if received is not None and json.loads(received).get("verified_by", ARCHIVE_REHASH) == ARCHIVE_REHASH:
        return True
    if state is not None and state.last_outcome == "success" and state.last_checked_at is not None:
        return True
    item = fixity.StoredItem(key, version, sha, size, fixity.ORIGINAL, eid)
    return fixity.check_now(archive, item, actor=ARCHIVE_ACTOR,
                            detail={"audit": "after intake", "manifest_id": manifest_id})


def release(archive: Archive, *, manifest_id: str, action: str, station_id: str) -> None:
    """Record that a station let go of a recorder file after the archive's acknowledgement."""
    if action not in {"kept", "wiped"}:
        raise ValueError(action)
    with archive.sessions.begin() as db:
        s = _existing_sighting(db, manifest_id)
        if s is None or s.station_id != station_id:
            raise NotFound(said(f"没有采集站 {station_id} 清单为 {manifest_id} 的采集记录", f"No sighting with manifest {manifest_id} from station {station_id}."),
                           said("请先采集该文件；采集站只能释放档案库已确认的文件。", "Offload the file first; a station may release only what the archive acknowledged."))
        if s.released_at is not None:
            return
        s.released_at = utcnow()
        s.release_action = action
        db.flush()
        archive.custody.record(db, actor=f"station:{station_id}",
                               action="wiped_from_recorder" if action == "wiped" else "released",
                               evidence_id=s.evidence_id, object_sha256=s.evidence.sha256,
                               tool="liuhen-station", tool_version=liuhen.__version__,
                               detail={"manifest_id": manifest_id, "original_path": s.original_path,
                                       "bay": s.bay, "bound": bound((SIGHTING, s))})


def find_evidence(db: Session, ref: str) -> Evidence:
    """An evidence record by id, or by SHA-256 (or an unambiguous prefix of at least 8 hex digits)."""
    ref = ref.strip()
    q = select(Evidence).options(selectinload(Evidence.sightings))
    if ref.isdigit() and len(ref) < 16:
        ev = db.execute(q.where(Evidence.id == int(ref))).scalar_one_or_none()
    elif len(ref) >= 8 and all(c in "0123456789abcdef" for c in ref.lower()):
        rows = db.execute(q.where(Evidence.sha256.startswith(ref.lower())).limit(2)).scalars().all()
        ev = rows[0] if len(rows) == 1 else None
    else:
        ev = None
    if ev is None:
        raise NotFound(said(f"本档案库中没有证据 {ref!r}", f"No evidence {ref!r} in this archive."),
                       said("请给出 liuhen ingest 打印的证据编号，或 SHA-256（至少 8 位十六进制）。", "Give an evidence id as printed by `liuhen ingest`, or a SHA-256 (at least 8 hex digits)."))
    return ev


def show(archive: Archive, ref: str) -> dict[str, Any]:
    """One evidence record: metadata, sightings, derived files and custody history (records nothing)."""
    with archive.sessions() as db:
        return _record_dict(db, find_evidence(db, ref))


def view(db: Session, custody: CustodyLog, *, ref: str, actor: str, tool: str,
         what: str = "record and custody history") -> dict[str, Any]:
    """``show`` as a person's act: looking at evidence is an action on it too, so ``actor`` viewing
    it is the custody event ``viewed`` (after the history shown was read, so it is not in it)."""
    ev = find_evidence(db, ref)
    out = _record_dict(db, ev)
    custody.record(db, actor=actor, action="viewed", evidence_id=ev.id, object_sha256=ev.sha256, tool=tool,
                   tool_version=liuhen.__version__, detail={"what": what})
    return out


def _record_dict(db: Session, ev: Evidence) -> dict[str, Any]:
    events = db.execute(select(CustodyEvent).where(CustodyEvent.evidence_id == ev.id)
                        .order_by(CustodyEvent.seq)).scalars().all()
    out = evidence_dict(ev, list(events))
    out["derived"] = derived_dicts(db, ev.id)
    return out


def evidence_dict(ev: Evidence, events: list[CustodyEvent] | None = None) -> dict[str, Any]:
    import json

    def t(x: Any) -> Any:
        return x.isoformat() if x is not None else None

    out: dict[str, Any] = {
        "evidence_id": ev.id, "sha256": ev.sha256, "size": ev.size, "file_name": ev.file_name,
        "media_kind": ev.media_kind, "media_state": ev.media_state, "media_note": ev.media_note,
        "device_id": ev.device_id, "officer_id": ev.officer_id, "recorded_at": t(ev.recorded_at),
        "store_key": ev.store_key, "store_version": ev.store_version, "created_at": t(ev.created_at),
        "recorded_at_source": ev.recorded_at_source, "playback": ev.playback, "playback_note": ev.playback_note,
        "media": {"duration_s": ev.duration_s, "width": ev.width, "height": ev.height,
                  "video_codec": ev.video_codec, "audio_codec": ev.audio_codec,
                  "probe": json.loads(ev.probe_json) if ev.probe_json else None},
        "gps_track": json.loads(ev.gps_json) if ev.gps_json else None,
        "sightings": [
            {"sighting_id": s.id, "manifest_id": s.manifest_id, "station_id": s.station_id, "bay": s.bay,
             "device_id": s.device_id, "officer_id": s.officer_id, "layout": s.layout,
             "original_path": s.original_path, "original_path_hex": s.original_path_hex,
             "recorded_at": t(s.recorded_at), "file_mtime": t(s.file_mtime), "received_at": t(s.received_at),
             "released_at": t(s.released_at), "release_action": s.release_action,
             "station_key_id": s.station_key_id}
            for s in ev.sightings
        ],
    }
    if events is not None:
        out["custody"] = [
            {"seq": e.seq, "at": t(e.at), "actor": e.actor, "action": e.action, "outcome": e.outcome,
             "tool": e.tool, "tool_version": e.tool_version, "detail": json.loads(e.detail), "hash": e.hash}
            for e in events
        ]
    return out


def derived_dicts(db: Session, evidence_id: int) -> list[dict[str, Any]]:
    import json

    rows = db.execute(select(DerivedFile).where(DerivedFile.evidence_id == evidence_id)
                      .order_by(DerivedFile.id)).scalars()
    return [{"kind": d.kind, "sha256": d.sha256, "size": d.size, "mime": d.mime, "store_key": d.store_key,
             "status": "stored", "tool": d.tool, "tool_version": d.tool_version,
             "command": json.loads(d.command), "detail": json.loads(d.detail)} for d in rows]
