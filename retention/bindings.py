"""The retention rows bound to the custody log (``hashing.binding``): an evidence's chosen class,
legal holds and what they hold, disposals and their approvals. The computed keep-until is not
bound: ``liuhen verify`` recomputes it from the bound rows it comes from and names a difference
(``retention.verify``)."""

from __future__ import annotations

from hashing.binding import Binding
from retention.models import Disposal, DisposalApproval, HoldItem, LegalHold, RetentionState

CLASS = Binding("evidence_retention", RetentionState, ("class_name",), key="evidence_id", blank_ok=True)
HOLD = Binding("legal_holds", LegalHold, ("unit_id", "scope_kind", "scope", "reason", "placed_by", "placed_at",
                                          "released_at", "released_by", "release_reason"))
HOLD_ITEM = Binding("hold_items", HoldItem, ("hold_id", "evidence_id", "added_at"))
DISPOSAL = Binding("disposals", Disposal, ("evidence_id", "state", "rule", "scheduled_at", "scheduled_by", "due_at",
                                           "restored_at", "restored_by", "restore_reason", "destroy_started_at",
                                           "destroyed_at", "destroyed_keys"))
APPROVAL = Binding("disposal_approvals", DisposalApproval, ("disposal_id", "actor", "at"))
BINDINGS = (CLASS, HOLD, HOLD_ITEM, DISPOSAL, APPROVAL)
