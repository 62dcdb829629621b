"""``liuhen cases`` and ``liuhen records``: cases (案件), their steps and links, the full-process
coverage check, and the signed text records (执法文书)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.cli._common import EXIT_FAILED, EXIT_OK, Add, cli_actor, emit, opened, print_json
from liuhen import config
from liuhen.errors import LiuhenError
from liuhen.words import said


def _when(text: str, settings: config.Settings) -> Any:
    """A time from the command line: with its offset as given, else in the station's time zone."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise LiuhenError(said(f"{text!r} 不是时间", f"{text!r} is not a time."), said("请写成 2026-11-23T09:30:00（本地时间）或带时区，例如 2026-11-23T09:30:00+08:00。", "Write it as 2026-11-23T09:30:00 (local) or with an offset, "
                               "e.g. 2026-11-23T09:30:00+08:00.")) from e
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(settings.station.timezone))


def cmd_cases_create(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import get_unit
    from cases.service import PartyIn, create_case

    with opened(settings) as archive, archive.sessions.begin() as db:
        unit = get_unit(db, code=args.unit)
        case = create_case(db, archive.custody, settings.cases, unit_id=unit.id, unit_code=unit.code,
                           category=args.category, title=args.title, actor=cli_actor(), source=args.source,
                           parties=[PartyIn(name=n) for n in args.party or []], tz=settings.station.timezone,
                           data_key=archive.data_key)
        out = {"case_id": case.id, "number": case.number, "category": case.category, "title": case.title}
    emit(args, out, f"Case {out['number']} opened ({out['category']}: {out['title']}).")
    return EXIT_OK


def cmd_cases_step(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.service import add_step, get_case

    with opened(settings) as archive, _gate_refusals(archive, args.case, "step", args.kind), \
            archive.sessions.begin() as db:
        case = get_case(db, args.case)
        step = add_step(db, archive.custody, settings.cases, case=case, kind=args.kind,
                        started_at=_when(args.start, settings), ended_at=_when(args.end, settings),
                        actor=cli_actor(), place=args.place, officers=args.officer or [])
        out = {"step_id": step.id, "case": case.number, "kind": step.kind,
               "requirement": settings.cases.requirement(step.kind)}
    emit(args, out, f"Step {out['step_id']} ({out['kind']}, {out['requirement']}) added to case {out['case']}.")
    return EXIT_OK


def cmd_cases_link(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.service import find_evidence
    from cases.service import get_step, link

    with opened(settings) as archive, archive.sessions.begin() as db:
        ev = find_evidence(db, args.evidence)
        lk = link(db, archive.custody, step=get_step(db, args.step_id), evidence=ev, actor=cli_actor(),
                  start_s=args.start_s, end_s=args.end_s)
        out = {"link_id": lk.id, "step_id": lk.step_id, "evidence_id": ev.id}
    emit(args, out, f"Evidence {out['evidence_id']} linked to step {out['step_id']} (link {out['link_id']}).")
    return EXIT_OK


def cmd_cases_unlink(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.service import unlink

    with opened(settings) as archive, archive.sessions.begin() as db:
        lk = unlink(db, archive.custody, link_id=args.link_id, actor=cli_actor())
        out = {"link_id": lk.id, "evidence_id": lk.evidence_id, "step_id": lk.step_id}
    emit(args, out, f"Link {out['link_id']} ended (evidence {out['evidence_id']}).")
    return EXIT_OK


def cmd_cases_check(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.coverage import record_check
    from cases.service import get_case
    from review.service import unreviewed_decisions

    with opened(settings) as archive, archive.sessions.begin() as db:
        case = get_case(db, args.case)
        report = record_check(db, archive.custody, settings.cases, case=case, actor=cli_actor(),
                              tz=settings.station.timezone)
        # a major case with a decision recorded and no passing legal review (e.g. written below liuhen)
        unreviewed = [x for x in unreviewed_decisions(db, settings, units={case.unit_id}) if x["case_id"] == case.id]
    if args.json:
        print_json({**report.to_dict(), "unreviewed_decisions": unreviewed})
    else:
        print(f"Case {report.number}: {len(report.steps)} step(s).")
        for s in report.steps:
            mark = "需处理 FLAGGED" if s.flagged else "OK"
            print(f"  [{mark}] #{s.step_id} {s.kind} ({s.requirement}, {s.status}, {s.covered_s:.0f}/{s.total_s:.0f} s)"
                  f"\n      {s.reason}")
        print("全过程记录完整 Coverage complete." if report.ok else
              f"{len(report.flagged)} 个环节需处理 step(s) flagged.")
        for x in unreviewed:
            print(f"  [需处理 FLAGGED] 法制审核 legal review: {x['problem']} / a decision is recorded without a "
                  "passing legal review.")
    return EXIT_OK if report.ok and not unreviewed else EXIT_FAILED


def cmd_cases_close(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.service import close_case, get_case

    with opened(settings) as archive, archive.sessions.begin() as db:
        case = close_case(db, archive.custody, case=get_case(db, args.case), actor=cli_actor())
        out = {"case_id": case.id, "number": case.number, "status": case.status}
    emit(args, out, f"Case {out['number']} closed.")
    return EXIT_OK


def cmd_cases_reopen(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.service import get_case, reopen_case

    with opened(settings) as archive, archive.sessions.begin() as db:
        case = reopen_case(db, archive.custody, case=get_case(db, args.case), actor=cli_actor(), reason=args.reason)
        out = {"case_id": case.id, "number": case.number, "status": case.status}
    emit(args, out, f"Case {out['number']} reopened; what is linked to it is kept while it is open.")
    return EXIT_OK


@contextlib.contextmanager
def _gate_refusals(archive: Any, case: str | int, what: str, kind: str) -> Iterator[None]:
    """A decision legal review's gate refuses (``review_required``) is a custody event of its own."""
    from review.errors import ReviewRequired
    from review.service import record_refusal

    try:
        yield
    except ReviewRequired as e:
        with archive.sessions() as db:
            from cases.service import get_case

            case_id = get_case(db, case).id
        record_refusal(archive, case_id=case_id, what=what, kind=kind, actor=cli_actor(), reason=e.detail,
                       context={"via": "cli"})
        raise


def cmd_records_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.gate import Decision
    from cases.records import add_version
    from cases.service import get_case

    path = Path(args.file)
    if not path.is_file():
        raise LiuhenError(said(f"文书 {path} 不存在", f"The document {path} does not exist."), said("请给出要添加的 PDF、DOCX 或图片的路径。", "Give the path of the PDF, DOCX or image to add."))
    with opened(settings) as archive:
        with archive.sessions() as db:
            case_id = get_case(db, args.case).id
        decision = (Decision(kind=args.decision_kind, content=args.decision, amount=args.decision_amount)
                    if args.decision else None)
        with _gate_refusals(archive, case_id, "record", args.kind):
            added = add_version(archive, case_id=case_id, actor=cli_actor(), kind=args.kind,
                                title=args.title or path.name, path=path, file_name=path.name, step_id=args.step,
                                record_id=args.record, decision=decision)
    out = {"record_id": added.record_id, "version": added.version, "sha256": added.sha256, "size": added.size}
    emit(args, out, f"Text record {added.record_id} version {added.version} stored and signed "
                    f"(SHA-256 {added.sha256}).")
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    cp = sub.add_parser("cases", help="cases (案件), steps and the coverage check").add_subparsers(
        dest="cases_cmd", required=True)
    sp = add("create", cmd_cases_create, "open a case; it gets the next unified registration number", cp)
    sp.add_argument("--unit", required=True, help="code of the handling unit")
    sp.add_argument("--category", required=True, help="e.g. 行政处罚, 行政强制 ([cases] categories)")
    sp.add_argument("--title", required=True)
    sp.add_argument("--source", help="巡查, 举报, 交办, 移送 ...")
    sp.add_argument("--party", action="append", help="a party's name (当事人); repeat for more")
    sp.add_argument("--json", action="store_true")
    sp = add("step", cmd_cases_step, "add an enforcement step (立案 … 执行) to a case", cp)
    sp.add_argument("case", help="registration number or id")
    sp.add_argument("--kind", required=True, help="e.g. 查封扣押 ([cases] steps)")
    sp.add_argument("--start", required=True, help="2026-11-23T09:30:00 (local) or with an offset")
    sp.add_argument("--end", required=True)
    sp.add_argument("--officer", action="append", help="officer number; repeat for more")
    sp.add_argument("--place")
    sp.add_argument("--json", action="store_true")
    sp = add("link", cmd_cases_link, "link a recording (or a part of it) to a step", cp)
    sp.add_argument("step_id", type=int)
    sp.add_argument("evidence", help="evidence id or SHA-256")
    sp.add_argument("--from", dest="start_s", type=float, help="seconds into the recording where the part starts")
    sp.add_argument("--to", dest="end_s", type=float, help="seconds into the recording where the part ends")
    sp.add_argument("--json", action="store_true")
    sp = add("unlink", cmd_cases_unlink, "end a link (the link and its end stay in the record)", cp)
    sp.add_argument("link_id", type=int)
    sp.add_argument("--json", action="store_true")
    sp = add("check", cmd_cases_check, "check each step's audio/video coverage against the checklist, and that a "
             "major case's decision passed legal review; exit 3 when a step is flagged or a decision unreviewed", cp)
    sp.add_argument("case")
    sp.add_argument("--json", action="store_true")
    sp = add("close", cmd_cases_close, "close a case (结案)", cp)
    sp.add_argument("case")
    sp.add_argument("--json", action="store_true")
    sp = add("reopen", cmd_cases_reopen, "reopen a closed case, with a reason (e.g. after 行政复议)", cp)
    sp.add_argument("case")
    sp.add_argument("--reason", required=True, help="why, e.g. 复议决定撤销重作")
    sp.add_argument("--json", action="store_true")

    rp = sub.add_parser("records", help="text records (执法文书)").add_subparsers(dest="records_cmd", required=True)
    sp = add("add", cmd_records_add, "store a document (PDF, DOCX, JPEG, PNG) as a signed text record or a new "
             "version of one", rp)
    sp.add_argument("case")
    sp.add_argument("--kind", required=True, help="e.g. 现场检查笔录, 查封扣押决定书, 送达回证")
    sp.add_argument("--file", required=True)
    sp.add_argument("--step", type=int, help="the step it belongs to")
    sp.add_argument("--record", type=int, help="add a new version of this record")
    sp.add_argument("--title")
    sp.add_argument("--decision", help="for a decision document (决定书) of a major case: what it decides (决定内容), "
                                       "compared with the reviewed decision")
    sp.add_argument("--decision-kind", help="the decision's kind (default: the reviewed one)")
    sp.add_argument("--decision-amount", help="the decision's amount in yuan (default: the reviewed one)")
    sp.add_argument("--json", action="store_true")
