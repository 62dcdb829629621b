"""Powers and procedures (权责清单 / 执法流程 / 服务指南, 事前公示): documents an agency provides, uploaded
by a publisher and shown on the public site.

Invariants
----------
- A document is a title of a unit; each upload is its next version (1, 2, …) and never replaces one:
  the newest is the current version on the public site, the older ones its history.
- Only what the public site can serve safely is taken: a PDF (by its bytes, ``%PDF-``) or UTF-8 plain
  text / Markdown without HTML markup, 1 byte to ``MAX_BYTES``; anything else is refused with the
  file's name and what to do, and nothing is written.
- The bytes are kept in the row with their SHA-256 (``powers_models``), the row bound to the custody
  log by its ``powers_document_uploaded`` event in the same transaction: an upload is recorded whole
  or not at all.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

import liuhen
from auth.errors import UnknownUnit
from auth.models import Unit
from hashing.binding import bound
from hashing.custody import CustodyLog
from liuhen.db import utcnow
from liuhen.words import said
from publication import site
from publication.bindings import POWERS_DOCUMENT
from publication.errors import PowersDocumentRefused, UnknownPowersDocument
from publication.powers_models import KINDS, PowersDocument

TOOL = "liuhen-publication"
MAX_BYTES = 20 << 20  # a powers document: at most 20 MiB
_LETTERS = "bcdfghjkmnpqrstvwxyz"
_HTML = re.compile(r"<\s*/?\s*[A-Za-z!?][^>]*>")  # a tag, a comment or a doctype
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _refused(name: str, what: tuple[str, str], todo: tuple[str, str]) -> PowersDocumentRefused:
    return PowersDocumentRefused(said(f"「{name}」{what[0]}，未上传", f"{name} {what[1]}: nothing was uploaded."),
                                 said(*todo))


def check_size(name: str, size: int) -> None:
    """Refuse an empty document or one larger than ``MAX_BYTES`` (before its bytes are read whole)."""
    if size <= 0:
        raise _refused(name, ("是空文件", "is empty"), ("请选择要公示的文件。", "Choose the document to publish."))
    if size > MAX_BYTES:
        most = f"{MAX_BYTES >> 20} MB" if MAX_BYTES >= 1 << 20 else f"{MAX_BYTES} 字节"
        raise _refused(name, (f"有 {size} 字节，超过 {most}的上限", f"has {size} bytes, more than the limit of "
                              f"{most.replace('字节', 'bytes')}"),
                       ("请压缩或拆分为多份文件后再上传。", "Compress it or split it into several documents, then "
                        "upload them."))


def sniff(name: str, data: bytes) -> str:
    """The document's type from its bytes (``application/pdf``, ``text/markdown`` for a ``.md`` name,
    else ``text/plain``); refuse anything else, empty or larger than ``MAX_BYTES``."""
    check_size(name, len(data))
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refused(name, ("不是 PDF 或 UTF-8 纯文本（Markdown）文件", "is not a PDF or a UTF-8 plain-text "
                              "(Markdown) file"),
                       ("Word、WPS 等文件请另存为 PDF 后再上传；纯文本请存为 UTF-8 编码。", "Save a Word or WPS document as "
                        "PDF, and plain text as UTF-8, then upload it again.")) from None
    if _CONTROL.search(text):
        raise _refused(name, ("含有控制字符，不是纯文本", "holds control characters: it is not plain text"),
                       ("请另存为 PDF，或存为 UTF-8 纯文本后再上传。", "Save it as PDF or as UTF-8 plain text, then "
                        "upload it again."))
    tag = _HTML.search(text)
    if tag is not None:
        line = text.count("\n", 0, tag.start()) + 1
        raise _refused(name, (f"第 {line} 行含有 HTML 标记", f"holds HTML markup on line {line}"),
                       ("公示网站只接受 PDF 或不含 HTML 的纯文本/Markdown：请删去 HTML 标记，或另存为 PDF 后再上传。",
                        "The public site takes PDF or plain text/Markdown without HTML: remove the markup, or save it "
                        "as PDF, then upload it again."))
    return "text/markdown" if name.lower().endswith((".md", ".markdown")) else "text/plain"


def _public_id() -> str:
    return "QZ-" + "".join(secrets.choice(_LETTERS) for _ in range(16))


def _line(what: tuple[str, str], value: str, most: int) -> str:
    text = value.strip()
    if not text or len(text) > most or any(c in text for c in "\r\n"):
        raise PowersDocumentRefused(said(f"{what[0]}须为 1 至 {most} 个字的一行", f"The {what[1]} must be one line of "
                                         f"1 to {most} characters."),
                                    said(f"请填写{what[0]}。", f"Give the {what[1]}."))
    return text


def upload(db: Session, custody: CustodyLog, *, unit_id: int, title: str, kind: str, file_name: str, data: bytes,
           actor: str, note: str = "") -> PowersDocument:
    """Record ``data`` as the next version of the unit's document ``title`` (version 1 if new), in the
    caller's transaction, with its ``powers_document_uploaded`` event."""
    title = _line(("文件名称", "title"), title, 200)
    if kind not in KINDS:
        raise PowersDocumentRefused(said(f"没有文件类别「{kind}」", f"There is no document kind {kind!r}."),
                                    said("可选类别：" + "、".join(KINDS), "Kinds: " + ", ".join(KINDS)))
    name = (file_name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "document")[:255]
    mime = sniff(name, data)
    # the unit's row locked, so that two uploads of one title cannot both take the same version number
    unit = db.execute(select(Unit).where(Unit.id == unit_id).with_for_update()).scalar_one_or_none()
    if unit is None:
        raise UnknownUnit(said(f"没有单位 {unit_id}", f"There is no unit {unit_id}."),
                          said("请选择本人所在或可见的单位。", "Choose one of your units."))
    version = (db.scalar(select(func.max(PowersDocument.version))
                         .where(PowersDocument.unit_id == unit_id, PowersDocument.title == title)) or 0) + 1
    doc = PowersDocument(public_id=_public_id(), unit_id=unit_id, title=title, kind=kind, version=version,
                         file_name=name, mime=mime, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                         content=data, uploaded_at=utcnow(), uploaded_by=actor, note=note.strip())
    db.add(doc)
    db.flush()
    custody.record(db, actor=actor, action="powers_document_uploaded", object_sha256=doc.sha256, tool=TOOL,
                   tool_version=liuhen.__version__,
                   detail={"document_id": doc.id, "public_id": doc.public_id, "unit_id": unit_id, "title": title,
                           "kind": kind, "version": version, "file_name": name, "mime": mime, "size": doc.size,
                           "bound": bound((POWERS_DOCUMENT, doc))})
    return doc


def unknown(document_id: int | str) -> UnknownPowersDocument:
    return UnknownPowersDocument(said(f"没有公示文件 {document_id}", f"There is no powers document {document_id} "
                                      "that you may see."), said("请在权责清单列表中核对。", "Check it on the list."))


def get(db: Session, document_id: int) -> PowersDocument:
    doc = db.get(PowersDocument, document_id)
    if doc is None:
        raise unknown(document_id)
    return doc


def documents_of(db: Session, *, units: Collection[int], limit: int = 1000) -> list[PowersDocument]:
    """Every version of the units' documents: by unit, title, newest version first."""
    return list(db.scalars(select(PowersDocument).where(PowersDocument.unit_id.in_(sorted(units)))
                           .order_by(PowersDocument.unit_id, PowersDocument.title, PowersDocument.version.desc())
                           .limit(limit)))


def current_versions(db: Session, unit_ids: Collection[int]) -> dict[tuple[int, str], int]:
    """(unit id, title) -> its newest version."""
    return {(u, t): v for u, t, v in db.execute(
        select(PowersDocument.unit_id, PowersDocument.title, func.max(PowersDocument.version))
        .where(PowersDocument.unit_id.in_(sorted(unit_ids))).group_by(PowersDocument.unit_id, PowersDocument.title))}


def to_dict(doc: PowersDocument, *, unit_name: str, current: bool) -> dict[str, Any]:
    """The internal view (the API's): every column but the bytes."""
    return {"id": doc.id, "public_id": doc.public_id, "unit_id": doc.unit_id, "unit_name": unit_name,
            "title": doc.title, "kind": doc.kind, "version": doc.version, "current": current,
            "file_name": doc.file_name, "mime": doc.mime, "size": doc.size, "sha256": doc.sha256,
            "note": doc.note, "uploaded_at": doc.uploaded_at.isoformat(), "uploaded_by": doc.uploaded_by,
            "public_url": f"/public/powers/{doc.public_id}"}


# ---------------------------------------------------------------------------- what the public site reads


def _public(doc: PowersDocument, unit: str, tz: ZoneInfo) -> site.PublicDocument:
    return site.PublicDocument(public_id=doc.public_id, title=doc.title, kind=doc.kind, unit=unit,
                               version=doc.version, uploaded_on=doc.uploaded_at.astimezone(tz).date(),
                               file_name=doc.file_name, mime=doc.mime, size=doc.size, sha256=doc.sha256)


def public_powers(db: Session, *, tz: str = "Asia/Shanghai") -> list[site.PublicPowers]:
    """Every document: its current version and its history (newest first), by unit, kind, then title."""
    zone = ZoneInfo(tz)
    grouped: dict[tuple[int, str], list[site.PublicDocument]] = {}
    order = {k: i for i, k in enumerate(KINDS)}
    for doc, unit in db.execute(select(PowersDocument, Unit.name).join(Unit, Unit.id == PowersDocument.unit_id)
                                .order_by(Unit.name, PowersDocument.unit_id, PowersDocument.title,
                                          PowersDocument.version.desc())):
        grouped.setdefault((doc.unit_id, doc.title), []).append(_public(doc, unit, zone))
    docs = [site.PublicPowers(current=v[0], history=tuple(v[1:])) for v in grouped.values()]
    return sorted(docs, key=lambda p: (p.current.unit, order.get(p.current.kind, len(order)), p.current.title))


@dataclass(frozen=True)
class PublicFile:
    document: site.PublicDocument
    content: bytes


def public_file(db: Session, public_id: str, *, tz: str = "Asia/Shanghai") -> PublicFile | None:
    """A version's file by its public id (any version: the history links to old ones too), or None."""
    row = db.execute(select(PowersDocument, Unit.name).join(Unit, Unit.id == PowersDocument.unit_id)
                     .options(undefer(PowersDocument.content))
                     .where(PowersDocument.public_id == public_id)).first()
    if row is None:
        return None
    doc, unit = row
    return PublicFile(_public(doc, unit, ZoneInfo(tz)), bytes(doc.content))
