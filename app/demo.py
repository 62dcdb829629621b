"""``liuhen demo``: make a dock with three recorders in three layouts, and offload it.

Generates real H.264/AAC recordings with ffmpeg (test pattern + tone) into the configured dock
folder: bay1 uses the common 执法记录仪 naming, bay2 the Axis body-worn layout with its GPS
trail and bookmarks, bay3 a generic DCIM tree (the recorder bound to the bay in config.toml),
with one GBK-named file and one truncated recording, which is archived as-is and marked.
Before that it seeds a small organisation — a city enforcement detachment with two squads, three
officers, and one console user per role (passwords printed, and kept in ``var/demo-users.txt``).
Then offloads everything, verifies the archive and prints what to try next.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from liuhen.config import Settings
from liuhen.errors import LiuhenError
from liuhen.words import said

if TYPE_CHECKING:
    from archive.context import Archive


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise LiuhenError(said("未安装 ffmpeg，无法生成示例录像", "ffmpeg is not installed, so no sample recordings can be made."),
                          said("请运行 make setup（会安装 ffmpeg），或自行安装 ffmpeg，然后重新运行演示。", "Run `make setup` (it installs ffmpeg), or install ffmpeg, then run the demo again."))
    return exe


def _clip(out: Path, seconds: float, tone: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-movflags", "+faststart", "-shortest", str(out)], check=True)


def make_dock(dock: Path, *, clips: int, seconds: float, start: dt.datetime) -> list[Path]:
    made: list[Path] = []
    for i in range(clips):
        t = start + dt.timedelta(minutes=5 * i)
        p = dock / "bay1" / f"DSJ-A001_000123_{t:%Y%m%d%H%M%S}_{i + 1:04d}.MP4"
        _clip(p, seconds, 440 + 40 * i)
        made.append(p)
    tz = dt.UTC
    trig = (start + dt.timedelta(hours=1)).astimezone(tz)
    folder = dock / "bay2" / f"lisi_AXB1234567_{trig:%Y%m%dT%H%M%SZ}"
    for i in range(clips):
        t = trig + dt.timedelta(seconds=seconds * i)
        p = folder / f"{t:%Y%m%dT%H%M%SZ}_REC{i + 1:04d}.mp4"
        _clip(p, seconds, 660 + 40 * i)
        made.append(p)
    trail = [{"time": (trig + dt.timedelta(seconds=s)).isoformat(), "lat": 39.9087 + s * 1e-5,
              "lon": 116.3975 + s * 1e-5} for s in range(int(seconds * clips))]
    (folder / f"{folder.name}_gpstrail.json").write_text(json.dumps({"positions": trail}), encoding="utf-8")
    (folder / f"{folder.name}_bookmarks.json").write_text(
        json.dumps({"bookmarks": [{"time": trig.isoformat(), "category": "现场检查", "text": "到达现场"}]},
                   ensure_ascii=False), encoding="utf-8")
    made += [folder / f"{folder.name}_gpstrail.json", folder / f"{folder.name}_bookmarks.json"]
    dcim = dock / "bay3" / "DCIM" / "100MEDIA"
    for i in range(clips):
        p = dcim / f"VID_{i + 1:04d}.MP4"
        _clip(p, seconds, 880 + 40 * i)
        made.append(p)
    # a GBK-named recording, as some Chinese recorders write them
    raw = os.fsencode(dcim) + b"/" + "现场检查_张三.MP4".encode("gbk")
    shutil.copyfile(made[0], raw)
    # a recording cut off when the battery died: still evidence, archived and marked
    cut = dcim / "VID_9999.MP4"
    data = made[0].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    made.append(cut)
    return made


DEMO_UNITS = (("JT", "示范市交通运输综合行政执法支队", None), ("JT-1", "执法一大队", "JT"), ("JT-2", "执法二大队", "JT"))
DEMO_OFFICERS = (("000123", "张三", "JT-1"), ("lisi", "李四", "JT-2"), ("000789", "王五", "JT-1"))
DEMO_USERS = (("operator", "caiji", "采集站操作员 赵六"), ("investigator", "diaocha", "调查员 孙七"),
              ("legal_reviewer", "fazhi", "法制审核员 周八"), ("records_manager", "dangan", "档案管理员 吴九"),
              ("auditor", "shenji", "审计员 郑十"), ("admin", "admin", "系统管理员"))


def seed_organisation(archive: Archive, settings: Settings) -> list[tuple[str, str, str]]:
    """Units, officers, the station's unit and one user per role; returns (role, user, password)
    for users created now. Safe to run again: what exists is kept."""
    import secrets

    from sqlalchemy import select

    from archive.attribution import add_officer
    from archive.service import register_station
    from archive.stations import set_unit
    from auth.models import Unit, User
    from auth.service import add_unit, add_user
    from hashing.keys import load_or_create
    from roster.models import Officer

    made: list[tuple[str, str, str]] = []
    with archive.sessions.begin() as db:
        for code, name, parent in DEMO_UNITS:
            if db.scalar(select(Unit).where(Unit.code == code)) is None:
                add_unit(db, code=code, name=name, parent_code=parent)
        for no, name, unit in DEMO_OFFICERS:
            if db.scalar(select(Officer).where(Officer.officer_no == no)) is None:
                unit_id = db.scalar(select(Unit.id).where(Unit.code == unit))
                assert unit_id is not None
                add_officer(db, archive.custody, officer_no=no, name=name, unit_id=unit_id, actor="cli:demo")
        for role, username, display in DEMO_USERS:
            if db.scalar(select(User).where(User.username == username)) is None:
                password = secrets.token_urlsafe(12)
                add_user(db, archive.custody, username=username, password=password, role=role, unit_code="JT",
                         display_name=display, actor="cli:demo", settings=settings.auth)
                made.append((role, username, password))
    _seed_review(archive)
    station_key = load_or_create(settings.station.state_path / "station.ed25519")
    register_station(archive, station_id=settings.station.id, public_pem=station_key.public_pem)
    set_unit(archive, station_id=settings.station.id, unit_code="JT", actor="cli:demo")
    return made


def _seed_review(archive: Archive) -> None:
    """Enforcement certificates for the demo officers and the legal reviewer's qualification (法律职业资格)."""
    import datetime as dt

    from sqlalchemy import select

    from auth.models import User
    from roster.models import Certificate
    from roster.service import add_certificate

    with archive.sessions.begin() as db:
        for i, (no, _, _) in enumerate(DEMO_OFFICERS):
            number = f"SF-ZF-{no}"
            if db.scalar(select(Certificate).where(Certificate.number == number)) is None:
                add_certificate(db, archive.custody, officer_no=no, number=number, category="交通运输",
                                area="示范市", valid_from=dt.date(2024, 1, 1) + dt.timedelta(days=i),
                                valid_until=dt.date(2029, 12, 31), actor="cli:demo")
        reviewer = db.scalar(select(User).where(User.username == "fazhi"))
        if reviewer is not None and not reviewer.legal_qualification:
            reviewer.legal_qualification = True


def demo_review(archive: Archive, settings: Settings) -> str | None:
    """A sample penalty case submitted for legal review (提请法制审核): a licence revocation after a
    hearing, waiting in the reviewer's queue (sign in as fazhi)."""
    import datetime as dt

    from sqlalchemy import select

    from auth.models import Unit
    from cases import records
    from cases.models import Case
    from cases.service import add_step, create_case
    from review import service as review
    from review.catalogue import Proposal

    title = "示范：某运输公司超限运输吊销许可证案"
    with archive.sessions.begin() as db:
        if db.scalar(select(Case).where(Case.title == title)) is not None:
            return None
        unit = db.scalar(select(Unit).where(Unit.code == "JT-1"))
        if unit is None:
            return None
        case = create_case(db, archive.custody, settings.cases, unit_id=unit.id, unit_code=unit.code,
                           category="行政处罚", title=title, actor="cli:demo", source="巡查", tz=settings.station.timezone)
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=3)
        for i, kind in enumerate(("立案", "调查", "听证")):
            add_step(db, archive.custody, settings.cases, case=case, kind=kind, started_at=start + dt.timedelta(days=i),
                     ended_at=start + dt.timedelta(days=i, hours=1), actor="cli:demo", officers=["000123"])
        case_id, number = case.id, case.number
    for kind in ("立案审批表", "询问笔录"):
        records.add_form(archive, case_id=case_id, actor="cli:demo", kind=kind,
                         fields={key: f"（示范）{label}" for key, label in records.FORMS[kind]})
    with archive.sessions.begin() as db:
        case = db.get_one(Case, case_id)
        review.submit(db, archive.custody, settings, case=case, actor="cli:demo",
                      proposal=Proposal(decision_kind="吊销许可证", content="吊销当事人道路运输经营许可证",
                                        legal_basis="《道路运输条例》第七十条", discretion="情节严重"),
                      statement="当事人多次超限运输，经听证，事实清楚，拟吊销其道路运输经营许可证。")
    return number


def demo_case(archive: Archive, settings: Settings) -> str | None:
    """A sample case over bay1's recordings: an inspection they cover, and a seizure that needs
    full-process recording but has a gap between two clips, which the coverage check flags."""
    import datetime as dt

    from sqlalchemy import select

    from archive.models import Evidence
    from auth.models import Unit
    from cases.coverage import check_case
    from cases.models import Case
    from cases.service import PartyIn, add_step, create_case, link

    with archive.sessions.begin() as db:
        if db.scalar(select(Case).where(Case.title == "示范：某商店无证经营查封扣押案")) is not None:
            return None
        clips = list(db.scalars(select(Evidence).where(Evidence.device_id == "DSJ-A001", Evidence.officer_id == "000123",
                                                       Evidence.recorded_at.is_not(None),
                                                       Evidence.duration_s.is_not(None))
                                .order_by(Evidence.recorded_at)))
        unit = db.scalar(select(Unit).where(Unit.code == "JT-1"))
        if len(clips) < 2 or unit is None:
            return None
        first, last = clips[0], clips[-1]
        assert first.recorded_at and last.recorded_at and first.duration_s and last.duration_s
        case = create_case(db, archive.custody, settings.cases, unit_id=unit.id, unit_code=unit.code,
                           category="行政强制", title="示范：某商店无证经营查封扣押案", actor="cli:demo", source="巡查",
                           parties=[PartyIn(name="某某商店", kind="organisation")], tz=settings.station.timezone,
                           data_key=archive.data_key)
        inspect = add_step(db, archive.custody, settings.cases, case=case, kind="现场检查",
                           started_at=first.recorded_at,
                           ended_at=first.recorded_at + dt.timedelta(seconds=first.duration_s),
                           actor="cli:demo", place="示范市某区某路 1 号", officers=["000123"])
        seize = add_step(db, archive.custody, settings.cases, case=case, kind="查封扣押", started_at=first.recorded_at,
                         ended_at=last.recorded_at + dt.timedelta(seconds=last.duration_s), actor="cli:demo",
                         place="示范市某区某路 1 号", officers=["000123"])
        link(db, archive.custody, step=inspect, evidence=first, actor="cli:demo")
        for ev in clips:
            link(db, archive.custody, step=seize, evidence=ev, actor="cli:demo")
        report = check_case(db, case, settings.cases, tz=settings.station.timezone)
        print(f"\nSample case {case.number}: " + "; ".join(
            f"{s.kind} {'FLAGGED' if s.flagged else 'ok'} ({s.status})" for s in report.steps))
        return case.number


def _remember_users(settings: Settings, made: list[tuple[str, str, str]]) -> Path:
    """Keep the demo passwords in var/demo-users.txt (owner-only), so a second run can show them."""
    path = settings.base_dir / "var" / "demo-users.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    if made:
        with open(path, "a", encoding="utf-8") as f:
            os.chmod(path, 0o600)
            for role, user, password in made:
                f.write(f"{role:<16} {user:<10} {password}\n")
    return path


def run_demo(settings: Settings, *, json_out: bool, clips: int, seconds: float) -> int:
    from app.progress import BayProgress
    from app.runtime import open_archive
    from archive.intake import LocalIntake
    from ingest.report import DockReporter
    from ingest.station import Station
    from integrity.service import verify_all

    dock = settings.station.dock_root
    if dock.exists() and any(dock.iterdir()):
        print(f"The dock folder {dock} already holds files; offloading what is there.")
    else:
        print(f"Making sample recordings in {dock} (3 bays × {clips} clips of {seconds:g} s) ...")
        make_dock(dock, clips=clips, seconds=seconds,
                  start=dt.datetime.now().astimezone().replace(microsecond=0) - dt.timedelta(hours=3))
    archive = open_archive(settings)
    try:
        made = seed_organisation(archive, settings)
        users_file = _remember_users(settings, made)
        intake = LocalIntake(archive)
        bays = None if json_out else BayProgress()
        reporter = DockReporter(intake, settings.station.id, chain=bays)
        station = Station(settings.station, intake, listener=reporter)
        try:
            results = station.offload_once(dock)
        finally:
            station.close()
            reporter.close()
            if bays is not None:
                bays.close()
        for r in results:
            if json_out:
                print(json.dumps(r.to_dict(), ensure_ascii=False))
            else:
                mark = f" [{r.media_state}]" if r.media_state not in (None, "ok", "unknown") else ""
                print(f"  {r.status:<10} evidence {r.evidence_id!s:<4} {r.path}{mark}")
        print("Making playable proxies, posters and thumbnails (media jobs) ...")
        import threading

        from jobs.worker import run_worker
        from media.service import HANDLERS

        run_worker(archive, HANDLERS, stop=threading.Event(), poll_s=0.2, until_idle=True,
                   lease_s=settings.workers.lease_seconds)
        from sqlalchemy import func, select

        from archive.models import Evidence

        with archive.sessions() as db:
            states = dict(db.execute(select(Evidence.playback, func.count()).group_by(Evidence.playback)).all())
        print("  playback: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
        case_number = demo_case(archive, settings)
        review_number = demo_review(archive, settings)
        report = verify_all(archive, actor="cli:demo")
    finally:
        archive.close()
    cfg = f" --config {settings.config_path}" if settings.config_path and str(settings.config_path) != "config.toml" else ""
    print(f"\nVerified {report.originals} originals, {report.signatures} signatures, "
          f"{report.events} custody events: {'all hold' if report.ok else 'FAILURES'}.")
    print(f"\n控制台用户 Console users (unit JT; kept in {users_file}):")
    if users_file.exists():
        print(users_file.read_text(encoding="utf-8"), end="")
    print(f"Open the console: liuhen{cfg} serve   (or `make serve`), then http://127.0.0.1:8470/ — sign in as "
          "caiji (operator) to watch the dock, diaocha (investigator) to search and play.")
    first = next((r.evidence_id for r in results if r.evidence_id), None)
    if first is not None:
        print("Next:")
        print(f"  liuhen{cfg} show {first}            # the record, its sightings and custody events")
        print(f"  liuhen{cfg} export {first} --out var/export-{first}   # a BagIt bag checkable with sha256sum and openssl")
        print(f"  liuhen{cfg} verify                # re-hash everything, check every signature and the chain")
    if case_number:
        print(f"  liuhen{cfg} cases check {case_number}   # the full-process coverage check of the sample case")
    if review_number:
        print(f"  liuhen{cfg} review queue             # case {review_number} awaits legal review (console: sign in as "
              "fazhi, 法制审核)")
    return 0 if report.ok else 3
