"""The publication rows bound to the custody log (``hashing.binding``): every column but the id."""

from __future__ import annotations

from hashing.binding import Binding
from publication.figures_models import FiguresApproval
from publication.models import Notice
from publication.powers_models import PowersDocument

NOTICE = Binding("publication_notices", Notice, (
    "public_no", "case_id", "unit_id", "record_id", "record_version", "category", "decision_kind", "doc_number",
    "party", "facts", "legal_basis", "decision", "agency", "decided_on", "days", "due_on", "masks", "state",
    "created_at", "created_by", "published_at", "published_by", "published_on", "html_sha256", "withdrawn_at",
    "withdrawn_by", "withdraw_reason"))
FIGURES = Binding("publication_figures", FiguresApproval, (
    "unit_id", "year", "snapshot", "sha256", "approved_by", "approved_at", "supersedes_id"))
# powers and procedures (事前公示): each uploaded version, its bytes entering by their SHA-256
POWERS_DOCUMENT = Binding("publication_powers", PowersDocument, (
    "public_id", "unit_id", "title", "kind", "version", "file_name", "mime", "size", "sha256", "content",
    "uploaded_at", "uploaded_by", "note"))
BINDINGS = (NOTICE, FIGURES, POWERS_DOCUMENT)
