"""The term index behind free text.

Free text must find Chinese: 张三 finds 张三 in a file name, a tag, a note or an officer's name.
Neither SQLite nor PostgreSQL tokenises Chinese out of the box (pg_trgm skips it under the C
locale), so liuhen keeps its own term index, the same on both databases: for each evidence,
every run of Chinese characters gives its single characters and its pairs, and every run of
letters and digits gives the word and its prefixes (``a0``, ``a00``, ``a001`` from ``DSJ-A001``).
A query is split the same way (``query_terms``) and every one of its terms must be present, so a
search is a few index look-ups however many rows the archive holds (``archive.query``).
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from archive.models import Evidence, EvidenceNote, EvidenceTag, SearchTerm, Sighting
from roster.models import Officer

MAX_TERM = 32  # longer words are indexed (and searched) by their first 32 characters
_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def terms(text: str) -> set[str]:
    """The index terms of ``text``."""
    out: set[str] = set()
    for m in _RUNS.finditer(_normal(text)):
        run = m.group()
        if _is_cjk(run[0]):
            out.update(run)
            out.update(run[i:i + 2] for i in range(len(run) - 1))
        else:
            word = run[:MAX_TERM]
            out.add(word)
            out.update(word[:k] for k in range(2, len(word)))
    return out


def query_terms(text: str) -> list[str]:
    """The terms that evidence must all have to match the free text ``text``."""
    out: list[str] = []
    for m in _RUNS.finditer(_normal(text)):
        run = m.group()
        if _is_cjk(run[0]):
            out.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
        else:
            out.append(run[:MAX_TERM])
    return list(dict.fromkeys(out))


def searchable_text(db: Session, ev: Evidence) -> list[str]:
    """Everything free text searches in: names, paths, recorder and officer, tags and notes."""
    parts = [ev.file_name, ev.device_id or "", ev.officer_id or ""]
    parts += [s.original_path for s in db.scalars(select(Sighting).where(Sighting.evidence_id == ev.id))]
    if ev.officer_id and ev.unit_id is not None:
        from archive.scope import unit_tree

        o = db.scalar(select(Officer).where(Officer.officer_no == ev.officer_id))
        if o is not None and o.unit_id in unit_tree(db, ev.unit_id):  # never another unit's officer's name
            parts.append(o.name)
    parts += db.scalars(select(EvidenceTag.tag).where(EvidenceTag.evidence_id == ev.id))
    parts += db.scalars(select(EvidenceNote.text).where(EvidenceNote.evidence_id == ev.id))
    return parts


def reindex(db: Session, evidence_id: int) -> None:
    """Bring ``evidence_id``'s terms up to date with its text (idempotent; in the caller's transaction)."""
    ev = db.get(Evidence, evidence_id)
    if ev is None:
        return
    want: set[str] = set()
    for text in searchable_text(db, ev):
        want |= terms(text)
    have = set(db.scalars(select(SearchTerm.term).where(SearchTerm.evidence_id == evidence_id)))
    gone = have - want
    if gone:
        db.execute(delete(SearchTerm).where(SearchTerm.evidence_id == evidence_id, SearchTerm.term.in_(gone)))
    new = want - have
    if new:
        db.execute(insert(SearchTerm), [{"term": t, "evidence_id": evidence_id} for t in sorted(new)])
