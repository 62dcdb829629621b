"""``liuhen verify``: prove that nothing was lost or altered, across every package.

Walks the custody chain and its signed checkpoints, re-hashes every stored original and checks
every station manifest (``archive.verify``), checks every signed text-record version
(``cases.records``), and checks every meaningful row against the hash its last custody event
carries and re-hashes every derived file (``integrity.bindings``). Returns one report naming every
failure; ends with a checkpoint.
"""

from __future__ import annotations

from sqlalchemy import func, select

from archive.context import Archive
from archive.models import Evidence, Station
from archive.verify import Failure, Progress, Report, verify_evidence
from cases.records import verify_versions
from hashing.custody import verify_chain
from hashing.models import CustodyCheckpoint
from integrity import bindings


def verify_all(archive: Archive, *, actor: str = "cli:verify", progress: Progress | None = None,
               baseline: bool = False) -> Report:
    """With ``baseline``, first bind the rows no custody event vouches for (``integrity.bindings.baseline``)."""
    r = Report()
    if baseline:
        r.baselined = bindings.baseline(archive, actor=actor)
    with archive.sessions() as db:
        r.events, problems = verify_chain(db, archive.key.public_pem)
        r.checkpoints = db.scalar(select(func.count()).select_from(CustodyCheckpoint)) or 0
        for p in problems:
            r.failures.append(Failure(f"custody_{p.kind}", p.detail,
                                      "The custody log was edited outside liuhen: restore the database from backup "
                                      "and investigate who had write access.", seq=p.seq))
        stations = {s.id: s for s in db.execute(select(Station)).scalars()}
        total = db.scalar(select(func.count()).select_from(Evidence)) or 0
        ids = list(db.execute(select(Evidence.id).order_by(Evidence.id)).scalars())

    for i, eid in enumerate(ids, 1):
        verify_evidence(archive, eid, report=r, actor=actor, stations=stations)
        if progress:
            progress(i, total)
    checked, record_problems = verify_versions(archive, actor=actor)
    r.records = checked
    for record_id, version, what in record_problems:
        r.failures.append(Failure("text_record", f"Text record {record_id} version {version}: {what}.",
                                  "The document or its record was altered after it was signed: restore it from "
                                  "backup and investigate who had write access."))
    _verify_rows(archive, r, actor=actor)
    with archive.sessions.begin() as db:
        archive.custody.checkpoint(db)
    return r


def _verify_rows(archive: Archive, r: Report, *, actor: str) -> None:
    """The state bound to the log: every bound row and every derived file (``integrity.bindings``)."""
    r.rows = bindings.check_rows(archive, r)
    r.derived = bindings.check_derived(archive, r)
    bindings.record_result(archive, r, actor=actor, rows=r.rows, derived=r.derived)
