from liuhen.errors import LiuhenError


class IntakeRefused(LiuhenError):
    """The archive will not accept this file (bad signature, digest mismatch, unknown station)."""

    code = "intake_refused"


class DigestMismatch(IntakeRefused):
    code = "digest_mismatch"


class StoreError(LiuhenError):
    code = "store_error"


class StoreFull(StoreError):
    code = "store_full"


class ObjectMissing(StoreError):
    code = "object_missing"


class TokenRefused(LiuhenError):
    """A remote station presented no token, or one this archive never issued (HTTP 401)."""

    code = "token_refused"


class StationMismatch(LiuhenError):
    """A station's token is valid, but it asked to act for another station (HTTP 403)."""

    code = "station_mismatch"


class StationNotEnrolled(LiuhenError):
    """The station has a token but has not yet presented its signing key (HTTP 409)."""

    code = "station_not_enrolled"


class UploadConflict(LiuhenError):
    """A chunk did not start where the archive's copy of the upload ends (HTTP 409).

    ``offset`` is the number of bytes the archive holds; the station resumes from there.
    """

    code = "upload_conflict"

    def __init__(self, detail: str, action: str = "", *, offset: int) -> None:
        super().__init__(detail, action)
        self.offset = offset
