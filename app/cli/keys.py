"""``liuhen keys public``: the public half of a station's or the archive's signing key."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli._common import EXIT_OK, Add, opened
from liuhen import config
from liuhen.errors import LiuhenError
from liuhen.words import said


def cmd_keys_public(args: argparse.Namespace, settings: config.Settings) -> int:
    if args.archive:
        from hashing.keys import load_or_create

        print(load_or_create(settings.archive.key_path).public_pem, end="")
        return EXIT_OK
    station_id = args.station or settings.station.id
    if station_id == settings.station.id and (settings.station.state_path / "station.ed25519").exists():
        from hashing.keys import load_or_create

        print(load_or_create(settings.station.state_path / "station.ed25519").public_pem, end="")
        return EXIT_OK
    from archive.models import Station

    with opened(settings) as archive, archive.sessions() as db:
        st = db.get(Station, station_id)
        if st is None or not st.public_key_pem:
            raise LiuhenError(said(f"本机不认识采集站 {station_id!r}", f"No station {station_id!r} is known here."),
                              said("请核对采集站编号（见采集站的 config.toml），或先运行一次采集站。", "Check the station id (see the station's config.toml), or run the station once."))
        print(st.public_key_pem, end="")
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    ks = sub.add_parser("keys", help="signing keys").add_subparsers(dest="keys_cmd", required=True)
    sp = add("public", cmd_keys_public, "print a public key as PEM", ks)
    sp.add_argument("--station", help="station id (default: this station)")
    sp.add_argument("--archive", action="store_true", help="the archive's checkpoint-signing key")
