"""A quick structural look at a file at intake: what kind of media, and is it visibly broken.

This reads only headers and box sizes (no decoding); the full probe with ffprobe is a later
media job. Whatever it finds, the file is archived as-is: broken media is still evidence.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from liuhen.words import Said, said

VIDEO_EXT = {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".ts", ".3gp"}
AUDIO_EXT = {".wav", ".mp3", ".aac", ".m4a", ".amr"}
PHOTO_EXT = {".jpg", ".jpeg", ".png", ".heic"}
SIDECAR_EXT = {".json", ".gpx", ".nmea", ".xml", ".txt", ".log", ".srt"}


@dataclass(frozen=True)
class Sniffed:
    kind: str  # video | audio | photo | sidecar | other
    state: str  # ok | broken | empty | unknown
    note: str | None = None


def _kind(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    if ext in VIDEO_EXT:
        return "video"
    if ext in AUDIO_EXT:
        return "audio"
    if ext in PHOTO_EXT:
        return "photo"
    if ext in SIDECAR_EXT:
        return "sidecar"
    return "other"


def _iso_bmff(f: BinaryIO, size: int) -> str | None:
    """Walk top-level MP4/MOV boxes; return a problem or None."""
    pos = 0
    seen = set()
    while pos < size:
        f.seek(pos)
        hdr = f.read(16)
        if len(hdr) < 8:
            return f"truncated: a box header at byte {pos} is cut off"
        n, typ = struct.unpack(">I4s", hdr[:8])
        if n == 1:
            if len(hdr) < 16:
                return f"truncated: a box header at byte {pos} is cut off"
            n = struct.unpack(">Q", hdr[8:16])[0]
        elif n == 0:
            n = size - pos
        if n < 8:
            return f"damaged: a box at byte {pos} has an impossible size {n}"
        if pos == 0 and typ != b"ftyp":
            return "not an MP4/MOV file: it does not start with an ftyp box"
        seen.add(typ)
        if pos + n > size:
            return f"truncated: the {typ.decode('latin-1')!r} box at byte {pos} needs {n} bytes, the file ends after {size - pos}"
        pos += n
    if b"moov" not in seen:
        return "incomplete: no moov (index) box, the recording was not finalised"
    return None


def sniff(path: Path, name: str) -> Sniffed:
    kind = _kind(name)
    size = os.stat(path).st_size
    if size == 0:
        return Sniffed(kind, "empty", "the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(16)
        ext = os.path.splitext(name)[1].lower()
        if ext in {".mp4", ".mov", ".m4v", ".3gp", ".m4a"}:
            problem = _iso_bmff(f, size)
            return Sniffed(kind, "broken" if problem else "ok", problem)
        if ext == ".mkv":
            ok = head.startswith(b"\x1a\x45\xdf\xa3")
            return Sniffed(kind, "ok" if ok else "broken", None if ok else "not a Matroska file")
        if ext in {".avi", ".wav"}:
            want = b"AVI " if ext == ".avi" else b"WAVE"
            if head[:4] != b"RIFF" or head[8:12] != want:
                return Sniffed(kind, "broken", f"not a RIFF/{want.decode().strip()} file")
            declared = struct.unpack("<I", head[4:8])[0] + 8
            if declared > size:
                return Sniffed(kind, "broken", f"truncated: header declares {declared} bytes, file has {size}")
            return Sniffed(kind, "ok")
        if ext in {".jpg", ".jpeg"}:
            if not head.startswith(b"\xff\xd8"):
                return Sniffed(kind, "broken", "not a JPEG file")
            f.seek(-2, os.SEEK_END)
            if f.read(2) != b"\xff\xd9":
                return Sniffed(kind, "broken", "truncated: the JPEG end marker is missing")
            return Sniffed(kind, "ok")
        if ext == ".mp3":
            ok = head.startswith(b"ID3") or (head[0] == 0xFF and (head[1] & 0xE0) == 0xE0)
            return Sniffed(kind, "ok" if ok else "broken", None if ok else "not an MP3 file")
    return Sniffed(kind, "unknown", None)


# the notes above, which stay English in the record (bound to the custody log), in Chinese for people
_NOTES_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^the file is empty \(0 bytes\)$"), "文件为空（0 字节）"),
    (re.compile(r"^not a Matroska file$"), "不是 Matroska 文件"),
    (re.compile(r"^not a RIFF/(?P<w>\S+) file$"), "不是 RIFF/{w} 文件"),
    (re.compile(r"^truncated: header declares (?P<d>\d+) bytes, file has (?P<s>\d+)$"),
     "文件不完整：文件头声明 {d} 字节，实际只有 {s} 字节"),
    (re.compile(r"^not a JPEG file$"), "不是 JPEG 文件"),
    (re.compile(r"^truncated: the JPEG end marker is missing$"), "文件不完整：缺少 JPEG 结束标记"),
    (re.compile(r"^not an MP3 file$"), "不是 MP3 文件"),
    (re.compile(r"^truncated: a box header at byte (?P<p>\d+) is cut off$"), "文件不完整：第 {p} 字节处的 box 头被截断"),
    (re.compile(r"^damaged: a box at byte (?P<p>\d+) has an impossible size (?P<n>\d+)$"),
     "文件损坏：第 {p} 字节处的 box 大小 {n} 不可能"),
    (re.compile(r"^not an MP4/MOV file: it does not start with an ftyp box$"), "不是 MP4/MOV 文件：开头没有 ftyp box"),
    (re.compile(r"^truncated: the (?P<t>'.*') box at byte (?P<p>\d+) needs (?P<n>\d+) bytes, the file ends after (?P<e>\d+)$"),
     "文件不完整：第 {p} 字节处的 {t} box 需要 {n} 字节，文件在 {e} 字节后就结束了"),
    (re.compile(r"^incomplete: no moov \(index\) box, the recording was not finalised$"),
     "文件不完整：没有 moov（索引）box，录制未正常结束"),
]


def note_said(note: str) -> Said:
    """A sniff note (as recorded, English) in both languages; one no rule knows stands for both."""
    for pattern, zh in _NOTES_ZH:
        m = pattern.match(note)
        if m:
            return said(zh.format(**m.groupdict()), note)
    return said(note, note)

