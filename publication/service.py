"""Decision notices: drafted when a decision is recorded, masked, published on time, withdrawn.

Invariants
----------
- A notice is drafted in the transaction that records its decision document (``cases.gate``'s
  follow hook, ``publication.hooks``): a decision recorded has its draft, and a draft has its decision.
- Personal data never enters a notice: every field is the decision's field after the detectors
  (``redaction.pii.find``: ID numbers, mobiles, landlines, bank cards, plates, addresses, e-mail)
  and the name rule (a natural-person party's name as ``[publication] person_name`` says) have
  masked it. The publisher may mask more (``mask``), never unmask: no function here takes a mask away.
- ``publish`` renders the exact public page and runs the detectors over it once more (the HTML as
  served and its text unescaped); anything found refuses the publication and writes nothing but a
  ``notice_publish_refused`` event.
- A withdrawn notice stays, public, marked withdrawn with its reason.
- Every draft, mask, publication and withdrawal is a custody event of the case, its row bound.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Text, and_, cast, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

import liuhen
from auth.models import Unit
from cases import gate
from cases.models import Case
from cases.service import parties_of
from hashing.binding import bound
from hashing.custody import CustodyLog
from hashing.keys import DataKey
from liuhen.config import Settings
from liuhen.db import utcnow
from liuhen.words import said
from publication import site
from publication.bindings import NOTICE
from publication.errors import NoticeState, PersonalDataFound, PublicationError, UnknownNotice
from publication.models import FIELDS, Notice
from redaction import pii
from review.calendar import WorkCalendar
from review.errors import CalendarUncovered

TOOL = "liuhen-publication"
_NO_LETTERS = "bcdfghjkmnpqrstvwxyz"  # public numbers: letters only after the year, so no detector sees digits


def _event(custody: CustodyLog, db: Session, actor: str, action: str, n: Notice, *, outcome: str = "success",
           **detail: Any) -> None:
    custody.record(db, actor=actor, action=action, tool=TOOL, tool_version=liuhen.__version__, outcome=outcome,
                   detail={"case_id": n.case_id, "notice_id": n.id, "public_no": n.public_no, **detail,
                           **({"bound": bound((NOTICE, n))} if outcome == "success" else {})})


# ---------------------------------------------------------------------------- deadlines


def deadline(settings: Settings, calendar: WorkCalendar, *, decision_kind: str | None, category: str | None,
             decided_on: dt.date) -> tuple[int, dt.date]:
    """The working days a notice has and the day it is due: the ``days``-th working day after the day
    the decision was made (that day not counted). ``CalendarUncovered`` for a year the calendar lacks."""
    days = settings.publication.days_for(decision_kind, category)
    return days, calendar.add_workdays(decided_on, days)


def calendar_of(settings: Settings) -> WorkCalendar:
    return WorkCalendar.from_settings(settings.review)


# ---------------------------------------------------------------------------- masking


@dataclass(frozen=True)
class Cleaned:
    text: str
    spans: tuple[tuple[int, int, str], ...]  # where the masks stand in ``text``: start, end, kind


def clean(text: str, *, names: Sequence[tuple[str, str]] = (), today: dt.date | None = None) -> Cleaned:
    """``text`` with every detected piece of personal data masked (``redaction.pii``) and every
    ``(name, shown_as)`` replaced, and where each mask stands."""
    found: list[tuple[int, int, str, str]] = [(f.start, f.end, f.kind, pii.masked(f))
                                             for f in pii.find(text, today=today)]
    for name, shown in sorted(names, key=lambda x: -len(x[0])):
        if not name or name == shown:
            continue
        at = text.find(name)
        while at >= 0:
            end = at + len(name)
            if not any(s < end and at < e for s, e, _, _ in found):
                found.append((at, end, "name", shown))
            at = text.find(name, end)
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for s, e, kind, shown in sorted(found):
        out.append(text[pos:s])
        start = sum(len(x) for x in out)
        out.append(shown)
        spans.append((start, start + len(shown), kind))
        pos = e
    out.append(text[pos:])
    return Cleaned("".join(out), tuple(spans))


def masks_of(n: Notice) -> dict[str, list[list[Any]]]:
    loaded: dict[str, list[list[Any]]] = json.loads(n.masks or "{}")
    return loaded


# ---------------------------------------------------------------------------- drafting


def _date_of(value: str | None) -> dt.date | None:
    text = (value or "").strip().replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-")
    try:
        y, m, d = (int(x) for x in text.split("-"))
        return dt.date(y, m, d)
    except ValueError:
        return None


def _public_no(year: int) -> str:
    return f"GS{year}-" + "".join(secrets.choice(_NO_LETTERS) for _ in range(10))


def draft(db: Session, custody: CustodyLog, settings: Settings, key: DataKey, *, case: Case,
          recorded: gate.Recorded, today: dt.date | None = None) -> Notice:
    """The draft notice of the decision just recorded (``recorded``), in the caller's transaction; an
    earlier draft of the same document is superseded by it (a published one stays until withdrawn)."""
    tz = ZoneInfo(settings.station.timezone)
    local_today = today or utcnow().astimezone(tz).date()
    fields = dict(recorded.decision.fields)
    decided_on = _date_of(fields.get("decided_on")) or local_today
    kind = recorded.decision.kind or fields.get("decision_kind") or None
    days = settings.publication.days_for(kind, case.category)
    due: dt.date | None = None
    uncovered: str | None = None
    try:
        days, due = deadline(settings, calendar_of(settings), decision_kind=kind, category=case.category,
                             decided_on=decided_on)
    except CalendarUncovered as e:  # the decision stands; its deadline is not guessed (deadline_unknown)
        uncovered = e.diagnostics()
    names: list[tuple[str, str]] = []
    shown: list[str] = []
    for p in parties_of(key, case):
        if p.kind == "person":
            display = pii.natural_name(p.name, settings.publication.person_name)
            names.append((p.name.strip(), display))
            shown.append(display)
        else:
            shown.append(p.name.strip())
    raw = {"doc_number": fields.get("doc_number") or (recorded.title if recorded.title != recorded.kind else ""),
           "party": fields.get("party") or "、".join(shown), "facts": fields.get("facts", ""),
           "legal_basis": fields.get("law") or fields.get("legal_basis", ""),
           "decision": recorded.decision.content}
    cleaned = {f: clean(str(raw[f]), names=names, today=local_today) for f in FIELDS}
    unit = db.get(Unit, case.unit_id)
    for old in db.scalars(select(Notice).where(Notice.record_id == recorded.record_id, Notice.state == "draft")):
        old.state = "superseded"
        db.flush()
        _event(custody, db, recorded.actor, "notice_superseded", old, by_version=recorded.version)
    n = Notice(public_no=_public_no(decided_on.year), case_id=case.id, unit_id=case.unit_id,
               record_id=recorded.record_id, record_version=recorded.version, category=case.category,
               decision_kind=kind, agency=unit.name if unit is not None else "", decided_on=decided_on, days=days,
               due_on=due, state="draft", created_at=utcnow(), created_by=recorded.actor,
               masks=json.dumps({f: [list(s) for s in c.spans] for f, c in cleaned.items() if c.spans},
                                ensure_ascii=False, sort_keys=True),
               **{f: c.text for f, c in cleaned.items()})
    db.add(n)
    db.flush()
    _event(custody, db, recorded.actor, "notice_drafted", n, number=case.number, record_id=recorded.record_id,
           version=recorded.version, decision_kind=kind, decided_on=decided_on.isoformat(), days=days,
           due_on=due.isoformat() if due else None, **({"deadline_unknown": uncovered} if uncovered else {}),
           masked={f: [s[2] for s in c.spans] for f, c in cleaned.items() if c.spans})
    return n


# ---------------------------------------------------------------------------- the publisher's acts


def get(db: Session, notice_id: int, *, lock: bool = False) -> Notice:
    q = select(Notice).where(Notice.id == notice_id)
    n = db.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if n is None:
        raise unknown(notice_id)
    return n


def unknown(notice_id: int | str) -> UnknownNotice:
    return UnknownNotice(said(f"没有公示 {notice_id}", f"There is no notice {notice_id} that you may see."),
                         said("请在公示列表中核对。", "Check the notice on the list of notices."))


STATE_ZH = {"draft": "草稿", "published": "已发布", "withdrawn": "已撤回", "superseded": "已被新版本取代"}


def _must_be_draft(n: Notice, doing: str) -> None:
    if n.state != "draft":
        raise NoticeState(said(f"公示 {n.public_no} 当前状态为「{STATE_ZH.get(n.state, n.state)}」，不能{doing}",
                               f"Notice {n.public_no} is {n.state}: it cannot be "
                               f"{ {'遮盖': 'masked', '发布': 'published'}.get(doing, doing)}."),
                          said("只有草稿可以遮盖和发布；已发布的公示如需更正，请撤回后就新的决定书重新公示。", "Only a draft is "
                               "masked and published; to correct a published notice, withdraw it and publish the new "
                               "decision."))


def mask(db: Session, custody: CustodyLog, *, notice: Notice, field: str, text: str, actor: str) -> Notice:
    """Mask every occurrence of ``text`` in ``field`` of a draft (one star per character)."""
    _must_be_draft(notice, "遮盖")
    if field not in FIELDS:
        raise PublicationError(said(f"没有字段「{field}」", f"There is no field {field!r}."),
                               said("可遮盖的字段：" + "、".join(FIELDS), "Fields: " + ", ".join(FIELDS)))
    value: str = getattr(notice, field)
    if not text.strip() or text not in value:
        raise PublicationError(said("要遮盖的文字不在该字段中", "The text to mask is not in that field."),
                               said("请从草稿中原样复制要遮盖的文字。", "Copy the words to mask from the draft exactly."))
    spans = masks_of(notice)
    at = value.find(text)
    added = 0
    while at >= 0:
        spans.setdefault(field, []).append([at, at + len(text), "hand"])
        added += 1
        at = value.find(text, at + len(text))
    spans[field].sort()
    setattr(notice, field, value.replace(text, "*" * len(text)))
    notice.masks = json.dumps(spans, ensure_ascii=False, sort_keys=True)
    db.flush()
    _event(custody, db, actor, "notice_masked", notice, field=field, length=len(text), places=added)
    return notice


def public_of(n: Notice, tz: str = "Asia/Shanghai") -> site.PublicNotice:
    """What the public may see of ``n`` (dates as local dates in ``tz``, the site's ``[web] timezone``)."""
    tz_date = None if n.withdrawn_at is None else n.withdrawn_at.astimezone(ZoneInfo(tz)).date()
    return site.PublicNotice(public_no=n.public_no, category=n.category, decision_kind=n.decision_kind,
                             doc_number=n.doc_number, party=n.party, facts=n.facts, legal_basis=n.legal_basis,
                             decision=n.decision, agency=n.agency, decided_on=n.decided_on,
                             published_on=n.published_on, withdrawn_on=tz_date, withdraw_reason=n.withdraw_reason)


def leaks(page: str, *, today: dt.date | None = None) -> list[pii.Finding]:
    """What the detectors find in a page as served, and in its text with the HTML entities resolved."""
    found = pii.find(page, today=today)
    return found or pii.find(unescape(page), today=today)


def publish(db: Session, custody: CustodyLog, settings: Settings, *, notice: Notice, actor: str,
            now: dt.datetime | None = None) -> Notice:
    """Publish a draft: render its public page exactly as it will be served, check it once more, and
    only if nothing is found mark it published (late or not is ``status``'s answer)."""
    _must_be_draft(notice, "发布")
    at = now or utcnow()
    local = at.astimezone(ZoneInfo(settings.station.timezone)).date()
    shown = public_of(notice, settings.station.timezone)
    page = site.notice_page(site.PublicNotice(**{**shown.__dict__, "published_on": local}), site.live_links())
    found = leaks(page, today=local)
    if found:
        _event(custody, db, actor, "notice_publish_refused", notice, outcome="failure",
               found=sorted({f.kind for f in found}))
        db.commit()  # the refusal stays on the record; the caller's error then rolls back nothing of it
        raise PersonalDataFound(
            said(f"公示 {notice.public_no} 的页面中仍有个人信息（{'、'.join(sorted({f.kind for f in found}))}），未发布",
                 f"The public page of notice {notice.public_no} still holds personal data "
                 f"({', '.join(sorted({f.kind for f in found}))}): nothing was published."),
            said("请在草稿中遮盖这些内容后再发布。", "Mask them in the draft, then publish."))
    notice.state = "published"
    notice.published_at = at
    notice.published_by = actor
    notice.published_on = local
    notice.html_sha256 = hashlib.sha256(page.encode("utf-8")).hexdigest()
    db.flush()
    _event(custody, db, actor, "notice_published", notice, published_on=local.isoformat(),
           due_on=notice.due_on.isoformat() if notice.due_on else None,
           late=notice.due_on is not None and local > notice.due_on, html_sha256=notice.html_sha256)
    return notice


def withdraw(db: Session, custody: CustodyLog, *, notice: Notice, reason: str, actor: str) -> Notice:
    """Withdraw (撤回) a published notice with a reason; it stays on the public site, marked withdrawn."""
    if notice.state != "published":
        raise NoticeState(said(f"公示 {notice.public_no} 当前状态为「{STATE_ZH.get(notice.state, notice.state)}」，"
                               "不能撤回", f"Notice "
                               f"{notice.public_no} is {notice.state}: only a published notice is withdrawn."),
                          said("草稿无需撤回；已撤回的公示不能再次撤回。", "A draft needs no withdrawal; a withdrawn notice "
                               "stays withdrawn."))
    if not reason.strip():
        raise PublicationError(said("撤回须写明理由", "A withdrawal needs its reason."),
                               said("请填写撤回理由，例如「行政处罚决定已被撤销」。", "Give the reason, e.g. the decision "
                                    "was revoked."))
    if pii.find(reason):
        raise PersonalDataFound(said("撤回理由中含有个人信息，未撤回", "The reason holds personal data: nothing was "
                                     "withdrawn."), said("请删去理由中的证件号码、电话、住址等后重试。", "Leave out ID "
                                                          "numbers, phones and addresses."))
    notice.state = "withdrawn"
    notice.withdrawn_at = utcnow()
    notice.withdrawn_by = actor
    notice.withdraw_reason = reason.strip()
    db.flush()
    _event(custody, db, actor, "notice_withdrawn", notice, reason=notice.withdraw_reason)
    return notice


# ---------------------------------------------------------------------------- where each one stands


def status(n: Notice, today: dt.date) -> str:
    """``due`` (a draft within its deadline), ``overdue`` (a draft past it), ``on_time``, ``late``
    (published after it), ``deadline_unknown`` (its deadline falls in a year the calendar does not
    cover yet), ``withdrawn`` or ``superseded``."""
    if n.state in ("draft", "published") and n.due_on is None:
        return "deadline_unknown"
    assert n.due_on is not None or n.state not in ("draft", "published")
    if n.state == "draft":
        return "overdue" if n.due_on is not None and today > n.due_on else "due"
    if n.state == "published":
        return "late" if n.published_on is not None and n.due_on is not None and n.published_on > n.due_on \
            else "on_time"
    return n.state


def refresh_deadlines(db: Session, custody: CustodyLog, settings: Settings, *, actor: str) -> int:
    """Fill in the deadlines that were unknown (a year the calendar did not cover) now that it does;
    each a ``notice_deadline_set`` event. Returns how many."""
    cal = calendar_of(settings)
    done = 0
    for n in db.scalars(select(Notice).where(Notice.due_on.is_(None), Notice.state.in_(("draft", "published")))):
        try:
            n.days, n.due_on = deadline(settings, cal, decision_kind=n.decision_kind, category=n.category,
                                        decided_on=n.decided_on)
        except CalendarUncovered:
            continue
        db.flush()
        _event(custody, db, actor, "notice_deadline_set", n, days=n.days, due_on=n.due_on.isoformat())
        done += 1
    return done


def notices_of(db: Session, *, units: Collection[int], states: Iterable[str] = ("draft", "published", "withdrawn"),
               limit: int = 500) -> list[Notice]:
    """The notices of ``units`` in ``states``, at most ``limit``: the drafts first (those whose deadline
    is unknown, then soonest deadline first: what a publisher must act on), then the published and
    withdrawn ones, newest publication first (so old ones never crowd the drafts out)."""
    wanted = list(states)
    mine = Notice.unit_id.in_(sorted(units))
    drafts: list[Notice] = []
    if "draft" in wanted:
        drafts = list(db.scalars(select(Notice).where(mine, Notice.state == "draft")
                                 .order_by(Notice.due_on.is_(None).desc(), Notice.due_on, Notice.id).limit(limit)))
    rest = [s for s in wanted if s != "draft"]
    if not rest or len(drafts) >= limit:
        return drafts
    return drafts + list(db.scalars(select(Notice).where(mine, Notice.state.in_(rest))
                                    .order_by(Notice.published_at.desc(), Notice.id.desc()).limit(limit - len(drafts))))


def counts(db: Session, *, units: Collection[int], today: dt.date) -> dict[str, int]:
    """How many notices of ``units`` stand where (``status``'s answers, counted in the database, every
    notice however many): ``due``, ``overdue``, ``deadline_unknown``, ``on_time``, ``late``, ``withdrawn``."""
    mine = Notice.unit_id.in_(sorted(units))
    live = Notice.state.in_(("draft", "published"))
    draft, published = Notice.state == "draft", Notice.state == "published"
    where: dict[str, ColumnElement[bool]] = {
        "due": and_(draft, Notice.due_on >= today), "overdue": and_(draft, Notice.due_on < today),
        "deadline_unknown": and_(live, Notice.due_on.is_(None)),
        "on_time": and_(published, Notice.published_on <= Notice.due_on),
        "late": and_(published, Notice.published_on > Notice.due_on), "withdrawn": Notice.state == "withdrawn"}
    return {k: db.scalar(select(func.count()).select_from(Notice).where(mine, w)) or 0 for k, w in where.items()}


def to_dict(n: Notice, today: dt.date, *, case_number: str | None = None) -> dict[str, Any]:
    """The internal view (the API's and ``publish due --json``'s): every field, the masks, where it stands."""
    return {"id": n.id, "public_no": n.public_no, "case_id": n.case_id, "case_number": case_number,
            "record_id": n.record_id, "record_version": n.record_version, "category": n.category,
            "decision_kind": n.decision_kind, **{f: getattr(n, f) for f in FIELDS}, "agency": n.agency,
            "decided_on": n.decided_on.isoformat(), "days": n.days,
            "due_on": n.due_on.isoformat() if n.due_on else None,
            "state": n.state, "status": status(n, today), "masks": masks_of(n),
            "published_on": n.published_on.isoformat() if n.published_on else None,
            "published_by": n.published_by, "withdrawn_at": n.withdrawn_at.isoformat() if n.withdrawn_at else None,
            "withdraw_reason": n.withdraw_reason}


# ---------------------------------------------------------------------------- what the public site reads


PUBLIC_STATES = ("published", "withdrawn")


REACH = 10_000  # the live list and a search reach this many notices, newest first (500 pages of 20)
SEARCH_CAP = 1000  # a search counts its matches up to this many past the page's first; then "N 条以上"
WINDOW = 20_000  # a search of common pieces first reads this many of the newest notices (answered there)
RARE = 0.02  # a bigram held by fewer than this share of the notices is looked up in the index


_SEARCH_GRAMS = literal_column(f"{Notice.__tablename__}.search_grams", ARRAY(Text))  # PostgreSQL only


def grams(q: str) -> list[str]:
    """The distinct two-character pieces of ``q``, as migration 0020's ``publication_grams`` cuts a field
    into ``search_grams``."""
    return sorted({q[i:i + 2] for i in range(len(q) - 1)})


def public_total(db: Session) -> int:
    """How many notices are public (published or withdrawn), counted exactly (the static export's pages)."""
    return db.scalar(select(func.count()).select_from(Notice).where(Notice.published_at.is_not(None))) or 0


def _public_ids(db: Session, where: Sequence[ColumnElement[bool]], limit: int) -> list[int]:
    order = (Notice.published_at.desc(), Notice.id.desc())
    return list(db.scalars(select(Notice.id).where(*where).order_by(*order).limit(limit)))


def _candidates(db: Session, pieces: Sequence[str], matches: ColumnElement[bool], upto: int) -> list[int]:
    """The public notices holding every bigram of ``pieces`` (the GIN index) and ``matches``, newest
    first, at most ``upto``: the candidates taken whole (``MATERIALIZED``), then ordered."""
    found = (select(Notice.id, Notice.published_at)
             .where(Notice.published_at.is_not(None), _SEARCH_GRAMS.op("@>")(cast(list(pieces), ARRAY(Text))), matches)
             .cte("candidates").prefix_with("MATERIALIZED"))
    return list(db.scalars(select(found.c.id).order_by(found.c.published_at.desc(), found.c.id.desc()).limit(upto)))


_FREQS: dict[str, tuple[float, dict[str, float]]] = {}  # per database: when read, each common bigram's share


def gram_freqs(db: Session, *, max_age_s: float = 600.0) -> dict[str, float]:
    """The share of public notices holding each common bigram, as PostgreSQL's statistics of
    ``search_grams`` say (``pg_stats.most_common_elems``, kept by ``ANALYZE``; a bigram not listed is
    rarer than every one listed); read again after ``max_age_s``. Empty before the first ``ANALYZE``."""
    key = db.get_bind().engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    hit = _FREQS.get(key)
    if hit is not None and now - hit[0] < max_age_s:
        return hit[1]
    row = db.execute(text(
        "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats WHERE schemaname = "
        "current_schema() AND tablename = 'publication_notices' AND attname = 'search_grams'")).first()
    freqs = {str(g): float(f) for g, f in zip(row[0], row[1], strict=False)} if row and row[0] else {}
    _FREQS[key] = (now, freqs)
    return freqs


def public_notices(db: Session, *, q: str = "", page: int = 1, size: int = 20,
                   tz: str = "Asia/Shanghai") -> tuple[list[site.PublicNotice], int]:
    """One page of the public notices, newest first, and how many match; ``q`` matches the party (an
    organisation's name) or the document number (a substring, ``LIKE``).

    What a reader waits for is bounded, however many notices there are: the list and a search reach the
    newest ``REACH`` notices (``site.AtLeast(REACH)`` when more are public; earlier ones are found by a
    search narrower than that, and all of them are in the static export, ``public_total``), and a search
    is counted up to ``SEARCH_CAP`` matches past the first of the page (then ``site.AtLeast``, so the
    pages still lead on). A page past the reach is empty.

    ``published_at IS NOT NULL`` stands for "published or withdrawn" (``ck_publication_published``
    makes them the same), so the list reads only the index ``ix_publication_published``. On PostgreSQL
    a search of two characters or more uses ``search_grams`` (migration 0020: the bigrams of party and
    document number, a stored generated column that only PostgreSQL has, so not in the model; GIN index
    ``ix_publication_search``): the notices holding the rarest (at most three) of ``q``'s bigrams that
    fewer than ``RARE`` of the notices hold (``gram_freqs``) are the candidates, taken whole, then
    matched and put in order — a necessary condition of the ``LIKE`` (each bigram of a substring is one
    of the field's), so the rows are the same. When every bigram of ``q`` is common, the newest
    ``WINDOW`` notices are read in order first (a common word fills its page there), and only if they
    do not answer it the index with all of them. Either way the answer is the plain ``LIKE``'s."""
    offset = (page - 1) * size
    public = Notice.published_at.is_not(None)
    q = q.strip()
    if offset >= REACH:
        return [], site.AtLeast(REACH)
    found: list[int]
    if not q:
        found = _public_ids(db, [public], min(REACH, offset + size))
        ids = found[offset:offset + size]
        counted = db.scalar(select(func.count()).select_from(
            select(Notice.id).where(public).order_by(Notice.published_at.desc(), Notice.id.desc())
            .limit(REACH + 1).subquery())) or 0
        total: int = site.AtLeast(REACH) if counted > REACH else counted
    else:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = or_(Notice.party.like(like, escape="\\"), Notice.doc_number.like(like, escape="\\"))
        upto = min(offset + SEARCH_CAP, REACH) + 1
        if len(q) >= 2 and db.get_bind().dialect.name == "postgresql":
            freqs = gram_freqs(db)
            pieces = sorted(grams(q), key=lambda g: (freqs.get(g, 0.0), g))
            rare = [g for g in pieces if freqs.get(g, 0.0) < RARE][:3]
            if rare:  # the index's few candidates, taken whole, then matched and ordered
                found = _candidates(db, rare, matches, upto)
            else:  # every piece of q is common: read the newest notices in order, then the whole index
                newest = (select(Notice.id, Notice.party, Notice.doc_number, Notice.published_at).where(public)
                          .order_by(Notice.published_at.desc(), Notice.id.desc()).limit(WINDOW).subquery())
                found = list(db.scalars(select(newest.c.id).where(or_(
                    newest.c.party.like(like, escape="\\"), newest.c.doc_number.like(like, escape="\\")))
                    .order_by(newest.c.published_at.desc(), newest.c.id.desc()).limit(upto)))
                if len(found) < upto and public_total_at_most(db, WINDOW) >= WINDOW:
                    found = _candidates(db, pieces, matches, upto)
        else:
            found = _public_ids(db, [public, matches], upto)
        ids = found[offset:offset + size]
        total = site.AtLeast(upto - 1) if len(found) >= upto else len(found)
    rows = {n.id: n for n in db.scalars(select(Notice).where(Notice.id.in_(ids)))} if ids else {}
    return [public_of(rows[i], tz) for i in ids], total


def public_pages(db: Session, *, size: int, tz: str = "Asia/Shanghai") -> Iterator[list[site.PublicNotice]]:
    """Every public notice, newest first, ``size`` a page (the static export: all of them, past the
    live list's reach), each page found from the last one's key, not by an offset."""
    last: tuple[dt.datetime, int] | None = None
    while True:
        query = select(Notice).where(Notice.published_at.is_not(None))
        if last is not None:
            query = query.where(or_(Notice.published_at < last[0],
                                    and_(Notice.published_at == last[0], Notice.id < last[1])))
        rows = list(db.scalars(query.order_by(Notice.published_at.desc(), Notice.id.desc()).limit(size)))
        if not rows:
            return
        yield [public_of(n, tz) for n in rows]
        tail = rows[-1]
        assert tail.published_at is not None
        last = (tail.published_at, tail.id)


def public_total_at_most(db: Session, cap: int) -> int:
    """How many notices are public, counted up to ``cap`` (an index-only walk of at most ``cap`` entries)."""
    return db.scalar(select(func.count()).select_from(
        select(Notice.id).where(Notice.published_at.is_not(None)).limit(cap).subquery())) or 0


def public_notice(db: Session, public_no: str, tz: str = "Asia/Shanghai") -> site.PublicNotice | None:
    n = db.scalars(select(Notice).where(Notice.public_no == public_no, Notice.state.in_(PUBLIC_STATES))).first()
    return public_of(n, tz) if n is not None else None
