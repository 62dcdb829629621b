"""``liuhen review``: legal review (法制审核) from the command line — the catalogue, a submission, the
queue, a round's workspace and marking a case major by hand.

The command line is the archive's operator: it sees every unit's rounds. It does not decide a round:
deciding is a legal reviewer's act, under their own account, in the console or the API (the
separation of duties and the qualification check need a reviewer's account)."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli._common import EXIT_OK, Add, cli_actor, emit, opened, print_json
from liuhen import config

TOOL = "liuhen review"


def _event(archive: Any, db: Any, action: str, **detail: Any) -> None:
    import liuhen

    archive.custody.record(db, actor=cli_actor(), action=action, tool=TOOL, tool_version=liuhen.__version__,
                           detail=detail)


def cmd_catalogue(args: argparse.Namespace, settings: config.Settings) -> int:
    from liuhen.config import OUTCOMES
    from review.catalogue import describe

    r = settings.review
    rules = describe(r)
    out = {"rules": rules, "elements": list(r.elements), "decision_kinds": list(r.decision_kinds),
           "outcomes": list(OUTCOMES), "days": dict(r.days)}
    if args.json:
        print_json(out)
        return EXIT_OK
    print("重大执法决定法制审核目录清单 / Catalogue of major decisions:")
    for i, rule in enumerate(rules, 1):
        conditions = rule["conditions"]
        assert isinstance(conditions, list)
        print(f"  {i}. {rule['label']}")
        print(f"     {'；'.join(str(c) for c in conditions) or '（无条件）'}")
    print("人工认定 / by hand: liuhen review mark CASE --major|--not-major --reason ...")
    print("审核要素 / elements: " + "、".join(r.elements))
    print("决定种类 / decision kinds: " + "、".join(r.decision_kinds))
    print("审核结论 / outcomes: " + "、".join(OUTCOMES))
    print("审核期限（工作日） / working days: " + "，".join(f"{k} {v}" for k, v in r.days.items()))
    return EXIT_OK


def cmd_submit(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.service import get_case
    from review import service
    from review.catalogue import Proposal, parse_amount, yuan

    proposal = Proposal(decision_kind=args.kind.strip(), content=args.content, legal_basis=args.basis,
                        discretion=args.discretion or "", amount_fen=parse_amount(args.amount))
    with opened(settings) as archive, archive.sessions.begin() as db:
        case = get_case(db, args.case)
        rnd = service.submit(db, archive.custody, settings, case=case, proposal=proposal, statement=args.statement,
                             actor=cli_actor())
        out = {"round_id": rnd.id, "round_no": rnd.round_no, "case_id": case.id, "case_number": case.number,
               "state": rnd.state, "decision_kind": rnd.decision_kind, "amount": yuan(rnd.amount_fen),
               "major": rnd.major, "proposal_sha256": rnd.proposal_sha256,
               "materials_sha256": rnd.materials_sha256, "due_on": rnd.due_on.isoformat()}
    emit(args, out, f"案件 {out['case_number']} 第 {out['round_no']} 轮已提请法制审核（审核记录 {out['round_id']}），"
                    f"审核期限至 {out['due_on']} / Case {out['case_number']} submitted for legal review: round "
                    f"{out['round_no']} (id {out['round_id']}), due {out['due_on']}.")
    return EXIT_OK


def cmd_queue(args: argparse.Namespace, settings: config.Settings) -> int:
    from sqlalchemy import select

    from auth.models import Unit
    from cases.models import Case
    from review import service, views
    from review.catalogue import yuan

    with opened(settings) as archive, archive.sessions.begin() as db:
        units = set(db.scalars(select(Unit.id)))
        rounds = service.queue(db, units=units, open_only=not args.all)
        cases = {c.id: c for c in db.scalars(select(Case).where(Case.id.in_({r.case_id for r in rounds})))} \
            if rounds else {}
        codes = {i: c for i, c in db.execute(select(Unit.id, Unit.code))}
        rows: list[dict[str, Any]] = [{"round_id": r.id, "round_no": r.round_no, "case_id": r.case_id, "case_number": cases[r.case_id].number,
                 "case_title": cases[r.case_id].title, "decision_kind": r.decision_kind, "amount": yuan(r.amount_fen),
                 "state": r.state, "reviewer_unit": codes.get(r.reviewer_unit_id, ""),
                 "submitted_by": r.submitted_by, "submitted_at": r.submitted_at.isoformat(),
                 "due_on": r.due_on.isoformat(),
                 "workdays_left": views.workdays_left(settings, r.due_on) if r.state != "decided" else None,
                 "reviewer": r.reviewer, "outcome": r.outcome} for r in rounds]
        _event(archive, db, "review_viewed", what="queue", all=bool(args.all), shown=[r["round_id"] for r in rows])
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        print("审核队列为空 / The review queue is empty.")
    for x in rows:
        left = x["workdays_left"]
        when = (f"剩 {left} 个工作日" if left is not None and left >= 0 else
                f"已超期 {-left} 个工作日" if left is not None else "")
        print(f"  #{x['round_id']:<5} {x['case_number']} 第{x['round_no']}轮 {x['decision_kind']} {x['amount']}"
              f"  [{x['state']}{'，' + str(x['outcome']) if x['outcome'] else ''}]  期限 due {x['due_on']} {when}"
              f"  审核单位 {x['reviewer_unit']}  {x['case_title']}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, settings: config.Settings) -> int:
    from review import service, views

    actor = cli_actor()
    with opened(settings) as archive, archive.sessions.begin() as db:
        rnd = service.get_round(db, args.round_id)
        ws = views.workspace(db, settings, rnd, visible=lambda ev: True, actor=actor).to_dict()
        _event(archive, db, "review_viewed", what="round", round_id=rnd.id, case_id=rnd.case_id)
    if args.json:
        print_json(ws)
        return EXIT_OK
    p = ws["proposal"]
    print(f"审核记录 {ws['round_id']}：案件 {ws['case_number']}（{ws['case_category']}）{ws['case_title']} 第 "
          f"{ws['round_no']} 轮 [{ws['state']}]")
    print(f"  重大执法决定 major: {'是 yes' if ws['major'] else '否 no'} {'；'.join(ws['major_reasons'])}")
    print(f"  拟作决定 proposal: {p['decision_kind']} {p['amount']}\n    {p['content']}")
    print(f"  法律依据 basis: {p['legal_basis']}")
    if p["discretion"]:
        print(f"  裁量基准 discretion: {p['discretion']}")
    print(f"  承办人说明 statement: {ws['statement']}")
    print(f"  提请 submitted: {ws['submitted_by']} {ws['submitted_at']}; 期限 due {ws['due_on']}"
          + (f"（剩 {ws['workdays_left']} 个工作日）" if ws["workdays_left"] is not None else ""))
    print(f"  材料 materials (SHA-256 {ws['materials_sha256']}): {len(ws['documents'])} 份文书, "
          f"{len(ws['recordings'])} 段录像; 全过程记录 coverage {'OK' if ws['coverage_ok'] else '需处理 FLAGGED'}")
    for d in ws["documents"]:
        print(f"    文书 #{d['record_id']} {d['kind']}「{d['title']}」v{d['version']}"
              + (f"（现为 v{d['latest_version']} now）" if d["changed"] else ""))
    for x in ws["recordings"]:
        print(f"    录像 evidence {x['evidence_id']} @ {x['step_kind']} ({x['coverage_status']})"
              + (f" {x['coverage_reason']}" if x["coverage_flagged"] else ""))
    for c in ws["changes"]:
        print(f"  ! {c}")
    print("  审核要素 elements:")
    for e in ws["elements"]:
        pre = f"  [liuhen: {e['prefill']}] {e['prefill_reason']}" if e["prefill"] or e["prefill_reason"] else ""
        print(f"    {e['element']}: {e['answer'] or '—'} {e['comment']}{pre}")
    if ws["outcome"]:
        print(f"  结论 outcome: {ws['outcome']} — {ws['opinion']} (意见书 text record {ws['opinion_record_id']})")
    if len(ws["rounds"]) > 1:
        print("  各轮 rounds: " + "；".join(f"第{r['round_no']}轮 {r['outcome'] or r['state']}" for r in ws["rounds"]))
    return EXIT_OK


def cmd_mark(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.service import get_case
    from review import service, views

    with opened(settings) as archive, archive.sessions.begin() as db:
        case = get_case(db, args.case)
        row = service.mark(db, archive.custody, settings, case=case, major=args.major, reason=args.reason,
                           actor=cli_actor())
        standing = views.case_review(db, settings, case)
        out = {"case_id": case.id, "case_number": case.number, "major": row.major, "reason": row.reason,
               "reasons": standing.reasons, "decision_allowed": standing.decision_allowed,
               "decision_note": standing.decision_note}
    emit(args, out, f"案件 {out['case_number']} 已人工认定为{'重大执法决定' if out['major'] else '非重大执法决定'} / Case "
                    f"{out['case_number']} marked {'major' if out['major'] else 'not major'}. {out['decision_note']}")
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    rp = sub.add_parser("review", help="legal review (法制审核): the catalogue, submissions, the queue, a round's "
                                       "workspace, marks").add_subparsers(dest="review_cmd", required=True)
    sp = add("catalogue", cmd_catalogue, "print the catalogue of major decisions (目录清单), the elements, decision "
             "kinds, outcomes and working days", rp)
    sp.add_argument("--json", action="store_true")
    sp = add("submit", cmd_submit, "submit a case's proposed decision for legal review (提请法制审核): a new round "
             "with its materials pinned by hash", rp)
    sp.add_argument("case", help="registration number or id")
    sp.add_argument("--kind", required=True, help="decision kind, e.g. 罚款 ([review] decision_kinds)")
    sp.add_argument("--content", required=True, help="the proposed decision (拟作决定内容)")
    sp.add_argument("--basis", required=True, help="the legal basis (法律依据)")
    sp.add_argument("--discretion", help="the discretion standard applied (裁量基准)")
    sp.add_argument("--amount", help="amount in yuan, e.g. 12000 or 1.2万")
    sp.add_argument("--statement", required=True, help="the handler's statement (承办人说明)")
    sp.add_argument("--json", action="store_true")
    sp = add("queue", cmd_queue, "the review queue of every unit, soonest deadline first", rp)
    sp.add_argument("--all", action="store_true", help="decided rounds too")
    sp.add_argument("--json", action="store_true")
    sp = add("show", cmd_show, "a round's workspace: proposal, pinned materials, checklist, changes since", rp)
    sp.add_argument("round_id", type=int, metavar="ROUND", help="the round's id (liuhen review queue lists them)")
    sp.add_argument("--json", action="store_true")
    sp = add("mark", cmd_mark, "mark a case major (or not major) by hand, with a reason", rp)
    sp.add_argument("case", help="registration number or id")
    group = sp.add_mutually_exclusive_group(required=True)
    group.add_argument("--major", dest="major", action="store_true", help="a major decision: needs legal review")
    group.add_argument("--not-major", dest="major", action="store_false", help="not a major decision")
    sp.add_argument("--reason", required=True)
    sp.add_argument("--json", action="store_true")
