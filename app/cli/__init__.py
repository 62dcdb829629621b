"""The ``liuhen`` command line.

Every command takes ``--config PATH`` (default ``./config.toml`` or ``$LIUHEN_CONFIG``);
commands that report take ``--json``. An error prints one sentence saying what failed and what
to do (or ``{"code", "detail"}`` with ``--json``) and exits non-zero.

One module per command group, each with a ``register(sub, add)`` that adds its commands; the
commands only translate between the command line and the services, which record their own
custody events. ``_common`` holds what they share (the archive as a context manager, ``--json``).
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli import accounts, cases, db, demo, evidence, fixity, intake, jobs, keys, log, roster, serve, stations
from app.cli._common import EXIT_ERROR, EXIT_FAILED, EXIT_OK, Command, report_error
from liuhen import __version__, config
from liuhen.durable import private_umask
from liuhen.errors import LiuhenError

__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_OK", "build_parser", "main"]

# in the order ``liuhen --help`` lists them
GROUPS = (intake, evidence, fixity, log, keys, db, stations, serve, roster, accounts, cases, jobs, demo)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="config file (default ./config.toml or $LIUHEN_CONFIG)")
    p = argparse.ArgumentParser(prog="liuhen", parents=[common],
                                description="留痕 liuhen — evidence archive for law-enforcement recorders")
    p.add_argument("--version", action="version", version=f"liuhen {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Command, help: str, parent: Any = sub) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = parent.add_parser(name, parents=[common], help=help, description=help)
        sp.set_defaults(fn=fn)
        return sp

    for group in GROUPS:
        group.register(sub, add)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    private_umask()  # every file and folder liuhen creates is owner-only (liuhen.durable)
    try:
        settings = config.load(getattr(args, "config", None))
        return int(args.fn(args, settings))
    except LiuhenError as e:
        report_error(e, as_json)
        return EXIT_ERROR
