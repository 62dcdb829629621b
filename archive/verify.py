"""Verifying evidence: re-hash an original and check each station manifest's signature and digest.

Each original's fixity check is itself a custody event ("verified", success or failure). The
report (``Report``) names every failure; ``integrity.service.verify_all`` runs ``verify_originals``
(every original, hashed in parallel on all cores) as part of ``liuhen verify``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

import liuhen
from archive import fixity
from archive.context import Archive
from archive.errors import StoreError
from archive.fixity import ORIGINAL, Hashed, StoredItem, hash_one, hash_parallel
from archive.models import Evidence, Sighting, Station
from hashing import digest as digesting
from hashing import keys
from hashing.errors import BadSignature
from ingest.wire import Manifest, ManifestInvalid
from liuhen.words import said

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Failure:
    kind: str
    detail: str
    action: str
    evidence_id: int | None = None
    sha256: str | None = None
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Report:
    originals: int = 0
    signatures: int = 0
    events: int = 0
    checkpoints: int = 0
    anchored: int = 0  # checkpoint notes read back from anchors outside the database
    records: int = 0  # text-record versions (执法文书)
    rows: int = 0  # rows checked against their custody events (integrity.bindings)
    derived: int = 0  # derived files re-hashed
    baselined: int = 0  # rows bound by ``verify --baseline``
    retention: int = 0  # keep-until rows recomputed and disposals checked (``retention.verify``)
    review: int = 0  # cases whose review standing was recomputed (``review.verify``)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "originals_checked": self.originals, "signatures_checked": self.signatures,
                "custody_events_checked": self.events, "checkpoints_checked": self.checkpoints,
                "anchored_checkpoints_checked": self.anchored, "text_records_checked": self.records,
                "rows_checked": self.rows, "derived_files_checked": self.derived, "rows_baselined": self.baselined,
                "retention_checked": self.retention, "review_checked": self.review,
                "failures": [f.to_dict() for f in self.failures]}


DESTROYED = "destroyed"


def verify_evidence(archive: Archive, eid: int, *, report: Report, actor: str,
                    stations: dict[str, Station] | None = None, detail: dict[str, Any] | None = None,
                    gone: fixity.Gone | None = None) -> str:
    """Re-hash one original and check each of its signed manifests; a ``verified`` custody event
    records the outcome ("success" or "failure"), which is returned; failures go into ``report``.
    With ``gone`` (the query of destroyed evidence): a destroyed evidence's original is not read and
    ``"destroyed"`` is returned (its bytes are gone by design; ``liuhen verify`` checks they are)."""
    with archive.sessions() as db:
        if gone is not None and db.scalar(select(Evidence.id).where(Evidence.id == eid, Evidence.id.in_(gone))):
            return DESTROYED
        ev = db.get(Evidence, eid)
        assert ev is not None
        item = _item(ev.id, ev.sha256, ev.size, ev.store_key, ev.store_version)
    return _conclude(archive, hash_one(archive, item), report=report, actor=actor, stations=stations, detail=detail,
                     gone_known=gone is not None)


def verify_originals(archive: Archive, *, report: Report, actor: str, stations: dict[str, Station] | None = None,
                     progress: Progress | None = None, threads: int = 0, gone: fixity.Gone | None = None) -> None:
    """``verify_evidence`` for every original, re-hashed on all cores (``archive.fixity.hash_parallel``:
    threads reading through the store, hashlib releasing the GIL); each outcome is recorded as it comes.
    The originals of ``gone`` evidence (destroyed by a disposal: expected absent, which the roof
    checks, ``retention.verify``) are not read."""
    with archive.sessions.begin() as db:
        fixity.track(db, gone=gone)  # so that this check counts for the continuous audit too
        q = select(Evidence.id, Evidence.sha256, Evidence.size, Evidence.store_key,
                   Evidence.store_version).order_by(Evidence.id)
        if gone is not None:
            q = q.where(Evidence.id.not_in(gone))
        rows = db.execute(q).all()
    items = (_item(*row) for row in rows)
    for i, h in enumerate(hash_parallel(archive, items, threads=threads), 1):
        _conclude(archive, h, report=report, actor=actor, stations=stations, gone_known=gone is not None)
        if progress:
            progress(i, len(rows))


def _item(eid: int, sha: str, size: int, key: str, version: str | None) -> StoredItem:
    return StoredItem(key, version, sha, size, ORIGINAL, eid)


def _conclude(archive: Archive, h: Hashed, *, report: Report, actor: str, stations: dict[str, Station] | None,
              detail: dict[str, Any] | None = None, gone_known: bool = False) -> str:
    """The outcome of one re-hashed original with its manifests checked, recorded as its custody event.
    ``gone_known``: destroyed evidence was left out, so a missing original has no destruction record."""
    r = report
    eid, sha, key = h.item.evidence_id, h.item.sha256, h.item.key
    assert eid is not None
    with archive.sessions() as db:
        if stations is None:
            stations = {s.id: s for s in db.execute(select(Station)).scalars()}
        sightings = list(db.execute(select(Sighting).where(Sighting.evidence_id == eid)).scalars())
    outcome = _fixity(archive, r, h, gone_known=gone_known)
    for s in sightings:
        r.signatures += 1
        problem = sighting_problem(s, stations.get(s.station_id), sha)
        if problem is not None:
            outcome = "failure"
            r.failures.append(Failure(
                "manifest_signature", f"Evidence {eid}: station {s.station_id}'s manifest {s.manifest_id} for "
                f"{s.original_path} does not verify ({problem}).",
                "The record was altered after intake: restore the database from backup.",
                evidence_id=eid, sha256=sha))
    with archive.sessions.begin() as db:
        archive.custody.record(db, actor=actor, action="verified", evidence_id=eid, object_sha256=sha,
                               outcome=outcome, tool=digesting.TOOL, tool_version=digesting.TOOL_VERSION,
                               detail={"store": archive.store.describe(), "key": key,
                                       "signatures": len(sightings), "liuhen": liuhen.__version__,
                                       **(detail or {})})
        fixity.mark_checked(db, key=key, outcome="success" if h.ok else "failure", detail=h.problem)
    r.originals += 1
    return outcome


def sighting_problem(s: Sighting, station: Station | None, sha256: str) -> str | None:
    """Why a sighting's signed manifest does not prove the evidence ``sha256`` (None when it does):
    the station's signature over the manifest bytes, and the manifest naming this content and id."""
    try:
        if station is None or not station.public_key_pem:
            raise BadSignature(said(f"采集站 {s.station_id} 未登记", f"station {s.station_id} is not registered"), "")
        keys.verify(station.public_key_pem, s.manifest, s.signature)
        m = Manifest.parse(s.manifest)
        if m.sha256 != sha256 or m.manifest_id != s.manifest_id:
            raise ManifestInvalid(said("签名的清单所指内容与证据记录不同", "the signed manifest names other content than the evidence row"), "")
    except (BadSignature, ManifestInvalid) as e:
        return e.detail
    return None


def _missing(archive: Archive, key: str) -> bool:
    """Whether the store says nothing is stored under ``key`` (not merely unreadable)."""
    try:
        return not archive.store.exists(key)
    except StoreError:
        return False


def _fixity(archive: Archive, r: Report, h: Hashed, *, gone_known: bool = False) -> str:
    eid, sha, key = h.item.evidence_id, h.item.sha256, h.item.key
    if h.sha256 is None:
        if gone_known and _missing(archive, key):  # destroyed evidence was left out: this one was never disposed of
            r.failures.append(Failure(
                "original_missing", f"Evidence {eid}: its stored original {key} is missing and no destruction "
                "record exists for it.", "Nothing disposed of it: restore the original from backup (or re-offload "
                "it from the recorder) and investigate who removed it.", evidence_id=eid, sha256=sha))
            return "failure"
        r.failures.append(Failure("original_missing", f"Evidence {eid}: {h.problem}.", h.action or
                                  "Restore the original from backup.", evidence_id=eid, sha256=sha))
        return "failure"
    if not h.ok:
        r.failures.append(Failure(
            "original_altered", f"Evidence {eid}: the stored original {key} now hashes to {h.sha256} "
            f"({h.size} bytes), not {sha} ({h.item.size} bytes).",
            "The stored copy is damaged: restore it from backup or re-offload it from the recorder; "
            "keep the damaged copy for investigation.", evidence_id=eid, sha256=sha))
        return "failure"
    return "success"
