"""``/api/v1/retention``: the rules in force, the report (bytes, counts, what falls due) within the
user's units, an evidence's retention class (with a reason) and the recompute after a change of
``[retention]``.

Every change is a custody event (``retention_class_set``, ``retention_changed``); every refusal an
``access_denied`` event; evidence outside the user's units answers exactly like evidence that does
not exist."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, LINE_NOT_BLANK, ErrorOut, EvidenceId, RetentionOut
from liuhen.db import utcnow
from retention import recompute as recomputing
from retention import report as reporting
from retention import service

router = APIRouter(tags=["retention"], dependencies=[StrictQuery], responses={**ERRORS})


class RetentionClassOut(BaseModel):
    name: str
    label: str
    days: int | None = Field(description="kept this many days (from recording; a case's class: from its closing)")
    permanent: bool
    source: str = Field(description="where the figure comes from (the shipped default's law or practice, or "
                                    "the configuration)")
    source_shipped: bool = Field(default=False, description="true: the source is the shipped default's (the "
                                                         "console shows it in the reader's language)")
    used_for: list[str] = Field(description="default, important, case: what takes this class")


class CategoryOut(BaseModel):
    category: str
    class_: str = Field(alias="class")
    label: str
    configured: bool = Field(description="named in [retention.case_categories] (false: case_class)")

    model_config = {"populate_by_name": True}


class RulesOut(BaseModel):
    classes: list[RetentionClassOut]
    default_class: str
    important_class: str
    case_class: str
    case_categories: list[CategoryOut]
    grace_days: int
    require_approval: bool


class CountOut(BaseModel):
    count: int
    bytes: int


class ClassCountOut(CountOut):
    class_: str = Field(alias="class")
    label: str

    model_config = {"populate_by_name": True}


class UnitCountOut(CountOut):
    unit_id: int | None = Field(description="null: footage of a station with no unit yet")
    unit_code: str | None
    unit_name: str | None


class KeepCountOut(BaseModel):
    until: int = Field(description="kept until a date")
    open_case: int = Field(description="kept while a case is open (案件未结)")
    held: int = Field(description="under a legal hold (保全中)")
    permanent: int = Field(description="kept for ever (永久)")
    not_computed: int = Field(description="received before retention existed, not computed yet (liuhen retention "
                                          "recompute computes them)")


class DueOut(CountOut):
    until: str = Field(description="the end of the window (ISO 8601, UTC)")
    by_class: list[ClassCountOut]


class ReportOut(BaseModel):
    now: str
    units: list[str] | None = Field(description="the unit codes counted (null: all)")
    total: CountOut = Field(description="evidence still held in the stores (not destroyed)")
    by_class: list[ClassCountOut]
    by_unit: list[UnitCountOut]
    by_keep: KeepCountOut
    overdue: CountOut = Field(description="past the keep-until, not held, no open case, not yet scheduled")
    due: dict[str, DueOut] = Field(description="\"30\" and \"90\": keep-until within that many days from now, not "
                                               "held, not linked to an open case")
    pending: CountOut = Field(description="pending disposal (restorable)")
    destroying: CountOut
    destroyed: CountOut
    restored: CountOut


class ClassIn(BaseModel):
    class_: str | None = Field(alias="class", max_length=64, description="a class of the rules in force; "
                               "\"default\" or null: back to the default class")
    reason: str = Field(min_length=1, max_length=2000, pattern=LINE_NOT_BLANK, examples=["当事人申请行政复议"],
                        description="why (in the custody event)")

    model_config = {"populate_by_name": True}


class RecomputeOut(BaseModel):
    evidence: int = Field(description="evidence looked at (of the user's units)")
    computed: int = Field(description="computed for the first time")
    changed: int = Field(description="keep-until changed, each in a retention_changed custody event")
    events: list[int] = Field(description="the sequence numbers of those custody events")
    changes: list[list[Any]] = Field(description="[evidence id, old, new] of the first 1,000 changes")
    changes_listed: int
    reason: str


@router.get("/rules", response_model=RulesOut, summary="The retention rules in force")
def get_rules(archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "retention.view", request)
    return reporting.rules(archive.settings)


@router.get("/report", response_model=ReportOut, summary="Bytes and counts per class, unit and what keeps them; pending and destroyed; "
            "what falls due in 30 and 90 days — within the user's units")
def get_report(archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "retention.view", request)
        return reporting.report(db, archive.settings.retention, now=utcnow(), units=p.scope.units)


@router.post("/evidence/{evidence_id}/class", response_model=RetentionOut, response_model_by_alias=True,
             responses={409: {"model": ErrorOut, "description": "the rules in force define no such class (code "
                                                                "unknown_retention_class; GET /retention/rules)"}},
             summary="Give an evidence a retention class, with a reason; its keep-until follows")
def set_class(evidence_id: EvidenceId, body: ClassIn, archive: ArchiveDep, p: CurrentUser,
              request: Request) -> RetentionOut:
    name = None if body.class_ in (None, "default") else body.class_
    with archive.sessions.begin() as db:
        ev = access.evidence(archive, db, p, evidence_id, "retention.classify", request)
        service.set_class(db, archive.custody, archive.settings.retention, evidence_id=ev.id, class_name=name,
                          actor=p.actor, reason=body.reason, context=p.where())
        db.flush()
        return RetentionOut.model_validate(reporting.evidence_retention(db, archive.settings.retention, ev.id))


@router.post("/recompute", response_model=RecomputeOut, summary="Recompute every keep-until of the user's units "
             "under the rules in force (after a change of [retention])")
def recompute(archive: ArchiveDep, p: CurrentUser, request: Request) -> RecomputeOut:
    with archive.sessions.begin() as db:
        access.require(archive, db, p, "retention.dispose", request)
    result = recomputing.recompute_all(archive.sessions, archive.custody, archive.settings.retention, actor=p.actor,
                                       units=p.scope.units, detail=p.where())
    return RecomputeOut(**result.to_dict())
