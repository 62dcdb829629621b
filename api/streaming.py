"""Serving stored files over HTTP with byte ranges, so a browser's player can seek.

One range per request (what players ask for); ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n``.
A range outside the file is 416 with ``Content-Range: bytes */SIZE``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import StreamingResponse

from api.errors import RangeNotSatisfiable
from archive.store import OriginalStore

CHUNK = 256 * 1024
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*(?:,.*)?$")


def _num(digits: str) -> int:
    return int(digits) if len(digits) <= 30 else 10**30  # (Python refuses to read ints of 4300+ digits)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of the first range in ``header``; None for the whole file."""
    if not header:
        return None
    m = _RANGE.match(header)
    if m is None or (not m.group(1) and not m.group(2)):
        return None  # not a byte range we understand: send the whole file (RFC 9110 allows ignoring it)
    a, b = m.group(1), m.group(2)
    if not a:
        n = _num(b)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - n), size - 1
    start = _num(a)
    if b and _num(b) < start:
        return None  # not a valid range (RFC 9110 14.1.1): ignored, the whole file is sent
    end = min(_num(b), size - 1) if b else size - 1
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, end


def is_first_read(rng: tuple[int, int] | None) -> bool:
    """Whether a request (its range from ``parse_range``) reads the file from its start: a new play
    or download, not a seek within one (nor the last bytes a player reads to find the index)."""
    return rng is None or rng[0] == 0


def stream(request: Request, store: OriginalStore, *, key: str, version: str | None, size: int, mime: str,
           rng: tuple[int, int] | None, filename: str | None = None, inline: bool = True,
           cache: str = "private, max-age=3600") -> StreamingResponse:
    """Send ``rng`` (from ``parse_range``, checked before anything was recorded) or the whole file."""
    start, end = rng if rng is not None else (0, size - 1)
    length = max(0, end - start + 1)

    f = store.open_range(key, version, start, max(1, length)) if length else None  # a missing object fails here

    def body() -> Iterator[bytes]:
        if f is None:
            return
        with f:
            left = length
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

    headers = {"Accept-Ranges": "bytes", "Content-Length": str(length), "Cache-Control": cache,
               "X-Content-Type-Options": "nosniff"}
    if rng is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if filename is not None:
        disp = "inline" if inline else "attachment"
        headers["Content-Disposition"] = f"{disp}; filename*=UTF-8''{quote(filename)}"
    return StreamingResponse(body(), status_code=206 if rng is not None else 200, media_type=mime, headers=headers)
