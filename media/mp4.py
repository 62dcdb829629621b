"""Reading an MP4/MOV's box index directly, for what ffprobe's report does not say.

Only :func:`keyframe_count` for now: how many of the first video track's samples are sync
samples (keyframes), from its ``stss`` and ``stsz`` boxes. The thumbnail sprite uses it to
choose between decoding every keyframe in one pass and seeking to each tile's keyframe. It reads
box headers and the two counts only (a few small reads, wherever the ``moov`` is), never the
media data, and answers ``None`` for anything it does not understand: the caller then takes the
path that works for any file.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
MAX_BOXES = 10_000  # a hostile file with millions of tiny boxes is given up on, not walked


def _boxes(f: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in ``[start, end)``."""
    out: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end and len(out) < MAX_BOXES:
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            break
        size, typ = struct.unpack(">I4s", head[:8])
        payload = pos + 8
        if size == 1:
            if len(head) < 16:
                break
            size = struct.unpack(">Q", head[8:16])[0]
            payload = pos + 16
        elif size == 0:
            size = end - pos
        if size < payload - pos or pos + size > end:
            break
        out.append((typ, payload, pos + size))
        pos += size
    return out


def _child(f: BinaryIO, box: tuple[bytes, int, int], typ: bytes) -> tuple[bytes, int, int] | None:
    return next((b for b in _boxes(f, box[1], box[2]) if b[0] == typ), None)


def _full_box_u32(f: BinaryIO, box: tuple[bytes, int, int], offset: int) -> int | None:
    """A 32-bit field ``offset`` bytes into a full box's payload (after version and flags)."""
    if box[1] + 4 + offset + 4 > box[2]:
        return None
    f.seek(box[1] + 4 + offset)
    data = f.read(4)
    return struct.unpack(">I", data)[0] if len(data) == 4 else None


def keyframe_count(path: Path) -> tuple[int, int] | None:
    """(keyframes, samples) of the first video track, or None when the index does not say."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            moov = next((b for b in _boxes(f, 0, size) if b[0] == b"moov"), None)
            if moov is None:
                return None
            for trak in _boxes(f, moov[1], moov[2]):
                if trak[0] != b"trak":
                    continue
                mdia = _child(f, trak, b"mdia")
                hdlr = _child(f, mdia, b"hdlr") if mdia else None
                if mdia is None or hdlr is None:
                    continue
                f.seek(hdlr[1] + 8)  # version/flags, pre_defined, then handler_type
                if f.read(4) != b"vide":
                    continue
                minf = _child(f, mdia, b"minf")
                stbl = _child(f, minf, b"stbl") if minf else None
                stsz = _child(f, stbl, b"stsz") if stbl else None
                if stbl is None or stsz is None:
                    return None
                samples = _full_box_u32(f, stsz, 4)  # after sample_size
                if not samples:
                    return None  # fragmented: the samples are in moof boxes
                stss = _child(f, stbl, b"stss")
                if stss is None:
                    return samples, samples  # no sync sample table: every sample is a keyframe
                keys = _full_box_u32(f, stss, 0)
                return (keys, samples) if keys is not None and keys <= samples else None
    except OSError:
        return None
    return None
