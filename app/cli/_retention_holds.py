"""``liuhen retention hold``: legal holds (保全/冻结) — place, release, list, show.

Run by the archive's operator: every unit's evidence, cases and holds are in reach. After a place
or release commits, the store's Object Lock is mirrored (``retention.holds.sync_locks``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.cli._common import EXIT_OK, Add, cli_actor, emit, opened, print_json
from liuhen import config
from liuhen.errors import LiuhenError
from liuhen.words import said


def _when(text: str, settings: config.Settings) -> str:
    import datetime as dt
    from zoneinfo import ZoneInfo

    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise LiuhenError(said(f"{text!r} 不是时间", f"{text!r} is not a time."),
                          said("请写成 2026-11-23T09:30:00（本地时间）或带时区，例如 2026-11-23T09:30:00+08:00。", "Write it as 2026-11-23T09:30:00 (local) or with an offset, e.g. "
                               "2026-11-23T09:30:00+08:00.")) from e
    return (t if t.tzinfo else t.replace(tzinfo=ZoneInfo(settings.station.timezone))).isoformat()


def _scope(args: argparse.Namespace, settings: config.Settings) -> tuple[str, dict[str, Any]]:
    given = [k for k in ("evidence", "case", "officer", "search") if getattr(args, k)]
    if len(given) != 1:
        raise LiuhenError(said("请只给出一种保全范围", "Give exactly one scope: --evidence, --case, --officer or --search."),
                          said("例如 liuhen retention hold place --case 110101-2026-000012 --reason 行政复议。", "e.g. `liuhen retention hold place --case 110101-2026-000012 --reason 行政复议`."))
    kind = given[0]
    if kind == "evidence":
        return "evidence", {"evidence": list(args.evidence)}
    if kind == "case":
        return "case", {"number": args.case.strip()}  # a registration number, else an id
    if kind == "officer":
        if not args.start or not args.end:
            raise LiuhenError(said("警号保全须给出时间范围", "An officer hold needs --from and --to."),
                              said("例如 --officer 000123 --from 2026-11-01T00:00 --to 2026-11-30T23:59", "e.g. --officer 000123 --from 2026-11-01T00:00 --to 2026-11-30T23:59"))
        return "officer", {"officer": args.officer, "from": _when(args.start, settings),
                           "to": _when(args.end, settings)}
    try:
        query = json.loads(args.search)
    except ValueError as e:
        raise LiuhenError(said(f"--search 不是 JSON：{e}", f"--search is not JSON: {e}."),
                          said('例如 --search \'{"officer": "000123", "start": "2026-11-01T00:00:00+08:00"}\'',
                               'e.g. --search \'{"officer": "000123", "start": "2026-11-01T00:00:00+08:00"}\'')) from e
    return "search", {"query": query}


def cmd_place(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import get_unit
    from retention import holds

    kind, scope = _scope(args, settings)
    with opened(settings) as archive:
        with archive.sessions.begin() as db:
            unit_id = get_unit(db, code=args.unit).id if args.unit else None
            h = holds.place(db, archive.custody, scope_kind=kind, scope=scope, reason=args.reason or "",
                            actor=cli_actor(), unit_id=unit_id, visible_units=None)
            out = {**holds.hold_dict(h, items=holds.outcome(h).held), **holds.outcome(h).to_dict()}
        out["locks"] = holds.sync_locks(archive)
    text = f"保全 {out['hold_id']} 已设置 / Legal hold {out['hold_id']} placed: {out['held']} evidence held."
    if out["destroyed_not_held"]:
        text += (f"\n  已销毁、未纳入 / already destroyed, not held: "
                 f"{', '.join(str(i) for i in out['destroyed_not_held'])}")
    if out["pending_disposal"]:
        text += (f"\n  其中 {out['pending_disposal']} 项待销毁，保全期间不会销毁 / {out['pending_disposal']} of them "
                 "were pending disposal: they stay pending and cannot be destroyed while held.")
    emit(args, out, text + _locks_text(out["locks"]))
    return EXIT_OK


def _locks_text(locks: dict[str, Any]) -> str:
    if not locks.get("supported"):
        return ""
    text = f"\n  Object Lock: {locks['hold_on']} on, {locks['hold_off']} off, {locks['extended']} extended"
    if locks["failed"]:
        text += f"; {len(locks['failed'])} failed (the daily run tries again): {locks['failed'][0]['reason']}"
    return text


def cmd_release(args: argparse.Namespace, settings: config.Settings) -> int:
    from retention import holds

    with opened(settings) as archive:
        with archive.sessions.begin() as db:
            h = holds.release(db, archive.custody, hold_id=args.hold_id, reason=args.reason or "", actor=cli_actor(),
                              visible_units=None)
            out = holds.hold_dict(h, items=holds.count_items(db, [h.id]).get(h.id, 0))
        out["locks"] = holds.sync_locks(archive)
    emit(args, out, f"保全 {out['hold_id']} 已解除 / Legal hold {out['hold_id']} released ({out['items']} evidence)."
         + _locks_text(out["locks"]))
    return EXIT_OK


def cmd_list(args: argparse.Namespace, settings: config.Settings) -> int:
    from retention import holds

    with opened(settings) as archive, archive.sessions() as db:
        rows = holds.holds_of(db, units=None, active=True if args.active else None, limit=args.limit,
                              offset=args.offset)
        counts = holds.count_items(db, [h.id for h in rows])
        out = [holds.hold_dict(h, items=counts.get(h.id, 0)) for h in rows]
    if args.json:
        print_json({"holds": out})
        return EXIT_OK
    if not out:
        print("没有保全 / No legal holds.")
    for h in out:
        state = "生效 active" if h["active"] else f"已解除 released {h['released_at']} by {h['released_by']}"
        print(f"#{h['hold_id']}  {h['scope_kind']:8} {json.dumps(h['scope'], ensure_ascii=False)}  "
              f"{h['items']} evidence  {state}\n      {h['placed_at']} {h['placed_by']}: {h['reason']}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, settings: config.Settings) -> int:
    from sqlalchemy import select

    from archive.models import Evidence
    from retention import holds

    with opened(settings) as archive, archive.sessions() as db:
        h = holds.get_hold(db, args.hold_id, units=None)
        items = holds.items_of(db, h.id, limit=args.limit, offset=args.offset)
        ids = [i.evidence_id for i in items]
        names: dict[int, str] = {}
        if ids:
            for eid, name in db.execute(select(Evidence.id, Evidence.file_name).where(Evidence.id.in_(ids))):
                names[eid] = name
        out = holds.hold_dict(h, items=holds.count_items(db, [h.id]).get(h.id, 0))
        out["evidence"] = [{"evidence_id": i.evidence_id, "added_at": i.added_at.isoformat(),
                            "file_name": names.get(i.evidence_id)} for i in items]
    if args.json:
        print_json(out)
        return EXIT_OK
    state = "生效 active" if out["active"] else (f"已解除 released {out['released_at']} by {out['released_by']}: "
                                                f"{out['release_reason']}")
    print(f"保全 Legal hold #{out['hold_id']} ({out['scope_kind']}) {state}\n"
          f"  scope: {json.dumps(out['scope'], ensure_ascii=False)}\n"
          f"  placed {out['placed_at']} by {out['placed_by']}: {out['reason']}\n"
          f"  {out['items']} evidence:")
    for i in out["evidence"]:
        print(f"    {i['evidence_id']}  {i['file_name']}  (since {i['added_at']})")
    return EXIT_OK


def register_part(rp: Any, add: Add) -> None:
    hp = rp.add_parser("hold", help="legal holds (保全/冻结): place, release, list, show").add_subparsers(
        dest="hold_cmd", required=True)
    sp = add("place", cmd_place, "place a legal hold with a reason: evidence ids, a case, an officer and time "
             "range, or a saved search", hp)
    sp.add_argument("--evidence", nargs="+", type=int, metavar="ID", help="evidence ids")
    sp.add_argument("--case", metavar="REF", help="a case's registration number or id (also takes what is linked "
                    "to it later)")
    sp.add_argument("--officer", metavar="NO", help="an officer's number, with --from and --to (also takes "
                    "footage of that range received later)")
    sp.add_argument("--from", dest="start", metavar="T", help="2026-11-01T00:00 (local) or with an offset")
    sp.add_argument("--to", dest="end", metavar="T")
    sp.add_argument("--search", metavar="JSON", help='a saved search: {"q", "officer", "device", "station", '
                    '"important", "playback", "media_kind", "start", "end"}; holds what matches now')
    sp.add_argument("--unit", metavar="CODE", help="whose hold it is (default: the case's unit, or the one unit "
                    "of what it holds)")
    sp.add_argument("--reason", required=True, help="why (e.g. the review or court order)")
    sp.add_argument("--json", action="store_true")
    sp = add("release", cmd_release, "release a legal hold, with a reason", hp)
    sp.add_argument("hold_id", type=int)
    sp.add_argument("--reason", required=True)
    sp.add_argument("--json", action="store_true")
    sp = add("list", cmd_list, "list legal holds, newest first", hp)
    sp.add_argument("--active", action="store_true", help="only holds not released")
    sp.add_argument("--limit", type=int, default=100)
    sp.add_argument("--offset", type=int, default=0)
    sp.add_argument("--json", action="store_true")
    sp = add("show", cmd_show, "show a legal hold and the evidence it holds", hp)
    sp.add_argument("hold_id", type=int)
    sp.add_argument("--limit", type=int, default=1000, help="evidence shown")
    sp.add_argument("--offset", type=int, default=0)
    sp.add_argument("--json", action="store_true")
