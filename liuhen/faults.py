"""Seeded crash points for kill tests: ``LIUHEN_KILL_AT=N`` makes the process kill itself with
SIGKILL (no clean-up, no ``finally``, like a power cut) at the N-th ``point()`` it passes;
``LIUHEN_KILL_AT=name:N`` at the N-th pass of the point called ``name``. Unset (always, outside
tests), ``point`` costs one comparison. Each pass can be logged to the file ``LIUHEN_KILL_LOG`` names
(one name per line), so a test learns how many points a run passes and where it died."""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("LIUHEN_KILL_AT", "")
_LOG = os.environ.get("LIUHEN_KILL_LOG", "")
_name, _, _count = _SPEC.rpartition(":")
_AT = int(_count) if _count.isdigit() else 0
_passed: dict[str, int] = {}


def point(name: str) -> None:
    """A place where a crash must leave the old state or the new one, never a half."""
    if not _SPEC and not _LOG:
        return
    key = name if _name else ""
    if _name and name != _name and not _LOG:
        return
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(name + "\n")
    if _AT and (not _name or name == _name):
        _passed[key] = _passed.get(key, 0) + 1
        if _passed[key] == _AT:
            os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["point"]
