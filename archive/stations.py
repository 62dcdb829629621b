"""Remote docking stations: enrolment tokens and key binding.

An administrator enrols a station with ``add_station``, which prints a random token once and
keeps only its SHA-256. The station presents the token on every intake call
(``Authorization: Bearer``) and binds its Ed25519 key on its first ``register``; after that the
archive refuses any other key for that station (``archive.service.register_station``).
A station row enrolled but not yet registered has an empty ``public_key_pem`` and ``key_id``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, cast

from cryptography.exceptions import UnsupportedAlgorithm
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

import liuhen
from archive.context import Archive
from archive.errors import IntakeRefused, StationNotEnrolled, TokenRefused
from archive.models import Station
from archive.service import TOOL, register_station
from auth.errors import AlreadyExists, InvalidAccount
from hashing import keys
from liuhen.errors import NotFound
from liuhen.words import said

ADMIN_ACTOR = "admin:cli"
UNBOUND = ""


class StationIdInvalid(InvalidAccount):  # (400: a request the archive cannot carry out as asked)
    code = "station_id_invalid"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_id(station_id: str) -> None:
    if not 1 <= len(station_id) <= 64 or any(c.isspace() or not c.isprintable() for c in station_id):
        raise StationIdInvalid(said(f"{station_id!r} 不是可用的采集站编号", f"{station_id!r} is not a usable station id."),
                               said("请使用 1 至 64 个不含空格的可打印字符，与采集站 config.toml 的 [station] id 一致。", "Use 1 to 64 printable characters without spaces, as in the station's "
                                    "config.toml ([station] id)."))


def add_station(archive: Archive, *, station_id: str, actor: str = ADMIN_ACTOR) -> str:
    """Enrol a remote station (or issue a new token for a known one); return the token, once.

    Only the token's SHA-256 is stored. A new token replaces the old one at once; the station's
    bound key, if any, is kept.
    """
    _check_id(station_id)
    with archive.sessions.begin() as db:
        return issue_token(archive, db, station_id=station_id, actor=actor)


def issue_token(archive: Archive, db: Session, *, station_id: str, actor: str, unit_id: int | None = None,
                new: bool | None = None) -> str:
    """``add_station`` in the caller's transaction: enrol ``station_id`` (under ``unit_id``, custody event
    ``station_enrolled``) or give a known one a new token that replaces its old one at once
    (``station_token_reissued``); return the token, once. ``new`` True refuses a known station
    (``StationExists``), False an unknown one (``UnknownStation``)."""
    _check_id(station_id)
    token = secrets.token_urlsafe(32)
    st = db.get(Station, station_id)
    if st is not None and new is True:
        raise StationExists(cast(str, said(f"采集站 {station_id} 已登记", f"Station {station_id} is enrolled already.")),
                            cast(str, said("如需新令牌，请在采集站列表中为它重新签发令牌",
                                           "To give it a new token, reissue its token from the list of stations.")))
    if st is None and new is False:
        raise unknown_station(station_id)
    if st is None:
        db.add(Station(id=station_id, public_key_pem=UNBOUND, key_id=UNBOUND, token_sha256=token_hash(token),
                       unit_id=unit_id))
        action = "station_enrolled"
    else:
        st.token_sha256 = token_hash(token)
        action = "station_token_reissued"
    db.flush()
    detail: dict[str, Any] = {"station_id": station_id, "token": "sha256 only"}
    if st is None and unit_id is not None:
        from auth.models import Unit

        unit = db.get(Unit, unit_id)
        detail["unit"] = unit.code if unit is not None else None
    archive.custody.record(db, actor=actor, action=action, tool=TOOL, tool_version=liuhen.__version__, detail=detail)
    return token


class UnknownStation(NotFound):
    code = "unknown_station"


class StationExists(AlreadyExists):  # (409)
    code = "station_exists"


def unknown_station(station_id: str) -> UnknownStation:
    """The answer for a station that is not enrolled (and for one of another unit, where that must not show)."""
    return UnknownStation(cast(str, said(f"没有采集站 {station_id}", f"There is no station {station_id!r}.")),
                          cast(str, said("请核对采集站编号；您只能管理本单位的采集站",
                                         "Check the station id; you manage the stations of your own units only.")))


def stations_of(db: Session, *, units: frozenset[int], unattributed: bool) -> list[Station]:
    """The stations of ``units`` (and those with no unit yet, with ``unattributed``), by id."""
    return [s for s in db.scalars(select(Station).order_by(Station.id))
            if (s.unit_id in units if s.unit_id is not None else unattributed)]


def disable_station(archive: Archive, db: Session, *, station_id: str, actor: str) -> Station:
    """Stop a station: its token is withdrawn at once, so every intake request of it is refused from now on
    (files it holds stay on it until it is given a new token, ``issue_token``). Custody event
    ``station_disabled``; a station already without a token is refused (nothing would happen)."""
    st = db.get(Station, station_id)
    if st is None:
        raise unknown_station(station_id)
    if st.token_sha256 is None:
        raise InvalidAccount(cast(str, said(f"采集站 {station_id} 已停用", f"Station {station_id} is disabled already.")),
                               cast(str, said("如要恢复，请为它重新签发令牌", "To bring it back, reissue its token.")))
    st.token_sha256 = None
    db.flush()
    archive.custody.record(db, actor=actor, action="station_disabled", tool=TOOL, tool_version=liuhen.__version__,
                           detail={"station_id": station_id})
    return st


def refused(archive: Archive, *, station_id: str | None, reason: str, where: dict[str, Any] | None = None) -> None:
    """The custody event of a refused intake request (``access_denied``, outcome ``denied``), committed in
    its own transaction before the refusal is answered: a wrong token, a forged signature, another
    station's manifest. ``station_id`` None: the request proved no station."""
    with archive.sessions.begin() as db:
        archive.custody.record(db, actor=f"station:{station_id}" if station_id else "station:unknown",
                               action="access_denied", outcome="denied", tool=TOOL, tool_version=liuhen.__version__,
                               detail={"permission": "intake", "reason": reason, **(where or {})})


def authenticate(archive: Archive, token: str | None, *, where: dict[str, Any] | None = None) -> str:
    """The id of the station holding ``token``; ``TokenRefused`` if there is none (a custody event,
    ``refused``, with ``where``: the request's address, method and path).

    Every issued token's hash is compared in constant time, with no early exit.
    """
    if not token:
        refused(archive, station_id=None, reason="no station token", where=where)
        raise TokenRefused(said("请求未带采集站令牌", "The request carries no station token."),
                           said("请将 liuhen stations add 采集站 打印的令牌写入采集站 config.toml（[station] token = ...）并重启采集站。", "Put the token printed by `liuhen stations add STATION` in the station's "
                                "config.toml ([station] token = ...) and restart the station."))
    want = token_hash(token)
    with archive.sessions() as db:
        rows = db.execute(select(Station.id, Station.token_sha256)
                          .where(Station.token_sha256.is_not(None))).all()
    found: str | None = None
    for station_id, have in rows:
        if hmac.compare_digest(want, have or "") and found is None:  # have: never None (filtered)
            found = station_id
    if found is None:
        refused(archive, station_id=None, reason="station token not issued by this archive (or replaced)",
                where=where)
        raise TokenRefused(said("该采集站令牌不是本档案库签发的（或已被更换）", "The station token is not one this archive issued (or it was replaced)."),
                           said("请档案库管理员运行 liuhen stations add 采集站，并将新令牌写入采集站 config.toml（[station] token = ...）。", "Ask the archive administrator to run `liuhen stations add STATION` and put "
                                "the new token in the station's config.toml ([station] token = ...)."))
    return found


def bind_key(archive: Archive, *, station_id: str, public_pem: str) -> None:
    """Bind the station's key on first use; refuse a different key later (``IntakeRefused``)."""
    try:
        kid = keys.key_id_of(public_pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise IntakeRefused(said(f"采集站 {station_id} 发送的公钥不是 PEM 公钥", f"Station {station_id} sent a public key that is not a PEM public key."),
                            said("请升级或重装采集站软件；其密钥文件可能已损坏。", "Upgrade or reinstall the station software; its key file may be damaged.")) from e
    with archive.sessions.begin() as db:
        bound = cast(CursorResult[Any], db.execute(update(Station)
                                                  .where(Station.id == station_id, Station.key_id == UNBOUND)
                                                  .values(public_key_pem=public_pem, key_id=kid)))
        if bound.rowcount == 1:
            archive.custody.record(db, actor=f"station:{station_id}", action="station_registered",
                                   tool=TOOL, tool_version=liuhen.__version__,
                                   detail={"station_id": station_id, "key_id": kid})
            return
    register_station(archive, station_id=station_id, public_pem=public_pem)


def bound_station(archive: Archive, *, station_id: str) -> Station:
    """The station's row, which must already hold its key (else ``StationNotEnrolled``)."""
    with archive.sessions() as db:
        st = db.get(Station, station_id)
        if st is None or st.key_id == UNBOUND:
            raise StationNotEnrolled(said(f"采集站 {station_id} 尚未向档案库出示其签名密钥", f"Station {station_id} has not presented its signing key to the archive yet."),
                                     said("请在能连接档案库时启动一次采集站：它会先登记密钥，再采集。", "Start the station once while the archive is reachable: it registers its "
                                          "key first, then offloads."))
        db.expunge(st)
        return st


def set_unit(archive: Archive, *, station_id: str, unit_code: str, actor: str = ADMIN_ACTOR) -> list[int]:
    """Put a station under a unit (单位): the footage it offloads belongs to that unit's tree
    (``archive.attribution.attribute``), and what it offloaded while it had no unit follows now;
    return the ids of those recordings."""
    from auth.service import get_unit

    with archive.sessions.begin() as db:
        st = db.get(Station, station_id)
        if st is None:
            raise StationIdInvalid(said(f"本档案库不认识采集站 {station_id!r}", f"No station {station_id!r} is known to this archive."),
                                   said("请先登记（liuhen stations add），或运行一次内置采集站。", "Enrol it first (`liuhen stations add`), or run the embedded station once."))
        return set_unit_in(archive, db, station=st, unit_id=get_unit(db, code=unit_code).id, actor=actor)


def set_unit_in(archive: Archive, db: Session, *, station: Station, unit_id: int, actor: str) -> list[int]:
    """``set_unit`` in the caller's transaction (custody event ``station_unit_set``)."""
    from archive import attribution
    from auth.models import Unit

    unit = db.get(Unit, unit_id)
    assert unit is not None
    station.unit_id = unit.id
    archive.custody.record(db, actor=actor, action="station_unit_set", tool=TOOL, tool_version=liuhen.__version__,
                           detail={"station_id": station.id, "unit": unit.code})
    db.flush()
    return attribution.reattribute_station(db, archive.custody, station=station, actor=actor)
