"""``liuhen retention rules | report | recompute | classify``: the rules in force, what they hold and
what falls due, recomputing every keep-until after a change of ``[retention]``, and an evidence's class."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli._common import EXIT_OK, Add, cli_actor, emit, opened, print_json
from liuhen import config


def _size(n: int) -> str:
    from app.progress import human

    return human(n)


def cmd_rules(args: argparse.Namespace, settings: config.Settings) -> int:
    from retention.report import rules

    r = rules(settings)
    if args.json:
        print_json(r)
        return EXIT_OK
    print("保存期限类别 Retention classes:")
    for c in r["classes"]:
        keep = "永久 permanent" if c["permanent"] else f"{c['days']} 天 days"
        used = f"  [{', '.join(c['used_for'])}]" if c["used_for"] else ""
        print(f"  {c['name']:<14} {c['label']:<8} {keep:<16}{used}\n      {c['source']}")
    print(f"默认 default: {r['default_class']}   重点标记 important: {r['important_class']}   "
          f"涉案 case: {r['case_class']}")
    print("案件类别 Case categories (kept while open, then from closing):")
    for c in r["case_categories"]:
        print(f"  {c['category']:<10} → {c['class']} ({c['label']})" + ("" if c["configured"] else "  (case_class)"))
    print(f"待销毁宽限期 grace: {r['grace_days']} 天 days   "
          f"二人审批 second approver: {'是 yes' if r['require_approval'] else '否 no'}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace, settings: config.Settings) -> int:
    from liuhen.db import utcnow
    from retention.report import report

    with opened(settings) as archive, archive.sessions() as db:
        r = report(db, settings.retention, now=utcnow())
    if args.json:
        print_json(r)
        return EXIT_OK
    print(f"{'类别 class':<22} {'件数 count':>10} {'容量 bytes':>12}")
    for c in r["by_class"]:
        print(f"{c['class'] + ' ' + c['label']:<22} {c['count']:>10} {_size(c['bytes']):>12}")
    print(f"{'合计 total':<22} {r['total']['count']:>10} {_size(r['total']['bytes']):>12}")
    print(f"\n{'单位 unit':<22} {'件数 count':>10} {'容量 bytes':>12}")
    for u in r["by_unit"]:
        print(f"{u['unit_code'] or '(无单位 none)':<22} {u['count']:>10} {_size(u['bytes']):>12}")
    k = r["by_keep"]
    print(f"\n保存至日期 until a date {k['until']}   案件未结 open case {k['open_case']}   保全中 held {k['held']}   "
          f"永久 permanent {k['permanent']}" + (f"   未计算 not computed {k['not_computed']}"
                                                if k.get("not_computed") else ""))
    print(f"{'':<22} {'件数 count':>10} {'容量 bytes':>12}")
    for label, part in (("已到期 overdue", r["overdue"]), ("30 天内到期 due in 30 days", r["due"]["30"]),
                        ("90 天内到期 due in 90 days", r["due"]["90"]), ("待销毁 pending", r["pending"]),
                        ("已销毁 destroyed", r["destroyed"])):
        print(f"{label:<22} {part['count']:>10} {_size(part['bytes']):>12}")
    return EXIT_OK


def cmd_recompute(args: argparse.Namespace, settings: config.Settings) -> int:
    from app.progress import counting
    from retention.recompute import recompute_all

    with opened(settings) as archive, counting("保存期限 recomputing", show=not args.json, stream=sys.stderr) as bar:
        result = recompute_all(archive.sessions, archive.custody, settings.retention, actor=cli_actor(), progress=bar)
    emit(args, result.to_dict(), f"Recomputed {result.evidence} evidence: {result.changed} keep-until(s) changed "
         f"({len(result.events)} custody event(s)), {result.computed} computed for the first time.")
    return EXIT_OK


def cmd_classify(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.service import find_evidence
    from retention.report import evidence_retention, keep_words
    from retention.service import set_class

    name = None if args.class_name == "default" else args.class_name
    with opened(settings) as archive, archive.sessions.begin() as db:
        ev = find_evidence(db, args.evidence)
        change = set_class(db, archive.custody, settings.retention, evidence_id=ev.id, class_name=name,
                           actor=cli_actor(), reason=args.reason, context={"tool": "liuhen retention classify"})
        db.flush()
        out: dict[str, Any] = {"evidence_id": ev.id, **evidence_retention(db, settings.retention, ev.id),
                               "change": None if change is None else {"old": change.old, "new": change.new}}
    emit(args, out, f"Evidence {out['evidence_id']}: class {out['class']} ({out['class_label']}), "
         f"{keep_words(out)}" + ("" if change is None else f" (was {change.old})."))
    return EXIT_OK


def register_part(rp: Any, add: Add) -> None:
    sp = add("rules", cmd_rules, "the retention rules in force: classes, case categories, grace, approval", rp)
    sp.add_argument("--json", action="store_true")
    sp = add("report", cmd_report, "bytes and counts per class and unit, pending and destroyed, what falls due "
             "in 30/90 days", rp)
    sp.add_argument("--json", action="store_true")
    sp = add("recompute", cmd_recompute, "recompute every evidence's keep-until under the rules in force (after a "
             "change of [retention]); each change a custody event", rp)
    sp.add_argument("--json", action="store_true")
    sp = add("classify", cmd_classify, "give an evidence a retention class, with a reason (--class default: "
             "back to the default class)", rp)
    sp.add_argument("evidence", help="evidence id or SHA-256")
    sp.add_argument("--class", dest="class_name", required=True, help="a class of [retention.classes], or default")
    sp.add_argument("--reason", required=True, help="why, e.g. 当事人申请行政复议")
    sp.add_argument("--json", action="store_true")
