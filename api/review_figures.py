"""``/api/v1/review/figures``: the figures of legal review (法制审核统计) of the user's units — rounds
by handling unit, state, outcome, reviewer and month, the median working days to a decision,
overdue rounds and the most-failed elements (``review.figures``) — as JSON or as a CSV for Excel.

For legal reviewers, records managers and auditors (``review.figures``); a refusal is an
``access_denied`` event. Reading figures changes nothing and writes no event."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS, Day
from review.figures import Figures, csv_name, site_figures

router = APIRouter(tags=["review"], dependencies=[StrictQuery], responses={**ERRORS})


class RowOut(BaseModel):
    key: str = Field(description="a unit's code, a state, an outcome, a reviewer (user:…), a month (YYYY-MM) or an "
                                 "element")
    label: str = Field(description="a unit's name, a state in Chinese; else the key")
    count: int


class OverdueOut(BaseModel):
    count: int = Field(description="rounds decided after their due_on, or still open on a day after it")
    decided: int
    open: int
    median_days: float | None = Field(description="median calendar days past due_on")
    median_workdays: float | None = Field(description="median working days past due_on; null where the calendar "
                                                      "does not cover them")


class FiguresOut(BaseModel):
    since: str | None
    until: str | None
    today: str
    units: list[str] = Field(description="the codes of the user's units: rounds they handled or reviewed")
    rounds: int
    decided: int
    open: int
    by_unit: list[RowOut] = Field(description="by handling unit")
    by_state: list[RowOut]
    by_outcome: list[RowOut] = Field(description="decided rounds by outcome")
    by_reviewer: list[RowOut] = Field(description="decided rounds by who decided them")
    by_month: list[RowOut] = Field(description="by month of submission (station-local), oldest first")
    median_duration: float | None = Field(description="median time from submission to decision, in `basis` units")
    basis: Literal["workdays", "calendar_days"] = Field(description="calendar_days where a year's holidays are "
                                                                    "unknown (see notes)")
    overdue: OverdueOut
    failed_elements: list[RowOut] = Field(description="elements answered 不符合 in decided rounds, most often first")
    notes: list[str]


def csv_response(f: Figures) -> Response:
    name = csv_name(f)
    return Response(f.to_csv().encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/review/figures", response_model=FiguresOut,
            responses={200: {"description": "the figures; format=csv: one flat table dimension,key,count (UTF-8 "
                                             "with a byte-order mark, for Excel)",
                             "content": {"text/csv": {"schema": {"type": "string"}}}}},
            summary="Legal review figures of the user's units: by unit, state, outcome, reviewer, month; median "
                    "working days; overdue; most-failed elements (JSON or CSV)")
def get_figures(archive: ArchiveDep, p: CurrentUser, request: Request,
                since: Annotated[Day | None, Query(description="submitted on or after (YYYY-MM-DD, "
                                                   "local)")] = None,
                until: Annotated[Day | None, Query(description="submitted on or before (YYYY-MM-DD, "
                                                   "local)")] = None,
                format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:
    with archive.reads.begin() as db:
        access.require(archive, db, p, "review.figures", request)
        f = site_figures(db, archive.settings, units=p.scope.units, since=since, until=until)
    return csv_response(f) if format == "csv" else f.to_dict()
