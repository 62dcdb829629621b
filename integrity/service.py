"""``liuhen verify``: prove that nothing was lost or altered, across every package.

Walks the custody chain and its signed checkpoints, re-hashes every stored original and checks
every station manifest (``archive.verify``), and checks every signed text-record version
(``cases.records``). Returns one report naming every failure; ends with a checkpoint.
"""

from __future__ import annotations

from sqlalchemy import func, select

from archive.context import Archive
from archive.models import Station
from archive.verify import Failure, Progress, Report, verify_originals
from cases.records import verify_versions
from hashing.custody import verify_chain
from hashing.models import CustodyCheckpoint


def verify_all(archive: Archive, *, actor: str = "cli:verify", progress: Progress | None = None) -> Report:
    r = Report()
    with archive.sessions() as db:
        r.events, problems = verify_chain(db, archive.key.public_pem)
        r.checkpoints = db.scalar(select(func.count()).select_from(CustodyCheckpoint)) or 0
        for p in problems:
            r.failures.append(Failure(f"custody_{p.kind}", p.detail,
                                      "The custody log was edited outside liuhen: restore the database from backup "
                                      "and investigate who had write access.", seq=p.seq))
        stations = {s.id: s for s in db.execute(select(Station)).scalars()}
    verify_originals_part(archive, report=r, actor=actor, stations=stations, progress=progress)
    checked, record_problems = verify_versions(archive, actor=actor)
    r.records = checked
    for record_id, version, what in record_problems:
        r.failures.append(Failure("text_record", f"Text record {record_id} version {version}: {what}.",
                                  "The document or its record was altered after it was signed: restore it from "
                                  "backup and investigate who had write access."))
    with archive.sessions.begin() as db:
        archive.custody.checkpoint(db)
    return r


def verify_originals_part(archive: Archive, *, report: Report, actor: str, stations: dict[str, Station],
                          progress: Progress | None = None) -> None:
    """Every original re-hashed on all cores (``[fixity] threads``, 0: one per core) and its manifests
    checked, one ``verified`` custody event each."""
    verify_originals(archive, report=report, actor=actor, stations=stations, progress=progress,
                     threads=archive.settings.fixity.threads)
