"""``liuhen officers`` and ``liuhen recorders``: who carries which recorder, and officers'
enforcement certificates (行政执法证件)."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING, Any

from app.cli._common import EXIT_OK, Add, cli_actor, emit, opened
from liuhen import config
from liuhen.errors import LiuhenError
from liuhen.words import said

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from archive.context import Archive
    from roster.models import Certificate


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-01-01") from None


def _today(settings: config.Settings) -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(settings.station.timezone)).date()


def certificate_out(c: Certificate, today: dt.date) -> dict[str, Any]:
    from roster.service import certificate_state

    return {"number": c.number, "category": c.category, "area": c.area, "valid_from": c.valid_from.isoformat(),
            "valid_until": c.valid_until.isoformat(),
            "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None, "state": certificate_state(c, today)}


_STATE_WORDS = {"valid": "有效 valid", "expired": "已过期 expired", "not_yet_valid": "未生效 not yet valid",
                "revoked": "已注销 revoked"}


def _cert_args(args: argparse.Namespace) -> bool:
    """Whether any certificate option but the number was given."""
    return any(getattr(args, k) is not None for k in ("cert_category", "cert_area", "valid_from", "valid_until"))


def _add_certificate(db: Session, archive: Archive, args: argparse.Namespace, officer_no: str) -> Certificate:
    from roster.service import add_certificate

    if args.valid_from is None or args.valid_until is None:
        raise LiuhenError(said(f"执法证 {args.certificate} 缺少有效期", f"Certificate {args.certificate} needs its validity."),
                          said("请按证件所印给出 --valid-from YYYY-MM-DD 和 --valid-until YYYY-MM-DD。", "Give --valid-from YYYY-MM-DD and --valid-until YYYY-MM-DD as printed on the certificate."))
    return add_certificate(db, archive.custody, officer_no=officer_no, number=args.certificate,
                           category=args.cert_category or "", area=args.cert_area or "",
                           valid_from=args.valid_from, valid_until=args.valid_until, actor=cli_actor())


def cmd_officers_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.attribution import add_officer
    from auth.service import get_unit

    if args.certificate is None and _cert_args(args):
        raise LiuhenError(said("给出了执法证选项，却没有 --certificate 证号", "Certificate options were given without --certificate NUMBER."),
                          said("请加上 --certificate 证号（执法证号），或去掉 --cert-category、--cert-area 和日期。", "Add --certificate NUMBER (执法证号), or leave out --cert-category, --cert-area and the dates."))
    with opened(settings) as archive, archive.sessions.begin() as db:
        unit = get_unit(db, code=args.unit)
        o = add_officer(db, archive.custody, officer_no=args.officer_no, name=args.name, unit_id=unit.id,
                        actor=cli_actor())
        out: dict[str, Any] = {"officer_no": o.officer_no, "name": o.name, "unit": unit.code}
        if args.certificate is not None:
            out["certificates"] = [certificate_out(_add_certificate(db, archive, args, o.officer_no),
                                                   _today(settings))]
    emit(args, out, f"Officer {out['officer_no']} {out['name']} (unit {out['unit']}) added"
         + (f", certificate {args.certificate}." if args.certificate else "."))
    return EXIT_OK


def cmd_officers_update(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import get_unit
    from roster.errors import UnknownCertificate
    from roster.service import get_certificate, get_officer, update_certificate, update_officer

    officer_change = args.name is not None or args.unit is not None or args.active is not None
    if args.certificate is None and _cert_args(args):
        raise LiuhenError(said("给出了执法证选项，却没有 --certificate 证号", "Certificate options were given without --certificate NUMBER."),
                          said("请加上 --certificate 证号（执法证号），指明要添加或更改哪个执法证。", "Add --certificate NUMBER (执法证号) to say which certificate to add or change."))
    if not (officer_change or args.certificate or args.revoke_certificate):
        raise LiuhenError(said(f"执法人员 {args.officer_no} 没有要更改的内容", f"Nothing to change for officer {args.officer_no}."),
                          said("请给出 --name、--unit、--active/--inactive、--certificate 证号 ... 或 --revoke-certificate 证号。", "Give --name, --unit, --active/--inactive, --certificate NUMBER ... or "
                               "--revoke-certificate NUMBER."))
    done: list[str] = []
    with opened(settings) as archive, archive.sessions.begin() as db:
        actor = cli_actor()
        get_officer(db, officer_no=args.officer_no)
        if officer_change:
            unit_id = get_unit(db, code=args.unit).id if args.unit is not None else None
            update_officer(db, archive.custody, officer_no=args.officer_no, name=args.name, unit_id=unit_id,
                           active=args.active, actor=actor)
            done.append("officer changed")
        if args.certificate is not None:
            try:
                get_certificate(db, number=args.certificate, officer_no=args.officer_no)
            except UnknownCertificate:
                _add_certificate(db, archive, args, args.officer_no)
                done.append(f"certificate {args.certificate} added")
            else:
                update_certificate(db, archive.custody, number=args.certificate, officer_no=args.officer_no,
                                   category=args.cert_category, area=args.cert_area, valid_from=args.valid_from,
                                   valid_until=args.valid_until, actor=actor)
                done.append(f"certificate {args.certificate} changed")
        if args.revoke_certificate is not None:
            update_certificate(db, archive.custody, number=args.revoke_certificate, officer_no=args.officer_no,
                               revoke=True, actor=actor)
            done.append(f"certificate {args.revoke_certificate} revoked")
        out = _officer_out(db, settings, args.officer_no)
    out["done"] = done
    emit(args, out, f"Officer {args.officer_no}: " + "; ".join(done) + ".")
    return EXIT_OK


def _officer_out(db: Session, settings: config.Settings, officer_no: str) -> dict[str, Any]:
    from auth.models import Unit
    from roster.service import certificates_of, get_officer

    o = get_officer(db, officer_no=officer_no)
    unit = db.get(Unit, o.unit_id)
    today = _today(settings)
    return {"officer_no": o.officer_no, "name": o.name, "unit": unit.code if unit else None, "active": o.active,
            "certificates": [certificate_out(c, today) for c in certificates_of(db, o.officer_no)]}


def cmd_officers_show(args: argparse.Namespace, settings: config.Settings) -> int:
    with opened(settings) as archive, archive.sessions() as db:
        out = _officer_out(db, settings, args.officer_no)
    lines = [f"{out['officer_no']} {out['name']}  单位 unit {out['unit']}  "
             + ("在岗 active" if out["active"] else "已停用 inactive")]
    if not out["certificates"]:
        lines.append("  执法证 certificates: none")
    for c in out["certificates"]:
        lines.append(f"  执法证 {c['number']}  {c['category'] or '-'}  {c['area'] or '-'}  "
                     f"{c['valid_from']} – {c['valid_until']}  {_STATE_WORDS[c['state']]}")
    emit(args, out, "\n".join(lines))
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


def _certificate_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--certificate", metavar="NUMBER", help="enforcement certificate number (执法证号)")
    sp.add_argument("--cert-category", help="the certificate's enforcement category (执法类别), e.g. 市场监管")
    sp.add_argument("--cert-area", help="the certificate's enforcement area (执法区域), e.g. 东城区")
    sp.add_argument("--valid-from", type=_date, metavar="DATE", help="first day the certificate is valid (YYYY-MM-DD)")
    sp.add_argument("--valid-until", type=_date, metavar="DATE", help="last day the certificate is valid (YYYY-MM-DD)")


def register(sub: Any, add: Add) -> None:
    op = sub.add_parser("officers", help="officers (执法人员)").add_subparsers(dest="officers_cmd", required=True)
    sp = add("add", cmd_officers_add, "add an officer: the number recorders write (警号), name, unit; optionally "
             "their enforcement certificate", op)
    sp.add_argument("officer_no")
    sp.add_argument("name")
    sp.add_argument("--unit", required=True, help="code of the officer's unit")
    _certificate_options(sp)
    sp.add_argument("--json", action="store_true")
    sp = add("update", cmd_officers_update, "change an officer (name, unit, active) and add, change or revoke "
             "their enforcement certificates (行政执法证件)", op)
    sp.add_argument("officer_no")
    sp.add_argument("--name", help="the officer's new name")
    sp.add_argument("--unit", help="code of the officer's new unit")
    sp.add_argument("--active", action=argparse.BooleanOptionalAction, default=None,
                    help="--active: in service; --no-active: no longer in service")
    sp.add_argument("--inactive", dest="active", action="store_false", default=None, help="the same as --no-active")
    _certificate_options(sp)
    sp.add_argument("--revoke-certificate", metavar="NUMBER",
                    help="revoke (注销) this certificate of the officer: it counts on no date from now on")
    sp.add_argument("--json", action="store_true")
    sp = add("show", cmd_officers_show, "show an officer and their certificates with their validity today", op)
    sp.add_argument("officer_no")
    sp.add_argument("--json", action="store_true")

    rp = sub.add_parser("recorders", help="recorders (执法记录仪)").add_subparsers(dest="recorders_cmd", required=True)
    sp = add("assign", cmd_recorders_assign, "assign a recorder to an officer ('-' to unassign)", rp)
    sp.add_argument("device_id")
    sp.add_argument("officer_no")
    sp.add_argument("--json", action="store_true")
