"""``liuhen export --case``: one BagIt bag with a case's text records, its linked originals, the
coverage report and the custody events, for a legal reviewer or a court.

Built on ``archive.export.export_bag`` (same write-aside-then-rename, same fixity checks on the
originals); the case's part is added to the payload: ``case/case.json`` (the case, its steps and
links), ``case/records/`` (every version of every text record, with the archive's signed
statement and raw signature), ``case/coverage.json`` and ``case/coverage.txt``, and
``case/events.jsonl`` (the case's own custody events). A module above cases adds its own part
through ``extra`` (legal review: ``review.export.bag_part`` writes ``case/review/``), listed in
``case.json`` under ``parts``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bagit
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import liuhen
from archive.bagstream import Local, Plan, Source, plan_bag
from archive.context import Archive
from archive.errors import ExportFixityFailed
from archive.export import ExportResult, _event_row, _json, _jsonl, _safe_name, _write, export_bag
from archive.models import Evidence
from cases.coverage import check_case
from cases.models import Case, TextRecord
from cases.service import current_links, get_case, parties_of, step_officers
from hashing.digest import CHUNK, hash_stream
from hashing.models import CustodyEvent
from liuhen.words import said

RECORD_STATEMENT_NAMES = ("statement.json", "statement.sig")
CASE_FILES = ("case.json", "coverage.json", "coverage.txt", "events.jsonl")

Part = Callable[[Session, Case], dict[str, bytes]]  # a module's part of the bag: path under data/case/ -> bytes


def record_folder(record_id: int, version: int) -> str:
    """Where a text-record version lies in the bag, below ``data/case/``."""
    return f"records/{record_id}_v{version}"


def record_file_name(file_name: str, sha256: str) -> str:
    """The name a text-record version's document has in the bag (in ``record_folder``)."""
    name = _safe_name(file_name, fallback=f"{sha256[:12]}.bin")
    if name in RECORD_STATEMENT_NAMES:  # an upload may be called anything
        name = f"document-{name}"
    return name


def record_paths(record_id: int, version: int, file_name: str, sha256: str) -> dict[str, str]:
    """The bag paths (from the bag's root) of a text-record version's document, signed statement and signature."""
    folder = f"data/case/{record_folder(record_id, version)}"
    return {"file": f"{folder}/{record_file_name(file_name, sha256)}", "statement": f"{folder}/statement.json",
            "signature": f"{folder}/statement.sig"}


def _part_path(rel: str) -> str:
    """A part's relative path under data/case/, refused if it climbs out or takes the case's own names."""
    parts = rel.split("/")
    if (not rel or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts)
            or rel in CASE_FILES or parts[0] == "records"):
        raise ValueError(f"a part of the case bag may not be written at {rel!r}")
    return rel


def _case_events(db: Any, case: Case) -> list[dict[str, Any]]:
    """The case's own custody events: every one of them (opened, steps, links, records, checks,
    exports, closing) names the case in its detail. Not matched by a document's SHA-256 as well:
    the same document filed in another case would bring that case's events (its number, its
    people) into this bag."""
    rows = db.scalars(select(CustodyEvent).where(or_(
        CustodyEvent.detail.like(f'%"case_id":{case.id},%'), CustodyEvent.detail.like(f'%"case_id":{case.id}}}%')))
        .order_by(CustodyEvent.seq))
    return [_event_row(e) for e in rows if json.loads(e.detail).get("case_id") == case.id]


@dataclass(frozen=True)
class CaseExport:
    """A case bag before it is made: the linked recordings in it, the case's own custody events to
    prove, and ``write`` (of the payload folder), which writes ``case/`` and returns ``bag-info`` fields."""

    case_id: int
    number: str
    evidence_ids: list[int]
    prove: list[int]
    records: int
    write: Callable[[Path], dict[str, Any]]


def export_case(archive: Archive, ref: str | int, out_dir: Path, *, actor: str,
                visible: Callable[[Evidence], bool] | None = None,
                destroyed: Callable[[Session, Collection[int]], Collection[int]] | None = None,
                extra: Part | None = None) -> ExportResult:
    """The case bag, written to the folder ``out_dir`` (``prepare_case`` says what is in it)."""
    ce = prepare_case(archive, ref, visible=visible, destroyed=destroyed, extra=extra)
    result = export_bag(archive, [str(i) for i in ce.evidence_ids], out_dir, actor=actor, extra=ce.write,
                        also_prove=ce.prove)
    with archive.sessions.begin() as db:
        record_case_exported(archive, db, ce, actor=actor, detail={"bag": str(result.path),
                                                                   "payload_oxum": result.payload_oxum})
    return result


def record_case_exported(archive: Archive, db: Session, ce: CaseExport, *, actor: str, detail: dict[str, Any]) -> None:
    """The case's ``case_exported`` custody event, in the caller's transaction."""
    archive.custody.record(db, actor=actor, action="case_exported", tool="bagit", tool_version=bagit.VERSION,
                           detail={"case_id": ce.case_id, "number": ce.number, "evidence_ids": ce.evidence_ids,
                                   "records": ce.records, "liuhen": liuhen.__version__, **detail})


def prepare_case(archive: Archive, ref: str | int, *, visible: Callable[[Evidence], bool] | None = None,
                 destroyed: Callable[[Session, Collection[int]], Collection[int]] | None = None,
                 extra: Part | None = None) -> CaseExport:
    """The case bag. ``ref`` is a number or (an int) an id; ``visible`` (the exporting user's scope)
    leaves out linked recordings the user may not see — they are counted in ``case.json`` but not
    named, and their originals are not in the bag. ``destroyed`` (of linked ids, in the export's session, those whose bytes were
    destroyed under the retention rules) keeps those links in ``case.json``, marked ``destroyed``, and
    their originals out of the bag (``destroyed_recordings`` lists them). ``extra`` (of the export's
session and the case) gives more files of the case's part, by path under ``data/case/`` (not
``records/`` nor the case's own files): legal review passes ``review.export.bag_part``."""
    tz = archive.settings.station.timezone
    with archive.sessions() as db:
        case = db.get(Case, ref) if isinstance(ref, int) else get_case(db, ref)
        if case is None:
            case = get_case(db, str(ref))
        case_id = case.id
        linked = {lk.evidence_id for st in case.steps for lk in current_links(st)}
        hidden = {i for i in linked if visible is not None and not visible(db.get_one(Evidence, i))}
        gone = set(destroyed(db, sorted(linked - hidden))) if destroyed is not None else set()
        evidence_ids = sorted(linked - hidden - gone)
        coverage = check_case(db, case, archive.settings.cases, tz=tz, visible=visible)
        doc = {"case_id": case.id, "number": case.number, "category": case.category, "title": case.title,
               "status": case.status, "unit_id": case.unit_id, "created_at": case.created_at.isoformat(),
               "parties": [{"kind": p.kind, "name": p.name, "id_number": p.id_number, "phone": p.phone,
                            "address": p.address, "personal_data": ["id_number", "phone", "address"]}
                           for p in parties_of(archive.data_key, case)],
               "steps": [{"step_id": st.id, "kind": st.kind, "place": st.place,
                          "started_at": st.started_at.isoformat(), "ended_at": st.ended_at.isoformat(),
                          "officers": step_officers(st), "requirement": archive.settings.cases.requirement(st.kind),
                          "links": [{"evidence_id": lk.evidence_id, "start_s": lk.start_s, "end_s": lk.end_s,
                                     "linked_by": lk.linked_by, "linked_at": lk.linked_at.isoformat(),
                                     "destroyed": lk.evidence_id in gone}
                                    for lk in current_links(st) if lk.evidence_id not in hidden],
                          "links_of_other_units_left_out": sum(lk.evidence_id in hidden
                                                               for lk in current_links(st))}
                         for st in sorted(case.steps, key=lambda s: (s.started_at, s.id))],
               "destroyed_recordings": sorted(gone)}
        versions = [(r, v) for r in db.scalars(select(TextRecord).where(TextRecord.case_id == case.id)
                                               .order_by(TextRecord.id)) for v in r.versions]
        events = [e for e in _case_events(db, case) if e["evidence_id"] not in hidden]
        parts = {_part_path(rel): data for rel, data in (extra(db, case) if extra is not None else {}).items()}
        number = case.number

    def write_case(root: Path) -> dict[str, Any]:
        base = root / "case"
        listed = []
        for rec, v in versions:
            folder = record_folder(rec.id, v.version)
            name = record_file_name(v.file_name, v.sha256)
            dst = base / folder / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            with archive.store.open(v.store_key, v.store_version) as src, open(dst, "wb") as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            with open(dst, "rb") as f:
                got, _n = hash_stream(f)
            if got.hex != v.sha256:
                raise ExportFixityFailed(said(f"文书 {rec.id} 第 {v.version} 版（{v.store_key}）的哈希值已不是 {v.sha256}，未导出任何内容", f"Text record {rec.id} version {v.version} ({v.store_key}) no longer hashes "
                                              f"to {v.sha256}; nothing was exported."),
                                         said("请运行 liuhen verify，并从备份恢复该文书。", "Run `liuhen verify` and restore the document from backup."))
            _write(base / folder / "statement.json", v.manifest)
            _write(base / folder / "statement.sig", v.signature)
            listed.append({"record_id": rec.id, "kind": rec.kind, "title": rec.title, "step_id": rec.step_id,
                           "version": v.version, "sha256": v.sha256, "size": v.size, "mime": v.mime,
                           "file": f"data/case/{folder}/{name}", "statement": f"data/case/{folder}/statement.json",
                           "signature": f"data/case/{folder}/statement.sig", "key": "data/keys/archive.pem"})
        for rel, data in sorted(parts.items()):
            (base / rel).parent.mkdir(parents=True, exist_ok=True)
            _write(base / rel, data)
        _write(base / "case.json", _json({**doc, "records": listed,
                                          "originals": "data/evidence.json lists where each linked original is",
                                          "parts": [f"data/case/{rel}" for rel in sorted(parts)]}))
        _write(base / "coverage.json", _json(coverage.to_dict()))
        _write(base / "coverage.txt", ("\n".join(
            f"{'[!] ' if s.flagged else '    '}{s.kind} ({s.requirement}, {s.status}): {s.reason}"
            for s in coverage.steps) + "\n").encode("utf-8"))
        _write(base / "events.jsonl", _jsonl(tuple(events)))
        return {"Liuhen-Case-Number": number, "Liuhen-Case-Records": str(len(listed)),
                "Liuhen-Case-Coverage": "ok" if coverage.ok else f"{len(coverage.flagged)} step(s) flagged"}

    return CaseExport(case_id=case_id, number=number, evidence_ids=evidence_ids,
                      prove=[e["seq"] for e in events], records=len(versions), write=write_case)




_TEXT = {".json", ".jsonl", ".txt", ".sig", ".pem", ".note", ".csv"}


def plan_case(archive: Archive, ce: CaseExport, workdir: Path, *, proxies: bool = False) -> Plan:
    """The streamed bag of a prepared case (``archive.bagstream``): the case's part is written to
    ``workdir`` (its documents re-hashed there), then sent from it; small text files are deflated."""
    info = ce.write(workdir)
    extra: dict[str, Source] = {}
    for p in sorted(workdir.rglob("*")):
        if p.is_file():
            size = p.stat().st_size
            rel = p.relative_to(workdir).as_posix()
            extra[rel] = p.read_bytes() if p.suffix.lower() in _TEXT and size < 1 << 20 else Local.of(p)
    return plan_bag(archive, [str(i) for i in ce.evidence_ids], top="case", proxies=proxies, also_prove=ce.prove,
                    extra=extra, extra_info=info)


__all__ = ["CaseExport", "export_case", "plan_case", "prepare_case", "record_case_exported"]
