"""The static export of the public site (``liuhen publish export --out DIR``): the same pages as
``/public/notices`` (``publication.site``), as files an agency can post through its government
website's CMS: ``index.html`` and ``page-N.html`` (the list, page by page, newest first) and
``notices/<public number>.html`` (each published or withdrawn notice), and the approved annual
figures (``figures.html``, the years; ``figures-<year>.html``, each year's). Only the links differ from
the live pages (relative file names) and the list has no search form (static files cannot answer
one). Files are written whole and renamed into place, so a reader never sees half a page.

Before enforcement (事前公示) it writes ``officers.html`` (and ``officers-page-N.html``: the officers
with a certificate valid on the day of the export, in the station's time zone), ``powers.html`` and
each powers document's every version as ``powers/<public id>.<pdf|md|txt>``, the bytes as uploaded."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from liuhen.config import Settings
from liuhen.db import utcnow
from publication import figures, powers, service, site
from publication import officers as officer_list


@dataclass(frozen=True)
class Exported:
    out: Path
    pages: int
    notices: int
    figure_years: int = 0
    officers: int = 0  # lines on the officers' list (one per valid certificate)
    documents: int = 0  # powers documents' files (every version)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_officers(db: Session, settings: Settings, out: Path, *, on: dt.date) -> int:
    """``officers.html``, ``officers-page-N.html``: the list as the live site pages it (no search form)."""
    size = settings.publication.page_size
    _, total = officer_list.public_officers(db, on=on, page=1, size=1)
    pages = max(1, math.ceil(total / size))
    for page in range(1, pages + 1):
        items, total = officer_list.public_officers(db, on=on, page=page, size=size)
        name = "officers.html" if page == 1 else f"officers-page-{page}.html"
        _write(out / name, site.officers_page(items, page=page, pages=pages, total=total, q="", unit="", units=(),
                                              as_of=on, links=site.static_links(0)))
    return total


def export_powers(db: Session, settings: Settings, out: Path) -> int:
    """``powers.html`` and every version's file under ``powers/``."""
    docs = powers.public_powers(db, tz=settings.station.timezone)
    _write(out / "powers.html", site.powers_page(docs, site.static_links(0)))
    written = 0
    for p in docs:
        for d in (p.current, *p.history):
            found = powers.public_file(db, d.public_id, tz=settings.station.timezone)
            assert found is not None
            _write_bytes(out / site.document_file(d), found.content)
            written += 1
    return written


def export(db: Session, settings: Settings, out: Path, *, today: dt.date | None = None) -> Exported:
    size = settings.publication.page_size
    tz = settings.station.timezone
    total = service.public_total(db)
    pages = max(1, math.ceil(total / size))
    written = 0
    for page, items in enumerate(itertools.chain(service.public_pages(db, size=size, tz=tz), [[]]), start=1):
        if page > pages:
            break
        name = "index.html" if page == 1 else f"page-{page}.html"
        _write(out / name, site.list_page(items, page=page, pages=pages, total=total, q="", links=site.static_links(0)))
        for n in items:
            _write(out / "notices" / f"{n.public_no}.html", site.notice_page(n, site.static_links(1)))
            written += 1
    approved = figures.public_years(db, tz)
    _write(out / "figures.html", site.figures_index_page(approved, site.static_links(0)))
    years = sorted({f.year for f in approved}, reverse=True)
    for year in years:
        _write(out / f"figures-{year}.html",
               site.figures_year_page(year, [f for f in approved if f.year == year], site.static_links(0)))
    on = today or utcnow().astimezone(ZoneInfo(tz)).date()
    officers = export_officers(db, settings, out, on=on)
    documents = export_powers(db, settings, out)
    return Exported(out=out, pages=pages, notices=written, officers=officers, documents=documents,
                    figure_years=len(years))
