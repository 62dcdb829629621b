"""The console's search page (``/search``): filters, quick ranges, sorting, list and grid views, and
the bulk bar (link to a case step, tag, mark important, export) over the selected results.

The page searches through the API's own path (``access.search``: the role, the units, the
``searched`` custody event); the bulk actions are the API's per-recording routes, called by
``console.js`` one recording at a time, so each leaves its own custody event and its own answer.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from api import access
from api.deps import ArchiveDep
from api.evidence import case_evidence
from archive import query as searching
from archive.models import Station
from console.pages import _local_time, _user, render

router = APIRouter(include_in_schema=False)
RANGES = ("today", "7d", "month")  # 今天, 近7天, 本月: from midnight of the station's day, open-ended
VIEWS = ("grid", "list")


def quick_range(name: str, now: dt.datetime) -> dt.datetime:
    """Where a quick range starts: ``now``'s midnight (today), six days before it (the last 7 days
    with today), or the first of its month; ``now`` in the station's time zone."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if name == "7d":
        return day - dt.timedelta(days=6)
    if name == "month":
        return day.replace(day=1)
    return day


@router.get("/search")
def search_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    tz = ZoneInfo(archive.settings.station.timezone)
    f = dict(request.query_params)
    try:
        page = max(1, int(f.get("page") or 1))
    except ValueError:
        page = 1
    playback = f.get("playback") or None
    if f.get("range") in RANGES:  # a quick range fills the two time fields (shown, so the user sees it)
        f["start"] = quick_range(f["range"], dt.datetime.now(tz)).strftime("%Y-%m-%dT%H:%M")
        f.pop("end", None)
    else:
        f.pop("range", None)
    sort = f.get("sort") or "recorded"
    sort = sort if sort in searching.SORTS else "recorded"
    view = f.get("view") or "grid"
    view = view if view in VIEWS else "grid"
    with archive.reads.begin() as db:
        query = searching.Query(
            q=f.get("q") or None, officer=f.get("officer") or None, device=f.get("device") or None,
            station=f.get("station") or None, important=True if f.get("important") else None,
            playback=playback, start=_local_time(f.get("start"), tz), end=_local_time(f.get("end"), tz),
            tag=f.get("tag") or None, case=f.get("case") or None,
            evidence_in=case_evidence(archive, db, p, f.get("case"), request), sort=sort, page=page, per_page=24)
        results = access.search(archive, db, p, query, request)
        stations = list(db.scalars(select(Station.id).order_by(Station.id)))
    args = {k: v for k, v in f.items() if k != "page" and v}
    return render(request, "search.html", user=p, results=results, form=f, stations=stations, sort=sort,
                  view=view, sorts=searching.SORTS, ranges=RANGES, time_used=searching.time_used,
                  url_with=lambda **kw: "/search?" + urlencode({**{k: v for k, v in args.items()
                                                                   if k not in ("start", "end", "range")
                                                                   or "range" not in kw}, **kw}),
                  prev_url=f"/search?{urlencode({**args, 'page': page - 1})}" if page > 1 else None,
                  next_url=f"/search?{urlencode({**args, 'page': page + 1})}" if results.has_more else None)
