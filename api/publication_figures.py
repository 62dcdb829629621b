"""``/api/v1/publication/figures``: the annual enforcement figures (年度行政执法数据) of the user's units
(``publication.figures``): decisions by kind, unit and category, amounts, legal reviews, the coverage
check, notices on time and late — as JSON or as a CSV for Excel — and their approval.

Whoever may read notices (``publication.view``) reads the figures of their units, with the approval
in force and whether the figures changed since; a publisher (``publication.publish``) approves one
unit's figures of a year that has ended (``figures_approved``): only approved figures are public. A
unit that is not the user's answers exactly like one that does not exist (404, ``access_denied``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import access
from api.access import CurrentUser
from api.deps import ArchiveDep, StrictQuery
from api.schemas import ERRORS
from archive.context import Archive
from auth.models import Unit
from publication import figures
from publication.errors import UnknownFiguresUnit
from publication.figures_models import FiguresApproval

router = APIRouter(tags=["publication"], dependencies=[StrictQuery], responses={**ERRORS})
Year = Annotated[int, Query(ge=2000, le=9998, description="the year (公历年度)")]
UnitCode = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                                       description="one of the user's units (its code); none: all of them")]


class ApproveIn(BaseModel):
    year: int = Field(ge=2000, le=9998, description="a year that has ended")
    unit: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="the unit's code")


def approval_out(a: FiguresApproval | None, now: figures.Figures | None = None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"id": a.id, "sha256": a.sha256, "approved_by": a.approved_by, "approved_at": a.approved_at.isoformat(),
            "supersedes_id": a.supersedes_id, "changed_since": figures.changed_since(a, now) if now else None,
            "figures": figures.snapshot_of(a)}


def scoped(archive: Archive, db: Session, p: access.Principal, unit: str | None, action: str,
           request: Request) -> list[int]:
    """The unit ids asked about: ``unit`` (if the user's) or all the user's units."""
    access.require(archive, db, p, action, request)
    if unit is None:
        return sorted(p.scope.units)
    try:
        return [figures.unit_of(db, unit, p.scope.units).id]
    except UnknownFiguresUnit:
        if db.scalars(select(Unit.id).where(Unit.code == unit)).first() is None:
            access.missing(archive, db, p, what="unit", ident=unit, request=request)
        else:
            access.denied(archive, db, p, permission=action, reason="unit", request=request)
        raise


def _compute(archive: Archive, db: Session, year: int, units: list[int]) -> figures.Figures:
    return figures.compute(db, archive.store, archive.settings, year=year, units=units)


@router.get("/publication/figures", summary="The annual enforcement figures of a year for the user's units (or "
            "one of them): decisions by kind, unit and category, amounts, legal reviews, coverage, notices on "
            "time and late; with one unit, its approval in force and whether the figures changed since")
def get_figures(year: Year, archive: ArchiveDep, p: CurrentUser, request: Request, unit: UnitCode = None) -> Any:
    with archive.reads.begin() as db:
        ids = scoped(archive, db, p, unit, "publication.view", request)
        f = _compute(archive, db, year, ids)
        history = figures.approvals(db, unit_id=ids[0], year=year) if unit is not None else []
        return {"figures": f.to_dict(), "approval": approval_out(history[0] if history else None, f),
                "history": [approval_out(a) for a in history[1:]]}


@router.get("/publication/figures.csv", response_class=Response,
            responses={200: {"description": "one flat table section,key,label,value (UTF-8 with a byte-order "
                                             "mark, for Excel)", "content": {"text/csv": {"schema": {"type": "string"}}}}},
            summary="The annual figures as a CSV for Excel")
def get_figures_csv(year: Year, archive: ArchiveDep, p: CurrentUser, request: Request,
                    unit: UnitCode = None) -> Response:
    with archive.reads.begin() as db:
        ids = scoped(archive, db, p, unit, "publication.view", request)
        f = _compute(archive, db, year, ids)
    name = figures.csv_name(year, [u.key for u in f.units])
    return Response(f.to_csv().encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.post("/publication/figures/approve", summary="Approve one unit's figures of a year that has ended: frozen "
             "as they stand (a later approval supersedes it, both kept); only approved figures are public")
def approve(body: ApproveIn, archive: ArchiveDep, p: CurrentUser, request: Request) -> Any:
    with archive.sessions.begin() as db:
        ids = scoped(archive, db, p, body.unit, "publication.publish", request)
        unit = db.get_one(Unit, ids[0])
        a = figures.approve(db, archive.custody, archive.settings, archive.store, unit=unit, year=body.year,
                            actor=p.actor)
        return approval_out(a)
