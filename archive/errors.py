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
