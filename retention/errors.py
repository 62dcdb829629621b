"""The errors of retention, holds and disposal (``api.errors`` gives each its HTTP status)."""

from liuhen.errors import LiuhenError, NotFound


class RetentionError(LiuhenError):
    code = "retention"


class UnknownClass(RetentionError):
    code = "unknown_retention_class"


class ReasonRequired(RetentionError):
    code = "reason_required"


class UnknownHold(NotFound):
    code = "unknown_hold"


class UnknownDisposal(NotFound):
    code = "unknown_disposal"


class DisposalRefused(RetentionError):
    """The disposal cannot take this step (state, approver, a hold or open case that appeared)."""

    code = "disposal_refused"


class StoreUnavailable(RetentionError):
    """A store could not be reached: nothing was marked destroyed."""

    code = "store_unavailable"


class Destroyed(RetentionError):
    """The evidence's bytes were destroyed under the retention rules: its record stays, its bytes do not."""

    code = "destroyed"
