"""What every command shares: who acts, the archive (opened once, closed whatever happens), the
``--json`` output and the one-sentence error."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.context import Archive
    from ingest.wire import Intake
    from liuhen import config
    from liuhen.errors import LiuhenError

EXIT_OK, EXIT_ERROR, EXIT_FAILED = 0, 1, 3

Command = Callable[[argparse.Namespace, "config.Settings"], int]
Add = Callable[..., argparse.ArgumentParser]  # add(name, fn, help, parent=sub) -> the command's parser


def cli_actor() -> str:
    """Who acts from the command line: the operating-system account running liuhen."""
    import os
    import pwd

    try:  # the account the process runs as, not $USER or $LOGNAME (anyone can set those)
        return f"cli:{pwd.getpwuid(os.getuid()).pw_name}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"


@contextmanager
def opened(settings: config.Settings) -> Iterator[Archive]:
    """The archive of ``settings`` (its schema brought up to date), closed when the block ends."""
    from app.runtime import open_archive

    archive = open_archive(settings)
    try:
        yield archive
    finally:
        archive.close()


@contextmanager
def intake(settings: config.Settings) -> Iterator[Intake]:
    """Where the station sends: the remote archive at ``station.archive_url``, else this archive."""
    if settings.station.archive_url:
        from ingest.http_intake import HttpIntake

        yield HttpIntake(settings.station.archive_url, settings.station.token or "")
        return
    from archive.intake import LocalIntake

    with opened(settings) as archive:
        yield LocalIntake(archive)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def emit(args: argparse.Namespace, obj: Any, text: str) -> None:
    """``obj`` as one line of JSON with ``--json``, else ``text`` for a person."""
    if args.json:
        print_json(obj)
    else:
        print(text)


def terminal_lang() -> str | None:
    """The language the command line speaks: ``LIUHEN_LANG`` (``zh`` or ``en``), else the locale
    (``LC_ALL``, ``LC_MESSAGES``, ``LANG``): ``zh…`` Chinese, ``en…`` English; ``None`` for a locale
    that names neither (``C.UTF-8``, ``POSIX``, unset), where both are printed."""
    import os

    chosen = os.environ.get("LIUHEN_LANG", "").strip().lower()
    if chosen in ("zh", "en"):
        return chosen
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "").strip().lower()
        if value:
            return value[:2] if value[:2] in ("zh", "en") else None
    return None


def report_error(e: LiuhenError, as_json: bool) -> None:
    lang = terminal_lang()
    if as_json:
        print_json(e.to_dict(lang or "zh"))
    if lang == "en":
        print(f"error: {e.message('en')}", file=sys.stderr)
    elif lang == "zh":
        print(f"错误：{e.message('zh')}", file=sys.stderr)
    else:
        print(f"错误：{e.message('zh')}\nerror: {e.message('en')}", file=sys.stderr)
