"""``liuhen stations``: enrol remote docking stations and say which unit each belongs to."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli._common import EXIT_OK, Add, cli_actor, opened, print_json
from liuhen import config


def cmd_stations_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.stations import add_station

    with opened(settings) as archive:
        token = add_station(archive, station_id=args.station_id)
    if args.json:
        print_json({"station_id": args.station_id, "token": token})
    else:
        print(f"Station {args.station_id} enrolled. Put this token in the station's config.toml "
              f"([station] token = ...); it is shown only once:\n{token}")
    return EXIT_OK


def cmd_stations_unit(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.stations import set_unit

    with opened(settings) as archive:
        moved = set_unit(archive, station_id=args.station_id, unit_code=args.unit, actor=cli_actor())
    print(f"Station {args.station_id} now belongs to unit {args.unit}: footage it offloads belongs to that unit's "
          "tree (an officer or recorder of another unit is flagged for review)"
          + (f"; {len(moved)} recording(s) it offloaded while it had no unit now follow it." if moved else "."))
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    stp = sub.add_parser("stations", help="remote docking stations").add_subparsers(dest="stations_cmd", required=True)
    sp = add("add", cmd_stations_add, "enrol a remote station and print its intake token", stp)
    sp.add_argument("station_id")
    sp.add_argument("--json", action="store_true")

    sp = add("unit", cmd_stations_unit, "set the unit (单位) a station belongs to", stp)
    sp.add_argument("station_id")
    sp.add_argument("unit", help="code of the unit")
