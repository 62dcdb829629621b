"""``liuhen ingest`` and ``liuhen station watch``: the station offloading docked recorders, and the
station embedded in ``liuhen serve``."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from app.cli._common import EXIT_ERROR, EXIT_FAILED, EXIT_OK, Add, intake, print_json, report_error
from app.cli.jobs import embedded_workers
from liuhen import config
from liuhen.errors import LiuhenError
from liuhen.words import said

_STATUS_ZH = {"archived": "已归档", "duplicate": "重复(已存一份)", "refused": "拒收", "queued": "排队待传",
              "interrupted": "中断(重新插入后续传)"}


def cmd_ingest(args: argparse.Namespace, settings: config.Settings) -> int:
    if not args.once:
        return cmd_watch(args, settings)
    from app.progress import BayProgress
    from ingest.errors import IngestHalted
    from ingest.station import Station

    dock = Path(args.dock_root) if args.dock_root else settings.station.dock_root
    if not dock.is_dir():
        raise LiuhenError(said(f"采集目录 {dock} 不存在", f"The dock folder {dock} does not exist."),
                          said("请给出每个仓位一个子文件夹（存放插入的记录仪文件）的那个文件夹。", "Give the folder that holds one sub-folder per bay (a docked recorder's files)."))
    bays = None if args.json else BayProgress()
    with intake(settings) as to:
        reporter = _reporter(settings, to, bays)
        station = Station(settings.station, to, listener=reporter)
        try:
            results = station.offload_once(dock, unstable_timeout=args.unstable_timeout)
            halted = None
        except IngestHalted as e:
            results, halted = e.results, e
        finally:
            station.close()
            reporter.close()
            if bays is not None:
                bays.close()
    for r in results:
        if args.json:
            print_json(r.to_dict())
    if not args.json:
        _print_ingest_summary(results)
    if halted is not None:
        report_error(halted, args.json)
        return EXIT_ERROR
    return EXIT_OK if all(r.status in ("archived", "duplicate") for r in results) else EXIT_FAILED


def cmd_watch(args: argparse.Namespace, settings: config.Settings) -> int:
    from app.progress import BayProgress
    from ingest.watch import watch

    dock = Path(args.dock_root) if args.dock_root else settings.station.dock_root
    stop = threading.Event()
    with intake(settings) as to:
        embedded_workers(settings, getattr(to, "archive", None), stop)
        bays = BayProgress()
        reporter = _reporter(settings, to, bays)
        try:
            watch(settings, to, dock, stop=stop, listener=reporter,
                  on_result=(lambda r: print_json(r.to_dict())) if args.json else _print_result_line)
        except KeyboardInterrupt:
            stop.set()
        finally:
            reporter.close()
            bays.close()
    return EXIT_OK


def embedded_station(settings: config.Settings, archive: Any, stop: threading.Event) -> threading.Thread | None:
    """Embedded default: ``liuhen serve`` also runs the station on ``station.dock_root``."""
    if settings.station.archive_url or not settings.station.embedded:
        return None
    from archive.intake import LocalIntake
    from ingest.watch import watch

    dock = settings.station.dock_root
    dock.mkdir(parents=True, exist_ok=True)
    to = LocalIntake(archive)
    reporter = _reporter(settings, to)

    def run() -> None:
        try:
            watch(settings, to, dock, stop=stop, listener=reporter, on_result=_print_result_line)
        finally:
            reporter.close()

    t = threading.Thread(target=run, name="station", daemon=True)
    t.start()
    print(f"Station {settings.station.id} is watching {dock} (one sub-folder per bay).", file=sys.stderr)
    return t


def _reporter(settings: config.Settings, to: Any, chain: Any = None) -> Any:
    """The station's report of its bays to the archive's dock dashboard (chained to ``chain``)."""
    from ingest.report import DockReporter

    return DockReporter(to, settings.station.id, chain=chain)


def _print_ingest_summary(results: list[Any]) -> None:
    from collections import Counter

    for r in results:
        if r.status not in ("archived", "duplicate"):
            print(f"{_STATUS_ZH.get(r.status, r.status)} {r.status}: {r.path}\n    {r.reason}")
    c = Counter(r.status for r in results)
    parts = [f"{_STATUS_ZH[k]} {k} {v}" for k, v in sorted(c.items())]
    print(f"{len(results)} files — " + ", ".join(parts) if parts else "No files docked.")


def _print_result_line(r: Any) -> None:
    line = f"{_STATUS_ZH.get(r.status, r.status)} {r.status}: {r.path}"
    if r.evidence_id is not None:
        line += f" → evidence {r.evidence_id}"
    if r.reason and r.status not in ("archived",):
        line += f"\n    {r.reason}"
    print(line, flush=True)


def register(sub: Any, add: Add) -> None:
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
