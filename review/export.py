"""Legal review's part of the case bag (``liuhen export --case``): every round of the case, in
``data/case/review/``:

* ``round-<n>.json``: the round — its proposal and hash, the handler's statement, the reviewer, the
  outcome and opinion (and the changed decision of 变更, ``final_sha256``), who decided and when,
  every element's answer beside liuhen's pre-filled finding, the pinned materials by hash with the
  bag path of each pinned text-record version, and the opinion document (法制审核意见书, a signed text
  record of the case, already in ``data/case/records/``) by record id, version, SHA-256 and path;
* ``round-<n>-materials.json``: the materials pinned at submission exactly as stored, so that its
  SHA-256 is the round's ``materials_sha256``.

The files of the pinned text-record versions and of the opinion are the case's own records
(``cases.export`` writes every version of every record, each with its signed statement); a round
refers to them rather than copying them. Linked recordings are the bag's originals
(``data/evidence.json``) unless the exporting user may not see them or they were destroyed under the
retention rules (``case.json`` says which)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.export import record_paths
from cases.models import Case, TextRecord, TextRecordVersion
from review.catalogue import yuan
from review.models import ReviewAnswer, ReviewRound

FOLDER = "review"


def _iso(t: Any) -> str | None:
    return t.isoformat() if t is not None else None


def _versions(db: Session, keys: set[tuple[int, int]]) -> dict[tuple[int, int], TextRecordVersion]:
    """The text-record versions ``(record_id, version)`` named, in one query."""
    if not keys:
        return {}
    ids = sorted({r for r, _ in keys})
    rows = db.scalars(select(TextRecordVersion).where(TextRecordVersion.record_id.in_(ids)))
    return {(v.record_id, v.version): v for v in rows if (v.record_id, v.version) in keys}


def _opinion(db: Session, rnd: ReviewRound) -> dict[str, Any] | None:
    """The opinion document filed with the decision: the first version of the round's opinion record."""
    if rnd.opinion_record_id is None:
        return None
    rec = db.get(TextRecord, rnd.opinion_record_id)
    v = db.scalars(select(TextRecordVersion).where(TextRecordVersion.record_id == rnd.opinion_record_id)
                   .order_by(TextRecordVersion.version).limit(1)).first()
    if rec is None or v is None:
        return None
    return {"record_id": rec.id, "kind": rec.kind, "title": rec.title, "version": v.version, "sha256": v.sha256,
            "size": v.size, "mime": v.mime, **record_paths(rec.id, v.version, v.file_name, v.sha256)}


def round_document(db: Session, rnd: ReviewRound, materials_file: str) -> dict[str, Any]:
    """What ``round-<n>.json`` says of ``rnd``."""
    materials = json.loads(rnd.materials)
    pinned = {(int(r["record_id"]), int(r["version"])) for r in materials.get("records", [])}
    found = _versions(db, pinned)
    records = []
    for r in materials.get("records", []):
        v = found.get((int(r["record_id"]), int(r["version"])))
        where = record_paths(v.record_id, v.version, v.file_name, v.sha256) if v is not None else {}
        records.append({"record_id": r["record_id"], "kind": r["kind"], "title": r["title"], "version": r["version"],
                        "sha256": r["sha256"], **where, "in_bag": v is not None and v.sha256 == r["sha256"]})
    answers = [{"element": a.element, "answer": a.answer, "comment": a.comment, "prefill": a.prefill,
                "prefill_reason": a.prefill_reason, "answered_by": a.answered_by, "answered_at": _iso(a.answered_at)}
               for a in db.scalars(select(ReviewAnswer).where(ReviewAnswer.round_id == rnd.id)
                                   .order_by(ReviewAnswer.id))]
    changed = None
    if rnd.changed_kind is not None:
        changed = {"decision_kind": rnd.changed_kind, "content": rnd.changed_content,
                   "amount_fen": rnd.changed_amount_fen, "amount": yuan(rnd.changed_amount_fen)}
    return {
        "round_id": rnd.id, "round_no": rnd.round_no, "case_id": rnd.case_id, "state": rnd.state,
        "major": rnd.major, "major_reasons": json.loads(rnd.major_reasons),
        "unit_id": rnd.unit_id, "reviewer_unit_id": rnd.reviewer_unit_id,
        "proposal": {"decision_kind": rnd.decision_kind, "content": rnd.content, "legal_basis": rnd.legal_basis,
                     "discretion": rnd.discretion, "amount_fen": rnd.amount_fen, "amount": yuan(rnd.amount_fen)},
        "proposal_sha256": rnd.proposal_sha256, "statement": rnd.statement,
        "submitted_by": rnd.submitted_by, "submitted_at": _iso(rnd.submitted_at), "due_on": rnd.due_on.isoformat(),
        "reviewer": rnd.reviewer, "opened_at": _iso(rnd.opened_at),
        "outcome": rnd.outcome, "opinion": rnd.opinion, "changed_proposal": changed, "final_sha256": rnd.final_sha256,
        "decided_by": rnd.decided_by, "decided_at": _iso(rnd.decided_at),
        "answers": answers,
        "materials": {"file": materials_file, "sha256": rnd.materials_sha256,
                      "records": records,
                      "recordings": [{"evidence_id": x["evidence_id"], "sha256": x["sha256"], "step_id": x["step_id"],
                                      "step_kind": x["step_kind"], "start_s": x["start_s"], "end_s": x["end_s"]}
                                     for x in materials.get("recordings", [])],
                      "recordings_note": "data/evidence.json lists where each linked original is",
                      "coverage_sha256": materials.get("coverage_sha256")},
        "opinion_record": _opinion(db, rnd),
    }


def bag_part(db: Session, case: Case) -> dict[str, bytes]:
    """Every review round of ``case`` for its bag: path under ``data/case/`` -> bytes
    (``cases.export.export_case(..., extra=bag_part)``)."""
    out: dict[str, bytes] = {}
    for rnd in db.scalars(select(ReviewRound).where(ReviewRound.case_id == case.id).order_by(ReviewRound.round_no)):
        materials = f"{FOLDER}/round-{rnd.round_no}-materials.json"
        out[materials] = rnd.materials.encode("utf-8")  # as stored: hashes to materials_sha256
        doc = round_document(db, rnd, f"data/case/{materials}")
        out[f"{FOLDER}/round-{rnd.round_no}.json"] = (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True)
                                                      + "\n").encode("utf-8")
    return out


__all__ = ["bag_part", "round_document"]
