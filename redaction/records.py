"""Release copies of text records (文书脱敏): personal data found by ``redaction.pii``, masks a person
confirms, the masked text kept as a row bound to the custody log.

The text of a version is what liuhen keeps as text: the record's title, and for a structured form
(``cases.records.add_form``: canonical JSON) each of its fields, named ``title`` and
``fields.<key>``. An uploaded file (PDF, DOCX, JPEG, PNG) is kept as bytes and no text is extracted
from it: only its title is masked here, and ``document_masked`` says so (false).

A confirmed masking (:func:`confirm`) names the version it masks (its SHA-256 is kept beside it), the
masks (field, start, end, kind; character offsets into the field's text) and why. A person may add
masks the detector missed and leave out its false findings, but never one of ``id_number`` (18
digits, with its check digit), ``mobile`` or ``bank_card``: such a masking is refused and nothing
is stored. The row and its ``record_redacted`` custody event are written in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import cases.models  # noqa: F401  (the text_records table the rows point to)
import liuhen
from archive.context import Archive
from cases.models import TextRecord, TextRecordVersion
from hashing.binding import bound
from hashing.custody import canonical
from liuhen.db import utcnow
from liuhen.words import said
from redaction import pii
from redaction.errors import MasksRefused, UnknownTextRedaction
from redaction.record_models import TEXT_REDACTION, TextRedaction

TOOL = "liuhen-text-redaction"
DETECTOR = "redaction.pii/1"
MASK_KINDS = (*pii.KINDS, "name", "other")  # a name or anything else a person masks by hand
REQUIRED = ("id_number", "mobile", "bank_card")  # never dropped (a 15-digit old ID may be: no check digit)
MAX_MASKS = 2000


@dataclass(frozen=True)
class Mask:
    field: str
    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class FieldFinding:
    field: str
    finding: pii.Finding

    @property
    def required(self) -> bool:
        return self.finding.kind in REQUIRED and self.finding.detail != "15"


@dataclass(frozen=True)
class VersionText:
    record_id: int
    version: int
    sha256: str
    form: bool
    fields: dict[str, str]  # title, fields.<key>: the text liuhen keeps of this version


def version_text(archive: Archive, db: Session, *, record_id: int, version: int) -> VersionText:
    """The text of one version (its form fields read from the store and checked against its SHA-256)."""
    rec = db.get(TextRecord, record_id)
    v = db.scalar(select(TextRecordVersion).where(TextRecordVersion.record_id == record_id,
                                                  TextRecordVersion.version == version))
    if rec is None or v is None:
        raise UnknownTextRedaction(said(f"文书 {record_id} 没有第 {version} 版", f"Text record {record_id} has no "
                                        f"version {version}."),
                                   said("请选择案件页面上列出的版本。", "Choose a version listed on the case page."))
    fields = {"title": rec.title}
    if v.form:
        with archive.store.open(v.store_key, v.store_version) as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != v.sha256:
            raise MasksRefused(said(f"文书 {record_id} 第 {version} 版存储的内容与其 SHA-256 不符",
                                    f"The stored text record {record_id} version {version} no longer matches its "
                                    "SHA-256."),
                               said("请运行 liuhen verify 并从备份恢复该文书。", "Run `liuhen verify` and restore the "
                                    "record from backup."))
        body = json.loads(data)
        for key, value in sorted(body.get("fields", {}).items()):
            fields[f"fields.{key}"] = str(value)
    return VersionText(record_id, version, v.sha256, v.form, fields)


def find_in(text: VersionText) -> list[FieldFinding]:
    """Every finding of every field, in field order."""
    return [FieldFinding(name, f) for name, value in text.fields.items() for f in pii.find(value)]


def _refuse(zh: str, en: str) -> MasksRefused:
    return MasksRefused(said(zh, en), said("请改正遮蔽范围后重新提交。", "Correct the masks, then submit again."))


def _check(text: VersionText, masks: Sequence[Mask], found: Sequence[FieldFinding]) -> None:
    if len(masks) > MAX_MASKS:
        raise _refuse(f"遮蔽处过多（{len(masks)}）", f"Too many masks ({len(masks)}).")
    by_field: dict[str, list[Mask]] = {}
    for m in masks:
        if m.field not in text.fields:
            raise _refuse(f"文书没有「{m.field}」一项", f"The record has no field {m.field}.")
        if m.kind not in MASK_KINDS:
            raise _refuse(f"未知的遮蔽类型「{m.kind}」", f"Unknown mask kind {m.kind}.")
        if not 0 <= m.start < m.end <= len(text.fields[m.field]):
            raise _refuse(f"「{m.field}」的遮蔽范围 {m.start}–{m.end} 超出该项文字（{len(text.fields[m.field])} 字）",
                          f"The mask {m.start}–{m.end} of {m.field} is outside its text "
                          f"({len(text.fields[m.field])} characters).")
        by_field.setdefault(m.field, []).append(m)
    for name, ms in by_field.items():
        ms.sort(key=lambda m: m.start)
        for a, b in zip(ms, ms[1:], strict=False):
            if b.start < a.end:
                raise _refuse(f"「{name}」的遮蔽范围 {a.start}–{a.end} 与 {b.start}–{b.end} 重叠",
                              f"The masks {a.start}–{a.end} and {b.start}–{b.end} of {name} overlap.")
    for ff in found:
        if not ff.required:
            continue
        f = ff.finding
        if not any(m.start <= f.start and f.end <= m.end for m in by_field.get(ff.field, ())):
            label = {"id_number": ("身份证号码", "resident ID number"), "mobile": ("手机号码", "mobile number"),
                     "bank_card": ("银行卡号", "bank card number")}[f.kind]
            raise MasksRefused(
                said(f"「{ff.field}」第 {f.start}–{f.end} 字是{label[0]}，不能取消遮蔽",
                     f"Characters {f.start}–{f.end} of {ff.field} are a {label[1]}: this mask cannot be dropped."),
                said("身份证号码、手机号码和银行卡号必须遮蔽；请保留该遮蔽后重新提交。",
                     "ID numbers, mobile numbers and bank cards are always masked: keep that mask and submit again."))


def masked_fields(text: VersionText, masks: Iterable[Mask], found: Sequence[FieldFinding], *,
                  name_style: str = "surname") -> dict[str, str]:
    """Each field with its masks applied (a mask on exactly a detector's finding masks it as that kind does,
    keeping what :func:`redaction.pii.masked` keeps; one added by hand stars every character)."""
    detected = {(ff.field, ff.finding.start, ff.finding.end, ff.finding.kind): ff.finding for ff in found}
    out: dict[str, str] = {}
    per_field: dict[str, list[Mask]] = {}
    for m in masks:
        per_field.setdefault(m.field, []).append(m)
    for name, value in text.fields.items():
        parts: list[str] = []
        pos = 0
        for m in sorted(per_field.get(name, ()), key=lambda m: m.start):
            piece = value[m.start:m.end]
            parts.append(value[pos:m.start])
            if m.kind == "name":
                parts.append(pii.natural_name(piece, name_style) if piece.strip() else piece)
            elif m.kind == "other":
                parts.append("*" * len(piece))
            else:  # a detector's finding as its kind masks it; a span added by hand wholly
                f = detected.get((name, m.start, m.end, m.kind))
                parts.append(pii.masked(f) if f is not None else "*" * len(piece))
            pos = m.end
        parts.append(value[pos:])
        out[name] = "".join(parts)
    return out


def confirm(archive: Archive, db: Session, *, actor: str, record_id: int, version: int, masks: Sequence[Mask],
            why: str, case_id: int, case_number: str, where: dict[str, Any] | None = None) -> TextRedaction:
    """Store a confirmed masking of one version, with its ``record_redacted`` custody event, in the
    caller's transaction; refused (nothing stored) when a required finding is left unmasked.
    ``where``: the request's context for the event (address, via), as ``api.access`` records it."""
    text = version_text(archive, db, record_id=record_id, version=version)
    found = find_in(text)
    _check(text, masks, found)
    content = masked_fields(text, masks, found)
    kept = {(m.field, m.start, m.end) for m in masks}
    dropped = [{"field": ff.field, "kind": ff.finding.kind, "start": ff.finding.start, "end": ff.finding.end}
               for ff in found if (ff.field, ff.finding.start, ff.finding.end) not in kept]
    mask_rows = [{"field": m.field, "start": m.start, "end": m.end, "kind": m.kind}
                 for m in sorted(masks, key=lambda m: (m.field, m.start))]
    body = canonical(content).decode()
    row = TextRedaction(record_id=record_id, version=version, version_sha256=text.sha256,
                        masks=canonical(mask_rows).decode(), dropped=canonical(dropped).decode(), why=why,
                        content=body, content_sha256=hashlib.sha256(body.encode()).hexdigest(), detector=DETECTOR,
                        created_by=actor, created_at=utcnow())
    db.add(row)
    db.flush()
    archive.custody.record(db, actor=actor, action="record_redacted", object_sha256=text.sha256, tool=TOOL,
                           tool_version=liuhen.__version__,
                           detail={"case_id": case_id, "number": case_number, "record_id": record_id,
                                   "version": version, "redaction_id": row.id, "masks": len(mask_rows),
                                   "dropped": len(dropped), "content_sha256": row.content_sha256, "why": why,
                                   "detector": DETECTOR, "bound": bound((TEXT_REDACTION, row)), **(where or {})})
    return row


def get(db: Session, *, record_id: int, redaction_id: int) -> TextRedaction:
    row = db.get(TextRedaction, redaction_id)
    if row is None or row.record_id != record_id:
        raise UnknownTextRedaction(said(f"文书 {record_id} 没有脱敏副本 {redaction_id}",
                                        f"Text record {record_id} has no redacted copy {redaction_id}."),
                                   said("请选择该文书已确认的脱敏副本。", "Choose a confirmed redacted copy of that record."))
    return row


def as_dict(row: TextRedaction) -> dict[str, Any]:
    return {"id": row.id, "record_id": row.record_id, "version": row.version, "version_sha256": row.version_sha256,
            "masks": json.loads(row.masks), "dropped": json.loads(row.dropped), "why": row.why,
            "fields": json.loads(row.content), "content_sha256": row.content_sha256, "detector": row.detector,
            "created_by": row.created_by, "created_at": row.created_at.isoformat()}
