"""The wire contract between a docking station and the archive, in one module both sides import.

- ``Manifest``: the per-file manifest a station signs (what was offloaded, from where, with
  which digest);
- ``Receipt``: the archive's answer once it holds a file durably;
- ``StationReport``: what a station's bays hold now, for the dock dashboard;
- the intake errors, each with the stable ``code`` the HTTP API answers with, so that a
  station raises the same class whether the archive is in-process or remote;
- ``Intake``: the station's door into the archive (``archive.intake.LocalIntake`` in-process,
  ``ingest.http_intake.HttpIntake`` over HTTP).

A manifest's bytes are canonical JSON (sorted keys, UTF-8, no spaces) and are kept exactly as signed,
so that the signature can be checked later by the archive, by ``liuhen verify`` and by
``openssl pkeyutl -verify -rawin`` from an exported bag.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from hashing.digest import Digest
from liuhen.errors import LiuhenError, Text
from liuhen.words import said

VERSION = 1


class ManifestInvalid(LiuhenError):
    code = "manifest_invalid"



class IntakeRefused(LiuhenError):
    """The archive will not accept this file (bad signature, digest mismatch, unknown station)."""

    code = "intake_refused"


class DigestMismatch(IntakeRefused):
    code = "digest_mismatch"


class StoreError(LiuhenError):
    code = "store_error"


class StoreFull(StoreError):
    code = "store_full"


class ObjectMissing(StoreError):
    code = "object_missing"


class TokenRefused(LiuhenError):
    """A remote station presented no token, or one this archive never issued (HTTP 401)."""

    code = "token_refused"


class StationMismatch(LiuhenError):
    """A station's token is valid, but it asked to act for another station (HTTP 403)."""

    code = "station_mismatch"


class StationNotEnrolled(LiuhenError):
    """The station has a token but has not yet presented its signing key (HTTP 409)."""

    code = "station_not_enrolled"


class UploadConflict(LiuhenError):
    """A chunk did not start where the archive's copy of the upload ends (HTTP 409).

    ``offset`` is the number of bytes the archive holds; the station resumes from there.
    """

    code = "upload_conflict"

    def __init__(self, detail: Text, action: Text = "", *, offset: int) -> None:
        super().__init__(detail, action)
        self.offset = offset


def iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:
        raise ValueError("naive datetime in manifest")
    return t.isoformat()


def display_path(raw: bytes) -> tuple[str, str]:
    """A readable form of a raw file name and the encoding it was read in.

    Chinese recorders often write GBK names; those are shown decoded, and the raw bytes are
    always kept beside them (``original_path_hex``).
    """
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace"), "unknown"


@dataclass(frozen=True)
class Manifest:
    manifest_id: str
    station_id: str
    station_key_id: str
    bay: str
    layout: str
    original_path: str
    original_path_hex: str
    path_encoding: str
    sha256: str
    size: int
    file_mtime: str
    staged_at: str
    tool: str
    tool_version: str
    hash_tool: str
    device_id: str | None = None
    officer_id: str | None = None
    recorded_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    manifest_version: int = VERSION

    @property
    def digest(self) -> Digest:
        return Digest(self.sha256)

    @property
    def raw_path(self) -> bytes:
        return bytes.fromhex(self.original_path_hex)

    @property
    def file_name(self) -> str:
        return self.original_path.rsplit("/", 1)[-1]

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        try:
            obj = json.loads(data.decode("utf-8"))
            if obj.get("manifest_version") != VERSION:
                raise ValueError(f"manifest_version {obj.get('manifest_version')!r} is not {VERSION}")
            m = cls(**obj)
            Digest(m.sha256)
            bytes.fromhex(m.original_path_hex)
            if not isinstance(m.size, int) or m.size < 0:
                raise ValueError("size must be a non-negative integer")
            return m
        except (ValueError, TypeError, UnicodeDecodeError, AttributeError) as e:
            raise ManifestInvalid(said(f"无法读取清单：{e}", f"The manifest could not be read: {e}."),
                                  said("请将采集站软件升级到与档案库一致的版本，然后重新采集。", "Upgrade the station software to match the archive, then offload again.")) from e

    @staticmethod
    def parse_time(text: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Receipt:
    status: str  # archived | duplicate
    evidence_id: int
    sighting_id: int
    manifest_id: str
    sha256: str
    size: int
    media_state: str
    reason: str | None = None
    # what the archive checked of these bytes on receipt: "archive-rehash" (it re-read and hashed
    # them), "station-stream" (the embedded station's digest, re-read later by fixity: see
    # Intake.confirm), "already-stored" (the content was stored before); None on a repeated answer
    verified_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# What a station reports of its bays (not evidence: a lost report loses a frame of the dashboard).
MAX_FILES = 500  # per bay and report


FINAL = ("archived", "duplicate", "refused", "queued", "interrupted")  # a file's answers
ATTENTION = ("refused", "queued", "interrupted")  # answers an operator has to act on


class FileState(BaseModel):
    path: str = Field(max_length=4096)
    size: int | None = Field(default=None, ge=0)
    done: int = Field(default=0, ge=0)
    status: Literal["waiting", "copying", "sending", "archived", "duplicate", "refused", "queued", "interrupted"]
    reason: str | None = Field(default=None, max_length=4096)
    evidence_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # archived in an earlier run of the station (its ledger knew the file): evidence_id is that evidence
    earlier: bool = False


class BayReport(BaseModel):
    bay: str = Field(max_length=128)
    state: Literal["empty", "waiting", "offloading", "done", "attention"]
    device_id: str | None = Field(default=None, max_length=128)
    officer_no: str | None = Field(default=None, max_length=128)
    files: list[FileState] = Field(default_factory=list, max_length=MAX_FILES)
    # while offloading: bytes a second read off the recorder over the last few seconds, and the
    # seconds left for the bay's files at that speed (None when not moving or not yet known)
    speed_bps: float | None = Field(default=None, ge=0)
    eta_s: float | None = Field(default=None, ge=0)


class StationReport(BaseModel):
    station_id: str | None = Field(default=None, max_length=64)
    bays: list[BayReport] = Field(max_length=256)


class Intake(Protocol):
    def register(self, *, station_id: str, public_pem: str) -> None:
        """Make the station's public key known to the archive (first use binds it)."""

    def submit(self, *, manifest: bytes, signature: bytes, path: Path) -> Receipt:
        """Hand one staged file to the archive; return only when the archive holds it durably.

        Raises ``IntakeRefused`` (file-specific, final) or another ``LiuhenError`` (archive
        unreachable, store full: transient, retry later; the station keeps the file staged).
        """

    def release(self, *, station_id: str, manifest_id: str, action: str) -> None:
        """Tell the archive the station let go of the recorder file ("kept" or "wiped")."""

    def confirm(self, *, manifest_id: str) -> bool:
        """True once the archive has re-read the stored original itself and found it whole (asked
        before a recorder file is wiped); runs that check now if it is still due."""

    def report_status(self, *, station_id: str, report: StationReport) -> None:
        """Tell the archive what the bays hold now, for the dock dashboard (not evidence: may be lost)."""
