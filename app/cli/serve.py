"""``liuhen serve``: the console and the HTTP API, with (embedded default) the station, the
media workers and the fixity audit's scheduler as threads of the same process."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from app.cli._common import EXIT_OK, Add, opened
from app.cli.fixity import embedded_fixity
from app.cli.intake import embedded_station
from app.cli.jobs import embedded_workers
from liuhen import config


def cmd_serve(args: argparse.Namespace, settings: config.Settings) -> int:
    import uvicorn

    from app.web import create_app

    with opened(settings) as archive:
        stop = threading.Event()
        embedded_workers(settings, archive, stop)
        embedded_fixity(settings, archive, stop)
        station = embedded_station(settings, archive, stop) if not args.no_station else None
        print(f"控制台 Console: http://{args.host}:{args.port}/   API: http://{args.host}:{args.port}/api/v1/docs",
              file=sys.stderr, flush=True)
        try:
            uvicorn.run(create_app(archive), host=args.host, port=args.port, log_level="warning")
        finally:
            stop.set()
            if station is not None:
                station.join(timeout=10)
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    sp = add("serve", cmd_serve, "run the console and the HTTP API (and, in the embedded default, the station "
             "and the media workers)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8470)
    sp.add_argument("--no-station", action="store_true", help="do not run the embedded station on station.dock_root")
