"""The ``liuhen`` command line.

Every command takes ``--config PATH`` (default ``./config.toml`` or ``$LIUHEN_CONFIG``);
commands that report take ``--json``. An error prints one sentence saying what failed and what
to do (or ``{"code", "detail"}`` with ``--json``) and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from liuhen import __version__, config
from liuhen.errors import LiuhenError

EXIT_OK, EXIT_ERROR, EXIT_FAILED = 0, 1, 3


def _cli_actor() -> str:
    """Who acts from the command line: the operating-system account running liuhen."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def _archive(settings: config.Settings):  # noqa: ANN202
    from app.runtime import open_archive

    return open_archive(settings)


def _intake(settings: config.Settings):  # noqa: ANN202
    if settings.station.archive_url:
        from ingest.http_intake import HttpIntake

        return HttpIntake(settings.station.archive_url, settings.station.token or "")
    from archive.intake import LocalIntake

    return LocalIntake(_archive(settings))


# ---------------------------------------------------------------------- commands


def cmd_ingest(args: argparse.Namespace, settings: config.Settings) -> int:
    if not args.once:
        return cmd_watch(args, settings)
    from ingest.station import IngestHalted, Station
    from app.progress import BayProgress

    dock = Path(args.dock_root) if args.dock_root else settings.station.dock_root
    if not dock.is_dir():
        raise LiuhenError(f"The dock folder {dock} does not exist.",
                          "Give the folder that holds one sub-folder per bay (a docked recorder's files).")
    intake = _intake(settings)
    reporter = _reporter(settings, intake, None if args.json else BayProgress())
    station = Station(settings.station, intake, listener=reporter)
    try:
        results = station.offload_once(dock, unstable_timeout=args.unstable_timeout)
        halted = None
    except IngestHalted as e:
        results, halted = e.results, e
    finally:
        station.close()
        reporter.close()
    for r in results:
        if args.json:
            _print_json(r.to_dict())
    if not args.json:
        _print_ingest_summary(results)
    if halted is not None:
        _report_error(halted, args.json)
        return EXIT_ERROR
    return EXIT_OK if all(r.status in ("archived", "duplicate") for r in results) else EXIT_FAILED


_STATUS_ZH = {"archived": "已归档", "duplicate": "重复(已存一份)", "refused": "拒收", "queued": "排队待传",
              "interrupted": "中断(重新插入后续传)"}


def _print_ingest_summary(results: list[Any]) -> None:
    from collections import Counter

    for r in results:
        if r.status not in ("archived", "duplicate"):
            print(f"{_STATUS_ZH.get(r.status, r.status)} {r.status}: {r.path}\n    {r.reason}")
    c = Counter(r.status for r in results)
    parts = [f"{_STATUS_ZH[k]} {k} {v}" for k, v in sorted(c.items())]
    print(f"{len(results)} files — " + ", ".join(parts) if parts else "No files docked.")


def _reporter(settings: config.Settings, intake: Any, chain: Any = None) -> Any:
    """The station's report of its bays to the archive's dock dashboard (chained to ``chain``)."""
    from ingest.report import DockReporter

    return DockReporter(intake, settings.station.id, chain=chain)


def cmd_watch(args: argparse.Namespace, settings: config.Settings) -> int:
    from ingest.watch import watch
    from app.progress import BayProgress

    dock = Path(args.dock_root) if args.dock_root else settings.station.dock_root
    stop = threading.Event()
    intake = _intake(settings)
    _embedded_workers(settings, getattr(intake, "archive", None), stop)
    reporter = _reporter(settings, intake, BayProgress())
    try:
        watch(settings, intake, dock, stop=stop, listener=reporter,
              on_result=(lambda r: _print_json(r.to_dict())) if args.json else _print_result_line)
    except KeyboardInterrupt:
        stop.set()
    finally:
        reporter.close()
    return EXIT_OK


def _embedded_station(settings: config.Settings, archive: Any, stop: threading.Event) -> threading.Thread | None:
    """Embedded default: ``liuhen serve`` also runs the station on ``station.dock_root``."""
    if settings.station.archive_url or not settings.station.embedded:
        return None
    from archive.intake import LocalIntake
    from ingest.watch import watch

    dock = settings.station.dock_root
    dock.mkdir(parents=True, exist_ok=True)
    intake = LocalIntake(archive)
    reporter = _reporter(settings, intake)

    def run() -> None:
        try:
            watch(settings, intake, dock, stop=stop, listener=reporter, on_result=_print_result_line)
        finally:
            reporter.close()

    t = threading.Thread(target=run, name="station", daemon=True)
    t.start()
    print(f"Station {settings.station.id} is watching {dock} (one sub-folder per bay).", file=sys.stderr)
    return t


def _embedded_workers(settings: config.Settings, archive: Any, stop: threading.Event) -> None:
    """Embedded default: the media workers run as threads of this process."""
    if archive is None or not settings.workers.embedded:
        return
    from jobs.worker import start_threads
    from media.service import HANDLERS

    start_threads(archive, HANDLERS, threads=settings.workers.threads, stop=stop,
                  lease_s=settings.workers.lease_seconds, poll_s=settings.workers.poll_seconds)


def _print_result_line(r: Any) -> None:
    line = f"{_STATUS_ZH.get(r.status, r.status)} {r.status}: {r.path}"
    if r.evidence_id is not None:
        line += f" → evidence {r.evidence_id}"
    if r.reason and r.status not in ("archived",):
        line += f"\n    {r.reason}"
    print(line, flush=True)


def cmd_verify(args: argparse.Namespace, settings: config.Settings) -> int:
    from integrity.service import verify_all
    from app.progress import bar

    archive = _archive(settings)
    tty = sys.stderr.isatty() and not args.json

    def progress(i: int, n: int) -> None:
        if tty:
            sys.stderr.write(f"\r校验 verifying {bar(i, n)} {i}/{n}")
            sys.stderr.flush()

    try:
        report = verify_all(archive, actor=_cli_actor(), progress=progress)
    finally:
        archive.close()
    if tty:
        sys.stderr.write("\n")
    if args.json:
        _print_json(report.to_dict())
    else:
        print(f"Checked {report.originals} originals, {report.signatures} manifest signatures, "
              f"{report.events} custody events, {report.checkpoints} signed checkpoints, "
              f"{report.records} text-record versions.")
        for f in report.failures:
            print(f"FAILED {f.kind}: {f.detail}\n    {f.action}")
        print("全部通过 All checks passed." if report.ok else f"{len(report.failures)} failure(s).")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_show(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.service import view

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            record = view(db, archive.custody, ref=args.evidence_id, actor=_cli_actor(), tool="liuhen show")
    finally:
        archive.close()
    if args.json:
        _print_json(record)
        return EXIT_OK
    print(f"Evidence {record['evidence_id']}  {record['file_name']}")
    for k in ("sha256", "size", "media_kind", "media_state", "media_note", "device_id", "officer_id", "recorded_at",
              "store_key"):
        if record.get(k) is not None:
            print(f"  {k:<12} {record[k]}")
    for s in record["sightings"]:
        print(f"  sighting {s['sighting_id']}: station {s['station_id']} bay {s['bay']} "
              f"recorder {s['device_id']} — {s['original_path']}")
    for e in record.get("custody", []):
        print(f"  #{e['seq']:<6} {e['at']}  {e['action']:<20} {e['actor']:<24} {e['outcome']}  {e['tool']}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.export import export_bag

    if bool(args.case) == bool(args.evidence_id):
        raise LiuhenError("Name either evidence to export or one case (--case), not both and not neither.",
                          "e.g. `liuhen export 12 13 --out DIR` or `liuhen export --case 110101-2026-000001 --out DIR`.")
    archive = _archive(settings)
    try:
        if args.case:
            from cases.export import export_case

            result = export_case(archive, args.case, Path(args.out), actor=_cli_actor())
        else:
            result = export_bag(archive, list(args.evidence_id), Path(args.out), actor=_cli_actor())
    finally:
        archive.close()
    if args.json:
        _print_json(result.to_dict())
    else:
        print(f"Exported {len(result.evidence_ids)} evidence item(s), {result.files} files, to the BagIt bag "
              f"{result.path}.\nCheck it without liuhen: see {result.path}/data/VERIFY.txt "
              "(sha256sum -c manifest-sha256.txt; openssl pkeyutl -verify ...).")
    return EXIT_OK


def cmd_keys_public(args: argparse.Namespace, settings: config.Settings) -> int:
    if args.archive:
        from hashing.keys import load_or_create

        print(load_or_create(settings.archive.key_path).public_pem, end="")
        return EXIT_OK
    station_id = args.station or settings.station.id
    if station_id == settings.station.id and (settings.station.state_path / "station.ed25519").exists():
        from hashing.keys import load_or_create

        print(load_or_create(settings.station.state_path / "station.ed25519").public_pem, end="")
        return EXIT_OK
    from archive.models import Station

    archive = _archive(settings)
    try:
        with archive.sessions() as db:
            st = db.get(Station, station_id)
            if st is None or not st.public_key_pem:
                raise LiuhenError(f"No station {station_id!r} is known here.",
                                  "Check the station id (see the station's config.toml), or run the station once.")
            print(st.public_key_pem, end="")
    finally:
        archive.close()
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace, settings: config.Settings) -> int:
    archive = _archive(settings)
    archive.close()
    print("Database schema is up to date.")
    return EXIT_OK


def cmd_stations_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.stations import add_station

    archive = _archive(settings)
    try:
        token = add_station(archive, station_id=args.station_id)
    finally:
        archive.close()
    if args.json:
        _print_json({"station_id": args.station_id, "token": token})
    else:
        print(f"Station {args.station_id} enrolled. Put this token in the station's config.toml "
              f"([station] token = ...); it is shown only once:\n{token}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, settings: config.Settings) -> int:
    import uvicorn

    from app.web import create_app

    archive = _archive(settings)
    stop = threading.Event()
    _embedded_workers(settings, archive, stop)
    station = _embedded_station(settings, archive, stop) if not args.no_station else None
    print(f"控制台 Console: http://{args.host}:{args.port}/   API: http://{args.host}:{args.port}/api/v1/docs",
          file=sys.stderr, flush=True)
    try:
        uvicorn.run(create_app(archive), host=args.host, port=args.port, log_level="warning")
    finally:
        stop.set()
        if station is not None:
            station.join(timeout=10)
        archive.close()
    return EXIT_OK


def cmd_worker(args: argparse.Namespace, settings: config.Settings) -> int:
    import signal

    from jobs.worker import run_worker, start_threads, worker_id
    from media.service import HANDLERS

    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(created).6f %(levelname)s %(name)s %(message)s")
    archive = _archive(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    w = settings.workers
    try:
        if args.until_idle:
            n = run_worker(archive, HANDLERS, stop=stop, worker=worker_id(), lease_s=w.lease_seconds,
                           poll_s=w.poll_seconds, until_idle=True)
            print(f"Ran {n} job(s); nothing left to do.")
            return EXIT_OK
        threads = start_threads(archive, HANDLERS, threads=args.threads or w.threads, stop=stop,
                                lease_s=w.lease_seconds, poll_s=w.poll_seconds)
        print(f"Worker running ({len(threads)} thread(s)); Ctrl-C to stop.", file=sys.stderr)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        archive.close()
    return EXIT_OK


def _job_rows(archive) -> list[dict[str, Any]]:  # noqa: ANN001
    from sqlalchemy import select

    from archive.models import Evidence
    from jobs.models import Job

    with archive.sessions() as db:
        rows = db.execute(select(Job, Evidence.file_name).join(Evidence, Evidence.id == Job.evidence_id)
                          .order_by(Job.id)).all()
        return [{"job_id": j.id, "kind": j.kind, "evidence_id": j.evidence_id, "file_name": name, "state": j.state,
                 "progress": round(j.progress, 3), "note": j.note, "attempts": j.attempts,
                 "last_error": j.last_error, "worker": j.lease_owner} for j, name in rows]


def cmd_jobs(args: argparse.Namespace, settings: config.Settings) -> int:
    import time

    from app.progress import bar

    archive = _archive(settings)
    stop = threading.Event()
    try:
        if args.wait and settings.workers.embedded:
            from jobs.worker import start_threads
            from media.service import HANDLERS

            start_threads(archive, HANDLERS, threads=settings.workers.threads, stop=stop,
                          lease_s=settings.workers.lease_seconds, poll_s=min(0.5, settings.workers.poll_seconds))
        tty = sys.stderr.isatty() and not args.json
        drawn = 0
        while True:
            rows = _job_rows(archive)
            active = [r for r in rows if r["state"] in ("pending", "running")]
            if tty and args.wait:
                if drawn:
                    sys.stderr.write(f"\x1b[{drawn}F")
                shown = [r for r in rows if r["state"] == "running"][:8]
                for r in shown:
                    sys.stderr.write(f"\x1b[2K#{r['job_id']:<5} {r['kind']:<7} {bar(int(r['progress'] * 1000), 1000)} "
                                     f"{r['file_name'][:40]}\n")
                sys.stderr.write(f"\x1b[2K{len(active)} 个任务进行中 job(s) pending or running\n")
                drawn = len(shown) + 1
            if not args.wait or not active:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        archive.close()
    if args.json:
        for r in rows:
            _print_json(r)
    else:
        for r in rows:
            line = f"#{r['job_id']:<5} {r['kind']:<7} {r['state']:<8} {bar(int(r['progress'] * 1000), 1000, 16)} " \
                   f"evidence {r['evidence_id']:<5} {r['file_name']}"
            print(line + (f"\n    {r['last_error']}" if r["last_error"] and r["state"] != "done" else ""))
        done = sum(r["state"] == "done" for r in rows)
        failed = sum(r["state"] == "failed" for r in rows)
        print(f"{len(rows)} job(s): {done} done, {failed} failed, {len(rows) - done - failed} pending or running.")
    return EXIT_OK if not any(r["state"] == "failed" for r in rows) else EXIT_FAILED


def _read_password() -> str:
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("密码 Password: ")
        if getpass.getpass("再次输入 Again: ") != first:
            raise LiuhenError("The two passwords differ.", "Run the command again and type the same password twice.")
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def cmd_units_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import add_unit

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            u = add_unit(db, code=args.code, name=args.name, parent_code=args.parent)
            out = {"unit_id": u.id, "code": u.code, "name": u.name}
    finally:
        archive.close()
    _print_json(out) if args.json else print(f"Unit {out['code']} ({out['name']}) added.")
    return EXIT_OK


def cmd_users_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import add_user

    password = _read_password()
    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            u = add_user(db, archive.custody, username=args.name, password=password, role=args.role,
                         unit_code=args.unit, display_name=args.display_name, actor=_cli_actor())
            out = {"user_id": u.id, "username": u.username, "role": u.role, "unit": args.unit}
    finally:
        archive.close()
    _print_json(out) if args.json else print(f"User {out['username']} ({out['role']}, unit {out['unit']}) added.")
    return EXIT_OK


def cmd_users_unlock(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import unlock

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            unlock(db, archive.custody, username=args.name, actor=_cli_actor())
    finally:
        archive.close()
    print(f"User {args.name} unlocked.")
    return EXIT_OK


def cmd_users_token(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import get_user, issue_api_token

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            user = get_user(db, username=args.name)
            token = issue_api_token(db, archive.custody, user=user, name=args.token_name, actor=_cli_actor())
    finally:
        archive.close()
    if args.json:
        _print_json({"username": args.name, "name": args.token_name, "token": token})
    else:
        print(f"API token for {args.name} ({args.token_name}); send it as `Authorization: Bearer <token>`. "
              f"It is shown only once:\n{token}")
    return EXIT_OK


def cmd_officers_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import get_unit
    from archive.attribution import add_officer

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            unit = get_unit(db, code=args.unit)
            o = add_officer(db, archive.custody, officer_no=args.officer_no, name=args.name, unit_id=unit.id,
                            actor=_cli_actor())
            out = {"officer_no": o.officer_no, "name": o.name, "unit": unit.code}
    finally:
        archive.close()
    _print_json(out) if args.json else print(f"Officer {out['officer_no']} {out['name']} (unit {out['unit']}) added.")
    return EXIT_OK


def cmd_recorders_assign(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.attribution import assign_recorder

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            changed = assign_recorder(db, archive.custody, device_id=args.device_id,
                                      officer_no=None if args.officer_no == "-" else args.officer_no,
                                      actor=_cli_actor())
    finally:
        archive.close()
    out = {"device_id": args.device_id, "officer_no": args.officer_no, "attributed_evidence": changed}
    if args.json:
        _print_json(out)
    else:
        print(f"Recorder {args.device_id} assigned to {args.officer_no}; {len(changed)} earlier recording(s) "
              "that named no officer now belong to this officer.")
    return EXIT_OK


def cmd_stations_unit(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.stations import set_unit

    archive = _archive(settings)
    try:
        set_unit(archive, station_id=args.station_id, unit_code=args.unit, actor=_cli_actor())
    finally:
        archive.close()
    print(f"Station {args.station_id} now belongs to unit {args.unit}: footage it offloads whose officer is not "
          "known belongs to that unit.")
    return EXIT_OK


def _when(text: str, settings: config.Settings) -> Any:
    """A time from the command line: with its offset as given, else in the station's time zone."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise LiuhenError(f"{text!r} is not a time.", "Write it as 2026-11-23T09:30:00 (local) or with an offset, "
                          "e.g. 2026-11-23T09:30:00+08:00.") from e
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(settings.station.timezone))


def cmd_cases_create(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import get_unit
    from cases.service import PartyIn, create_case

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            unit = get_unit(db, code=args.unit)
            case = create_case(db, archive.custody, settings.cases, unit_id=unit.id, unit_code=unit.code,
                               category=args.category, title=args.title, actor=_cli_actor(), source=args.source,
                               parties=[PartyIn(name=n) for n in args.party or []], tz=settings.station.timezone)
            out = {"case_id": case.id, "number": case.number, "category": case.category, "title": case.title}
    finally:
        archive.close()
    _print_json(out) if args.json else print(f"Case {out['number']} opened ({out['category']}: {out['title']}).")
    return EXIT_OK


def cmd_cases_step(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.service import add_step, get_case

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            case = get_case(db, args.case)
            step = add_step(db, archive.custody, settings.cases, case=case, kind=args.kind,
                            started_at=_when(args.start, settings), ended_at=_when(args.end, settings),
                            actor=_cli_actor(), place=args.place, officers=args.officer or [])
            out = {"step_id": step.id, "case": case.number, "kind": step.kind,
                   "requirement": settings.cases.requirement(step.kind)}
    finally:
        archive.close()
    _print_json(out) if args.json else print(f"Step {out['step_id']} ({out['kind']}, {out['requirement']}) added "
                                             f"to case {out['case']}.")
    return EXIT_OK


def cmd_cases_link(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.service import find_evidence
    from cases.service import get_step, link

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            ev = find_evidence(db, args.evidence)
            lk = link(db, archive.custody, step=get_step(db, args.step_id), evidence=ev, actor=_cli_actor(),
                      start_s=args.start_s, end_s=args.end_s)
            out = {"link_id": lk.id, "step_id": lk.step_id, "evidence_id": ev.id}
    finally:
        archive.close()
    _print_json(out) if args.json else print(f"Evidence {out['evidence_id']} linked to step {out['step_id']} "
                                             f"(link {out['link_id']}).")
    return EXIT_OK


def cmd_cases_unlink(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.service import unlink

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            lk = unlink(db, archive.custody, link_id=args.link_id, actor=_cli_actor())
            out = {"link_id": lk.id, "evidence_id": lk.evidence_id, "step_id": lk.step_id}
    finally:
        archive.close()
    _print_json(out) if args.json else print(f"Link {out['link_id']} ended (evidence {out['evidence_id']}).")
    return EXIT_OK


def cmd_cases_check(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.coverage import record_check
    from cases.service import get_case

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            report = record_check(db, archive.custody, settings.cases, case=get_case(db, args.case),
                                  actor=_cli_actor(), tz=settings.station.timezone)
    finally:
        archive.close()
    if args.json:
        _print_json(report.to_dict())
    else:
        print(f"Case {report.number}: {len(report.steps)} step(s).")
        for s in report.steps:
            mark = "需处理 FLAGGED" if s.flagged else "OK"
            print(f"  [{mark}] #{s.step_id} {s.kind} ({s.requirement}, {s.status}, {s.covered_s:.0f}/{s.total_s:.0f} s)"
                  f"\n      {s.reason}")
        print("全过程记录完整 Coverage complete." if report.ok else
              f"{len(report.flagged)} 个环节需处理 step(s) flagged.")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_cases_close(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.service import close_case, get_case

    archive = _archive(settings)
    try:
        with archive.sessions.begin() as db:
            case = close_case(db, archive.custody, case=get_case(db, args.case), actor=_cli_actor())
            out = {"case_id": case.id, "number": case.number, "status": case.status}
    finally:
        archive.close()
    _print_json(out) if args.json else print(f"Case {out['number']} closed.")
    return EXIT_OK


def cmd_records_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from cases.records import add_version
    from cases.service import get_case

    path = Path(args.file)
    if not path.is_file():
        raise LiuhenError(f"The document {path} does not exist.", "Give the path of the PDF, DOCX or image to add.")
    archive = _archive(settings)
    try:
        with archive.sessions() as db:
            case_id = get_case(db, args.case).id
        added = add_version(archive, case_id=case_id, actor=_cli_actor(), kind=args.kind, title=args.title or path.name,
                            path=path, file_name=path.name, step_id=args.step, record_id=args.record)
    finally:
        archive.close()
    out = {"record_id": added.record_id, "version": added.version, "sha256": added.sha256, "size": added.size}
    _print_json(out) if args.json else print(f"Text record {added.record_id} version {added.version} stored and "
                                             f"signed (SHA-256 {added.sha256}).")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, settings: config.Settings) -> int:
    from app.demo import run_demo

    return run_demo(settings, json_out=args.json, clips=args.clips, seconds=args.seconds)


# ---------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="config file (default ./config.toml or $LIUHEN_CONFIG)")
    p = argparse.ArgumentParser(prog="liuhen", parents=[common],
                                description="留痕 liuhen — evidence archive for law-enforcement recorders")
    p.add_argument("--version", action="version", version=f"liuhen {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable[..., int], help: str, parent: Any = sub) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, parents=[common], help=help, description=help)
        sp.set_defaults(fn=fn)
        return sp

    sp = add("ingest", cmd_ingest, "offload the recorders docked in DOCK_ROOT into the archive")
    sp.add_argument("dock_root", nargs="?", help="folder with one sub-folder per bay (default: station.dock_root)")
    sp.add_argument("--once", action="store_true", help="offload what is docked now, then exit")
    sp.add_argument("--json", action="store_true", help="one JSON object per file on standard output")
    sp.add_argument("--unstable-timeout", type=float, default=120.0,
                    help="give up on a file still being written after this many seconds (default 120)")

    st = sub.add_parser("station", help="the docking-station agent").add_subparsers(dest="station_cmd", required=True)
    sp = add("watch", cmd_watch, "watch DOCK_ROOT and offload recorders as they are docked", st)
    sp.add_argument("dock_root", nargs="?")
    sp.add_argument("--json", action="store_true")

    sp = add("verify", cmd_verify, "re-hash every original, check every signature and the custody chain")
    sp.add_argument("--json", action="store_true")

    sp = add("show", cmd_show, "show one evidence record: metadata, sightings, custody events")
    sp.add_argument("evidence_id")
    sp.add_argument("--json", action="store_true")

    sp = add("export", cmd_export, "export evidence (or a whole case) as a BagIt bag verifiable without liuhen")
    sp.add_argument("evidence_id", nargs="*")
    sp.add_argument("--case", help="export this case: its text records, linked originals, coverage report, custody")
    sp.add_argument("--out", required=True, help="folder to create for the bag")
    sp.add_argument("--json", action="store_true")

    ks = sub.add_parser("keys", help="signing keys").add_subparsers(dest="keys_cmd", required=True)
    sp = add("public", cmd_keys_public, "print a public key as PEM", ks)
    sp.add_argument("--station", help="station id (default: this station)")
    sp.add_argument("--archive", action="store_true", help="the archive's checkpoint-signing key")

    dbp = sub.add_parser("db", help="database").add_subparsers(dest="db_cmd", required=True)
    add("upgrade", cmd_db_upgrade, "create or upgrade the database schema", dbp)

    stp = sub.add_parser("stations", help="remote docking stations").add_subparsers(dest="stations_cmd", required=True)
    sp = add("add", cmd_stations_add, "enrol a remote station and print its intake token", stp)
    sp.add_argument("station_id")
    sp.add_argument("--json", action="store_true")

    sp = add("unit", cmd_stations_unit, "set the unit (单位) a station belongs to", stp)
    sp.add_argument("station_id")
    sp.add_argument("unit", help="code of the unit")

    sp = add("serve", cmd_serve, "run the console and the HTTP API (and, in the embedded default, the station "
             "and the media workers)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8470)
    sp.add_argument("--no-station", action="store_true", help="do not run the embedded station on station.dock_root")

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

    up = sub.add_parser("units", help="units (单位)").add_subparsers(dest="units_cmd", required=True)
    sp = add("add", cmd_units_add, "add a unit (单位), optionally under a parent unit", up)
    sp.add_argument("code")
    sp.add_argument("name")
    sp.add_argument("--parent", help="code of the parent unit")
    sp.add_argument("--json", action="store_true")

    usp = sub.add_parser("users", help="user accounts").add_subparsers(dest="users_cmd", required=True)
    sp = add("add", cmd_users_add, "add a user account; the password is read from standard input", usp)
    sp.add_argument("name")
    sp.add_argument("--role", required=True,
                    help="operator | investigator | legal_reviewer | records_manager | auditor | admin")
    sp.add_argument("--unit", required=True, help="code of the user's unit")
    sp.add_argument("--display-name")
    sp.add_argument("--json", action="store_true")
    sp = add("unlock", cmd_users_unlock, "unlock an account locked after failed logins", usp)
    sp.add_argument("name")
    sp = add("token", cmd_users_token, "issue an API token for a user (shown once)", usp)
    sp.add_argument("name")
    sp.add_argument("--name", dest="token_name", required=True, help="what the token is for, e.g. 案件系统对接")
    sp.add_argument("--json", action="store_true")

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
    sp = add("check", cmd_cases_check, "check each step's audio/video coverage against the checklist; exit 3 "
             "when a step is flagged", cp)
    sp.add_argument("case")
    sp.add_argument("--json", action="store_true")
    sp = add("close", cmd_cases_close, "close a case (结案)", cp)
    sp.add_argument("case")
    sp.add_argument("--json", action="store_true")

    rp2 = sub.add_parser("records", help="text records (执法文书)").add_subparsers(dest="records_cmd", required=True)
    sp = add("add", cmd_records_add, "store a document (PDF, DOCX, JPEG, PNG) as a signed text record or a new "
             "version of one", rp2)
    sp.add_argument("case")
    sp.add_argument("--kind", required=True, help="e.g. 现场检查笔录, 查封扣押决定书, 送达回证")
    sp.add_argument("--file", required=True)
    sp.add_argument("--step", type=int, help="the step it belongs to")
    sp.add_argument("--record", type=int, help="add a new version of this record")
    sp.add_argument("--title")
    sp.add_argument("--json", action="store_true")

    sp = add("worker", cmd_worker, "run media workers (probe, proxy, thumbnails) until stopped")
    sp.add_argument("--threads", type=int, help="worker threads in this process (default: workers.threads)")
    sp.add_argument("--until-idle", action="store_true", help="exit when no job is left")

    sp = add("jobs", cmd_jobs, "list media jobs and their progress")
    sp.add_argument("--wait", action="store_true", help="return when no job is pending or running")
    sp.add_argument("--json", action="store_true")

    sp = add("demo", cmd_demo, "generate sample recordings in a dock folder and offload them")
    sp.add_argument("--clips", type=int, default=3, help="clips per bay (default 3)")
    sp.add_argument("--seconds", type=float, default=4.0, help="length of each clip (default 4 s)")
    sp.add_argument("--json", action="store_true")
    return p


def _report_error(e: LiuhenError, as_json: bool) -> None:
    if as_json:
        _print_json({"code": e.code, "detail": e.diagnostics()})
    print(f"错误 error: {e.diagnostics()}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    try:
        settings = config.load(getattr(args, "config", None))
        return int(args.fn(args, settings))
    except LiuhenError as e:
        _report_error(e, as_json)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
