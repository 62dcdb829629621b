"""``liuhen retention``: the rules in force, holds, the disposal run and its queue, the report.

Each part registers its own commands (``app.cli._retention_*``): holds (``hold ...``), disposal
(``run``, ``pending``, ``restore``, ``approve``, ``log``) and the rest (``rules``, ``report``,
``recompute``, ``classify``)."""

from __future__ import annotations

import importlib
from typing import Any

from app.cli._common import Add

PARTS = ("_retention_surface", "_retention_holds", "_retention_disposal")


def register(sub: Any, add: Add) -> None:
    rp = sub.add_parser("retention", help="retention (保存期限), legal holds (保全) and disposal (销毁)").add_subparsers(
        dest="retention_cmd", required=True)
    for part in PARTS:
        try:
            module = importlib.import_module(f"app.cli.{part}")
        except ModuleNotFoundError as e:
            if e.name != f"app.cli.{part}":
                raise
            continue
        module.register_part(rp, add)
