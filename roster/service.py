"""Officers and recorders: plain keyword-only functions in the caller's transaction, each change a
custody event. What this means for footage (attribution) is ``archive.attribution``'s."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import liuhen
from hashing.binding import bound
from hashing.custody import CustodyLog
from liuhen.db import utcnow
from liuhen.words import said
from roster.bindings import CERTIFICATE, OFFICER, RECORDER
from roster.errors import CertificateExists, OfficerExists, RosterError, UnknownCertificate, UnknownOfficer
from roster.models import Certificate, Officer, Recorder

TOOL = "liuhen-roster"
OFFICER_NO = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$"
_NO = re.compile(OFFICER_NO)
CERTIFICATE_NO = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"  # 执法证号, e.g. 11010120260001
_CERT_NO = re.compile(CERTIFICATE_NO)


def unknown_officer(officer_no: str) -> UnknownOfficer:
    """The answer for a number with no officer (also for one of another unit, where that must not show)."""
    return UnknownOfficer(said(f"没有警号为 {officer_no!r} 的执法人员", f"There is no officer with number {officer_no!r}."),
                          said("请核对警号，或先添加该人员（liuhen officers add）。", "Check the number, or add the officer first (liuhen officers add)."))


def get_officer(db: Session, *, officer_no: str) -> Officer:
    o = db.scalar(select(Officer).where(Officer.officer_no == officer_no))
    if o is None:
        raise unknown_officer(officer_no)
    return o


def officer_name(db: Session, officer_no: str | None) -> str | None:
    """The name of the officer with this number (None for none, or for a number not in the roster)."""
    return db.scalar(select(Officer.name).where(Officer.officer_no == officer_no)) if officer_no else None


def officer_unit(db: Session, officer_no: str | None) -> int | None:
    if not officer_no:
        return None
    return db.scalar(select(Officer.unit_id).where(Officer.officer_no == officer_no))


def recorder(db: Session, device_id: str) -> Recorder:
    """The recorder's row, created on first sight."""
    r = db.get(Recorder, device_id)
    if r is None:
        r = Recorder(device_id=device_id)
        db.add(r)
        db.flush()
    return r


def add_officer(db: Session, custody: CustodyLog, *, officer_no: str, name: str, unit_id: int,
                actor: str) -> Officer:
    if not _NO.fullmatch(officer_no):
        raise RosterError(said(f"警号 {officer_no!r} 无效", f"Officer number {officer_no!r} is not valid."),
                          said("请使用记录仪写入文件名的警号（字母和数字），例如 000123。", "Use the number recorders write into file names (警号), letters and digits, e.g. 000123."))
    if not name.strip():
        raise RosterError(said(f"执法人员 {officer_no} 的姓名为空", f"Officer {officer_no} has an empty name."), said("请填写该人员的姓名，例如 张三。", "Give the officer's name, e.g. 张三."))
    if db.scalar(select(Officer).where(Officer.officer_no == officer_no)) is not None:
        raise OfficerExists(said(f"执法人员 {officer_no} 已存在", f"Officer {officer_no} already exists."), said("请使用已有的人员，或换一个警号。", "Use the existing officer, or another number."))
    o = Officer(officer_no=officer_no, name=name.strip(), unit_id=unit_id, active=True)
    db.add(o)
    db.flush()
    custody.record(db, actor=actor, action="officer_added", tool=TOOL, tool_version=liuhen.__version__,
                   detail={"officer_no": officer_no, "name": o.name, "unit_id": unit_id,
                           "bound": bound((OFFICER, o))})
    return o


def assign_recorder(db: Session, custody: CustodyLog, *, device_id: str, officer_no: str | None,
                    actor: str) -> Officer | None:
    """Assign ``device_id`` to ``officer_no`` (None: unassign), a custody event; return the officer.

    Only the roster changes here; ``archive.attribution.assign_recorder`` also attributes the
    recorder's footage that named no officer.
    """
    officer = get_officer(db, officer_no=officer_no) if officer_no else None
    r = recorder(db, device_id)
    before = r.officer_no
    r.officer_no = officer.officer_no if officer else None
    r.assigned_at = utcnow()
    r.assigned_by = actor
    db.flush()
    custody.record(db, actor=actor, action="recorder_assigned", tool=TOOL, tool_version=liuhen.__version__,
                   detail={"device_id": device_id, "officer_no": r.officer_no, "previous_officer_no": before,
                           "bound": bound((RECORDER, r))})
    return officer


def note_docked(db: Session, *, device_id: str, station_id: str, bay: str) -> None:
    r = recorder(db, device_id)
    r.last_station_id, r.last_bay, r.last_docked_at = station_id, bay, utcnow()


def update_officer(db: Session, custody: CustodyLog, *, officer_no: str, actor: str, name: str | None = None,
                   unit_id: int | None = None, active: bool | None = None) -> Officer:
    """Rename an officer, move them to another unit, or mark them (in)active; custody event
    ``officer_changed`` naming each change. Footage already attributed keeps its unit (attribution
    happens at intake); an officer moved now is the new unit's for what comes next."""
    o = get_officer(db, officer_no=officer_no)
    changes: dict[str, list[Any]] = {}
    if name is not None:
        if not name.strip():
            raise RosterError(said(f"执法人员 {officer_no} 的姓名为空", f"Officer {officer_no} would have an empty name."),
                              said("请填写该人员的姓名，例如 张三。", "Give the officer's name, e.g. 张三."))
        if name.strip() != o.name:
            changes["name"] = [o.name, name.strip()]
            o.name = name.strip()
    if unit_id is not None and unit_id != o.unit_id:
        changes["unit_id"] = [o.unit_id, unit_id]
        o.unit_id = unit_id
    if active is not None and active != o.active:
        changes["active"] = [o.active, active]
        o.active = active
    if not changes:
        raise RosterError(said(f"执法人员 {officer_no} 没有变化", f"Nothing to change for officer {officer_no}."),
                          said("请给出与现状不同的新姓名、另一单位或 --active/--inactive。", "Give a new name, another unit, or --active/--inactive that differs from what it is now."))
    db.flush()
    custody.record(db, actor=actor, action="officer_changed", tool=TOOL, tool_version=liuhen.__version__,
                   detail={"officer_no": officer_no, "changes": changes, "bound": bound((OFFICER, o))})
    return o


# ------------------------------------------------------------------ certificates (行政执法证件)


def _check_span(number: str, valid_from: dt.date, valid_until: dt.date) -> None:
    if valid_until < valid_from:
        raise RosterError(said(f"执法证 {number} 的有效期止于 {valid_until}，早于起始日 {valid_from}", f"Certificate {number} "
                               f"would be valid until {valid_until}, before it is valid from {valid_from}."),
                          said("请填写证件上印的日期：有效期起（发证/有效期起）不得晚于有效期至。", "Give the dates printed on the certificate: valid from (发证/有效期起) on or before "
                               "valid until (有效期至)."))


def _text(what: str, value: str) -> str:
    v = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise RosterError(said(f"执法证的{what}含有控制字符", f"The certificate's {what} holds control characters."),
                          said(f"请按证件上印的内容填写{what}。", f"Type the {what} as printed on the certificate."))
    return v


def _cert_detail(o: Officer, c: Certificate) -> dict[str, Any]:
    return {"officer_no": o.officer_no, "number": c.number, "category": c.category, "area": c.area,
            "valid_from": c.valid_from.isoformat(), "valid_until": c.valid_until.isoformat()}


def get_certificate(db: Session, *, number: str, officer_no: str | None = None) -> Certificate:
    """The certificate with this number (of ``officer_no`` when given: another officer's answers as missing)."""
    q = select(Certificate).where(Certificate.number == number)
    if officer_no is not None:
        q = q.join(Officer, Officer.id == Certificate.officer_id).where(Officer.officer_no == officer_no)
    c = db.scalar(q)
    if c is None:
        raise UnknownCertificate(
            said(f"没有执法证 {number}" + (f"（警号 {officer_no}）" if officer_no else ""),
                 f"There is no certificate {number!r}" + (f" of officer {officer_no}." if officer_no else ".")),
            said("请核对证号（liuhen officers show 警号 可列出该人员的执法证）。",
                 "Check the number (liuhen officers show OFFICER_NO lists an officer's certificates)."))
    return c


def add_certificate(db: Session, custody: CustodyLog, *, officer_no: str, number: str, category: str, area: str,
                    valid_from: dt.date, valid_until: dt.date, actor: str) -> Certificate:
    """Record an enforcement certificate (行政执法证件) of an officer; custody event ``certificate_added``.
    A number is one certificate, whoever holds it."""
    o = get_officer(db, officer_no=officer_no)
    if not _CERT_NO.fullmatch(number):
        raise RosterError(said(f"执法证号 {number!r} 无效", f"Certificate number {number!r} is not valid."),
                          said("请按证件上印的号码填写（字母、数字、'.'、'_' 或 '-'），例如 11010120260001。", "Type the number as printed (letters, digits, '.', '_' or '-'), e.g. 11010120260001."))
    _check_span(number, valid_from, valid_until)
    if db.scalar(select(Certificate.id).where(Certificate.number == number)) is not None:
        raise CertificateExists(said(f"执法证 {number} 已登记", f"Certificate {number} is already recorded."),
                                said("请用 liuhen officers update 警号 --certificate 证号 ... 修改，或核对证号。", "Change it with liuhen officers update OFFICER_NO --certificate NUMBER ..., or "
                                     "check the number."))
    c = Certificate(officer_id=o.id, number=number, category=_text("category", category),
                    area=_text("area", area), valid_from=valid_from, valid_until=valid_until, created_by=actor,
                    created_at=utcnow())
    db.add(c)
    db.flush()
    custody.record(db, actor=actor, action="certificate_added", tool=TOOL, tool_version=liuhen.__version__,
                   detail={**_cert_detail(o, c), "bound": bound((CERTIFICATE, c))})
    return c


def update_certificate(db: Session, custody: CustodyLog, *, number: str, actor: str, category: str | None = None,
                       area: str | None = None, valid_from: dt.date | None = None,
                       valid_until: dt.date | None = None, revoke: bool = False,
                       officer_no: str | None = None) -> Certificate:
    """Change a certificate's category, area or validity, or revoke it (吊销/注销: it counts on no date
    from then on; final); custody event ``certificate_changed`` naming each change. A revoked
    certificate is not changed again. With ``officer_no``, a certificate of another officer answers
    like a missing one."""
    c = get_certificate(db, number=number, officer_no=officer_no)
    o = db.get(Officer, c.officer_id)
    assert o is not None  # a foreign key
    if c.revoked_at is not None:
        raise RosterError(said(f"执法证 {number} 已于 {c.revoked_at:%Y-%m-%d} 注销", f"Certificate {number} was revoked on "
                               f"{c.revoked_at:%Y-%m-%d}; it is not changed any more."),
                          said("请改为登记该人员的新执法证（liuhen officers update 警号 --certificate 新证号 ...）。", "Record the officer's new certificate instead (liuhen officers update OFFICER_NO "
                               "--certificate NEW_NUMBER ...)."))
    wanted: dict[str, Any] = {"category": None if category is None else _text("category", category),
                              "area": None if area is None else _text("area", area),
                              "valid_from": valid_from, "valid_until": valid_until}
    wanted = {col: new for col, new in wanted.items() if new is not None and new != getattr(c, col)}
    _check_span(number, valid_from or c.valid_from, valid_until or c.valid_until)
    if not wanted and not revoke:
        raise RosterError(said(f"执法证 {number} 没有变化", f"Nothing to change on certificate {number}."),
                          said("请给出与已记录不同的类别、区域或日期，或将其吊销。", "Give a new category, area or date that differs from the recorded one, or revoke it."))
    changes: dict[str, list[Any]] = {}
    for col, new in wanted.items():
        changes[col] = [str(getattr(c, col)), str(new)]
        setattr(c, col, new)
    if revoke:
        c.revoked_at = utcnow()
        changes["revoked_at"] = [None, c.revoked_at.isoformat()]
    db.flush()
    custody.record(db, actor=actor, action="certificate_changed", tool=TOOL, tool_version=liuhen.__version__,
                   detail={**_cert_detail(o, c), "changes": changes, "revoked": c.revoked_at is not None,
                           "bound": bound((CERTIFICATE, c))})
    return c


def certificates_of(db: Session, officer_no: str) -> list[Certificate]:
    """The officer's certificates, earliest validity first (UnknownOfficer for an unknown number)."""
    o = get_officer(db, officer_no=officer_no)
    return list(db.scalars(select(Certificate).where(Certificate.officer_id == o.id)
                           .order_by(Certificate.valid_from, Certificate.id)))


def certificates_by_officer(db: Session, officer_ids: Collection[int]) -> dict[int, list[Certificate]]:
    """Officer id -> certificates (earliest validity first), for listing many officers in one query."""
    out: dict[int, list[Certificate]] = {i: [] for i in officer_ids}
    if officer_ids:
        for c in db.scalars(select(Certificate).where(Certificate.officer_id.in_(list(officer_ids)))
                            .order_by(Certificate.valid_from, Certificate.id)):
            out[c.officer_id].append(c)
    return out


def is_valid(c: Certificate, on: dt.date) -> bool:
    """Whether ``c`` counts on ``on``: not revoked, and ``valid_from <= on <= valid_until``."""
    return c.revoked_at is None and c.valid_from <= on <= c.valid_until


def valid_on(db: Session, officer_nos: Collection[str], on: dt.date) -> dict[str, Certificate | None]:
    """Officer number -> the certificate valid on ``on`` (the one valid longest, if several), or None
    (also for a number the roster does not know): one query, for the review's 执法资格 prefill."""
    out: dict[str, Certificate | None] = dict.fromkeys(officer_nos)
    if not out:
        return out
    rows = db.execute(select(Officer.officer_no, Certificate)
                      .join(Certificate, Certificate.officer_id == Officer.id)
                      .where(Officer.officer_no.in_(list(out)), Certificate.revoked_at.is_(None),
                             Certificate.valid_from <= on, Certificate.valid_until >= on)
                      .order_by(Certificate.valid_until, Certificate.id))
    for no, c in rows:
        out[no] = c  # ordered by valid_until: the last one is valid longest
    return out


def valid_certificate(db: Session, officer_no: str, on: dt.date) -> Certificate | None:
    """The officer's certificate valid on ``on`` (not revoked, ``valid_from <= on <= valid_until``), or None."""
    return valid_on(db, [officer_no], on)[officer_no]


def certificate_state(c: Certificate, on: dt.date) -> str:
    """``valid``, ``expired`` (past ``valid_until``), ``not_yet_valid`` or ``revoked``, on ``on``."""
    if c.revoked_at is not None:
        return "revoked"
    if on > c.valid_until:
        return "expired"
    return "not_yet_valid" if on < c.valid_from else "valid"
