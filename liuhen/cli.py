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
    from liuhen.runtime import open_archive

    return open_archive(settings)


def _intake(settings: config.Settings):  # noqa: ANN202
    if settings.station.archive_url:
        from ingest.http_intake import HttpIntake

        return HttpIntake(settings.station.archive_url, settings.station.token or "")
    from ingest.intake import LocalIntake

    return LocalIntake(_archive(settings))


# ---------------------------------------------------------------------- commands


def cmd_ingest(args: argparse.Namespace, settings: config.Settings) -> int:
    if not args.once:
        return cmd_watch(args, settings)
    from ingest.station import IngestHalted, Station
    from liuhen.progress import BayProgress

    dock = Path(args.dock_root) if args.dock_root else settings.station.dock_root
    if not dock.is_dir():
        raise LiuhenError(f"The dock folder {dock} does not exist.",
                          "Give the folder that holds one sub-folder per bay (a docked recorder's files).")
    station = Station(settings.station, _intake(settings),
                      listener=None if args.json else BayProgress())
    try:
        results = station.offload_once(dock, unstable_timeout=args.unstable_timeout)
        halted = None
    except IngestHalted as e:
        results, halted = e.results, e
    finally:
        station.close()
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


def cmd_watch(args: argparse.Namespace, settings: config.Settings) -> int:
    from ingest.watch import watch
    from liuhen.progress import BayProgress

    dock = Path(args.dock_root) if args.dock_root else settings.station.dock_root
    stop = threading.Event()
    intake = _intake(settings)
    _embedded_workers(settings, getattr(intake, "archive", None), stop)
    try:
        watch(settings, intake, dock, stop=stop, listener=BayProgress(),
              on_result=(lambda r: _print_json(r.to_dict())) if args.json else _print_result_line)
    except KeyboardInterrupt:
        stop.set()
    return EXIT_OK


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
    from archive.verify import verify_all
    from liuhen.progress import bar

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
              f"{report.events} custody events, {report.checkpoints} signed checkpoints.")
        for f in report.failures:
            print(f"FAILED {f.kind}: {f.detail}\n    {f.action}")
        print("全部通过 All checks passed." if report.ok else f"{len(report.failures)} failure(s).")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_show(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.service import show

    archive = _archive(settings)
    try:
        record = show(archive, args.evidence_id)
        with archive.sessions.begin() as db:  # looking at evidence is an action on it too
            archive.custody.record(db, actor=_cli_actor(), action="viewed", evidence_id=record["evidence_id"],
                                   object_sha256=record["sha256"], tool="liuhen show", tool_version=__version__,
                                   detail={"what": "record and custody history"})
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

    archive = _archive(settings)
    try:
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

    from api.app import create_app

    archive = _archive(settings)
    stop = threading.Event()
    _embedded_workers(settings, archive, stop)
    try:
        uvicorn.run(create_app(archive), host=args.host, port=args.port, log_level="info")
    finally:
        stop.set()
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

    from liuhen.progress import bar

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
            u = add_user(db, username=args.name, password=password, role=args.role, unit_code=args.unit,
                         display_name=args.display_name)
            archive.custody.record(db, actor=_cli_actor(), action="user_added", tool="liuhen",
                                   tool_version=__version__,
                                   detail={"username": u.username, "role": u.role, "unit": args.unit})
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
            unlock(db, username=args.name)
            archive.custody.record(db, actor=_cli_actor(), action="user_unlocked", tool="liuhen",
                                   tool_version=__version__, detail={"username": args.name})
    finally:
        archive.close()
    print(f"User {args.name} unlocked.")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, settings: config.Settings) -> int:
    from liuhen.demo import run_demo

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

    sp = add("export", cmd_export, "export evidence as a BagIt bag verifiable without liuhen")
    sp.add_argument("evidence_id", nargs="+")
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

    sp = add("serve", cmd_serve, "run the archive's HTTP API (station intake)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8470)

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
