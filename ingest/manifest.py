"""The per-file manifest a station signs: what was offloaded, from where, with which digest.

Its bytes are canonical JSON (sorted keys, UTF-8, no spaces) and are kept exactly as signed,
so that the signature can be checked later by the archive, by ``liuhen verify`` and by
``openssl pkeyutl -verify -rawin`` from an exported bag.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from hashing.digest import Digest
from liuhen.errors import LiuhenError

VERSION = 1


class ManifestInvalid(LiuhenError):
    code = "manifest_invalid"


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
    def parse(cls, data: bytes) -> "Manifest":
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
            raise ManifestInvalid(f"The manifest could not be read: {e}.",
                                  "Upgrade the station software to match the archive, then offload again.") from e

    @staticmethod
    def parse_time(text: str | None) -> dt.datetime | None:
        return dt.datetime.fromisoformat(text) if text else None
