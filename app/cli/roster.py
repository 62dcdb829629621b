"""``liuhen officers`` and ``liuhen recorders``: who carries which recorder."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli._common import EXIT_OK, Add, cli_actor, emit, opened
from liuhen import config


def cmd_officers_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.attribution import add_officer
    from auth.service import get_unit

    with opened(settings) as archive, archive.sessions.begin() as db:
        unit = get_unit(db, code=args.unit)
        o = add_officer(db, archive.custody, officer_no=args.officer_no, name=args.name, unit_id=unit.id,
                        actor=cli_actor())
        out = {"officer_no": o.officer_no, "name": o.name, "unit": unit.code}
    emit(args, out, f"Officer {out['officer_no']} {out['name']} (unit {out['unit']}) added.")
    return EXIT_OK


def cmd_recorders_assign(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.attribution import assign_recorder

    with opened(settings) as archive, archive.sessions.begin() as db:
        changed = assign_recorder(db, archive.custody, device_id=args.device_id,
                                  officer_no=None if args.officer_no == "-" else args.officer_no, actor=cli_actor())
    out = {"device_id": args.device_id, "officer_no": args.officer_no, "attributed_evidence": changed}
    emit(args, out, f"Recorder {args.device_id} assigned to {args.officer_no}; {len(changed)} earlier recording(s) "
         "that named no officer now belong to this officer.")
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    op = sub.add_parser("officers", help="officers (执法人员)").add_subparsers(dest="officers_cmd", required=True)
    sp = add("add", cmd_officers_add, "add an officer: the number recorders write (警号), name, unit", op)
    sp.add_argument("officer_no")
    sp.add_argument("name")
    sp.add_argument("--unit", required=True, help="code of the officer's unit")
    sp.add_argument("--json", action="store_true")

    rp = sub.add_parser("recorders", help="recorders (执法记录仪)").add_subparsers(dest="recorders_cmd", required=True)
    sp = add("assign", cmd_recorders_assign, "assign a recorder to an officer ('-' to unassign)", rp)
    sp.add_argument("device_id")
    sp.add_argument("officer_no")
    sp.add_argument("--json", action="store_true")
