"""``liuhen fixity``: the continuous fixity audit — one pass now (``run``), where it stands
(``status``); the scheduler embedded in ``liuhen serve`` and ``liuhen worker``."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from app.cli._common import EXIT_FAILED, EXIT_OK, Add, cli_actor, opened, print_json
from liuhen import config


def embedded_fixity(settings: config.Settings, archive: Any, stop: threading.Event) -> None:
    """``[fixity] embedded``: this process runs the audit every ``interval_minutes``."""
    if archive is None or not settings.fixity.embedded:
        return
    from archive.fixity import scheduler
    from retention.verify import gone

    scheduler(archive, settings=settings.fixity, stop=stop, gone=gone())  # destroyed evidence: expected absent


def cmd_run(args: argparse.Namespace, settings: config.Settings) -> int:
    import logging

    from app.progress import counting
    from archive.fixity import run
    from retention.verify import gone

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    with opened(settings) as archive, counting("核验 fixity", show=not args.json, stream=sys.stderr) as progress:
        result = run(archive, settings=settings.fixity, actor=cli_actor(), everything=args.all, progress=progress,
                     gone=gone())
    if args.json:
        print_json(result.to_dict())
    else:
        rate = result.bytes / result.seconds / 1e6 if result.seconds else 0.0
        print(f"Re-hashed {result.checked} stored object(s), {result.bytes / 1e9:.2f} GB in {result.seconds:.1f} s "
              f"({rate:.0f} MB/s); {result.failed} failure(s).")
        for f in result.failures:
            print(f"FAILED {f['object']} {f['key']}: {f['detail']}\n    {f['action']}")
    return EXIT_OK if not result.failed else EXIT_FAILED


def cmd_status(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.fixity import status
    from retention.verify import gone

    with opened(settings) as archive:
        st = status(archive, settings=settings.fixity, gone=gone())
    if args.json:
        print_json(st.to_dict())
    else:
        print(f"{st.objects} stored object(s): {st.checked_in_period} checked in the last {st.period_days:g} days, "
              f"{st.due} due, {st.never_checked} never checked; oldest check "
              f"{st.oldest_check.isoformat() if st.oldest_check else 'none'}.")
        for f in st.failing:
            print(f"FAILING {f['object']} {f['key']} (evidence {f['evidence_id']}, checked {f['checked_at']}): "
                  f"{f['detail']}")
        print("全部完好 No object failed its last check." if st.ok else
              f"{len(st.failing)} object(s) failed their last check: restore them from backup, then run "
              "`liuhen fixity run --all`.")
    return EXIT_OK if st.ok else EXIT_FAILED


def register(sub: Any, add: Add) -> None:
    group = sub.add_parser("fixity", help="the continuous fixity audit: every stored object re-hashed within "
                           "[fixity] period_days").add_subparsers(dest="fixity_cmd", required=True)
    r = add("run", cmd_run, "re-hash the stored objects due now (all cores; resumes where a stopped audit left off)",
            parent=group)
    r.add_argument("--all", action="store_true", help="re-hash every stored object, due or not")
    r.add_argument("--json", action="store_true")
    s = add("status", cmd_status, "where the audit stands; exits 3 while an object's last check failed", parent=group)
    s.add_argument("--json", action="store_true")
