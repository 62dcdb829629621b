"""``liuhen db upgrade``: create or upgrade the database schema (opening the archive does it)."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli._common import EXIT_OK, Add, opened
from liuhen import config


def cmd_db_upgrade(args: argparse.Namespace, settings: config.Settings) -> int:
    with opened(settings):
        pass
    print("Database schema is up to date.")
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    dbp = sub.add_parser("db", help="database").add_subparsers(dest="db_cmd", required=True)
    add("upgrade", cmd_db_upgrade, "create or upgrade the database schema", dbp)
