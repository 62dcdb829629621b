"""``liuhen demo``: sample recordings in the dock, offloaded (the work is in ``app.demo``)."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli._common import Add
from liuhen import config


def cmd_demo(args: argparse.Namespace, settings: config.Settings) -> int:
    from app.demo import run_demo

    return run_demo(settings, json_out=args.json, clips=args.clips, seconds=args.seconds)


def register(sub: Any, add: Add) -> None:
    sp = add("demo", cmd_demo, "generate sample recordings in a dock folder and offload them")
    sp.add_argument("--clips", type=int, default=3, help="clips per bay (default 3)")
    sp.add_argument("--seconds", type=float, default=4.0, help="length of each clip (default 4 s)")
    sp.add_argument("--json", action="store_true")
