"""Officers (执法人员公示, 事前公示): who may enforce, as the public sees it.

The list is the roster's officers (``roster.models.Officer``, active) with each certificate
(``Certificate``) valid on the given day — not revoked, ``valid_from <= day <= valid_until``, the rule
of ``roster.service.is_valid`` — one line per such certificate: the officer's name (public by law),
the unit's name, the certificate number (执法证号), category, area and the last day of validity.
Expired, not-yet-valid and revoked certificates and inactive officers drop off by themselves on the
day they stop counting; nothing is stored here. The values handed over are ``site.PublicOfficer``:
no officer, unit or certificate id."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from auth.models import Unit
from publication import site
from roster.models import Certificate, Officer


def _valid_on(day: dt.date) -> list[ColumnElement[bool]]:
    return [Officer.active.is_(True), Certificate.revoked_at.is_(None), Certificate.valid_from <= day,
            Certificate.valid_until >= day]


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def public_officers(db: Session, *, on: dt.date, q: str = "", unit: str = "", page: int = 1,
                    size: int = 20) -> tuple[list[site.PublicOfficer], int]:
    """One page of the officers with a certificate valid on ``on``, by unit, then name, then number, and
    how many match; ``q`` matches a name or a certificate number, ``unit`` is a unit's name (exactly)."""
    where = _valid_on(on)
    if q.strip():
        like = _like(q.strip())
        where.append(or_(Officer.name.like(like, escape="\\"), Certificate.number.like(like, escape="\\")))
    if unit.strip():
        where.append(Unit.name == unit.strip())
    base = (select(Officer.name, Unit.name, Certificate.number, Certificate.category, Certificate.area,
                   Certificate.valid_until)
            .join(Certificate, Certificate.officer_id == Officer.id).join(Unit, Unit.id == Officer.unit_id)
            .where(*where))
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = db.execute(base.order_by(Unit.name, Unit.id, Officer.name, Certificate.number)
                      .offset((page - 1) * size).limit(size))
    return [site.PublicOfficer(name=name, unit=unit_name, certificate_no=number, category=category, area=area,
                               valid_until=until) for name, unit_name, number, category, area, until in rows], total


def officer_units(db: Session, *, on: dt.date) -> list[str]:
    """The names of the units that have an officer on the list on ``on`` (the live site's unit filter)."""
    return list(db.scalars(select(Unit.name).join(Officer, Officer.unit_id == Unit.id)
                           .join(Certificate, Certificate.officer_id == Officer.id)
                           .where(*_valid_on(on)).distinct().order_by(Unit.name)))
