from liuhen.errors import LiuhenError


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
