"""The archive's errors. Those a station must understand are part of the wire contract and are
defined in ``ingest.wire`` (the same classes on both sides); they are named here too, so that
archive code finds every error it raises in one place."""

from liuhen.errors import LiuhenError
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

__all__ = ["BadQuery", "DigestMismatch", "IntakeRefused", "ObjectMissing", "StationMismatch", "StationNotEnrolled",
           "StoreError", "StoreFull", "TokenRefused", "UploadConflict"]


class BadQuery(LiuhenError):
    """A search the archive cannot run as asked (an unknown state, an end before the start)."""

    code = "bad_query"
