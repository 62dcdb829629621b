"""``/public``: the public site (公示网站), no sign-in.

Besides the notices it shows, before enforcement (事前公示), the officers holding a valid certificate
(``/public/officers``, from ``publication.officers.public_officers``: ``site.PublicOfficer`` values)
and the agency's powers and procedures (``/public/powers``, each document's file at
``/public/powers/<public id>``, from ``publication.powers``: ``site.PublicDocument`` values); and the
approved annual figures (``/public/figures``, ``/public/figures/<year>``, from
``publication.figures.public_years`` / ``public_year``: approved snapshots only, as
``site.PublicFigures``).

It reads published and withdrawn notices through ``publication.service.public_notices`` and
``public_notice`` only, which hand over ``publication.site.PublicNotice`` values (public number,
masked fields, dates, agency; no internal id), and renders them with ``publication.site``, the same
functions the static export uses. It takes no session, no token and no cookie, and touches no
evidence, original, case, custody or account table.

Answers carry ``Cache-Control: public, max-age=<[publication] cache_seconds>`` and an ``ETag`` (a
repeated request with ``If-None-Match`` gets 304); each client (by address) may make
``[publication] rate_per_minute`` requests a minute, then 429 with ``Retry-After``."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import threading
import time
from collections import deque
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import ArchiveDep
from publication import figures, powers, service, site
from publication import officers as officer_list

router = APIRouter(include_in_schema=False)
PublicId = Annotated[str, PathParam(min_length=1, max_length=32, pattern=r"^[A-Za-z-]+$")]
PublicNo = Annotated[str, PathParam(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")]


class RateLimit:
    """At most ``per_minute`` requests per client in any sliding minute (kept in memory, per process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, client: str, now: float | None = None) -> float:
        """0 if the request may go ahead (and it is counted); else the seconds until it may."""
        t = time.monotonic() if now is None else now
        with self._lock:
            q = self._seen.setdefault(client, deque())
            while q and q[0] <= t - 60:
                q.popleft()
            if len(q) >= self.per_minute:
                return q[0] + 60 - t
            q.append(t)
            if len(self._seen) > 10000:  # forget clients gone quiet
                for k in [k for k, v in self._seen.items() if not v or v[-1] <= t - 60]:
                    del self._seen[k]
            return 0.0


def _limit(request: Request, archive: ArchiveDep) -> Response | None:
    limiter: RateLimit | None = getattr(request.app.state, "public_limit", None)
    if limiter is None:
        limiter = request.app.state.public_limit = RateLimit(archive.settings.publication.rate_per_minute)
    wait = limiter.wait(request.client.host if request.client else "?")
    if wait > 0:
        return HTMLResponse("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>请求过于频繁"
                            "</title></head><body><p>请求过于频繁，请稍后再试。</p></body></html>\n", status_code=429,
                            headers={"Retry-After": str(math.ceil(wait))})
    return None


def _page(request: Request, archive: ArchiveDep, html: str, status_code: int = 200) -> Response:
    body = html.encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": f"public, max-age={archive.settings.publication.cache_seconds}", "ETag": etag,
               "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; "
               "style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"}
    if status_code == 200 and request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/public")
@router.get("/public/")
def home() -> Response:
    return RedirectResponse("/public/notices", status_code=308)


@router.get("/public/notices")
def notices(request: Request, archive: ArchiveDep, q: Annotated[str, Query(max_length=100)] = "",
            page: Annotated[int, Query(ge=1, le=100000)] = 1) -> Response:
    limited = _limit(request, archive)
    if limited is not None:
        return limited
    size = archive.settings.publication.page_size
    with archive.reads() as db:
        items, total = service.public_notices(db, q=q.strip(), page=page, size=size,
                                              tz=archive.settings.station.timezone)
    pages = max(1, math.ceil(total / size))
    return _page(request, archive, site.list_page(items, page=page, pages=pages, total=total, q=q.strip(),
                                                  links=site.live_links()))


@router.get("/public/notices/{public_no}")
def notice(public_no: PublicNo, request: Request, archive: ArchiveDep) -> Response:
    limited = _limit(request, archive)
    if limited is not None:
        return limited
    with archive.reads() as db:
        n = service.public_notice(db, public_no, tz=archive.settings.station.timezone)
    if n is None:
        return _page(request, archive, site.not_found(site.live_links()), status_code=404)
    return _page(request, archive, site.notice_page(n, site.live_links()))


def _today(archive: ArchiveDep) -> dt.date:
    from zoneinfo import ZoneInfo

    from liuhen.db import utcnow

    return utcnow().astimezone(ZoneInfo(archive.settings.station.timezone)).date()


@router.get("/public/officers")
def officers(request: Request, archive: ArchiveDep, q: Annotated[str, Query(max_length=100)] = "",
             unit: Annotated[str, Query(max_length=200)] = "",
             page: Annotated[int, Query(ge=1, le=100000)] = 1) -> Response:
    """执法人员公示: the officers with a certificate valid today (the station's time zone)."""
    limited = _limit(request, archive)
    if limited is not None:
        return limited
    size = archive.settings.publication.page_size
    today = _today(archive)
    with archive.reads() as db:
        items, total = officer_list.public_officers(db, on=today, q=q.strip(), unit=unit.strip(), page=page,
                                                    size=size)
        units = officer_list.officer_units(db, on=today)
    pages = max(1, math.ceil(total / size))
    return _page(request, archive, site.officers_page(items, page=page, pages=pages, total=total, q=q.strip(),
                                                      unit=unit.strip(), units=units, as_of=today,
                                                      links=site.live_links()))


@router.get("/public/powers")
def powers_list(request: Request, archive: ArchiveDep) -> Response:
    """权责清单与执法流程: each document's current version, and its history."""
    limited = _limit(request, archive)
    if limited is not None:
        return limited
    with archive.reads() as db:
        docs = powers.public_powers(db, tz=archive.settings.station.timezone)
    return _page(request, archive, site.powers_page(docs, site.live_links()))


@router.get("/public/powers/{public_id}")
def powers_file(public_id: PublicId, request: Request, archive: ArchiveDep) -> Response:
    """One version's file, as uploaded, with its type and name; sandboxed, never sniffed."""
    limited = _limit(request, archive)
    if limited is not None:
        return limited
    with archive.reads() as db:
        found = powers.public_file(db, public_id, tz=archive.settings.station.timezone)
    if found is None:
        return _page(request, archive, site.not_found(site.live_links()), status_code=404)
    d = found.document
    etag = '"' + d.sha256[:32] + '"'
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in d.file_name)
    headers = {"Cache-Control": f"public, max-age={archive.settings.publication.cache_seconds}", "ETag": etag,
               "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'",
               "X-Content-SHA256": d.sha256,
               "Content-Disposition": f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(d.file_name)}"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    media = d.mime if d.mime == "application/pdf" else f"{d.mime}; charset=utf-8"
    return Response(found.content, media_type=media, headers=headers)


@router.get("/public/figures")
def figures_index(request: Request, archive: ArchiveDep) -> Response:
    limited = _limit(request, archive)
    if limited is not None:
        return limited
    with archive.reads() as db:
        items = figures.public_years(db, archive.settings.station.timezone)
    return _page(request, archive, site.figures_index_page(items, site.live_links()))


@router.get("/public/figures/{year}")
def figures_year(year: Annotated[int, PathParam(ge=1, le=9998)], request: Request, archive: ArchiveDep) -> Response:
    limited = _limit(request, archive)
    if limited is not None:
        return limited
    with archive.reads() as db:
        items = figures.public_year(db, year, archive.settings.station.timezone)
    return _page(request, archive, site.figures_year_page(year, items, site.live_links()),
                 status_code=200 if items else 404)
