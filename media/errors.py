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
