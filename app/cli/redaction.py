"""``liuhen redact``: privacy redaction from the command line — a recording's plans, one plan,
detection and render jobs (run by the workers), a four-eyes approval, and the release bag.

The command line acts as the operating-system account running it (``cli:<account>``): it may
approve a version only if that account made no change to it since the last approval (four eyes,
``redaction.service.approve``), and it releases only renders of an approved, latest version (exit
code 1 with the refusal's sentence otherwise). Plans are edited in the console or the API."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from app.cli._common import EXIT_OK, Add, cli_actor, emit, opened, print_json
from liuhen import config


def cmd_list(args: argparse.Namespace, settings: config.Settings) -> int:
    from redaction import service

    with opened(settings) as archive, archive.sessions.begin() as db:
        plans = [service.plan_summary(db, row) for row in service.plans_of(db, args.evidence_id)]
    if args.json:
        print_json(plans)
        return EXIT_OK
    if not plans:
        print(f"证据 {args.evidence_id} 没有遮蔽方案 / no redaction plan of evidence {args.evidence_id}")
    for p in plans:
        print(f"plan {p['plan_id']}  v{p['version']}  {'approved' if p['approved'] else 'not approved'}  "
              f"tracks {len(p['plan']['tracks'])} (undecided {p['undecided']})  ranges {len(p['plan']['ranges'])}  "
              f"renders {len(p['renders'])}  {p['title']}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, settings: config.Settings) -> int:
    from redaction import service

    with opened(settings) as archive, archive.sessions.begin() as db:
        p = service.plan_summary(db, service.get_plan(db, args.plan_id))
    if args.json:
        print_json(p)
        return EXIT_OK
    print(f"遮蔽方案 / plan {p['plan_id']} of evidence {p['evidence_id']} (original {p['original_sha256']})")
    for v in p["versions"]:
        ok = f"  approved by {v['approved_by']}" if v["approved_by"] else ""
        print(f"  v{v['version']}  {v['made_at']}  {v['made_by']}  {v['why']}{ok}")
    for t in p["plan"]["tracks"]:
        print(f"  track {t['id']}  {t['kind']}  {t['state']}  {t['keys'][0]['t']}–{t['keys'][-1]['t']} s")
    for g in p["plan"]["ranges"]:
        print(f"  range {g['id']}  {g['kind']} {g['effect']}  {g['start']}–{g['end']} s")
    for r in p["renders"]:
        print(f"  render {r['render_id']}  v{r['version']}  {r['state']}  {r['sha256'] or ''}"
              f"{'  releasable' if r['releasable'] else ''}")
    return EXIT_OK


def cmd_detect(args: argparse.Namespace, settings: config.Settings) -> int:
    from redaction import service

    with opened(settings) as archive, archive.sessions.begin() as db:
        d = service.ask_detect(archive, db, plan_id=args.plan_id, actor=cli_actor())
        out = {"detection_id": d.id, "plan_id": d.plan_id, "job_id": d.job_id, "state": d.state}
    emit(args, out, f"已请求自动检测（任务 {out['job_id']}），由处理进程执行 / detection asked for (job {out['job_id']}); "
                    "`liuhen worker` runs it")
    return EXIT_OK


def cmd_render(args: argparse.Namespace, settings: config.Settings) -> int:
    from redaction import service

    with opened(settings) as archive, archive.sessions.begin() as db:
        r = service.ask_render(archive, db, plan_id=args.plan_id, actor=cli_actor(), version=args.version)
        out = service.render_summary(db, r)
    emit(args, out, f"已请求生成遮蔽副本 {out['render_id']}（第 {out['version']} 版） / render {out['render_id']} of "
                    f"version {out['version']} asked for; `liuhen worker` runs it")
    return EXIT_OK


def cmd_approve(args: argparse.Namespace, settings: config.Settings) -> int:
    from redaction import service

    with opened(settings) as archive, archive.sessions.begin() as db:
        a = service.approve(archive, db, plan_id=args.plan_id, version=args.version, actor=cli_actor(),
                            why=args.why or "")
        out = {"plan_id": a.plan_id, "version": a.version, "plan_sha256": a.sha256, "approved_by": a.approved_by,
               "approved_at": a.approved_at.isoformat()}
    emit(args, out, f"方案 {out['plan_id']} 第 {out['version']} 版已批准 / plan {out['plan_id']} version "
                    f"{out['version']} approved by {out['approved_by']}")
    return EXIT_OK


def cmd_release(args: argparse.Namespace, settings: config.Settings) -> int:
    import tempfile

    from redaction import service

    out_path = Path(args.out)
    tmp = Path(tempfile.mkdtemp(prefix="liuhen-release-"))
    try:
        with opened(settings) as archive, archive.sessions.begin() as db:
            bag, rel = service.release_bag(archive, db, render_ids=args.render_ids, actor=cli_actor(), workdir=tmp)
        target = out_path / bag.name if out_path.is_dir() else out_path
        shutil.move(str(bag.path), target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out: dict[str, Any] = {"release_id": rel.id, "file": str(target), "sha256": bag.sha256, "size": bag.size,
                           "render_ids": list(dict.fromkeys(args.render_ids))}
    emit(args, out, f"发布包已写入 {target}（SHA-256 {bag.sha256}） / release bag written to {target}")
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    rp = sub.add_parser("redact", help="privacy redaction (隐私遮蔽): plans, detection, renders, approval, release"
                        ).add_subparsers(dest="redact_cmd", required=True)
    sp = add("list", cmd_list, "the redaction plans of a recording", rp)
    sp.add_argument("evidence_id", type=int, metavar="EVIDENCE")
    sp.add_argument("--json", action="store_true")
    sp = add("show", cmd_show, "one plan: versions, approvals, tracks, ranges, renders", rp)
    sp.add_argument("plan_id", type=int, metavar="PLAN")
    sp.add_argument("--json", action="store_true")
    sp = add("detect", cmd_detect, "detect faces (and plates) as a job: a new version with proposed tracks", rp)
    sp.add_argument("plan_id", type=int, metavar="PLAN")
    sp.add_argument("--json", action="store_true")
    sp = add("render", cmd_render, "render a version (the latest by default) as a job", rp)
    sp.add_argument("plan_id", type=int, metavar="PLAN")
    sp.add_argument("--version", type=int)
    sp.add_argument("--json", action="store_true")
    sp = add("approve", cmd_approve, "approve a version (four eyes: never by who changed it)", rp)
    sp.add_argument("plan_id", type=int, metavar="PLAN")
    sp.add_argument("--version", type=int, required=True)
    sp.add_argument("--why")
    sp.add_argument("--json", action="store_true")
    sp = add("release", cmd_release, "write a release bag (BagIt zip) of approved redacted copies", rp)
    sp.add_argument("render_ids", type=int, nargs="+", metavar="RENDER")
    sp.add_argument("--out", required=True, help="the zip to write, or a folder to write it into")
    sp.add_argument("--json", action="store_true")
