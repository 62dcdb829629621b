"""The console page 法制审核统计 (legal review figures): the figures of the user's units
(``review.figures``) with bar charts drawn server-side as inline SVG (outcomes, rounds per month,
most-failed elements), a table per dimension, and the CSV to download.

For ``review.figures`` (legal reviewers, records managers, auditors); a refusal is an
``access_denied`` event like every console refusal. Reading figures changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import access
from api.deps import ArchiveDep
from archive.errors import BadQuery
from console.pages import _user, render
from liuhen.config import OUTCOMES
from liuhen.words import said
from review.figures import Row, csv_name, site_figures

router = APIRouter(include_in_schema=False)

LABEL_W, BAR_W, ROW_H = 180, 360, 24  # the chart: labels, the longest bar, one row (px of the viewBox)
COLOURS = {"outcomes": "#3a6fd9", "months": "#3aa35b", "failed": "#d93a2e"}


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    y: int  # top of the row in the viewBox
    width: float  # of the bar, proportional to the largest count


@dataclass(frozen=True)
class Chart:
    id: str
    colour: str
    bars: tuple[Bar, ...]
    label_w: int = LABEL_W
    bar_w: int = BAR_W
    row_h: int = ROW_H

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * self.row_h

    @property
    def width(self) -> int:
        return self.label_w + self.bar_w + 60


def chart(id: str, rows: Sequence[Row]) -> Chart:
    """A horizontal bar chart of ``rows`` (one bar each, the largest count the full width)."""
    top = max((r.count for r in rows), default=0) or 1
    return Chart(id=id, colour=COLOURS[id], bars=tuple(
        Bar(label=r.label or r.key, count=r.count, y=i * ROW_H, width=max(1.0, BAR_W * r.count / top) if r.count else 0)
        for i, r in enumerate(rows)))


def _date(value: str | None, what: str) -> dt.date | None:
    if not value or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as e:
        raise BadQuery(said(f"{what}「{value}」不是有效日期", f"{value!r} is not a date."),
                       said("请使用 2026-01-01 的格式", "Use the form 2026-01-01.")) from e


@router.get("/review/figures")
def figures_page(request: Request, archive: ArchiveDep, since: str | None = None, until: str | None = None,
                 format: str | None = None) -> Response:
    start, end = _date(since, "开始日期"), _date(until, "结束日期")
    p = _user(archive, request)
    with archive.reads.begin() as db:
        access.require(archive, db, p, "review.figures", request)
        f = site_figures(db, archive.settings, units=p.scope.units, since=start, until=end)
    if format == "csv":
        return Response(f.to_csv().encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{csv_name(f)}"',
                                 "Cache-Control": "no-store"})
    query = {k: v for k, v in (("since", start), ("until", end)) if v is not None}
    order = {o: i for i, o in enumerate(OUTCOMES)}  # the outcomes in the law's order, 同意 first
    outcomes = sorted(f.by_outcome, key=lambda r: (order.get(r.key, len(order)), r.key))
    charts = [chart("outcomes", outcomes), chart("months", f.by_month), chart("failed", f.failed_elements)]
    return render(request, "review_figures.html", user=p, f=f, charts=charts, since=start, until=end,
                  csv_href="/review/figures?" + urlencode({**query, "format": "csv"}))
