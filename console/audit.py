"""The console's audit page (``/audit``): the custody log as the reader may read it, in words.

Filters: who (part of an account or a name), action, outcome, evidence, a time range (with the quick
ranges of the search page, in the station's time zone). Each row names the action in the reader's
language (the catalogue's ``action.*`` words), the actor with their name, and folds the detail (and
any ffmpeg command line in it) behind a disclosure. ``POST /audit/export`` gives the filtered rows
as CSV (UTF-8 with a BOM, for Excel), recorded as ``audit_exported``: a copy of the log leaving
the archive is custody-relevant, so the log says who took which rows. The "verify the chain now"
button calls ``POST /api/v1/audit/verify``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api import access
from api.deps import ArchiveDep
from api.schemas import custody_page
from archive import audit
from archive.context import Archive
from console.i18n import WORDS, translator
from console.pages import _lang, _local_time, _user, render
from console.records import _form_user
from console.search import RANGES, quick_range

router = APIRouter(include_in_schema=False)
PER_PAGE = 100
CSV_MAX = 10_000  # rows in one CSV export (the newest; narrow the filters for older ones)
OUTCOMES = ("success", "failure", "denied")
_COMMAND_KEYS = ("command", "cmd", "argv", "ffmpeg", "ffprobe", "args", "stderr_tail")  # folded: long and technical


def _is_command(key: str, value: Any) -> bool:
    text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return key in _COMMAND_KEYS or text.lstrip().startswith(("ffmpeg ", "ffprobe ", "/usr/bin/ff"))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
        return " ".join(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def detail_view(detail: Mapping[str, Any], t: Callable[[str], str]) -> dict[str, Any]:
    """The detail of one event as the page shows it: a one-line summary (the first few fields, short;
    no command lines) and every field, each labelled in words where the catalogue has the key
    (``audit.key.NAME``), command lines marked to be folded."""
    items: list[dict[str, Any]] = []
    for k, v in detail.items():
        if k == "user_agent":
            continue
        label = next((w for w in (t(f"audit.key.{k}"), t(f"detail.{k}")) if w not in (f"audit.key.{k}", f"detail.{k}")),
                     None)
        items.append({"key": k, "label": label or k, "labelled": label is not None, "text": _text(v),
                      "command": _is_command(k, v)})
    short = [{**i, "text": i["text"][:40] + ("…" if len(i["text"]) > 40 else "")} for i in items if not i["command"]]
    return {"summary": short[:3], "more": len(short) > 3, "items": items,
            "commands": sum(1 for i in items if i["command"])}


def _filters(f: Mapping[str, str], tz: ZoneInfo) -> dict[str, Any]:
    """The page's filters from its query (or the export's form), normalised; a quick range fills ``start``."""
    out: dict[str, Any] = {k: (f.get(k) or "").strip() for k in ("who", "actor", "action", "start", "end")}
    outcome = f.get("outcome") or ""
    out["outcome"] = outcome if outcome in OUTCOMES else ""
    raw = f.get("evidence_id") or ""
    out["evidence_id"] = raw if raw.isdigit() and len(raw) < 19 else ""
    out["range"] = f.get("range") if f.get("range") in RANGES else ""
    if out["range"]:
        out["start"], out["end"] = quick_range(out["range"], dt.datetime.now(tz)).strftime("%Y-%m-%dT%H:%M"), ""
    return out


def _trail(archive: Archive, p: access.Principal, db: Any, flt: dict[str, Any], tz: ZoneInfo, *, page: int,
           per_page: int) -> audit.Trail:
    return audit.trail(db, scope=p.scope, sees_evidence=p.may("evidence.view"), actor=flt["actor"] or None,
                       who=flt["who"] or None, action=flt["action"] or None, outcome=flt["outcome"] or None,
                       evidence_id=int(flt["evidence_id"]) if flt["evidence_id"] else None,
                       start=_local_time(flt["start"], tz), end=_local_time(flt["end"], tz), page=page,
                       per_page=per_page)


def _said(flt: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in flt.items() if v}


def _cell(text: str) -> str:
    """A cell Excel will not run as a formula (a name or detail beginning = + - @ is text, quoted)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/audit")
def audit_view(request: Request, archive: ArchiveDep) -> HTMLResponse:
    p = _user(archive, request)
    tz = ZoneInfo(archive.settings.station.timezone)
    f = request.query_params
    raw = f.get("page") or ""
    page = int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1
    flt = _filters(f, tz)
    t = translator(_lang(request))
    with archive.reads.begin() as db:
        access.require(archive, db, p, "audit.view", request)
        rows = custody_page(_trail(archive, p, db, flt, tz, page=page, per_page=PER_PAGE))
        names = audit.names_of(db, {e.actor for e in rows.items})
        access.record(archive, db, p, "audit_viewed", detail={"filters": _said(flt), "page": page})
    args = _said(flt)
    actions = sorted(k[len("action."):] for k in WORDS if k.startswith("action."))

    def url_with(**kw: str) -> str:
        base = {k: v for k, v in args.items() if not (k in ("start", "end", "range") and "range" in kw)}
        return "/audit?" + urlencode({**base, **kw})

    return render(request, "audit.html", user=p, rows=rows, form=flt, names=names, actions=actions,
                  outcomes=OUTCOMES, ranges=RANGES, url_with=url_with, detail_view=lambda d: detail_view(d, t),
                  prev_url=f"/audit?{urlencode({**args, 'page': page - 1})}" if page > 1 else None,
                  next_url=f"/audit?{urlencode({**args, 'page': page + 1})}" if rows.has_more else None)


@router.post("/audit/export")
def audit_export(request: Request, archive: ArchiveDep, csrf: str = Form(""), who: str = Form(""),
                 actor: str = Form(""), action: str = Form(""), outcome: str = Form(""), evidence_id: str = Form(""),
                 start: str = Form(""), end: str = Form("")) -> Response:
    """The filtered rows (the newest ``CSV_MAX``) as CSV, UTF-8 with a BOM so that Excel reads the
    Chinese; one ``audit_exported`` custody event with the filters and how many rows left."""
    p = _form_user(archive, request, csrf, "audit.view")
    tz = ZoneInfo(archive.settings.station.timezone)
    flt = _filters({"who": who, "actor": actor, "action": action, "outcome": outcome, "evidence_id": evidence_id,
                    "start": start, "end": end}, tz)
    t = translator(_lang(request))
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([t("audit.csv.seq"), t("audit.csv.at"), t("audit.csv.account"), t("audit.csv.name"),
                t("audit.action"), t("audit.csv.code"), t("audit.outcome"), t("audit.csv.evidence"),
                t("audit.detail"), t("audit.csv.hash")])
    n, page, capped = 0, 1, False
    with archive.reads.begin() as db:
        while True:
            trail = _trail(archive, p, db, flt, tz, page=page, per_page=500)
            names = audit.names_of(db, {e.actor for e, _ in trail.items})
            for e, detail in trail.items:
                if n == CSV_MAX:
                    capped = True
                    break
                w.writerow([e.seq, e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), _cell(e.actor),
                            _cell(names.get(e.actor, "")), t(f"action.{e.action}"), e.action,
                            t(f"audit.outcome_{e.outcome}"), e.evidence_id or "",
                            _cell(json.dumps(detail, ensure_ascii=False, sort_keys=True)), e.hash])
                n += 1
            if capped or not trail.has_more:
                break
            page += 1
        access.record(archive, db, p, "audit_exported", detail={"filters": _said(flt), "rows": n,
                                                                "capped": capped, "format": "csv"})
    stamp = dt.datetime.now(tz).strftime("%Y%m%d-%H%M%S")
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})
