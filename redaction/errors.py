"""The errors of redaction (``api.errors`` gives each its HTTP status)."""

from liuhen.errors import LiuhenError, NotFound


class RedactionError(LiuhenError):
    code = "redaction"


class BadPlan(RedactionError):
    """A plan that is not well formed: the message says which field and why."""

    code = "bad_redaction_plan"


class UnknownPlan(NotFound):
    code = "unknown_redaction_plan"


class StalePlan(RedactionError):
    """An edit made on an older version than the latest: reload, then edit again."""

    code = "stale_redaction_plan"


class ReleaseRefused(RedactionError):
    """A redacted copy asked for before a second person approved its plan version (or by its editor)."""

    code = "redaction_not_approved"


class DetectorMissing(RedactionError):
    """The face model or onnxruntime is not installed: the message says which package to install."""

    code = "detector_missing"


class OriginalUnreadable(RedactionError):
    """The original could not be opened or decoded (missing, empty, corrupt): the message names the file."""

    code = "redaction_original_unreadable"


class PlanMismatch(RedactionError):
    """A plan rendered against a file whose SHA-256 is not the one the plan names."""

    code = "redaction_plan_mismatch"


class RenderFailed(RedactionError):
    """ffmpeg failed while making a redacted copy: the message carries ffmpeg's own last line."""

    code = "redaction_render_failed"


class UnknownEncoder(RedactionError):
    """An encoder the render has no settings for (never replaced by another one silently)."""

    code = "redaction_unknown_encoder"
