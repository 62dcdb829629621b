"""The station's errors: each names what failed, on which file, and what the dock operator does next.

The wire contract's errors (what the archive answers a station) live in ``ingest/wire.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from liuhen.errors import LiuhenError

if TYPE_CHECKING:
    from ingest.station import FileResult


class StationError(LiuhenError):
    code = "station_error"


class FileRefused(StationError):
    """This one recorder file cannot be offloaded (not a regular file, outside the bay, ...)."""

    code = "file_refused"


class RecorderGone(StationError):
    """The recorder disappeared (unplugged) while a file was being copied."""

    code = "recorder_gone"


class StagingFull(StationError):
    code = "staging_full"


class ArchiveUnreachable(StationError):
    code = "archive_unreachable"


class IngestHalted(LiuhenError):
    """Intake stopped for everything (e.g. a full disk); carries what was done before."""

    code = "ingest_halted"

    def __init__(self, cause: LiuhenError, results: list[FileResult]) -> None:
        super().__init__(cause.said, cause.said_action)
        self.code = cause.code
        self.results = results


class UploadChanged(Exception):
    """Not an error a person sees: the upload vanished or is busy on the archive, so the HTTP
    intake starts again from the archive's offset (``HttpIntake`` retries it)."""
