"""What the retention rules are and what they hold: the rules in force (``rules``), bytes and counts
per class, unit and reason, the disposal queue and what falls due soon (``report``), and one
evidence's retention as ``liuhen show`` and the API answer it (``evidence_retention``).

Everything is read set-based: a handful of GROUP BY queries, whatever the number of evidence."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.orm import Session

from archive.models import Evidence
from auth.models import Unit
from liuhen.config import DEFAULT_RETENTION_CLASSES, RetentionSettings, Settings
from retention.models import KEEPS, Disposal, DisposalApproval, HoldItem, LegalHold, RetentionState
from retention.rules import iso
from retention.service import ACTIVE_DISPOSAL, decisions, due_summary, held_clause, open_case_clause

# Where each shipped default comes from (the comments of liuhen/config.py).
SOURCES: dict[str, str] = {
    "unclassified": "《公安机关现场执法视音频记录工作规定》: on-site footage not used as evidence is kept at least six "
                    "months (180 days)",
    "important": "《行政诉讼法》 art. 46: no suit is heard more than five years after the act (1,826 days)",
    "case": "《行政诉讼法》 art. 46: five years from the case's closing (1,826 days); give real-property categories "
            "a longer or permanent class (twenty years)",
    "permanent": "kept without end (footage an agency must archive permanently)",
}
CONFIGURED = "configured in [retention.classes.{name}]"
SOON = (30, 90)  # days ahead that the report looks
GONE = ("destroying", "destroyed")  # a disposal past these states: the bytes are (being) removed


def source_of(name: str, settings: RetentionSettings) -> str:
    """Where the class's figure comes from: the shipped default's reason, or the configuration."""
    shipped = DEFAULT_RETENTION_CLASSES.get(name)
    if shipped is not None and settings.classes.get(name) == shipped:
        return SOURCES[name]
    return CONFIGURED.format(name=name)


def label_of(settings: RetentionSettings, name: str | None) -> str:
    name = name or settings.default_class
    c = settings.classes.get(name)
    return c.label if c is not None else name


def rules(settings: Settings) -> dict[str, Any]:
    """The rules in force: every class (name, label, days or permanent, where the figure comes from),
    which class the default, the important mark and cases take, every case category's effective
    class, the grace period and whether a second person approves each destruction."""
    r = settings.retention
    classes = [{"name": name, "label": c.label, "days": c.days, "permanent": c.permanent,
                "source": source_of(name, r), "source_shipped": source_of(name, r) == SOURCES.get(name),
                "used_for": [what for what, v in (("default", r.default_class), ("important", r.important_class),
                                                   ("case", r.case_class)) if v == name]}
               for name, c in r.classes.items()]
    categories = [{"category": cat, "class": r.class_of_category(cat),
                   "label": label_of(r, r.class_of_category(cat)), "configured": cat in r.case_categories}
                  for cat in settings.cases.categories]
    return {"classes": classes, "default_class": r.default_class, "important_class": r.important_class,
            "case_class": r.case_class, "case_categories": categories, "grace_days": r.grace_days,
            "require_approval": r.require_approval}


def _scoped(q: Any, units: Iterable[int] | None) -> Any:
    return q if units is None else q.where(Evidence.unit_id.in_(sorted(set(units))))


def _not_gone(evidence_id: Any) -> ColumnElement[bool]:
    return ~exists().where(Disposal.evidence_id == evidence_id, Disposal.state.in_(GONE))


def report(db: Session, settings: RetentionSettings, *, now: dt.datetime,
           units: Iterable[int] | None = None) -> dict[str, Any]:
    """Bytes and counts of the evidence still held (not destroyed), per class, unit and ``keep``; the
    disposal queue (pending) and what was destroyed; and what falls due within 30 and 90 days
    (keep-until between now and then, not held, not linked to an open case, not on its way out).
    ``units``: only evidence of these units (None: all)."""
    unit_list = None if units is None else sorted(set(units))
    cls = func.coalesce(RetentionState.class_name, settings.default_class)
    keep = func.coalesce(RetentionState.keep, "not_computed")
    size = func.coalesce(func.sum(Evidence.size), 0)
    rows = db.execute(_scoped(
        select(cls, Evidence.unit_id, keep, func.count(), size)
        .select_from(Evidence).outerjoin(RetentionState, RetentionState.evidence_id == Evidence.id)
        .where(_not_gone(Evidence.id)), unit_list).group_by(cls, Evidence.unit_id, keep)).all()
    codes = {u.id: (u.code, u.name) for u in db.scalars(select(Unit))}
    by_class: dict[str, list[int]] = {name: [0, 0] for name in settings.classes}
    by_unit: dict[int | None, list[int]] = {}
    by_keep: dict[str, int] = {k: 0 for k in (*KEEPS, "not_computed")}
    total = [0, 0]
    for c, unit_id, k, n, b in rows:
        n, b = int(n), int(b)
        for acc in (by_class.setdefault(c, [0, 0]), by_unit.setdefault(unit_id, [0, 0]), total):
            acc[0] += n
            acc[1] += b
        by_keep[k] = by_keep.get(k, 0) + n

    states = dict.fromkeys(("pending", "restored", "destroying", "destroyed"), (0, 0))
    for state, n, b in db.execute(_scoped(
            select(Disposal.state, func.count(), func.coalesce(func.sum(Evidence.size), 0))
            .join(Evidence, Evidence.id == Disposal.evidence_id), unit_list).group_by(Disposal.state)).all():
        states[state] = (int(n), int(b))

    due: dict[str, Any] = {}
    horizon = {d: now + dt.timedelta(days=d) for d in SOON}
    soon = and_(RetentionState.keep == "until", RetentionState.retain_until > now,
                RetentionState.retain_until <= horizon[max(SOON)], ~held_clause(RetentionState.evidence_id),
                ~open_case_clause(RetentionState.evidence_id),
                ~exists().where(Disposal.evidence_id == RetentionState.evidence_id,
                                Disposal.state.in_(ACTIVE_DISPOSAL)))
    cols = []
    for d in SOON:
        within = RetentionState.retain_until <= horizon[d]
        cols += [func.coalesce(func.sum(case((within, 1), else_=0)), 0),
                 func.coalesce(func.sum(case((within, Evidence.size), else_=0)), 0)]
    due_rows = db.execute(_scoped(
        select(cls, *cols).select_from(RetentionState).join(Evidence, Evidence.id == RetentionState.evidence_id)
        .where(soon), unit_list).group_by(cls).order_by(cls)).all()
    for i, d in enumerate(SOON):
        per = [{"class": row[0], "label": label_of(settings, row[0]), "count": int(row[1 + 2 * i]),
                "bytes": int(row[2 + 2 * i])} for row in due_rows if int(row[1 + 2 * i])]
        due[str(d)] = {"until": iso(horizon[d]), "count": sum(x["count"] for x in per),
                       "bytes": sum(x["bytes"] for x in per), "by_class": per}

    overdue = due_summary(db, settings, now, units=unit_list)
    return {
        "now": iso(now),
        "units": None if unit_list is None else [codes.get(u, (str(u), ""))[0] for u in unit_list],
        "total": {"count": total[0], "bytes": total[1]},
        "by_class": [{"class": c, "label": label_of(settings, c), "count": n, "bytes": b}
                     for c, (n, b) in by_class.items()],
        "by_unit": [{"unit_id": u, "unit_code": codes[u][0] if u in codes else None,
                     "unit_name": codes[u][1] if u in codes else None, "count": n, "bytes": b}
                    for u, (n, b) in sorted(by_unit.items(), key=lambda x: codes.get(x[0], ("",))[0]
                                            if x[0] is not None else "")],
        "by_keep": by_keep,
        "pending": {"count": states["pending"][0], "bytes": states["pending"][1]},
        "destroying": {"count": states["destroying"][0], "bytes": states["destroying"][1]},
        "destroyed": {"count": states["destroyed"][0], "bytes": states["destroyed"][1]},
        "restored": {"count": states["restored"][0], "bytes": states["restored"][1]},
        "overdue": {"count": sum(x["count"] for x in overdue), "bytes": sum(x["bytes"] for x in overdue)},
        "due": due,
    }


# ---------------------------------------------------------------------------- one evidence


def _t(x: dt.datetime | None) -> str | None:
    return iso(x) if x is not None else None


def evidence_retention(db: Session, settings: RetentionSettings, evidence_id: int) -> dict[str, Any]:
    """One evidence's retention (nothing written): its class and label, what keeps it (``keep``: until a
    date, open_case, held, permanent), the keep-until, every reason, the holds that stand and its
    newest disposal (or None). Evidence whose retention was never computed is decided now
    (``computed`` false)."""
    state = db.get(RetentionState, evidence_id)
    if state is not None:
        class_name, keep, until, reasons, computed = (state.class_name, state.keep, state.retain_until,
                                                      json.loads(state.reasons or "[]"), True)
    else:
        d = decisions(db, settings, [evidence_id])[evidence_id]
        class_name, keep, until, reasons, computed = None, d.keep, d.retain_until, d.reasons, False
    holds = [{"hold_id": h.id, "scope_kind": h.scope_kind, "reason": h.reason, "placed_by": h.placed_by,
              "placed_at": _t(h.placed_at), "added_at": _t(added)}
             for h, added in db.execute(select(LegalHold, HoldItem.added_at)
                                        .join(HoldItem, HoldItem.hold_id == LegalHold.id)
                                        .where(HoldItem.evidence_id == evidence_id, LegalHold.released_at.is_(None))
                                        .order_by(LegalHold.id)).all()]
    disposal = db.scalars(select(Disposal).where(Disposal.evidence_id == evidence_id)
                          .order_by(Disposal.id.desc()).limit(1)).first()
    dis: dict[str, Any] | None = None
    if disposal is not None:
        dis = {"disposal_id": disposal.id, "state": disposal.state, "scheduled_at": _t(disposal.scheduled_at),
               "scheduled_by": disposal.scheduled_by, "due_at": _t(disposal.due_at),
               "approved_by": list(db.scalars(select(DisposalApproval.actor)
                                              .where(DisposalApproval.disposal_id == disposal.id)
                                              .order_by(DisposalApproval.id))),
               "restored_at": _t(disposal.restored_at), "restored_by": disposal.restored_by,
               "restore_reason": disposal.restore_reason, "destroyed_at": _t(disposal.destroyed_at)}
    name = class_name or settings.default_class
    return {"class": name, "class_label": label_of(settings, name), "class_set": class_name is not None,
            "keep": keep, "retain_until": _t(until) if keep == "until" else None, "reasons": reasons,
            "computed": computed, "holds": holds, "disposal": dis}


KEEP_WORDS = {"open_case": "案件未结 kept while a case is open", "held": "保全中 under a legal hold",
              "permanent": "永久 kept for ever"}


def keep_words(r: dict[str, Any]) -> str:
    """``keep`` for a person: 保存至 2026-06-29 / 案件未结 / 保全中 / 永久."""
    if r["keep"] == "until":
        return f"保存至 {(r['retain_until'] or '')[:10]} kept until {r['retain_until']}"
    return KEEP_WORDS.get(r["keep"], str(r["keep"]))
