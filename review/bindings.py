"""The review rows bound to the custody log (``hashing.binding``): rounds, answers, hand marks and
the decisions recorded on reviewed cases. ``review_cases`` (the major flag) is derived from these
and the catalogue, notices are messages: neither is bound."""

from __future__ import annotations

from hashing.binding import Binding
from review.models import ReviewAnswer, ReviewDecision, ReviewMark, ReviewRound

ROUND = Binding("review_rounds", ReviewRound, (
    "case_id", "round_no", "unit_id", "reviewer_unit_id", "state", "major", "major_reasons", "decision_kind",
    "content", "legal_basis", "discretion", "amount_fen", "statement", "proposal_sha256", "materials",
    "materials_sha256", "submitted_by", "submitted_at", "due_on", "reviewer", "opened_at", "outcome", "opinion",
    "changed_kind", "changed_content", "changed_amount_fen", "final_sha256", "decided_by", "decided_at",
    "opinion_record_id"))
ANSWER = Binding("review_answers", ReviewAnswer, ("round_id", "element", "answer", "comment", "prefill",
                                                  "prefill_reason", "answered_by", "answered_at"))
MARK = Binding("review_marks", ReviewMark, ("case_id", "major", "reason", "marked_by", "marked_at"))
DECISION = Binding("review_decisions", ReviewDecision, ("case_id", "round_id", "what", "kind", "decision_sha256",
                                                        "recorded_by", "recorded_at"))
BINDINGS = (ROUND, ANSWER, MARK, DECISION)
