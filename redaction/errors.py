"""The errors of redaction (``api.errors`` gives each its HTTP status)."""

from liuhen.errors import LiuhenError, NotFound


class RedactionError(LiuhenError):
    code = "redaction"


class BadPlan(RedactionError):
    """A plan that is not well formed: the message says which field and why."""

    code = "bad_redaction_plan"


class UnknownPlan(NotFound):
    code = "unknown_redaction_plan"


class UnknownVersion(NotFound):
    """A plan version that does not exist (a plan's versions run 1, 2, … up to its latest)."""

    code = "unknown_redaction_version"


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


class MasksRefused(RedactionError):
    """Masks of a text record that cannot be stored: a detected ID number, mobile or bank card left
    unmasked, a span outside its field, overlapping masks; the message names which."""

    code = "text_redaction_refused"


class UnknownTextRedaction(NotFound):
    code = "unknown_text_redaction"
class UnknownRender(NotFound):
    code = "unknown_redaction_render"


class ApprovalRefused(RedactionError):
    """Four eyes: an approval by someone who made or changed the version (or any since the last
    approval), of a version that is not the latest, or while detected tracks are still undecided."""

    code = "redaction_approval_refused"


class RenderNotReady(RedactionError):
    """A render asked for (its copy or log) before its job finished, or after it failed."""

    code = "redaction_render_not_ready"
