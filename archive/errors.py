"""The archive's errors. Those a station must understand are part of the wire contract and are
defined in ``ingest.wire`` (the same classes on both sides); they are named here too, so that
archive code finds every error it raises in one place."""

from ingest.wire import (  # noqa: F401 - re-exported: the archive raises these
    DigestMismatch,
    IntakeRefused,
    ObjectMissing,
    StationMismatch,
    StationNotEnrolled,
    StoreError,
    StoreFull,
    TokenRefused,
    UploadConflict,
)
from liuhen.errors import LiuhenError

__all__ = ["AnnotationRefused", "BadQuery", "DigestMismatch", "ExportError", "ExportFixityFailed", "ExportNotReady",
           "ExportTargetNotEmpty", "IntakeRefused", "ObjectLocked", "ObjectMissing", "StationMismatch", "StationNotEnrolled",
           "StoreError", "StoreFull", "TokenRefused", "UploadConflict"]


class BadQuery(LiuhenError):
    """A search the archive cannot run as asked (an unknown state, an end before the start)."""

    code = "bad_query"


class AnnotationRefused(LiuhenError):
    """A tag or note that cannot be added as given (empty once its white space is trimmed).

    Its code is the one the API has always answered an empty tag or note with (400), so clients
    see no change; the class is its own, as an annotation is not a search."""

    code = "bad_query"


class ExportError(LiuhenError):
    """An export that could not be made (nothing named, a folder that cannot be written)."""

    code = "export_error"


class ExportTargetNotEmpty(ExportError):
    code = "export_target_not_empty"


class ExportFixityFailed(ExportError):
    """A stored original or a signed manifest no longer matches what was recorded at intake."""

    code = "fixity_failed"


class ObjectLocked(StoreError):
    """The store refused to destroy an object its Object Lock still protects (a legal hold is on,
    or a retention date is still ahead). Nothing is bypassed: the object stays until the lock ends."""

    code = "object_locked"


class ExportNotReady(ExportError):
    """An export job's zip asked for before it is made, after it failed, or after it was removed."""

    code = "export_not_ready"
