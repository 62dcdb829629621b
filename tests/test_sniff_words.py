"""Every note the intake's structural check (``archive.sniff``) can write — kept English in the
record, which is bound to the custody log — has its Chinese sentence (``note_said``), the one the
console shows on the dock and in an unplayable recording's reason."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from archive.sniff import note_said, sniff


def _box(typ: bytes, body: bytes = b"", size: int | None = None) -> bytes:
    return struct.pack(">I4s", size if size is not None else 8 + len(body), typ) + body


FILES = {
    "empty.mp4": b"",
    "x.mkv": b"not matroska at all",
    "x.avi": b"JUNKJUNKJUNKJUNK",
    "short.wav": b"RIFF" + struct.pack("<I", 1000) + b"WAVE" + b"\0" * 8,
    "x.jpg": b"no jpeg here....",
    "cut.jpg": b"\xff\xd8\xff\xe0" + b"\0" * 20,
    "x.mp3": b"\0\0\0\0not an mp3 file",
    "noftyp.mp4": _box(b"moov", b"\0" * 8),
    "cutbox.mp4": _box(b"ftyp", b"isom") + _box(b"mdat", b"\0" * 4, size=1000),
    "nomoov.mp4": _box(b"ftyp", b"isom") + _box(b"free", b"\0" * 8),
    "tiny.mp4": _box(b"ftyp", b"isom") + struct.pack(">I4s", 4, b"free") + b"\0" * 8,
    "header.mp4": _box(b"ftyp", b"isom") + b"\0\0\0",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_sniff_note_is_said_in_chinese(tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    p.write_bytes(FILES[name])
    note = sniff(p, name).note
    assert note, name
    s = note_said(note)
    assert s.en == note
    assert re.search(r"[\u4e00-\u9fff]", s.zh), (note, s.zh)
    left = re.sub(r"\b(RIFF|WAVE|AVI|JPEG|MP3|MP4|MOV|Matroska|ftyp|box|moov|mdat|free)\b|'[^']*'", "", s.zh)
    assert not re.search(r"[A-Za-z]{2,}", left), (note, s.zh)


def test_a_note_no_rule_knows_stands_for_both() -> None:
    s = note_said("something new")
    assert s.zh == s.en == "something new"
