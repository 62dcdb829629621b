"""``liuhen worker`` and ``liuhen jobs``: the media workers and the list of their jobs; the workers
embedded in ``liuhen serve`` and ``liuhen station watch``."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from app.cli._common import EXIT_FAILED, EXIT_OK, Add, opened, print_json
from liuhen import config


def handlers() -> dict[str, Any]:
    """Every kind of job a worker runs: the media jobs, the exports and the redaction jobs."""
    from api.exports import HANDLERS as EXPORTS
    from media.service import HANDLERS as MEDIA
    from redaction.service import HANDLERS as REDACTION

    return {**MEDIA, **EXPORTS, **REDACTION}


def embedded_workers(settings: config.Settings, archive: Any, stop: threading.Event) -> None:
    """Embedded default: the media workers run as threads of this process."""
    if archive is None or not settings.workers.embedded:
        return
    from jobs.worker import start_threads
    from media.service import warm_up

    threading.Thread(target=warm_up, name="media-warm-up", daemon=True).start()
    start_threads(archive, handlers(), threads=settings.workers.threads, stop=stop,
                  lease_s=settings.workers.lease_seconds, poll_s=settings.workers.poll_seconds)


def cmd_worker(args: argparse.Namespace, settings: config.Settings) -> int:
    import logging
    import signal

    from jobs.worker import run_worker, start_threads, worker_id
    from media.service import warm_up

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(created).6f %(levelname)s %(name)s %(message)s")
    with opened(settings) as archive:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        w = settings.workers
        if args.until_idle:
            n = run_worker(archive, handlers(), stop=stop, worker=worker_id(), lease_s=w.lease_seconds,
                           poll_s=w.poll_seconds, until_idle=True)
            print(f"Ran {n} job(s); nothing left to do.")
            return EXIT_OK
        threading.Thread(target=warm_up, name="media-warm-up", daemon=True).start()
        threads = start_threads(archive, handlers(), threads=args.threads or w.threads, stop=stop,
                                lease_s=w.lease_seconds, poll_s=w.poll_seconds)
        from app.cli.fixity import embedded_fixity

        embedded_fixity(settings, archive, stop)  # the fixity audit's scheduler ([fixity] embedded)
        print(f"Worker running ({len(threads)} thread(s)); Ctrl-C to stop.", file=sys.stderr)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            stop.set()
        for t in threads:
            t.join(timeout=30)
    return EXIT_OK


def _job_rows(archive: Any) -> list[dict[str, Any]]:
    from archive.views import job_list

    with archive.sessions() as db:
        return [{"job_id": j.id, "kind": j.kind, "evidence_id": j.evidence_id, "file_name": e.file_name,
                 "state": j.state, "progress": round(j.progress, 3), "note": j.note, "attempts": j.attempts,
                 "last_error": j.last_error, "worker": j.lease_owner} for j, e in job_list(db)]


def cmd_jobs(args: argparse.Namespace, settings: config.Settings) -> int:
    import time

    from app.progress import JobsBoard, bar

    stop = threading.Event()
    with opened(settings) as archive:
        try:
            if args.wait and settings.workers.embedded:
                from jobs.worker import start_threads

                start_threads(archive, handlers(), threads=settings.workers.threads, stop=stop,
                              lease_s=settings.workers.lease_seconds,
                              poll_s=min(0.5, settings.workers.poll_seconds))
            board = JobsBoard() if args.wait and not args.json else None
            try:
                while True:
                    rows = _job_rows(archive)
                    active = [r for r in rows if r["state"] in ("pending", "running")]
                    if board is not None:
                        board.show([r for r in rows if r["state"] == "running"][:8], len(active))
                    if not args.wait or not active:
                        break
                    time.sleep(0.5)
            finally:
                if board is not None:
                    board.close()
        finally:
            stop.set()
    if args.json:
        for r in rows:
            print_json(r)
    else:
        for r in rows:
            line = f"#{r['job_id']:<5} {r['kind']:<7} {r['state']:<8} {bar(int(r['progress'] * 1000), 1000, 16)} " \
                   f"evidence {r['evidence_id']:<5} {r['file_name']}"
            print(line + (f"\n    {r['last_error']}" if r["last_error"] and r["state"] != "done" else ""))
        done = sum(r["state"] == "done" for r in rows)
        failed = sum(r["state"] == "failed" for r in rows)
        print(f"{len(rows)} job(s): {done} done, {failed} failed, {len(rows) - done - failed} pending or running.")
    return EXIT_OK if not any(r["state"] == "failed" for r in rows) else EXIT_FAILED


def register(sub: Any, add: Add) -> None:
    sp = add("worker", cmd_worker, "run media workers (probe, proxy, thumbnails) until stopped")
    sp.add_argument("--threads", type=int, help="worker threads in this process (default: workers.threads)")
    sp.add_argument("--until-idle", action="store_true", help="exit when no job is left")

    sp = add("jobs", cmd_jobs, "list media jobs and their progress")
    sp.add_argument("--wait", action="store_true", help="return when no job is pending or running")
    sp.add_argument("--json", action="store_true")
