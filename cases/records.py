"""Text records (执法文书): uploaded documents or filled forms, versioned, stored and signed.

Each version is stored write-once in the store's ``records`` namespace (content-addressed, like
an original), and the archive signs a canonical JSON statement of it (SHA-256, size, case, step,
kind, version, who, when) with its Ed25519 key, so a version can be proven later without liuhen
(``openssl pkeyutl -verify``). A new version never replaces an old one. ``liuhen verify`` re-hashes
every version and checks every signature.

Uploads are checked by their bytes, not their names: PDF, DOCX (a ZIP holding word/document.xml),
JPEG, PNG. A structured form (立案审批表, 现场检查笔录 …) is kept as the canonical JSON of its fields.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import liuhen
from archive.context import Archive
from cases import gate
from cases.bindings import TEXT_RECORD, TEXT_RECORD_VERSION
from cases.errors import CaseError, RecordRefused
from cases.models import Case, Step, TextRecord, TextRecordVersion
from cases.service import _open
from hashing import keys
from hashing.binding import bound
from hashing.custody import canonical, iso_utc
from hashing.digest import Digest
from hashing.errors import BadSignature
from liuhen.db import utcnow
from liuhen.errors import LiuhenError
from liuhen.words import said

TOOL = "liuhen-records"

# the common forms and their fields (the console renders them; agencies may use any kind)
FORMS: dict[str, tuple[tuple[str, str], ...]] = {
    "立案审批表": (("case_source", "案件来源"), ("facts", "简要案情"), ("law", "立案依据"), ("opinion", "承办人意见"),
               ("approver", "审批人"), ("approved_on", "审批日期")),
    "现场检查笔录": (("time", "检查时间"), ("place", "检查地点"), ("inspectors", "检查人员及证号"), ("party", "当事人"),
                ("findings", "检查情况"), ("party_statement", "当事人意见")),
    "询问笔录": (("time", "询问时间"), ("place", "询问地点"), ("interviewer", "询问人"), ("recorder", "记录人"),
             ("interviewee", "被询问人"), ("content", "询问内容")),
    "查封扣押决定书": (("party", "当事人"), ("facts", "违法事实"), ("law", "依据"), ("items", "查封扣押物品清单"),
                  ("period", "期限"), ("remedy", "救济途径")),
    "送达回证": (("document", "送达文书"), ("recipient", "受送达人"), ("method", "送达方式"), ("place", "送达地点"),
             ("time", "送达时间"), ("server", "送达人")),
    "决定书": (("party", "当事人"), ("facts", "违法事实及证据"), ("law", "法律依据"), ("decision", "决定内容"),
            ("remedy", "救济途径"), ("decided_on", "决定日期")),
}

def sniff(path: Path, name: str) -> str:
    """The document's type from its bytes; refuse what is not a PDF, DOCX, JPEG or PNG."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                if "word/document.xml" in z.namelist():
                    return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        except zipfile.BadZipFile:
            pass
    raise RecordRefused(said(f"「{name}」不是 PDF、DOCX、JPEG 或 PNG 文件", f"{name} is not a PDF, DOCX, JPEG or PNG file."),
                        said("扫描件请存为 PDF 或 JPEG，电子文书请存为 PDF 或 DOCX 后再上传", "Save scans as PDF or JPEG and "
                             "documents as PDF or DOCX, then upload again."))


@dataclass(frozen=True)
class Added:
    record_id: int
    version: int
    sha256: str
    size: int


def statement(v: TextRecordVersion, rec: TextRecord, case: Case) -> dict[str, Any]:
    return {"kind": "liuhen text record", "case_number": case.number, "case_id": case.id, "record_id": rec.id,
            "record_kind": rec.kind, "title": rec.title, "step_id": rec.step_id, "version": v.version,
            "sha256": v.sha256, "size": v.size, "file_name": v.file_name, "mime": v.mime, "form": v.form,
            "created_at": iso_utc(v.created_at), "created_by": v.created_by}


def _case_to_change(db: Session, case_id: int) -> Case:
    case = db.get(Case, case_id)
    if case is None:
        raise CaseError(said(f"没有案件 {case_id}", f"There is no case {case_id}."), said("请核对案件。", "Check the case."))
    _open(case)
    return case


def _no_record(record_id: int, case: Case) -> CaseError:
    return CaseError(said(f"没有文书 {record_id}", f"There is no text record {record_id} in case {case.number}."),
                     said("请选择本案件的文书。", "Choose a record of this case."))


def _targets(db: Session, case: Case, step_id: int | None, record_id: int | None) -> None:
    """Refuse a step or text record that is not part of ``case`` (the same answer whoever holds it)."""
    if step_id is not None:
        step = db.get(Step, step_id)
        if step is None or step.case_id != case.id:
            raise CaseError(said(f"环节 {step_id} 不属于案件 {case.number}", f"Step {step_id} is not part of case "
                                 f"{case.number}."), said("请选择本案件的环节。", "Choose a step of this case."))
    if record_id is not None:
        found = db.get(TextRecord, record_id)
        if found is None or found.case_id != case.id:
            raise _no_record(record_id, case)


@dataclass(frozen=True)
class Stored:
    """A document's bytes, hashed and stored write-once (content-addressed: storing it again is a no-op)."""

    digest: Digest
    size: int
    key: str
    version: str | None
    mime: str
    file_name: str


def store_document(archive: Archive, *, path: Path, file_name: str, mime: str | None = None) -> Stored:
    """Check, hash and store ``path`` in the ``records`` namespace (before any transaction records it)."""
    size = path.stat().st_size
    most = archive.settings.web.max_record_mb << 20
    if size == 0 or size > most:
        raise RecordRefused(said(f"「{file_name}」有 {size} 字节", f"{file_name} has {size} bytes."),
                            said(f"请上传 1 字节至 {most >> 20} MB 的文件（[web] max_record_mb）。", f"Upload a document of 1 byte to {most >> 20} MB ([web] max_record_mb)."))
    mime = mime or sniff(path, file_name)
    from hashing.digest import hash_file

    digest, n = hash_file(path)
    stored = archive.store.put_file(path, digest, n, namespace="records")
    return Stored(digest=digest, size=n, key=stored.key, version=stored.version, mime=mime, file_name=file_name)


def add_version(archive: Archive, *, case_id: int, actor: str, kind: str, title: str, path: Path, file_name: str,
                mime: str | None = None, step_id: int | None = None, record_id: int | None = None,
                form: bool = False, decision: gate.Decision | None = None) -> Added:
    """Store ``path`` as a new version of ``record_id`` (or of a new record), sign it, and record it.
    ``decision``: what a decision document (决定书) decided, for legal review's gate (``cases.gate``)."""
    with archive.sessions() as db:  # refuse before storing anything: an unknown or closed case, or a step or
        _targets(db, _case_to_change(db, case_id), step_id, record_id)  # record not of it, keeps no file
    stored = store_document(archive, path=path, file_name=file_name, mime=mime)
    with archive.sessions.begin() as db:
        return record_version(db, archive, stored, case_id=case_id, actor=actor, kind=kind, title=title,
                              step_id=step_id, record_id=record_id, form=form, decision=decision)


def record_version(db: Session, archive: Archive, stored: Stored, *, case_id: int, actor: str, kind: str, title: str,
                   step_id: int | None = None, record_id: int | None = None, form: bool = False,
                   decision: gate.Decision | None = None) -> Added:
    """Record ``stored`` as a new version of ``record_id`` (or of a new record) in the caller's
    transaction: signed statement, row and custody event."""
    case = _case_to_change(db, case_id)
    _targets(db, case, step_id, None)
    if record_id is None:
        rec = TextRecord(case_id=case.id, step_id=step_id, kind=kind.strip() or "文书", title=title.strip() or
                         stored.file_name, created_by=actor)
        db.add(rec)
        db.flush()
    else:
        # locked, so that two new versions of one record cannot both take the same number
        found = db.execute(select(TextRecord).where(TextRecord.id == record_id).with_for_update()).scalar_one_or_none()
        if found is None or found.case_id != case.id:
            raise _no_record(record_id, case)
        rec = found
    gate.run(db, case, "record", rec.kind, decision, actor)
    version = (db.scalar(select(func.max(TextRecordVersion.version))
                         .where(TextRecordVersion.record_id == rec.id)) or 0) + 1
    digest, n = stored.digest, stored.size
    v = TextRecordVersion(record_id=rec.id, version=version, sha256=digest.hex, size=n, mime=stored.mime,
                          file_name=stored.file_name, store_key=stored.key, store_version=stored.version, form=form,
                          manifest=b"", signature=b"", key_id=archive.key.key_id, created_at=utcnow(),
                          created_by=actor)
    body = canonical(statement(v, rec, case))
    v.manifest = body
    v.signature = archive.key.sign(body)
    db.add(v)
    db.flush()
    archive.custody.record(db, actor=actor, action="record_added" if version == 1 else "record_revised",
                           object_sha256=digest.hex, tool=TOOL, tool_version=liuhen.__version__,
                           detail={"case_id": case.id, "number": case.number, "record_id": rec.id,
                                   "kind": rec.kind, "version": version, "size": n, "mime": stored.mime,
                                   "store_key": stored.key,
                                   "signature": f"{keys.ALGORITHM} key {archive.key.key_id}",
                                   "bound": bound(*([(TEXT_RECORD, rec)] if version == 1 else []),
                                                  (TEXT_RECORD_VERSION, v))})
    if decision is not None and decision.content.strip():
        gate.followed(db, case, gate.Recorded(record_id=rec.id, version=version, kind=rec.kind, title=rec.title,
                                              decision=decision, actor=actor))
    return Added(record_id=rec.id, version=version, sha256=digest.hex, size=n)


def add_form(archive: Archive, *, case_id: int, actor: str, kind: str, fields: dict[str, str],
             step_id: int | None = None, record_id: int | None = None, title: str | None = None) -> Added:
    """A filled structured form, kept as the canonical JSON of its fields."""
    known = dict(FORMS.get(kind, ()))
    if kind in FORMS:
        missing = [label for key, label in FORMS[kind] if not str(fields.get(key, "")).strip()]
        if missing:
            raise RecordRefused(said(f"「{kind}」缺少：{'、'.join(missing)}", f"The {kind} form lacks: {', '.join(missing)}."),
                                said("请填写每一项后再保存表单。", "Fill in every field, then save the form."))
    body = canonical({"form": kind, "fields": {k: str(v) for k, v in fields.items()},
                      "labels": known}) + b"\n"
    with tempfile.TemporaryDirectory(prefix="liuhen-form-") as d:
        path = Path(d) / "form.json"
        path.write_bytes(body)
        decision = (gate.Decision(kind=str(fields.get("decision_kind") or "").strip() or None,
                                  content=str(fields["decision"]), amount=str(fields.get("amount") or "") or None,
                                  fields=tuple(sorted((str(k), str(v)) for k, v in fields.items())))
                    if str(fields.get("decision", "")).strip() else None)
        return add_version(archive, case_id=case_id, actor=actor, kind=kind, title=title or kind, path=path,
                           file_name=f"{kind}.json", mime="application/json", step_id=step_id,
                           record_id=record_id, form=True, decision=decision)


def verify_versions(archive: Archive, *, actor: str = "cli:verify") -> tuple[int, list[tuple[int, int, str]]]:
    """Re-hash every stored version and check its signature, each check a ``verified`` custody event
    of the document (its SHA-256); returns how many were checked and (record id, version, problem)
    for each failure."""
    from hashing import digest as digesting
    from hashing.digest import hash_stream

    problems: list[tuple[int, int, str]] = []
    with archive.sessions() as db:
        rows = list(db.execute(select(TextRecordVersion.id).order_by(TextRecordVersion.id)).scalars())
    for vid in rows:
        with archive.sessions() as db:
            v = db.get(TextRecordVersion, vid)
            assert v is not None
            rec = db.get(TextRecord, v.record_id)
            case = db.get(Case, rec.case_id) if rec else None
            assert rec is not None and case is not None
            expect = canonical(statement(v, rec, case))
            sig_ok = True
            try:
                keys.verify(archive.key.public_pem, v.manifest, v.signature)
            except BadSignature:
                sig_ok = False
            where = (rec.id, v.version)
            about = {"case_id": case.id, "number": case.number, "record_id": rec.id, "version": v.version,
                     "key": v.store_key}
        problem: str | None = None
        if not sig_ok or v.manifest != expect:
            problem = (f"the signed statement of text record {rec.id} version {v.version} does not verify or no "
                       "longer matches the record")
        else:
            try:
                with archive.store.open(v.store_key, v.store_version) as f:
                    got, n = hash_stream(f)
                if got != Digest(v.sha256) or n != v.size:
                    problem = f"the stored text record {v.store_key} now hashes to {got.hex}, not {v.sha256}"
            except LiuhenError as e:
                problem = e.detail.rstrip(".")
        if problem is not None:
            problems.append((*where, problem))
        with archive.sessions.begin() as db:
            archive.custody.record(db, actor=actor, action="verified", object_sha256=v.sha256,
                                   outcome="failure" if problem else "success", tool=digesting.TOOL,
                                   tool_version=digesting.TOOL_VERSION,
                                   detail={**about, "what": "text record", "problem": problem})
    return len(rows), problems
