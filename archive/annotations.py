"""What users add to evidence: tags, notes and the important mark.

Plain keyword-only functions in the caller's transaction. Each change adds or removes its row,
re-indexes the evidence's search terms (``archive.terms.reindex``: tags and notes are found by
free text) and records its custody event (``tagged``, ``untagged``, ``noted``,
``marked_important``, ``unmarked_important``) in the same transaction, so a rollback leaves
neither the change nor its event. A change that changes nothing (a tag already there, a tag not
there, the mark as it is) records nothing. Notes are only ever added, never edited or removed.

``tool`` names the front end the change came through and ``context`` (who asked from where:
address, user agent, role) goes into the event's detail after the change's own fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import liuhen
from archive import terms
from archive.errors import AnnotationRefused
from archive.models import Evidence, EvidenceNote, EvidenceTag
from hashing.custody import CustodyLog
from liuhen.words import said


def clean_tag(tag: str) -> str:
    """The tag as it is stored: runs of white space made one space, none at either end."""
    t = " ".join(tag.split())
    if not t:
        raise AnnotationRefused(said("标签为空", "The tag is empty."), said("请为标签输入一个词，例如 现场检查。", "Type a word for the tag, e.g. 现场检查."))
    return t


def clean_note(text: str) -> str:
    t = text.strip()
    if not t:
        raise AnnotationRefused(said("备注为空", "The note is empty."), said("请写好备注后再保存。", "Write the note, then save it."))
    return t


def tags(db: Session, *, evidence_id: int) -> list[str]:
    """The evidence's tags, in order."""
    return list(db.scalars(select(EvidenceTag.tag).where(EvidenceTag.evidence_id == evidence_id)
                           .order_by(EvidenceTag.tag)))


def _evidence(db: Session, evidence_id: int) -> Evidence:
    ev = db.get(Evidence, evidence_id)
    assert ev is not None, f"evidence {evidence_id} was checked by the caller"
    return ev


def _event(db: Session, custody: CustodyLog, ev: Evidence, action: str, *, actor: str, tool: str,
           detail: dict[str, Any], context: Mapping[str, Any] | None) -> None:
    custody.record(db, actor=actor, action=action, tool=tool, tool_version=liuhen.__version__, evidence_id=ev.id,
                   object_sha256=ev.sha256, detail={**detail, **(context or {})})


def add_tag(db: Session, custody: CustodyLog, *, evidence_id: int, tag: str, actor: str, tool: str,
            context: Mapping[str, Any] | None = None) -> list[str]:
    """Tag the evidence (``AnnotationRefused`` for an empty tag); return its tags."""
    tag = clean_tag(tag)
    ev = _evidence(db, evidence_id)
    if db.get(EvidenceTag, (ev.id, tag)) is None:
        db.add(EvidenceTag(evidence_id=ev.id, tag=tag, created_by=actor))
        db.flush()
        terms.reindex(db, ev.id)
        _event(db, custody, ev, "tagged", actor=actor, tool=tool, detail={"tag": tag}, context=context)
    return tags(db, evidence_id=ev.id)


def remove_tag(db: Session, custody: CustodyLog, *, evidence_id: int, tag: str, actor: str, tool: str,
               context: Mapping[str, Any] | None = None) -> list[str]:
    """Take the tag off the evidence (written as it was given to ``add_tag``); return its tags."""
    tag = " ".join(tag.split())  # as it was stored
    ev = _evidence(db, evidence_id)
    row = db.get(EvidenceTag, (ev.id, tag))
    if row is not None:
        db.delete(row)
        db.flush()
        terms.reindex(db, ev.id)
        _event(db, custody, ev, "untagged", actor=actor, tool=tool, detail={"tag": tag}, context=context)
    return tags(db, evidence_id=ev.id)


def add_note(db: Session, custody: CustodyLog, *, evidence_id: int, text: str, actor: str, tool: str,
             context: Mapping[str, Any] | None = None) -> EvidenceNote:
    """Add a note (``AnnotationRefused`` for an empty one); return it."""
    text = clean_note(text)
    ev = _evidence(db, evidence_id)
    n = EvidenceNote(evidence_id=ev.id, text=text, author=actor)
    db.add(n)
    db.flush()
    terms.reindex(db, ev.id)
    _event(db, custody, ev, "noted", actor=actor, tool=tool, detail={"note_id": n.id, "text": text},
           context=context)
    return n


def set_important(db: Session, custody: CustodyLog, *, evidence_id: int, important: bool, actor: str, tool: str,
                  context: Mapping[str, Any] | None = None) -> Evidence:
    """Mark the evidence important (重点标记), or take the mark off; return it."""
    ev = _evidence(db, evidence_id)
    if bool(ev.important) != important:
        ev.important = important
        _event(db, custody, ev, "marked_important" if important else "unmarked_important", actor=actor, tool=tool,
               detail={}, context=context)
    return ev
