"""``liuhen verify``'s retention part: disposed items are expected absent, and every destruction is
proven.

``check`` names, as ``Failure`` entries of the report:

- ``disposed_bytes_present``: a disposal is ``destroyed`` but bytes still exist under one of its keys
  (its original, a derived file no living evidence shares, or a key its ``destroyed_keys`` lists);
- ``destruction_unfinished``: a disposal stopped in ``destroying`` (a run killed or a store that
  went away); the next ``liuhen retention run`` finishes it;
- ``destroyed_without_approval``: with ``require_approval``, a destruction that two different people
  did not sign (``retention.rules.approved``);
- ``destroyed_without_record``: a destruction with no ``destroyed`` custody event for its evidence;
- ``retention_changed``: an ``evidence_retention`` row whose keep-until is not what the rules in
  force and its bound records say (recomputed with ``retention.service.decisions``, in batches).

The archive layer knows nothing of retention: ``gone`` is the query of destroyed evidence that the
integrity layer hands down to the original, derived-file and fixity checks, which then skip those
objects instead of calling them missing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from archive.context import Archive
from archive.errors import StoreError
from archive.models import DerivedFile, Evidence
from archive.verify import Failure, Report
from hashing.models import CustodyEvent
from retention import rules
from retention.models import Disposal, DisposalApproval, RetentionState
from retention.service import CHUNK, decisions

GONE_STATES = ("destroying", "destroyed")
DESTROYED_ACTION = "destroyed"  # the custody event that carries a destruction record (销毁记录)
NAMED_MAX = 200  # retention_changed findings named one by one; the rest are counted in one more

_RESTORE_ROWS = ("The row was changed below the application (not by liuhen, which records every change): restore "
                 "the database from backup and investigate who had write access.")


def gone() -> Select[int]:
    """The ids of evidence whose bytes are gone by design (a disposal ``destroying`` or ``destroyed``):
    what the original, derived-file and fixity checks must not read or call missing."""
    return select(Disposal.evidence_id).where(Disposal.state.in_(GONE_STATES))


@dataclass(frozen=True)
class _Gone:
    disposal_id: int
    evidence_id: int
    state: str
    scheduled_by: str
    destroyed_at: dt.datetime | None
    keys: tuple[str, ...]


def _date(t: dt.datetime | None) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds") if t else "an unknown date"


def _listed(raw: str | None) -> list[str]:
    try:
        keys = json.loads(raw or "[]")
    except ValueError:
        return []  # an altered row: the row check names it
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _disposals(db: Session) -> list[_Gone]:
    """Every destroying/destroyed disposal with the keys whose bytes must be gone once it is done: the
    keys it lists, its evidence's original, and its derived files that no living evidence shares."""
    rows = db.execute(select(Disposal.id, Disposal.evidence_id, Disposal.state, Disposal.scheduled_by,
                             Disposal.destroyed_at, Disposal.destroyed_keys)
                      .where(Disposal.state.in_(GONE_STATES)).order_by(Disposal.id)).all()
    if not rows:
        return []
    ids = sorted({r.evidence_id for r in rows})
    originals: dict[int, str] = {}
    derived: dict[int, set[str]] = {}
    needed: set[str] = set()  # keys a living evidence still names (shared content stays)
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        for eid, key in db.execute(select(Evidence.id, Evidence.store_key).where(Evidence.id.in_(chunk))):
            originals[eid] = key
        for eid, key in db.execute(select(DerivedFile.evidence_id, DerivedFile.store_key)
                                   .where(DerivedFile.evidence_id.in_(chunk))):
            derived.setdefault(eid, set()).add(key)
    candidates = sorted(set(originals.values()) | {k for ks in derived.values() for k in ks}
                        | {k for r in rows for k in _listed(r.destroyed_keys)})
    g = gone()
    for i in range(0, len(candidates), CHUNK):
        chunk = candidates[i:i + CHUNK]
        needed.update(db.scalars(select(Evidence.store_key).where(Evidence.store_key.in_(chunk),
                                                                  Evidence.id.not_in(g))))
        needed.update(db.scalars(select(DerivedFile.store_key).where(DerivedFile.store_key.in_(chunk),
                                                                     DerivedFile.evidence_id.not_in(g))))
    out = []
    for r in rows:
        keys = set(_listed(r.destroyed_keys)) | derived.get(r.evidence_id, set())
        if r.evidence_id in originals:
            keys.add(originals[r.evidence_id])
        out.append(_Gone(r.id, r.evidence_id, r.state, r.scheduled_by, r.destroyed_at,
                         tuple(sorted(keys - needed))))
    return out


def _check_disposals(archive: Archive, db: Session, report: Report) -> int:
    settings = archive.settings.retention
    disposals = _disposals(db)
    if not disposals:
        return 0
    approvers: dict[int, list[str]] = {}
    recorded: set[int] = set()
    ids = sorted({d.disposal_id for d in disposals})
    eids = sorted({d.evidence_id for d in disposals})
    for i in range(0, len(ids), CHUNK):
        for did, actor in db.execute(select(DisposalApproval.disposal_id, DisposalApproval.actor)
                                     .where(DisposalApproval.disposal_id.in_(ids[i:i + CHUNK]))):
            approvers.setdefault(did, []).append(actor)
    required: dict[int, bool] = {}  # what the destruction record says the rules required when it was made
    for i in range(0, len(eids), CHUNK):
        for eid, detail in db.execute(select(CustodyEvent.evidence_id, CustodyEvent.detail).where(
                CustodyEvent.action == DESTROYED_ACTION, CustodyEvent.evidence_id.in_(eids[i:i + CHUNK]))):
            if eid is None:
                continue
            recorded.add(eid)
            try:
                rec = json.loads(detail or "{}")
            except ValueError:
                continue  # an altered event: the chain check names it
            if isinstance(rec, dict) and isinstance(rec.get("approval_required"), bool):
                required[int(rec.get("disposal_id") or 0)] = rec["approval_required"]
    for d in disposals:
        eid, did = d.evidence_id, d.disposal_id
        if d.state == "destroying":
            report.failures.append(Failure(
                "destruction_unfinished", f"Evidence {eid}: disposal {did} began destroying its bytes and did not "
                "finish (the run stopped or a store could not be reached).",
                "Run `liuhen retention run` to finish it (it carries on where the run stopped); if a store is "
                "unreachable, make it reachable first.", evidence_id=eid))
        else:
            for key in d.keys:
                try:
                    present = archive.store.exists(key)
                except StoreError as e:
                    report.failures.append(Failure(
                        "disposed_bytes_present", f"Evidence {eid} was destroyed on {_date(d.destroyed_at)} "
                        f"(disposal {did}) but whether its bytes are gone from {key} cannot be told: {e.detail}",
                        e.action or "Make the store reachable and run `liuhen verify` again.", evidence_id=eid))
                    continue
                if present:
                    report.failures.append(Failure(
                        "disposed_bytes_present", f"Evidence {eid} was destroyed on {_date(d.destroyed_at)} "
                        f"(disposal {did}) but its bytes still exist at {key}: the destruction did not finish or "
                        "the bytes were put back.",
                        "Run `liuhen retention run` to finish it, and investigate who restored them.",
                        evidence_id=eid))
        rule = replace(settings, require_approval=required.get(did, settings.require_approval))
        if not rules.approved(rule, d.scheduled_by, approvers.get(did, [])):
            signed = sorted(rules.signers(d.scheduled_by, approvers.get(did, [])))
            report.failures.append(Failure(
                "destroyed_without_approval", f"Evidence {eid}: disposal {did} was carried out ({d.state}) without "
                f"the approval of two different people (signed by: {', '.join(signed) or 'nobody'}; scheduled by "
                f"{d.scheduled_by}).", "A destruction was made around the approval rule: investigate who marked it "
                "destroyed (the disposal's custody events) and who had write access to the database.",
                evidence_id=eid))
        if eid not in recorded:
            report.failures.append(Failure(
                "destroyed_without_record", f"Evidence {eid}: disposal {did} is {d.state} but no `destroyed` "
                "custody event (destruction record, 销毁记录) exists for it.",
                "The disposal was marked below the application: " + _RESTORE_ROWS, evidence_id=eid))
    return len(disposals)


def _retention_rows(db: Session) -> Iterator[list[tuple[int, str, dt.datetime | None]]]:
    last = 0
    while True:
        rows = [(int(e), k, u) for e, k, u in db.execute(
            select(RetentionState.evidence_id, RetentionState.keep, RetentionState.retain_until)
            .where(RetentionState.evidence_id > last).order_by(RetentionState.evidence_id).limit(CHUNK))]
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _check_keep_until(archive: Archive, db: Session, report: Report) -> int:
    settings = archive.settings.retention
    checked = differ = 0
    for rows in _retention_rows(db):
        want = decisions(db, settings, [r[0] for r in rows])
        for eid, keep, until in rows:
            checked += 1
            d = want.get(eid)
            if d is None:
                continue  # its evidence row is gone: the row check names that
            has = rules.Decision(keep, until).label
            if has == d.label:
                continue
            differ += 1
            if differ <= NAMED_MAX:
                report.failures.append(Failure(
                    "retention_changed", f"Evidence {eid}: the keep-until of evidence {eid} says {has}, the rules "
                    f"and its bound records say {d.label}.",
                    "It was edited below the application, or the rules changed without `liuhen retention "
                    "recompute`: run `liuhen retention recompute` if the rules changed, otherwise investigate who "
                    "had write access to the database.", evidence_id=eid))
    if differ > NAMED_MAX:
        report.failures.append(Failure(
            "retention_changed", f"{differ - NAMED_MAX} more keep-until rows differ from what the rules and their "
            "bound records say (the first are named above).",
            "If the rules changed, run `liuhen retention recompute`; otherwise investigate who had write access."))
    return checked


def check(archive: Archive, report: Report) -> int:
    """Every destroying/destroyed disposal (bytes gone, approvals, destruction record) and every
    evidence's keep-until recomputed; failures go into ``report``. Returns how many disposals and
    keep-until rows were checked."""
    with archive.sessions() as db:
        n = _check_disposals(archive, db, report)
        n += _check_keep_until(archive, db, report)
    return n
