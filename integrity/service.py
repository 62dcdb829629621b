"""``liuhen verify``: prove that nothing was lost or altered, across every package.

Recomputes the custody chain and its Merkle tree from the events and proves them consistent with
every signed checkpoint, in the database and in every anchor outside it (``hashing.custody``),
re-hashes every stored original and checks every station manifest (``archive.verify``), checks
every signed text-record version (``cases.records``), and checks every meaningful row against the
hash its last custody event carries and re-hashes every derived file (``integrity.bindings``), and
checks retention (``retention.verify``): destroyed evidence is expected absent (the original and
derived-file checks skip it, ``retention.verify.gone``), its bytes really gone, every destruction
approved and recorded, every keep-until what the rules say.
Returns one report naming every failure; when the log is sound, ends with a new checkpoint, anchored.
"""

from __future__ import annotations

from sqlalchemy import select

from archive.context import Archive
from archive.models import Station
from archive.verify import Failure, Progress, Report, verify_originals
from cases.records import verify_versions
from hashing.custody import verify_log
from integrity import bindings
from retention import verify as retention_verify
from review import verify as review_verify


def verify_all(archive: Archive, *, actor: str = "cli:verify", progress: Progress | None = None,
               baseline: bool = False) -> Report:
    """With ``baseline``, first bind the rows no custody event vouches for (``integrity.bindings.baseline``)."""
    r = Report()
    if baseline:
        r.baselined = bindings.baseline(archive, actor=actor)
    with archive.sessions() as db:
        log = verify_log(db, archive.key.public_pem, archive.custody.anchors)
        r.events, r.checkpoints, r.anchored = log.events, log.checkpoints, log.anchored
        for p in log.problems:
            r.failures.append(Failure(f"custody_{p.kind}", f"Custody log: {p.detail}.", _LOG_ACTIONS.get(
                p.kind, "The custody log was edited outside liuhen: restore the database from backup and "
                        "investigate who had write access."), seq=p.seq))
        stations = {s.id: s for s in db.execute(select(Station)).scalars()}
    verify_originals_part(archive, report=r, actor=actor, stations=stations, progress=progress)
    checked, record_problems = verify_versions(archive, actor=actor)
    r.records = checked
    for record_id, version, what in record_problems:
        r.failures.append(Failure("text_record", f"Text record {record_id} version {version}: {what}.",
                                  "The document or its record was altered after it was signed: restore it from "
                                  "backup and investigate who had write access."))
    _verify_rows(archive, r, actor=actor)
    if any(p.kind not in _ANCHOR_KINDS for p in log.problems):
        return r  # never sign a log just found damaged
    with archive.sessions.begin() as db:
        archive.custody.checkpoint(db, anchor_after_commit=False)
    for a in archive.custody.anchor_pending(archive.engine, actor=actor):
        if not a.ok:
            r.failures.append(Failure("custody_anchor_failed", f"Checkpoint {a.seq} could not be anchored in "
                                      f"{a.anchor}: {a.receipt}", _LOG_ACTIONS["unanchored_checkpoint"], seq=a.seq))
    return r


def verify_originals_part(archive: Archive, *, report: Report, actor: str, stations: dict[str, Station],
                          progress: Progress | None = None) -> None:
    """Every original re-hashed on all cores (``[fixity] threads``, 0: one per core) and its manifests
    checked, one ``verified`` custody event each."""
    verify_originals(archive, report=report, actor=actor, stations=stations, progress=progress,
                     threads=archive.settings.fixity.threads, gone=retention_verify.gone())


_ANCHOR_ACTION = ("Make the anchor reachable (witness disk mounted, bucket and credentials right) and run "
                  "`liuhen log checkpoint`; until then the log's newest events are not anchored outside the database.")
_ANCHOR_KINDS = {"anchor_unreadable", "unanchored_checkpoint", "anchor_bad_checkpoint"}
_LOG_ACTIONS = {
    "truncated": "Events were deleted from the end of the custody log after a checkpoint was anchored outside the "
                 "database: restore the database from backup and investigate who had write access.",
    "rebuilt": "The custody log was rewritten after a checkpoint was anchored outside the database: restore the "
               "database from backup and investigate who had write access and the archive key.",
    "anchor_bad_checkpoint": "A checkpoint in an anchor is not the archive's: investigate who can write to the anchor.",
    "anchor_unreadable": _ANCHOR_ACTION,
    "unanchored_checkpoint": _ANCHOR_ACTION,
}


def _verify_rows(archive: Archive, r: Report, *, actor: str) -> None:
    """The state bound to the log: every bound row and every derived file (``integrity.bindings``, the
    files of destroyed evidence skipped), then retention (``retention.verify``)."""
    r.rows = bindings.check_rows(archive, r)
    r.derived = bindings.check_derived(archive, r, gone=retention_verify.gone())
    r.retention = retention_verify.check(archive, r)
    r.review = review_verify.check(archive, r)
    bindings.record_result(archive, r, actor=actor, rows=r.rows, derived=r.derived)
