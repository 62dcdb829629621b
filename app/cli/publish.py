"""``liuhen publish``: decision notices (行政执法公示) from the command line — the notices due, overdue
and published late, per unit (``due``), and the static export of the public site (``export``).

The command line is the archive's operator: it sees every unit's notices. Exit 0; with ``due``,
exit 3 when a draft is overdue or a deadline is unknown (a year the holiday calendar does not cover:
add ``[review.holidays.<year>]``), so a cron job can alert. ``due`` first fills in the deadlines the
calendar now covers."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.cli._common import EXIT_FAILED, EXIT_OK, Add, cli_actor, emit, opened, print_json
from liuhen import config

TOOL = "liuhen publish"


def cmd_due(args: argparse.Namespace, settings: config.Settings) -> int:
    from sqlalchemy import select

    from auth.models import Unit
    from cases.models import Case
    from liuhen.db import utcnow
    from publication import service

    today = (dt.date.fromisoformat(args.today) if args.today
             else utcnow().astimezone(ZoneInfo(settings.station.timezone)).date())
    with opened(settings) as archive, archive.sessions.begin() as db:
        service.refresh_deadlines(db, archive.custody, settings, actor=cli_actor())
        units = {u.id: u for u in db.scalars(select(Unit))}
        rows = service.notices_of(db, units=list(units), states=("draft", "published"), limit=100000)
        numbers = {c.id: c.number for c in db.scalars(select(Case).where(Case.id.in_({n.case_id for n in rows})))}
        items: list[dict[str, Any]] = []
        for n in rows:
            st = service.status(n, today)
            if st == "on_time" and not args.all:
                continue
            items.append({"unit": units[n.unit_id].code, "unit_name": units[n.unit_id].name, "id": n.id,
                          "public_no": n.public_no, "case_number": numbers.get(n.case_id), "status": st,
                          "decision_kind": n.decision_kind, "category": n.category,
                          "decided_on": n.decided_on.isoformat(),
                          "due_on": n.due_on.isoformat() if n.due_on else None,
                          "published_on": n.published_on.isoformat() if n.published_on else None,
                          "doc_number": n.doc_number})
    overdue = sum(1 for i in items if i["status"] == "overdue")
    counts = {s: sum(1 for i in items if i["status"] == s)
              for s in ("due", "overdue", "late", "on_time", "deadline_unknown")}
    out = {"today": today.isoformat(), "notices": items, "counts": counts}
    if args.json:
        print_json(out)
    else:
        words = {"due": "待公示", "overdue": "逾期未公示", "late": "逾期公示", "on_time": "按时公示",
                 "deadline_unknown": "期限未知"}
        for unit in sorted({i["unit"] for i in items}):
            print(f"{unit} {next(i['unit_name'] for i in items if i['unit'] == unit)}")
            for i in (i for i in items if i["unit"] == unit):
                print(f"  {words[i['status']]:<6} {i['public_no']}  案件 {i['case_number']}  决定 {i['decided_on']}  "
                      f"期限 {i['due_on'] or '未知（节假日安排未覆盖）'}" + (f"  公示 {i['published_on']}" if i["published_on"] else ""))
        print(f"待公示 {counts['due']}，逾期未公示 {overdue}，逾期公示 {counts['late']} / due {counts['due']}, "
              f"overdue {overdue}, published late {counts['late']}")
    return EXIT_FAILED if overdue or counts["deadline_unknown"] else EXIT_OK


def cmd_export(args: argparse.Namespace, settings: config.Settings) -> int:
    import liuhen
    from publication.export import export

    out = Path(args.out)
    with opened(settings) as archive:
        with archive.sessions() as db:
            done = export(db, settings, out)
        with archive.sessions.begin() as db:
            archive.custody.record(db, actor=cli_actor(), action="notices_exported", tool=TOOL,
                                   tool_version=liuhen.__version__,
                                   detail={"out": str(out.resolve()), "pages": done.pages, "notices": done.notices,
                                           "officers": done.officers, "documents": done.documents,
                                           "figure_years": done.figure_years})
    emit(args, {"out": str(out), "pages": done.pages, "notices": done.notices, "officers": done.officers,
                "documents": done.documents, "figure_years": done.figure_years},
         f"已导出公示网页 {done.notices} 条、列表 {done.pages} 页、执法人员 {done.officers} 人次、权责清单文件 "
         f"{done.documents} 份、年度数据 {done.figure_years} 年到 {out} / Exported {done.notices} notices, "
         f"{done.pages} list pages, {done.officers} officers' certificates, {done.documents} powers documents and "
         f"{done.figure_years} years of figures to {out}.")
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    pp = sub.add_parser("publish", help="decision notices (行政执法公示): due and overdue, the static "
                                        "export of the public site").add_subparsers(dest="publish_cmd", required=True)
    sp = add("due", cmd_due, "notices due, overdue (exit 3) and published late, per unit", pp)
    sp.add_argument("--all", action="store_true", help="those published on time too")
    sp.add_argument("--today", help="as of this date (YYYY-MM-DD; default today in [station] timezone)")
    sp.add_argument("--json", action="store_true")
    sp = add("export", cmd_export, "write the public site's pages as static files (index.html, page-N.html, "
             "notices/<no>.html, officers.html, powers.html, powers/<id>.<ext>)", pp)
    sp.add_argument("--out", required=True, help="the folder to write into")
    sp.add_argument("--json", action="store_true")
