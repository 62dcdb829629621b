"""Verifying evidence: re-hash an original and check each station manifest's signature and digest.

Each original's fixity check is itself a custody event ("verified", success or failure). The
report (``Report``) names every failure; ``integrity.service.verify_all`` runs this for every
original as part of ``liuhen verify``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

import liuhen
from archive.context import Archive
from archive.errors import StoreError
from archive.models import Evidence, Sighting, Station
from hashing import digest as digesting
from hashing import keys
from hashing.digest import Digest, hash_stream
from hashing.errors import BadSignature
from ingest.wire import Manifest, ManifestInvalid

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
    records: int = 0  # text-record versions (执法文书)
    rows: int = 0  # rows checked against their custody events (integrity.bindings)
    derived: int = 0  # derived files re-hashed
    baselined: int = 0  # rows bound by ``verify --baseline``
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "originals_checked": self.originals, "signatures_checked": self.signatures,
                "custody_events_checked": self.events, "checkpoints_checked": self.checkpoints, "text_records_checked": self.records,
                "rows_checked": self.rows, "derived_files_checked": self.derived, "rows_baselined": self.baselined,
                "failures": [f.to_dict() for f in self.failures]}


def verify_evidence(archive: Archive, eid: int, *, report: Report, actor: str,
                    stations: dict[str, Station] | None = None, detail: dict[str, Any] | None = None) -> str:
    """Re-hash one original and check each of its signed manifests; a ``verified`` custody event
    records the outcome ("success" or "failure"), which is returned; failures go into ``report``."""
    r = report
    if stations is None:
        with archive.sessions() as db:
            stations = {s.id: s for s in db.execute(select(Station)).scalars()}
    with archive.sessions() as db:
        ev = db.get(Evidence, eid)
        assert ev is not None
        sightings = list(db.execute(select(Sighting).where(Sighting.evidence_id == eid)).scalars())
        sha, size, key, version = ev.sha256, ev.size, ev.store_key, ev.store_version
    outcome = _fixity(archive, r, eid, sha, size, key, version)
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
    r.originals += 1
    return outcome


def sighting_problem(s: Sighting, station: Station | None, sha256: str) -> str | None:
    """Why a sighting's signed manifest does not prove the evidence ``sha256`` (None when it does):
    the station's signature over the manifest bytes, and the manifest naming this content and id."""
    try:
        if station is None or not station.public_key_pem:
            raise BadSignature(f"station {s.station_id} is not registered", "")
        keys.verify(station.public_key_pem, s.manifest, s.signature)
        m = Manifest.parse(s.manifest)
        if m.sha256 != sha256 or m.manifest_id != s.manifest_id:
            raise ManifestInvalid("the signed manifest names other content than the evidence row", "")
    except (BadSignature, ManifestInvalid) as e:
        return e.detail
    return None


def _fixity(archive: Archive, r: Report, eid: int, sha: str, size: int, key: str, version: str | None) -> str:
    try:
        with archive.store.open(key, version) as f:
            got, n = hash_stream(f)
    except StoreError as e:
        r.failures.append(Failure("original_missing", f"Evidence {eid}: {e.detail}", e.action or
                                  "Restore the original from backup.", evidence_id=eid, sha256=sha))
        return "failure"
    if got != Digest(sha) or n != size:
        r.failures.append(Failure(
            "original_altered", f"Evidence {eid}: the stored original {key} now hashes to {got.hex} "
            f"({n} bytes), not {sha} ({size} bytes).",
            "The stored copy is damaged: restore it from backup or re-offload it from the recorder; "
            "keep the damaged copy for investigation.", evidence_id=eid, sha256=sha))
        return "failure"
    return "success"
