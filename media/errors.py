"""Errors of the media stage: probing an original and rendering files derived from it.

A media error never touches the original: it is evidence whether or not it plays. Every
message says which file, what failed, and that the original is still there to download.
"""

from __future__ import annotations

from typing import Any

from liuhen.errors import LiuhenError, Text
from liuhen.words import said

KEEP_ORIGINAL = said("原始文件保持不变，仍可下载和校验。", "The original is kept unchanged and can still be downloaded and verified.")


class MediaError(LiuhenError):
    """A media job could not run: a missing tool, an unreadable file or sidecar, bad input."""

    code = "media_error"


class Unplayable(MediaError):
    """ffprobe or ffmpeg could not read the file, or could not make a derived file from it."""

    code = "unplayable"

    def __init__(self, detail: Text, action: Text = KEEP_ORIGINAL, *, reason: str = "", run: Any = None) -> None:
        super().__init__(detail, action)
        self.reason = reason
        self.run = run  # the ffmpeg/ffprobe RunResult that failed, for the custody event


# Why a file cannot be played, as a stable code: matched on the reason sentences this package (and the
# intake's structural check, archive/sniff.py) write into ``Evidence.playback_note``, most specific
# first. The console shows the code's word (``unplayable.<code>``) and keeps the sentence, with
# ffprobe's own words, as its detail; the API keeps the sentence.
UNPLAYABLE_REASONS: tuple[tuple[str, str], ...] = (
    ("empty", "the file is empty (0 bytes)"),
    ("truncated", "truncated"),
    ("stored_report", "its stored probe report could not be read"),
    ("timeout", "ffprobe timed out"),
    ("bad_report", "ffprobe's report on it could not be read"),
    ("unreadable", "ffprobe could not read it"),
    ("no_stream", "ffprobe found no audio or video stream"),
    ("no_size", "ffprobe found a video stream without a picture size"),
    ("no_duration", "ffprobe could not find how long it is"),
    ("render", "Could not make the"),
    ("wrong_format", ": not a"),
)


def unplayable_code(note: str | None) -> str:
    """The code of an unplayable file's reason (``other`` for a sentence no rule knows)."""
    for code, phrase in UNPLAYABLE_REASONS:
        if note and phrase in note:
            return code
    return "other"
