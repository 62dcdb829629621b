"""The redaction rows bound to the custody log (``hashing.binding``): plans, their versions and
approvals, the renders (with the stored copy's and log's hashes) and the releases."""

from __future__ import annotations

from hashing.binding import Binding
from redaction.models import (
    RedactionApproval,
    RedactionDetection,
    RedactionPlan,
    RedactionRelease,
    RedactionRender,
    RedactionVersion,
)

PLAN = Binding("redaction_plans", RedactionPlan, ("evidence_id", "original_sha256", "title", "created_by",
                                                  "created_at"))
VERSION = Binding("redaction_versions", RedactionVersion, ("plan_id", "version", "content", "sha256", "made_by",
                                                           "made_at", "why", "base_version"))
APPROVAL = Binding("redaction_approvals", RedactionApproval, ("plan_id", "version", "sha256", "approved_by",
                                                             "approved_at", "why"))
RENDER = Binding("redaction_renders", RedactionRender, (
    "plan_id", "evidence_id", "version", "plan_sha256", "source_sha256", "job_id", "state", "asked_by", "asked_at",
    "encoder", "error", "sha256", "size", "store_key", "store_version", "log_sha256", "log_size", "log_store_key",
    "log_store_version", "commands", "tool_versions", "finished_at"))
RELEASE = Binding("redaction_releases", RedactionRelease, ("what", "render_ids", "sha256", "size", "released_by",
                                                           "released_at"))
DETECTION = Binding("redaction_detections", RedactionDetection, ("plan_id", "job_id", "state", "asked_by", "asked_at",
                                                                "result_version", "error", "finished_at"))
BINDINGS = (PLAN, VERSION, APPROVAL, RENDER, DETECTION, RELEASE)
