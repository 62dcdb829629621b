"""The console's search page (``/search``): filters, list and grid views, bulk actions."""

from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from api import access
from api.deps import ArchiveDep
from archive import query as searching
from archive.models import Station
from console.pages import _local_time, _user, render

router = APIRouter(include_in_schema=False)


@router.get("/search")
def search_page(request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    tz = ZoneInfo(archive.settings.station.timezone)
    f = request.query_params
    try:
        page = max(1, int(f.get("page") or 1))
    except ValueError:
        page = 1
    playback = f.get("playback") or None
    query = searching.Query(
        q=f.get("q") or None, officer=f.get("officer") or None, device=f.get("device") or None,
        station=f.get("station") or None, important=True if f.get("important") else None,
        playback=playback, start=_local_time(f.get("start"), tz), end=_local_time(f.get("end"), tz), page=page,
        per_page=24)
    with archive.reads.begin() as db:
        results = access.search(archive, db, p, query, request)
        stations = list(db.scalars(select(Station.id).order_by(Station.id)))
    args = {k: v for k, v in f.items() if k != "page" and v}
    return render(request, "search.html", user=p, results=results, form=dict(f), stations=stations,
                  prev_url=f"/search?{urlencode({**args, 'page': page - 1})}" if page > 1 else None,
                  next_url=f"/search?{urlencode({**args, 'page': page + 1})}" if results.has_more else None)


