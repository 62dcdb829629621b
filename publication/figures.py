"""The annual enforcement figures (年度行政执法数据) of a year and of units, and their approval.

What is counted, and from where (nothing is estimated; what the records do not state is counted as
not stated):

* **decisions**: the decision documents (``[review] decision_records``: 决定书, 行政处罚决定书 …) of the
  units' cases that state a decision, by the date of decision they state (``Notice.decided_on``: the
  form's 决定日期, else the day the document was recorded), station-local, in the year. Each
  document stating a decision drafted its notice in the transaction that recorded it
  (``publication.hooks``), so the notices are the index: one decision per document, its latest
  version. By decision kind (决定种类, ``decision_kind``; none stated: ``unstated``), by unit (the
  case's handling unit) and by category (执法类别). A decision document recorded in the year without
  a stated decision (an upload with no ``decision_content``) has no notice, kind or date: it is
  counted apart (``unstated_documents``, by the day it was recorded), never guessed into a kind.
* **amounts** (罚没金额): the ``amount`` field of a decision recorded as a form (the 决定书 form's
  金额, kept in its stored JSON, read back and checked against its SHA-256), in fen. A form without
  one states no amount (``not_stated``); an uploaded document keeps its amount inside the document,
  not as a field, and a form whose stored bytes no longer match its hash is not read: both are
  ``unknown``. No amount is parsed out of free text.
* **reviews** (法制审核): ``review.figures`` over the rounds submitted in the year whose handling or
  reviewing unit is one of the units: rounds, decided, open, outcomes, overdue, median working days.
* **coverage** (全过程记录): ``cases.coverage.check_case`` of each case with a decision counted, as
  its links stand today: cases with no flagged step, cases with one, and the steps.
* **notices** (公示): the notice of each decision counted (its latest version), by where it stands
  (``publication.service.status`` on ``as_of``): on time, late, overdue, due, deadline unknown,
  withdrawn.

The figures are due by 31 January of the next year (``due_on``). A publisher (``publication.publish``)
approves them for one unit and one year once the year has ended: the snapshot (``to_dict``), its
SHA-256, who and when are frozen in a ``publication_figures`` row bound to the custody log
(``figures_approved``); a later approval of the same unit and year supersedes it and both stay. Only
approved snapshots reach the public site (``public_years``, ``public_year``)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import liuhen
from archive.store import OriginalStore
from auth.models import Unit
from cases.coverage import check_case
from cases.models import Case, TextRecord, TextRecordVersion
from hashing.binding import bound
from hashing.custody import CustodyLog, canonical
from liuhen.config import Settings
from liuhen.db import utcnow
from liuhen.errors import LiuhenError
from liuhen.words import said
from publication import service, site
from publication.bindings import FIGURES
from publication.errors import FiguresNotFinal, UnknownFiguresUnit
from publication.figures_models import FiguresApproval
from publication.models import Notice
from review import figures as review_figures
from review.calendar import WorkCalendar
from review.catalogue import parse_amount
from review.figures import Row

TOOL = "liuhen-publication-figures"
UNSTATED = "unstated"
STATUS_WORDS = {"on_time": "按时公示", "late": "逾期公示", "overdue": "逾期未公示", "due": "待公示（未逾期）",
                "deadline_unknown": "公示期限未定", "withdrawn": "已撤回"}
COVERAGE_WORDS = {"ok": "音像记录完整", "flagged": "音像记录有缺失"}
CSV_HEADER = ("section", "key", "label", "value")


@dataclass(frozen=True)
class Amounts:
    total_fen: int  # the sum of the stated amounts
    stated: int  # decisions whose form states an amount
    not_stated: int  # decisions recorded as a form without one
    unknown: int  # uploaded documents (the amount is inside the document) or forms that no longer match their hash

    def to_dict(self) -> dict[str, Any]:
        return {"total_fen": self.total_fen, "stated": self.stated, "not_stated": self.not_stated,
                "unknown": self.unknown}


@dataclass(frozen=True)
class Reviews:
    rounds: int
    decided: int
    open: int
    by_outcome: tuple[Row, ...]
    overdue: int
    median_duration: float | None
    basis: str  # workdays | calendar_days

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "decided": self.decided, "open": self.open,
                "by_outcome": [r.to_dict() for r in self.by_outcome], "overdue": self.overdue,
                "median_duration": self.median_duration, "basis": self.basis}


@dataclass(frozen=True)
class Coverage:
    cases: int  # cases with a decision counted
    ok: int  # no step flagged
    flagged: int  # at least one step flagged
    steps: int
    flagged_steps: int

    def to_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "ok": self.ok, "flagged": self.flagged, "steps": self.steps,
                "flagged_steps": self.flagged_steps}


@dataclass(frozen=True)
class Figures:
    year: int
    units: tuple[Row, ...]  # the units asked about: code, name (count 0)
    as_of: dt.date  # the day they were computed (a notice's "overdue" depends on it)
    decisions: int
    by_kind: tuple[Row, ...]
    by_unit: tuple[Row, ...]
    by_category: tuple[Row, ...]
    unstated_documents: int  # decision documents recorded in the year that state no decision (not counted above)
    amounts: Amounts
    reviews: Reviews
    coverage: Coverage
    notices: int
    by_status: tuple[Row, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def due_on(self) -> dt.date:
        return due_on(self.year)

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "units": [{"code": r.key, "name": r.label} for r in self.units],
                "as_of": self.as_of.isoformat(), "due_on": self.due_on.isoformat(), "decisions": self.decisions,
                "by_kind": [r.to_dict() for r in self.by_kind], "by_unit": [r.to_dict() for r in self.by_unit],
                "by_category": [r.to_dict() for r in self.by_category],
                "unstated_documents": self.unstated_documents, "amounts": self.amounts.to_dict(),
                "reviews": self.reviews.to_dict(), "coverage": self.coverage.to_dict(), "notices": self.notices,
                "by_status": [r.to_dict() for r in self.by_status], "notes": list(self.notes)}

    def to_csv(self) -> str:
        return to_csv(self.to_dict())


def due_on(year: int) -> dt.date:
    """The day the figures of ``year`` are due to be public: 31 January of the next year."""
    return dt.date(year + 1, 1, 31)


def content(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What the figures say, without the day they were computed: two snapshots with the same content
    are the same figures."""
    return {k: v for k, v in snapshot.items() if k != "as_of"}


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


# ---------------------------------------------------------------------------- CSV


def excel_cell(value: object) -> str:
    """A cell Excel will not run as a formula: text beginning = + - @ (or a tab or return) is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(d: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The rows of the CSV: ``summary`` lines, then one line per counted thing."""
    a, r, c = d["amounts"], d["reviews"], d["coverage"]
    med = r["median_duration"]
    summary = [("year", "年度", d["year"]), ("as_of", "统计日期", d["as_of"]), ("due_on", "公开期限", d["due_on"]),
               ("units", "单位", " ".join(u["code"] for u in d["units"])), ("decisions", "执法决定", d["decisions"]),
               ("unstated_documents", "未载明决定内容的决定文书", d["unstated_documents"]),
               ("amount_total_yuan", "罚没金额合计（元）", yuan(a["total_fen"])),
               ("amount_stated", "载明金额的决定", a["stated"]), ("amount_not_stated", "表单未填金额的决定", a["not_stated"]),
               ("amount_unknown", "金额未知的决定", a["unknown"]), ("review_rounds", "法制审核", r["rounds"]),
               ("review_decided", "已审结", r["decided"]), ("review_open", "未审结", r["open"]),
               ("review_overdue", "超期审核", r["overdue"]),
               ("review_median_duration", "审核用时中位数", "" if med is None else f"{med:g}"),
               ("review_basis", "用时单位", r["basis"]), ("coverage_cases", "全过程记录核查案件", c["cases"]),
               ("coverage_ok", "音像记录完整", c["ok"]), ("coverage_flagged", "音像记录有缺失", c["flagged"]),
               ("coverage_steps", "环节", c["steps"]), ("coverage_flagged_steps", "有缺失的环节", c["flagged_steps"]),
               ("notices", "公示", d["notices"])]
    rows = [("summary", k, label, str(v)) for k, label, v in summary]
    for section, key in (("kind", "by_kind"), ("unit", "by_unit"), ("category", "by_category"),
                         ("review_outcome", None), ("notice_status", "by_status")):
        items = r["by_outcome"] if key is None else d[key]
        rows += [(section, x["key"], x["label"], str(x["count"])) for x in items]
    rows += [("note", str(i + 1), "", n) for i, n in enumerate(d["notes"])]
    return rows


def to_csv(d: dict[str, Any]) -> str:
    """One flat table ``section,key,label,value`` (``csv_rows``), UTF-8 with a byte-order mark so that
    Excel opens the Chinese right, CRLF line ends; no cell begins as a formula (``excel_cell``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    for row in csv_rows(d):
        w.writerow([excel_cell(x) for x in row])
    return "\ufeff" + buf.getvalue()


def csv_name(year: int, units: Iterable[str]) -> str:
    return f"figures-{year}-{'-'.join(units) or 'none'}.csv"


# ---------------------------------------------------------------------------- computing


def _start_of(d: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _rows(counter: Counter[str], labels: dict[str, str] | None = None) -> tuple[Row, ...]:
    labels = labels or {}
    return tuple(sorted((Row(k, n, labels.get(k, "")) for k, n in counter.items()), key=lambda r: (-r.count, r.key)))


def _amount(store: OriginalStore, v: TextRecordVersion | None) -> tuple[str, int | None]:
    """(``stated`` | ``not_stated`` | ``unknown``, fen) of one decision's version."""
    if v is None or not v.form:
        return "unknown", None
    try:
        with store.open(v.store_key, v.store_version) as f:
            body = f.read(1 << 20)
    except (LiuhenError, OSError):
        return "unknown", None
    if hashlib.sha256(body).hexdigest() != v.sha256:
        return "unknown", None
    try:
        text = json.loads(body.decode("utf-8")).get("fields", {}).get("amount")
        fen = parse_amount(None if text is None else str(text))
    except (ValueError, AttributeError, LiuhenError):
        return "unknown", None
    return ("not_stated", None) if fen is None else ("stated", fen)


def compute(db: Session, store: OriginalStore, settings: Settings, *, year: int, units: Collection[int],
            today: dt.date | None = None) -> Figures:
    """The figures of ``year`` for ``units`` (ids), as the records stand on ``today`` (station-local)."""
    tz = settings.station.timezone
    zone = ZoneInfo(tz)
    today = today or utcnow().astimezone(zone).date()
    ids = sorted(set(units))
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    unit_rows = {u.id: u for u in db.scalars(select(Unit).where(Unit.id.in_(ids)))}
    asked = tuple(sorted((Row(u.code, 0, u.name) for u in unit_rows.values()), key=lambda r: r.key))
    kinds = tuple(settings.review.decision_records)

    # the notice of each decision document's latest version (superseded drafts are older versions)
    latest = (select(Notice.record_id, func.max(Notice.id).label("nid"))
              .where(Notice.unit_id.in_(ids), Notice.state != "superseded").group_by(Notice.record_id).subquery())
    notices = [n for n in db.scalars(select(Notice).join(latest, latest.c.nid == Notice.id).order_by(Notice.id))
               if first <= n.decided_on <= last]
    by_kind: Counter[str] = Counter()
    by_unit: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    amounts: Counter[str] = Counter()
    total_fen = 0
    codes = {i: u.code for i, u in unit_rows.items()}
    for n in notices:
        by_kind[n.decision_kind or UNSTATED] += 1
        by_unit[codes.get(n.unit_id, str(n.unit_id))] += 1
        by_category[n.category] += 1
        by_status[service.status(n, today)] += 1
        v = db.scalars(select(TextRecordVersion).where(TextRecordVersion.record_id == n.record_id,
                                                       TextRecordVersion.version == n.record_version)).first()
        how, fen = _amount(store, v)
        amounts[how] += 1
        total_fen += fen or 0

    # decision documents recorded in the year that state no decision: no notice, so no kind and no date
    first_version = (select(TextRecordVersion.record_id, func.min(TextRecordVersion.created_at).label("at"))
                     .group_by(TextRecordVersion.record_id).subquery())
    noticed = select(Notice.record_id)
    unstated = db.scalar(select(func.count()).select_from(TextRecord)
                         .join(Case, Case.id == TextRecord.case_id)
                         .join(first_version, first_version.c.record_id == TextRecord.id)
                         .where(Case.unit_id.in_(ids), TextRecord.kind.in_(kinds),
                                first_version.c.at >= _start_of(first, zone),
                                first_version.c.at < _start_of(last + dt.timedelta(days=1), zone),
                                TextRecord.id.not_in(noticed))) or 0

    rf = review_figures.figures(db, units=ids, since=first, until=last, today=today,
                                calendar=WorkCalendar.from_settings(settings.review), tz=tz)
    reviews = Reviews(rounds=rf.rounds, decided=rf.decided, open=rf.open, by_outcome=rf.by_outcome,
                      overdue=rf.overdue.count, median_duration=rf.median_duration, basis=rf.basis)

    ok = flagged = steps = flagged_steps = 0
    for case_id in sorted({n.case_id for n in notices}):
        case = db.get(Case, case_id)
        if case is None:
            continue
        report = check_case(db, case, settings.cases, tz=tz)
        steps += len(report.steps)
        flagged_steps += len(report.flagged)
        if report.ok:
            ok += 1
        else:
            flagged += 1

    notes: list[str] = []
    if amounts["unknown"]:
        notes.append(f"{amounts['unknown']} 件决定的罚没金额未知（以文件上传的决定文书，金额只在文书中，未作为字段记录），未计入合计 / "
                     f"The amount of {amounts['unknown']} decisions is unknown (documents uploaded as files hold it "
                     "in the document, not as a field): not in the total.")
    if unstated:
        notes.append(f"另有 {unstated} 份决定文书未载明决定内容，无法统计其种类和日期，未计入执法决定 / {unstated} decision "
                     "documents state no decision: their kind and date are unknown, so they are not counted as "
                     "decisions.")
    notes += rf.notes
    return Figures(year=year, units=asked, as_of=today, decisions=len(notices),
                   by_kind=_rows(by_kind, {UNSTATED: "未载明"}),
                   by_unit=_rows(by_unit, {u.code: u.name for u in unit_rows.values()}),
                   by_category=_rows(by_category), unstated_documents=unstated,
                   amounts=Amounts(total_fen=total_fen, stated=amounts["stated"], not_stated=amounts["not_stated"],
                                   unknown=amounts["unknown"]),
                   reviews=reviews, coverage=Coverage(cases=ok + flagged, ok=ok, flagged=flagged, steps=steps,
                                                      flagged_steps=flagged_steps),
                   notices=len(notices), by_status=_rows(by_status, STATUS_WORDS), notes=tuple(notes))


# ---------------------------------------------------------------------------- approval


def unit_of(db: Session, code: str, allowed: Collection[int]) -> Unit:
    """The unit with ``code`` if it is one of ``allowed``; a unit that does not exist and one that is not
    the user's are the same ``UnknownFiguresUnit``."""
    unit = db.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None or unit.id not in allowed:
        raise UnknownFiguresUnit(said(f"没有您可以查看的单位「{code}」", f"There is no unit {code!r} that you may see."),
                                 said("请选择本人所属的单位。", "Choose one of your units."))
    return unit


def approvals(db: Session, *, unit_id: int, year: int) -> list[FiguresApproval]:
    """Every approval of ``unit_id``'s figures of ``year``, newest first (the first is in force)."""
    return list(db.scalars(select(FiguresApproval).where(FiguresApproval.unit_id == unit_id,
                                                         FiguresApproval.year == year)
                           .order_by(FiguresApproval.id.desc())))


def snapshot_of(a: FiguresApproval) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(a.snapshot)
    return loaded


def changed_since(a: FiguresApproval, now: Figures) -> bool:
    """Whether the figures as they stand differ from the approved ones (the day computed aside)."""
    return content(snapshot_of(a)) != content(now.to_dict())


def approve(db: Session, custody: CustodyLog, settings: Settings, store: OriginalStore, *, unit: Unit, year: int,
            actor: str, today: dt.date | None = None) -> FiguresApproval:
    """Freeze the figures of ``unit`` for ``year`` as they stand now, in the caller's transaction: a new
    row (superseding the earlier approval, which stays) and a ``figures_approved`` event. Refused
    (``FiguresNotFinal``) while the year has not ended."""
    local = today or utcnow().astimezone(ZoneInfo(settings.station.timezone)).date()
    if local <= dt.date(year, 12, 31):
        raise FiguresNotFinal(said(f"{year} 年度尚未结束，年度数据不能审定", f"The year {year} has not ended: its figures "
                                   "cannot be approved yet."),
                              said(f"请在 {year + 1} 年 1 月 1 日之后、1 月 31 日之前审定并公开。", f"Approve them from 1 January "
                                   f"{year + 1}; they are due by 31 January {year + 1}."))
    figures = compute(db, store, settings, year=year, units=(unit.id,), today=local)
    body = canonical(figures.to_dict()).decode("utf-8")
    earlier = approvals(db, unit_id=unit.id, year=year)
    row = FiguresApproval(unit_id=unit.id, year=year, snapshot=body,
                          sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(), approved_by=actor,
                          approved_at=utcnow(), supersedes_id=earlier[0].id if earlier else None)
    db.add(row)
    db.flush()
    custody.record(db, actor=actor, action="figures_approved", tool=TOOL, tool_version=liuhen.__version__,
                   detail={"figures_id": row.id, "unit": unit.code, "year": year, "sha256": row.sha256,
                           "supersedes": row.supersedes_id, "late": local > due_on(year),
                           "bound": bound((FIGURES, row))})
    return row


# ---------------------------------------------------------------------------- what the public site reads


def _public(a: FiguresApproval, unit: Unit, tz: str) -> site.PublicFigures:
    return site.PublicFigures(agency=unit.name, year=a.year,
                              approved_on=a.approved_at.astimezone(ZoneInfo(tz)).date(), figures=snapshot_of(a))


def _in_force(db: Session, year: int | None = None) -> list[tuple[FiguresApproval, Unit]]:
    newest = select(func.max(FiguresApproval.id)).group_by(FiguresApproval.unit_id, FiguresApproval.year)
    q = (select(FiguresApproval, Unit).join(Unit, Unit.id == FiguresApproval.unit_id)
         .where(FiguresApproval.id.in_(newest)))
    if year is not None:
        q = q.where(FiguresApproval.year == year)
    return [(a, u) for a, u in db.execute(q.order_by(FiguresApproval.year.desc(), Unit.code)).all()]


def public_years(db: Session, tz: str = "Asia/Shanghai") -> list[site.PublicFigures]:
    """The approved figures in force, newest year first, then by unit."""
    return [_public(a, u, tz) for a, u in _in_force(db)]


def public_year(db: Session, year: int, tz: str = "Asia/Shanghai") -> list[site.PublicFigures]:
    """The approved figures in force of ``year``, one per unit that approved them."""
    return [_public(a, u, tz) for a, u in _in_force(db, year)]
