"""The ``Digest`` value type and one-pass hashing of files and streams."""

from __future__ import annotations

import hashlib
import hmac
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 4 * 1024 * 1024
TOOL = "hashlib.sha256"
TOOL_VERSION = ssl.OPENSSL_VERSION


@dataclass(frozen=True, slots=True)
class Digest:
    """A SHA-256 digest: algorithm and lower-case hex. Compare with ``==`` (constant time)."""

    hex: str
    algorithm: str = "sha256"

    def __post_init__(self) -> None:
        if self.algorithm != "sha256":
            raise ValueError(f"unsupported digest algorithm {self.algorithm!r}")
        if not _HEX64.match(self.hex):
            raise ValueError(f"not a SHA-256 hex digest: {self.hex!r}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        text = text.strip().lower()
        if text.startswith("sha256:"):
            text = text[7:]
        return cls(text)

    @classmethod
    def of_bytes(cls, data: bytes) -> Digest:
        return cls(hashlib.sha256(data).hexdigest())

    @classmethod
    def from_hasher(cls, h: hashlib._Hash) -> Digest:
        return cls(h.hexdigest())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Digest):
            return NotImplemented
        return self.algorithm == other.algorithm and hmac.compare_digest(self.hex, other.hex)

    def __hash__(self) -> int:
        return hash((self.algorithm, self.hex))

    def __str__(self) -> str:
        return self.hex

    @property
    def b64(self) -> str:
        import base64

        return base64.b64encode(bytes.fromhex(self.hex)).decode()

    @property
    def short(self) -> str:
        return self.hex[:12]


def hash_stream(f: BinaryIO, chunk: int = CHUNK) -> tuple[Digest, int]:
    h = hashlib.sha256()
    n = 0
    buf = bytearray(chunk)
    view = memoryview(buf)
    while True:
        k = f.readinto(buf)  # type: ignore[attr-defined]
        if not k:
            break
        h.update(view[:k])
        n += k
    return Digest(h.hexdigest()), n


def hash_file(path: Path | str | bytes, chunk: int = CHUNK) -> tuple[Digest, int]:
    with open(path, "rb", buffering=0) as f:
        return hash_stream(f, chunk)
