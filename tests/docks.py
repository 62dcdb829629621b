"""Build docks of real recordings for tests: bays in the three recorder layouts."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BAY3_BINDING = """
[station.bays.bay3]
device = "DSJ-C003"
officer = "000789"
"""


@dataclass(frozen=True)
class DockFile:
    rel: bytes  # "<bay>/<path>" as raw bytes
    sha256: str
    size: int


def sha256_of(path: Path | bytes) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def put(dock: Path, rel: str | bytes, src: Path | bytes) -> DockFile:
    raw = rel if isinstance(rel, bytes) else rel.encode()
    dst = os.fsencode(dock) + b"/" + raw
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if isinstance(src, bytes):
        with open(dst, "wb") as f:
            f.write(src)
    else:
        shutil.copyfile(src, dst)
    return DockFile(raw, sha256_of(dst), os.path.getsize(dst))


def build_multi_bay_dock(dock: Path, make_clip: Callable[..., Path]) -> list[DockFile]:
    """Three recorders in three layouts, plus one recording docked twice (from two recorders)."""
    c = [make_clip(seconds=1.0, tone=300 + 100 * i) for i in range(6)]
    files = [
        put(dock, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", c[0]),
        put(dock, "bay1/DSJ-A001_000123_20261123093500_0002.MP4", c[1]),
        put(dock, "bay2/zhangsan_AXB1234567_20261123T013000Z/20261123T013000Z_REC0001.mp4", c[2]),
        put(dock, "bay2/zhangsan_AXB1234567_20261123T013000Z/20261123T013100Z_REC0002.mkv", c[3]),
        put(dock, "bay2/zhangsan_AXB1234567_20261123T013000Z/zhangsan_AXB1234567_20261123T013000Z_gpstrail.json",
            b'{"positions": [{"time": "2026-11-23T01:30:00Z", "lat": 39.9, "lon": 116.4}]}'),
        put(dock, "bay2/zhangsan_AXB1234567_20261123T013000Z/zhangsan_AXB1234567_20261123T013000Z_bookmarks.json",
            '{"bookmarks": [{"text": "到达现场"}]}'.encode()),
        put(dock, "bay3/DCIM/100MEDIA/VID_0001.MP4", c[4]),
        put(dock, "bay3/DCIM/100MEDIA/VID_0002.MP4", c[5]),
        put(dock, "bay3/DCIM/100MEDIA/COPY_OF_A001.MP4", c[0]),  # same content as bay1's first file
    ]
    return files
