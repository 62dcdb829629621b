"""The console's searches: filters, free text through the term index, newest first.

Every search is bounded by the units the user may see (``Scope``); results are ordered by
recording time, newest first (or by archive time, duration or officer: ``Query.sort``), and
paginated with a capped count (counting a million rows to show "1000+" is wasted work).

A time range matches a recording by its recording time, and a recording that has none (no
timestamp in the container or the file name) by the time it was archived: ``time_used`` says
which time placed each record. The recorder field matches any recorder id that contains it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from archive.errors import BadQuery
from archive.models import DerivedFile, Evidence, EvidenceTag, SearchTerm, Sighting
from archive.scope import Scope, unit_tree
from archive.terms import query_terms
from liuhen.words import said
from roster.models import Officer

COUNT_CAP = 1000

PLAYBACK_STATES = ("pending", "ready", "unplayable", "none")
SORTS = ("recorded", "archived", "duration", "officer")  # newest, newest archived, longest, by officer number
MEDIA_KINDS = ("video", "audio", "photo", "sidecar", "other")


@dataclass(frozen=True)
class Query:
    q: str | None = None  # free text
    officer: str | None = None  # officer number or exact name
    device: str | None = None  # any recorder id that contains it ("A001" finds DSJ-A001)
    station: str | None = None
    important: bool | None = None
    playback: str | None = None  # pending | ready | unplayable | none
    media_kind: str | None = None
    start: dt.datetime | None = None  # recorded at or after (archived, for a record with no recording time)
    end: dt.datetime | None = None  # recorded at or before (likewise)
    tag: str | None = None  # a tag, exactly
    case: str | None = None  # the case(s) whose number or title holds this (as said in the custody event)
    evidence_in: Any = field(default=None, compare=False)  # the ids those cases link (a SELECT, built above)
    sort: str = "recorded"
    page: int = 1
    per_page: int = 25

    def check(self) -> None:
        if self.page < 1 or not 1 <= self.per_page <= 200:
            raise BadQuery(said(f"第 {self.page} 页（每页 {self.per_page} 条）超出范围", f"Page {self.page} with {self.per_page} per page is out of range."),
                           said("请使用第 1 页或以后，每页 1 至 200 条。", "Use page 1 or more and 1 to 200 results per page."))
        if self.start and self.end and self.start > self.end:
            raise BadQuery(said("时间范围的结束早于开始", "The time range ends before it starts."), said("请交换两个时间，或清除其中一个。", "Swap the two times, or clear one of them."))
        if self.playback and self.playback not in PLAYBACK_STATES:
            raise BadQuery(said(f"没有播放状态 {self.playback!r}", f"There is no playback state {self.playback!r}."),
                           said("请使用以下之一：" + "、".join(PLAYBACK_STATES) + "。", "Use one of: " + ", ".join(PLAYBACK_STATES) + "."))
        if self.sort not in SORTS:
            raise BadQuery(said(f"没有排序方式 {self.sort!r}", f"There is no sort order {self.sort!r}."),
                           said("请使用以下之一：" + "、".join(SORTS) + "。", "Use one of: " + ", ".join(SORTS) + "."))
        if self.media_kind and self.media_kind not in MEDIA_KINDS:
            raise BadQuery(said(f"没有媒体类型 {self.media_kind!r}", f"There is no media kind {self.media_kind!r}."),
                           said("请使用以下之一：" + "、".join(MEDIA_KINDS) + "。", "Use one of: " + ", ".join(MEDIA_KINDS) + "."))
        for t in (self.start, self.end):
            if t is not None and t.tzinfo is None:
                raise BadQuery(said("检索中的时间缺少时区", "A time in the search has no time zone."),
                               said("请带时区给出时间，例如 2026-11-23T09:30:00+08:00。", "Give times with their offset, e.g. 2026-11-23T09:30:00+08:00."))

    def finds_nothing(self) -> bool:
        """Whether nothing can match, without a look: text with no letter, digit or Chinese character
        (which ``search`` refuses), or a time range that ends before it starts."""
        return bool((self.q and self.q.strip() and not query_terms(self.q))
                    or (self.start and self.end and self.start > self.end))

    def describe(self) -> dict[str, Any]:
        """The query as it goes into the ``searched`` custody event."""
        out = {k: v for k, v in self.__dict__.items()
               if v is not None and k not in ("page", "per_page", "evidence_in") and (k, v) != ("sort", "recorded")}
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

    who = who.strip()
    nos = set(db.scalars(select(Officer.officer_no).where(or_(Officer.name == who, Officer.officer_no == who))))
    nos.add(who)
    return sorted(nos)


def _text_terms(query: Query) -> list[str]:
    if not (query.q and query.q.strip()):
        return []
    ts = query_terms(query.q)
    if not ts:
        raise BadQuery(said(f"检索词 {query.q!r} 中没有可查找的字母、数字或汉字", f"The search text {query.q!r} has no letters, digits or Chinese characters to look for."),
                       said("请输入姓名、编号或词语的一部分。", "Type part of a name, a number or a word."))
    return ts


def _postings(term: str) -> Any:
    """The evidence ids that have ``term``."""
    return select(SearchTerm.evidence_id).where(SearchTerm.term == term)


def _has_term(term: str, evidence_id: Any = Evidence.id) -> Any:
    """``evidence_id`` has ``term``, checked row by row with one look-up in the term index.

    ``OFFSET 0`` keeps PostgreSQL from turning the check into a join planned on its guess of how
    many records have the term. Those guesses are poor here: the pairs of one Chinese word
    (现场, 场检, 检查) nearly always come together, and the planner multiplies their frequencies
    as if they were independent, so it expects a handful of records, hashes every record that
    has each pair, and reads the whole archive (seconds at a million records)."""
    return exists(select(SearchTerm.evidence_id)
                  .where(SearchTerm.term == term, SearchTerm.evidence_id == evidence_id).offset(0))


def _conditions(db: Session, query: Query) -> list[Any]:
    """Every condition of ``query`` but the scope and the free text."""
    conds: list[Any] = []
    if query.officer:
        conds.append(Evidence.officer_id.in_(_officer_nos(db, query.officer)))
    if query.device:
        conds.append(Evidence.device_id.icontains(query.device.strip(), autoescape=True))  # (any case)
    if query.station:
        conds.append(exists().where(and_(Sighting.evidence_id == Evidence.id,
                                         Sighting.station_id == query.station.strip())))
    if query.important is not None:
        conds.append(Evidence.important.is_(query.important))
    if query.playback:
        conds.append(Evidence.playback == query.playback)
    if query.media_kind:
        conds.append(Evidence.media_kind == query.media_kind)
    if query.start or query.end:
        conds.append(_in_time(query.start, query.end))
    if query.tag and query.tag.strip():
        conds.append(exists().where(and_(EvidenceTag.evidence_id == Evidence.id, EvidenceTag.tag == query.tag.strip())))
    if query.evidence_in is not None:
        conds.append(Evidence.id.in_(query.evidence_in))
    return conds


def _in_time(start: dt.datetime | None, end: dt.datetime | None) -> Any:
    """Recorded within [start, end]; or, with no recording time, archived within it."""
    def within(c: Any) -> list[Any]:
        return ([c >= start] if start is not None else []) + ([c <= end] if end is not None else [])

    return or_(and_(*within(Evidence.recorded_at)),
               and_(Evidence.recorded_at.is_(None), *within(Evidence.created_at)))


def time_used(ev: Evidence) -> str:
    """Which time places ``ev`` in a search: ``recorded``, or ``archived`` where it has no recording time."""
    return "recorded" if ev.recorded_at is not None else "archived"


def _ordered(sort: str) -> tuple[Any, ...]:
    """The ORDER BY of a sort other than the default (newest recording first)."""
    if sort == "archived":
        return Evidence.created_at.desc(), Evidence.id.desc()
    if sort == "duration":
        return Evidence.duration_s.is_(None), Evidence.duration_s.desc(), Evidence.id.desc()
    return Evidence.officer_id.is_(None), Evidence.officer_id, *_newest_first(Evidence)


def filters(db: Session, query: Query, scope: Scope) -> list[Any]:
    """All of ``query`` within ``scope`` as WHERE conditions on ``Evidence`` (every free-text term
    must be present)."""
    conds: list[Any] = [scope.clause()]
    conds += [Evidence.id.in_(_postings(t)) for t in _text_terms(query)]
    return conds + _conditions(db, query)


# How a search runs. Free text is looked up first: how many records have each term (counted up
# to the gather limit below, an index range read). A term no record has ends the search at once.
# Otherwise the rarest term leads, and the cheaper of two ways is taken:
# * "gather" when the leading term is on at most √(GATHER_FACTOR · N) records (N: the archive's
#   size, ~3,500 at a million records; three times that for a scope of at most NARROW_UNITS units,
#   a district and its squads, which the database can match against the term's records as a set):
#   take those records, keep the ones in scope that meet everything else, sort them, and count
#   them in the same pass. Its cost grows with the term's records;
# * "walk" when every term is more common: go through the records in scope newest first and check
#   each one's terms until the page is full — about N / (records with the term) records per result,
#   so the commoner the term, the sooner. The walk stops after twice the records it should need; a
#   term common in the archive but not in this scope or not lately is then gathered after all.
# A walk for free text goes through a narrow scope unit by unit, merged in time order, so that
# only records in scope are read and checked, not the whole archive's newest, most of which
# belong to other units. Without free text the archive is read newest first, as before.
GATHER_FACTOR = 12
NARROW_UNITS = 16
WALK_MIN = 2000


def _newest_first(c: Any) -> tuple[Any, Any]:
    return c.recorded_at.desc(), c.id.desc()


def _narrow(scope: Scope) -> bool:
    return 0 < len(scope.units) + scope.unattributed <= NARROW_UNITS


def _newest(scope: Scope, conds: list[Any], by_unit: bool, n: int) -> Any:
    """(id, recorded_at) of the newest ``n`` evidence in ``scope`` that meets ``conds``, newest first."""
    if by_unit and _narrow(scope):
        # the newest n of the scope are among the newest n of each unit: take those, merge them
        where = [Evidence.unit_id == u for u in sorted(scope.units)]
        if scope.unattributed:
            where.append(Evidence.unit_id.is_(None))
        firsts = [select(Evidence.id, Evidence.recorded_at).where(w, *conds).order_by(*_newest_first(Evidence))
                  .limit(n).subquery() for w in where]
        sub = union_all(*[select(f) for f in firsts]).subquery() if len(firsts) > 1 else firsts[0]
        return select(sub).order_by(*_newest_first(sub.c)).limit(n)
    return select(Evidence.id, Evidence.recorded_at).where(scope.clause(), *conds) \
        .order_by(*_newest_first(Evidence)).limit(n)


def _found(scope: Scope, conds: list[Any], lead: str, rest: list[str]) -> Any:
    """(id, recorded_at) of evidence in ``scope`` that meets ``conds`` and has every term: the records
    with ``lead`` first (OFFSET 0: as a set, not by walking the archive in time order looking for
    them), then the other terms checked on those records only."""
    first = (select(Evidence.id, Evidence.recorded_at)
             .where(scope.clause(), Evidence.id.in_(_postings(lead)), *conds).offset(0).subquery())
    return select(first.c.id, first.c.recorded_at).where(*[_has_term(t, first.c.id) for t in rest])


def _lead_first(scope: Scope, conds: list[Any], lead: str, rest: list[str]) -> Any:
    """ids of the same evidence as ``_found``, found by going through the records with ``lead`` one
    by one and looking each up (scope, ``conds``, the other terms): what a wide scope should do to
    count up to COUNT_CAP, where nearly every record of a term is in scope (left to itself,
    PostgreSQL tends to read the ids of the whole scope into a hash table first)."""
    led = aliased(SearchTerm, name="lead_term")
    in_scope = select(Evidence.id).where(Evidence.id == led.evidence_id, scope.clause(), *conds).offset(0)
    return select(led.evidence_id.label("id")).where(led.term == lead, exists(in_scope),
                                                     *[_has_term(t, led.evidence_id) for t in rest])


def search(db: Session, query: Query, scope: Scope) -> Page:
    query.check()
    ts = _text_terms(query)
    conds = _conditions(db, query)
    offset, limit = (query.page - 1) * query.per_page, query.per_page + 1
    n: int | None = None  # how many match, where the search itself tells
    counting: Any = None  # what to count when it does not
    # a walk goes unit by unit only where no filter but the time could leave a unit with nothing to
    # show (its walk would read all of it) and none leads better (an officer's or a recorder's index)
    by_unit = not (query.officer or query.device or query.station or query.important is not None
                   or query.playback or query.media_kind or query.tag or query.evidence_in is not None)
    rows: list[Evidence] | None = None  # the page's records, where the search reads them itself
    if query.sort != "recorded":
        # another order: every condition, the terms as sets, then sorted (the term walk below follows
        # recording time only)
        where = [scope.clause(), *[Evidence.id.in_(_postings(t)) for t in ts], *conds]
        rows = list(db.scalars(select(Evidence).where(*where).order_by(*_ordered(query.sort))
                               .offset(offset).limit(limit)))
        ids = [e.id for e in rows]
        counting = select(Evidence.id).where(*where)
    elif not ts:
        # the archive newest first, filtered (a district's first page reads ~20 records per result:
        # cheaper than planning a walk unit by unit)
        rows = list(db.scalars(select(Evidence).where(scope.clause(), *conds).order_by(*_newest_first(Evidence))
                               .offset(offset).limit(limit)))
        ids = [e.id for e in rows]
        counting = select(Evidence.id).where(scope.clause(), *conds)
    else:
        size = db.scalar(select(func.max(Evidence.id))) or 0  # about how many records there are
        gather = max(1, int(math.sqrt(GATHER_FACTOR * size)) * (3 if _narrow(scope) else 1))
        counts = db.execute(select(*[
            select(func.count()).select_from(_postings(t).limit(gather + 1).subquery()).scalar_subquery()
            for t in ts])).one()
        ranked = [t for _, t in sorted(zip(counts, ts))]
        lead, rest, lead_count = ranked[0], ranked[1:], min(counts)
        counting = (scope, conds, lead, rest)  # built only if needed (building costs a few ms)
        walked: list[int] | None = None
        if lead_count > gather:
            # a walk should need (offset + limit) · size / lead_count records: go twice as far at most
            newest = _newest(scope, conds, by_unit, max(WALK_MIN, 2 * (offset + limit) * size // lead_count))
            newest = newest.subquery()
            walked = list(db.scalars(select(newest.c.id).where(*[_has_term(t, newest.c.id) for t in ranked])
                                     .order_by(*_newest_first(newest.c)).offset(offset).limit(limit)))
        if lead_count == 0:
            ids, n = [], 0
        elif walked is not None and len(walked) == limit:
            ids = walked
        else:  # gather (the term is rare enough, or the walk fell short)
            sub = _found(scope, conds, lead, rest).subquery()
            got = db.execute(select(sub.c.id, func.count().over()).order_by(*_newest_first(sub.c))
                             .offset(offset).limit(limit)).all()
            ids = [r[0] for r in got]
            n = got[0][1] if got else None
    has_more = len(ids) > query.per_page
    ids = ids[:query.per_page]
    if n is None and not has_more and (ids or offset == 0):
        n = offset + len(ids)  # (a page past the end knows nothing of how many came before: count)
    if n is None:
        if isinstance(counting, tuple):
            counting = (_found if _narrow(scope) else _lead_first)(*counting)
        n = db.scalar(select(func.count()).select_from(counting.limit(COUNT_CAP + 1).subquery())) or 0
    total, capped = min(n, COUNT_CAP), n > COUNT_CAP
    if rows is None:
        by_id = {e.id: e for e in db.scalars(select(Evidence).where(Evidence.id.in_(ids)))} if ids else {}
        rows = [by_id[i] for i in ids]
    else:
        rows = rows[:query.per_page]
    return Page(items=rows, page=query.page, per_page=query.per_page, has_more=has_more, total=total,
                total_capped=capped, extras=extras(db, ids))


def extras(db: Session, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Tags, the officer's name and which previews exist, for a page of results (three queries)."""

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
    trees: dict[int, frozenset[int]] = {}
    for eid, unit, officer_unit, name in db.execute(
            select(Evidence.id, Evidence.unit_id, Officer.unit_id, Officer.name)
            .join(Officer, Officer.officer_no == Evidence.officer_id).where(Evidence.id.in_(ids))):
        if unit is not None and unit not in trees:
            trees[unit] = unit_tree(db, unit)
        if unit is not None and officer_unit in trees[unit]:  # never the name of another unit's officer
            out[eid]["officer_name"] = name
    return out
