"""The static export of the public site (``liuhen publish export --out DIR``): the same pages as
``/public/notices`` (``publication.site``), as files an agency can post through its government
website's CMS: ``index.html`` and ``page-N.html`` (the list, page by page, newest first) and
``notices/<public number>.html`` (each published or withdrawn notice), and the approved annual
figures (``figures.html``, the years; ``figures-<year>.html``, each year's). Only the links differ from
the live pages (relative file names) and the list has no search form (static files cannot answer
one). Files are written whole and renamed into place, so a reader never sees half a page."""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from liuhen.config import Settings
from publication import figures, service, site


@dataclass(frozen=True)
class Exported:
    out: Path
    pages: int
    notices: int
    figure_years: int = 0


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


def export(db: Session, settings: Settings, out: Path) -> Exported:
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
    return Exported(out=out, pages=pages, notices=written, figure_years=len(years))
