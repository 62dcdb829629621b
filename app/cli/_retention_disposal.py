"""``liuhen retention run | pending | restore | approve | log``: the disposal run, its queue and its log."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from app.cli._common import EXIT_FAILED, EXIT_OK, Add, cli_actor, emit, opened, print_json
from liuhen import config


def embedded_retention(settings: config.Settings, archive: Any, stop: threading.Event) -> None:
    """``[retention] embedded``: this process runs the disposal every ``interval_hours`` as
    ``system:retention`` (a failure is logged and recorded, never raised)."""
    if archive is None or not settings.retention.embedded:
        return
    from retention.disposal import scheduler

    scheduler(archive, stop=stop)


def cmd_run(args: argparse.Namespace, settings: config.Settings) -> int:
    from retention import disposal

    with opened(settings) as archive:
        out = disposal.run(archive, actor=cli_actor(), dry_run=args.dry_run)
    if args.json:
        print_json(out)
    elif args.dry_run:
        print(f"试运行 Dry run (nothing written): {out['would_schedule']} evidence would be scheduled for disposal "
              f"({out['would_schedule_bytes'] / 1e6:.1f} MB), {out['due_for_destruction']} pending disposal(s) are due "
              f"and approved, {out['waiting_approval']} wait for approval, {out['waiting_grace']} are in their grace "
              f"period; {out['missing_retention']} evidence have no computed retention yet.")
        for s in out["by_class_and_unit"]:
            print(f"  {s['class']} ({s['label']}) unit {s['unit_id']}: {s['count']} evidence, {s['bytes']} bytes")
    else:
        print(f"安排销毁 {out['scheduled']} 件，销毁 {out['destroyed']} 件，自动恢复 {out['restored_automatically']} 件，"
              f"待批准 {out['waiting_approval']} 件，失败 {out['failed']} 件 / Scheduled {out['scheduled']}, destroyed "
              f"{out['destroyed']} ({out['bytes_destroyed']} bytes), restored automatically "
              f"{out['restored_automatically']}, waiting for approval {out['waiting_approval']}, failed {out['failed']}.")
        for r in out["restored"]:
            print(f"RESTORED disposal {r['disposal_id']} (evidence {r['evidence_id']}): {r['reason']}")
        for f in out["failures"]:
            print(f"FAILED {f.get('step')}: {f['reason']}")
    if not args.dry_run and out["failed"]:
        print(f"{out['failed']} item(s) or step(s) failed (see above); what was not destroyed is kept, and the next "
              "`liuhen retention run` retries it.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_pending(args: argparse.Namespace, settings: config.Settings) -> int:
    from retention import disposal

    with opened(settings) as archive, archive.sessions() as db:
        rows = disposal.pending(db, units=None, limit=args.limit, offset=args.offset, settings=settings.retention)
    if args.json:
        print_json(rows)
    else:
        print(f"{len(rows)} pending disposal(s) 待销毁:")
        for r in rows:
            print(f"  #{r['disposal_id']} evidence {r['evidence_id']} {r['file_name']} ({r['size']} bytes) due "
                  f"{r['due_at']}, scheduled by {r['scheduled_by']}, approved by "
                  f"{', '.join(r['approvers']) or 'nobody'}{'' if r['approved'] else ' — needs approval'}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace, settings: config.Settings) -> int:
    from retention import disposal

    with opened(settings) as archive, archive.sessions.begin() as db:
        d = disposal.restore(db, archive.custody, settings.retention, disposal_id=args.id, reason=args.reason,
                             actor=cli_actor(), visible_units=None, class_name=args.class_name)
        out: dict[str, Any] = {"disposal_id": d.id, "evidence_id": d.evidence_id, "state": d.state,
                               "reason": d.restore_reason, "class": args.class_name}
    emit(args, out, f"已恢复 Restored disposal {out['disposal_id']} (evidence {out['evidence_id']}): it is kept.")
    return EXIT_OK


def cmd_approve(args: argparse.Namespace, settings: config.Settings) -> int:
    from retention import disposal

    with opened(settings) as archive, archive.sessions.begin() as db:
        a = disposal.approve(db, archive.custody, settings.retention, disposal_id=args.id, actor=cli_actor(),
                             visible_units=None)
        out = {"disposal_id": a.disposal_id, "approved_by": a.actor, "at": a.at.isoformat()}
    emit(args, out, f"已批准 Approved disposal {out['disposal_id']} as {out['approved_by']}.")
    return EXIT_OK


def cmd_log(args: argparse.Namespace, settings: config.Settings) -> int:
    from retention import disposal

    with opened(settings) as archive, archive.sessions() as db:
        rows = disposal.destruction_log(db, units=None, limit=args.limit, offset=args.offset)
    if args.json:
        print_json(rows)
    else:
        print(f"{len(rows)} destruction(s) 销毁记录:")
        for r in rows:
            print(f"  #{r['disposal_id']} evidence {r['evidence_id']} {r['file_name']} sha256 {r['sha256']} "
                  f"{r['state']} at {r['destroyed_at'] or r['destroy_started_at']}; scheduled by {r['scheduled_by']}, "
                  f"approved by {', '.join(r['approvers']) or 'nobody'}; keys {json.dumps(r['destroyed_keys'])}")
    return EXIT_OK


def register_part(rp: Any, add: Add) -> None:
    r = add("run", cmd_run, "schedule what is due for disposal, destroy what is due and approved (exit 3 when "
            "something failed or a store was unreachable)", parent=rp)
    r.add_argument("--dry-run", action="store_true", help="say what would be scheduled and destroyed; write nothing")
    r.add_argument("--json", action="store_true")
    for name, fn, text in (("pending", cmd_pending, "the pending-disposal queue (待销毁)"),
                           ("log", cmd_log, "the destruction log (销毁记录)")):
        p = add(name, fn, text, parent=rp)
        p.add_argument("--limit", type=int, default=1000)
        p.add_argument("--offset", type=int, default=0)
        p.add_argument("--json", action="store_true")
    s = add("restore", cmd_restore, "keep a pending evidence, with a reason", parent=rp)
    s.add_argument("id", type=int, help="the disposal id (from `liuhen retention pending`)")
    s.add_argument("--reason", required=True)
    s.add_argument("--class", dest="class_name", default=None, help="give it this retention class too")
    s.add_argument("--json", action="store_true")
    a = add("approve", cmd_approve, "approve a pending disposal (never the one who scheduled it)", parent=rp)
    a.add_argument("id", type=int)
    a.add_argument("--json", action="store_true")
