"""``liuhen serve``: the console and the HTTP API, with (embedded default) the station, the
media workers, the fixity audit's scheduler and the daily disposal run as threads of the same process."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from app.cli._common import EXIT_OK, Add, opened
from app.cli._retention_disposal import embedded_retention
from app.cli.fixity import embedded_fixity
from app.cli.intake import embedded_station
from app.cli.jobs import embedded_workers
from liuhen import config
from liuhen.words import said


def cmd_serve(args: argparse.Namespace, settings: config.Settings) -> int:
    import os

    import uvicorn

    from app.web import SERVE_CONFIG, create_app

    processes = args.web_processes or (os.cpu_count() or 1)
    with opened(settings) as archive:
        stop = threading.Event()
        embedded_workers(settings, archive, stop)
        embedded_fixity(settings, archive, stop)
        embedded_retention(settings, archive, stop)
        station = embedded_station(settings, archive, stop) if not args.no_station else None
        print(f"控制台 Console: http://{args.host}:{args.port}/   API: http://{args.host}:{args.port}/api/v1/docs",
              file=sys.stderr, flush=True)
        try:
            if processes == 1:
                uvicorn.run(create_app(archive), host=args.host, port=args.port, log_level="warning")
            else:  # N web processes (uvicorn's supervisor); the station and the workers stay in this one
                from archive.uploads import sweep_abandoned

                sweep_abandoned(archive)
                if settings.config_path is not None:
                    os.environ[SERVE_CONFIG] = str(settings.config_path)
                _web_processes(args.host, args.port, processes)
        finally:
            stop.set()
            if station is not None:
                station.join(timeout=10)
    return EXIT_OK


def _web_processes(host: str, port: int, n: int) -> None:
    """``n`` uvicorn processes (its supervisor) on one listening socket, each calling
    ``app.web.serve_factory``. The socket is made here, not by uvicorn's ``bind_socket``, which leaves
    its protocol at 0: asyncio then sets no TCP_NODELAY on the accepted connections and every
    keep-alive answer waits ~40 ms for the client's delayed ACK (uvicorn issue 3149; measured here:
    48 ms against 1.4 ms for /health)."""
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from liuhen.errors import ConfigError

    config = uvicorn.Config("app.web:serve_factory", factory=True, workers=n, host=host, port=port,
                            log_level="warning")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(said(f"liuhen serve 无法在 {host}:{port} 监听：{e.strerror}", f"liuhen serve cannot listen on {host}:{port}: {e.strerror}."),
                          said("另一个程序（或另一个 liuhen serve）占用了该端口：请停止它，或使用 --port。", "Another program (or another liuhen serve) uses that port: stop it, or pass --port.")) from e
    sock.set_inheritable(True)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


def _processes(text: str) -> int:
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} processes: give 1 or more, or 0 for one per core")
    return n


def register(sub: Any, add: Add) -> None:
    sp = add("serve", cmd_serve, "run the console and the HTTP API (and, in the embedded default, the station "
             "and the media workers)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8470)
    sp.add_argument("--no-station", action="store_true", help="do not run the embedded station on station.dock_root")
    sp.add_argument("--web-processes", type=_processes, default=1, metavar="N",
                    help="processes serving the console and the API (default 1; 0: one per core): Python runs "
                         "one request's code at a time per process, so N processes use N cores")
