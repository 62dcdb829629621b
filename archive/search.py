"""Finding evidence: the term index behind free text, and the console's searches.

Free text must find Chinese: 张三 finds 张三 in a file name, a tag, a note or an officer's name.
Neither SQLite nor PostgreSQL tokenises Chinese out of the box (pg_trgm skips it under the C
locale), so liuhen keeps its own term index, the same on both databases: for each evidence,
every run of Chinese characters gives its single characters and its pairs, and every run of
letters and digits gives the word and its prefixes (``a0``, ``a00``, ``a001`` from ``DSJ-A001``).
A query is split the same way and every one of its terms must be present, so a search is a few
index look-ups however many rows the archive holds.

Every search is bounded by the units the user may see (``Scope``); results are ordered by
recording time, newest first, and paginated with a capped count (counting a million rows to
show "1000+" is wasted work).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import and_, delete, exists, false, func, insert, or_, select
from sqlalchemy.orm import Session

from archive.models import Evidence, EvidenceNote, EvidenceTag, SearchTerm, Sighting
from liuhen.errors import LiuhenError

MAX_TERM = 32  # longer words are indexed (and searched) by their first 32 characters
COUNT_CAP = 1000
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
    from roster.models import Officer

    parts = [ev.file_name, ev.device_id or "", ev.officer_id or ""]
    parts += [s.original_path for s in db.scalars(select(Sighting).where(Sighting.evidence_id == ev.id))]
    if ev.officer_id:
        name = db.scalar(select(Officer.name).where(Officer.officer_no == ev.officer_id))
        parts.append(name or "")
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


# ---------------------------------------------------------------------------- scope and queries


@dataclass(frozen=True)
class Scope:
    """Which evidence a user may see: the ids of their visible units, and whether they also see
    evidence not yet attributed to any unit (users placed in a top-level unit do)."""

    units: frozenset[int]
    unattributed: bool = False

    def clause(self) -> Any:
        conds = []
        if self.units:
            conds.append(Evidence.unit_id.in_(sorted(self.units)))
        if self.unattributed:
            conds.append(Evidence.unit_id.is_(None))
        return or_(*conds) if conds else false()

    def allows(self, ev: Evidence) -> bool:
        return (ev.unit_id in self.units) if ev.unit_id is not None else self.unattributed


class BadQuery(LiuhenError):
    code = "bad_query"


PLAYBACK_STATES = ("pending", "ready", "unplayable", "none")
MEDIA_KINDS = ("video", "audio", "photo", "sidecar", "other")


@dataclass(frozen=True)
class Query:
    q: str | None = None  # free text
    officer: str | None = None  # officer number or exact name
    device: str | None = None
    station: str | None = None
    important: bool | None = None
    playback: str | None = None  # pending | ready | unplayable | none
    media_kind: str | None = None
    start: dt.datetime | None = None  # recorded at or after
    end: dt.datetime | None = None  # recorded at or before
    page: int = 1
    per_page: int = 25

    def check(self) -> None:
        if self.page < 1 or not 1 <= self.per_page <= 200:
            raise BadQuery(f"Page {self.page} with {self.per_page} per page is out of range.",
                           "Use page 1 or more and 1 to 200 results per page.")
        if self.start and self.end and self.start > self.end:
            raise BadQuery("The time range ends before it starts.", "Swap the two times, or clear one of them.")
        if self.playback and self.playback not in PLAYBACK_STATES:
            raise BadQuery(f"There is no playback state {self.playback!r}.",
                           "Use one of: " + ", ".join(PLAYBACK_STATES) + ".")
        if self.media_kind and self.media_kind not in MEDIA_KINDS:
            raise BadQuery(f"There is no media kind {self.media_kind!r}.",
                           "Use one of: " + ", ".join(MEDIA_KINDS) + ".")
        for t in (self.start, self.end):
            if t is not None and t.tzinfo is None:
                raise BadQuery("A time in the search has no time zone.",
                               "Give times with their offset, e.g. 2026-11-23T09:30:00+08:00.")

    def describe(self) -> dict[str, Any]:
        """The query as it goes into the ``searched`` custody event."""
        out = {k: v for k, v in self.__dict__.items() if v is not None and k not in ("page", "per_page")}
        for k in ("start", "end"):
            if k in out:
                out[k] = out[k].isoformat()
        out["page"] = self.page
        return out


@dataclass
class Page:
    items: list[Evidence]
    page: int
    per_page: int
    has_more: bool
    total: int  # capped at COUNT_CAP
    total_capped: bool
    extras: dict[int, dict[str, Any]] = field(default_factory=dict)


def _officer_nos(db: Session, who: str) -> list[str]:
    from roster.models import Officer

    who = who.strip()
    nos = set(db.scalars(select(Officer.officer_no).where(or_(Officer.name == who, Officer.officer_no == who))))
    nos.add(who)
    return sorted(nos)


def filters(db: Session, query: Query, scope: Scope) -> list[Any]:
    conds: list[Any] = [scope.clause()]
    if query.q and query.q.strip():
        ts = query_terms(query.q)
        if not ts:
            raise BadQuery(f"The search text {query.q!r} has no letters, digits or Chinese characters to look for.",
                           "Type part of a name, a number or a word.")
        for t in ts:
            conds.append(Evidence.id.in_(select(SearchTerm.evidence_id).where(SearchTerm.term == t)))
    if query.officer:
        conds.append(Evidence.officer_id.in_(_officer_nos(db, query.officer)))
    if query.device:
        conds.append(Evidence.device_id == query.device.strip())
    if query.station:
        conds.append(exists().where(and_(Sighting.evidence_id == Evidence.id,
                                         Sighting.station_id == query.station.strip())))
    if query.important is not None:
        conds.append(Evidence.important.is_(query.important))
    if query.playback:
        conds.append(Evidence.playback == query.playback)
    if query.media_kind:
        conds.append(Evidence.media_kind == query.media_kind)
    if query.start:
        conds.append(Evidence.recorded_at >= query.start)
    if query.end:
        conds.append(Evidence.recorded_at <= query.end)
    return conds


def search(db: Session, query: Query, scope: Scope) -> Page:
    query.check()
    conds = filters(db, query, scope)
    offset = (query.page - 1) * query.per_page
    rows = list(db.scalars(select(Evidence).where(*conds)
                          .order_by(Evidence.recorded_at.desc(), Evidence.id.desc())
                          .offset(offset).limit(query.per_page + 1)))
    has_more = len(rows) > query.per_page
    rows = rows[:query.per_page]
    if not has_more:
        total = offset + len(rows)
        capped = False
    else:
        inner = select(Evidence.id).where(*conds).limit(COUNT_CAP + 1).subquery()
        n = db.scalar(select(func.count()).select_from(inner)) or 0
        total, capped = min(n, COUNT_CAP), n > COUNT_CAP
    return Page(items=rows, page=query.page, per_page=query.per_page, has_more=has_more, total=total,
                total_capped=capped, extras=extras(db, [e.id for e in rows]))


def extras(db: Session, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Tags, the officer's name and which previews exist, for a page of results (three queries)."""
    from media.models import DerivedFile
    from roster.models import Officer

    ids = list(ids)
    out: dict[int, dict[str, Any]] = {i: {"tags": [], "derived": [], "officer_name": None} for i in ids}
    if not ids:
        return out
    for eid, tag in db.execute(select(EvidenceTag.evidence_id, EvidenceTag.tag)
                               .where(EvidenceTag.evidence_id.in_(ids)).order_by(EvidenceTag.tag)):
        out[eid]["tags"].append(tag)
    for eid, kind in db.execute(select(DerivedFile.evidence_id, DerivedFile.kind)
                                .where(DerivedFile.evidence_id.in_(ids))):
        out[eid]["derived"].append(kind)
    for eid, name in db.execute(select(Evidence.id, Officer.name)
                                .join(Officer, Officer.officer_no == Evidence.officer_id)
                                .where(Evidence.id.in_(ids))):
        out[eid]["officer_name"] = name
    return out


def gps_points(ev: Evidence) -> int:
    if not ev.gps_json:
        return 0
    try:
        track = json.loads(ev.gps_json)
    except ValueError:
        return 0
    pts = track.get("points") if isinstance(track, dict) else track
    return len(pts) if isinstance(pts, list) else 0
