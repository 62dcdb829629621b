"""The ``liuhen`` command line.

Every command takes ``--config PATH`` (default ``./config.toml`` or ``$LIUHEN_CONFIG``);
commands that report take ``--json``. An error prints one sentence saying what failed and what
to do (or ``{"code", "detail"}`` with ``--json``) and exits non-zero.

One module per command group, each with a ``register(sub, add)`` that adds its commands; the
commands only translate between the command line and the services, which record their own
custody events. ``_common`` holds what they share (the archive as a context manager, ``--json``).

Start-up imports what the chosen command needs and nothing more: the parser knows every command
by name, module and one-line help (``COMMANDS``), and imports a command's module, and so its
arguments, only once that command is chosen. ``liuhen --help`` imports no command module, no
config and no database; a command's module imports its services inside the command, so that
``liuhen show`` loads what showing needs, not the console or the media pipeline.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from app.cli._common import EXIT_ERROR, EXIT_FAILED, EXIT_OK, Add, Command, report_error
from liuhen import __version__

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_FAILED", "EXIT_OK", "build_parser", "main"]

# name: (module in app.cli that registers it, the line ``liuhen --help`` shows), in the order listed.
# tests/test_cli.py checks this against what the modules register.
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("intake", "offload the recorders docked in DOCK_ROOT into the archive"),
    "station": ("intake", "the docking-station agent"),
    "verify": ("evidence", "re-hash every original, check every signature, the custody log and its anchors"),
    "show": ("evidence", "show one evidence record: metadata, sightings, custody events"),
    "export": ("evidence", "export evidence (or a whole case) as a BagIt bag verifiable without liuhen"),
    "fixity": ("fixity", "the continuous fixity audit: every stored object re-hashed within [fixity] period_days"),
    "log": ("log", "the custody log: checkpoints, anchors and inclusion proofs"),
    "keys": ("keys", "signing keys"),
    "db": ("db", "database"),
    "stations": ("stations", "remote docking stations"),
    "serve": ("serve", "run the console and the HTTP API (and, in the embedded default, the station and the "
                       "media workers)"),
    "officers": ("roster", "officers (执法人员)"),
    "recorders": ("roster", "recorders (执法记录仪)"),
    "units": ("accounts", "units (单位)"),
    "users": ("accounts", "user accounts"),
    "cases": ("cases", "cases (案件), steps and the coverage check"),
    "records": ("cases", "text records (执法文书)"),
    "retention": ("retention", "retention (保存期限), legal holds (保全) and disposal (销毁)"),
    "review": ("review", "legal review (法制审核): the catalogue, submissions, the queue, a round's workspace, marks"),
    "publish": ("publish", "decision notices (行政执法公示): due and overdue, the static export of the public site"),
    "redact": ("redaction", "privacy redaction (隐私遮蔽): plans, detection, renders, approval, release"),
    "worker": ("jobs", "run media workers (probe, proxy, thumbnails) until stopped"),
    "jobs": ("jobs", "list media jobs and their progress"),
    "demo": ("demo", "generate sample recordings in a dock folder and offload them"),
}

if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _SubParsers = argparse._SubParsersAction


class _LazyCommands(_SubParsers):
    """Subcommands known by name and help only, until one is chosen: then its module is imported
    and registers its commands for real (replacing their placeholders), and parsing goes on."""

    add: Add  # the parser's ``add``, for the modules' ``register(sub, add)``
    pending: dict[str, str]  # command name -> module not imported yet

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name in self._name_parser_map:  # a placeholder: replaced, its help line is listed already
            del self._name_parser_map[name]
            kwargs.pop("help", None)
        return super().add_parser(name, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        assert isinstance(values, list) and values  # argparse passes [command, its arguments...]
        module = self.pending.get(values[0])
        if module is not None:
            importlib.import_module(f"app.cli.{module}").register(self, self.add)
            self.pending = {n: m for n, m in self.pending.items() if m != module}
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="config file (default ./config.toml or $LIUHEN_CONFIG)")
    p = argparse.ArgumentParser(prog="liuhen", parents=[common],
                                description="留痕 liuhen — evidence archive for law-enforcement recorders")
    p.add_argument("--version", action="version", version=f"liuhen {__version__}")
    sub = p.add_subparsers(action=_LazyCommands, dest="command", required=True)
    assert isinstance(sub, _LazyCommands)

    def add(name: str, fn: Command, help: str, parent: Any = sub) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = parent.add_parser(name, parents=[common], help=help, description=help)
        sp.set_defaults(fn=fn)
        return sp

    sub.add = add
    sub.pending = {}
    for name, (module, help) in COMMANDS.items():
        sub.add_parser(name, help=help, add_help=False)  # placeholder: its module is imported once chosen
        sub.pending[name] = module
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # imported once a command is chosen: `liuhen --help` needs none of them
    from liuhen import config
    from liuhen.durable import private_umask
    from liuhen.errors import LiuhenError

    as_json = bool(getattr(args, "json", False))
    private_umask()  # every file and folder liuhen creates is owner-only (liuhen.durable)
    try:
        settings = config.load(getattr(args, "config", None))
        return int(args.fn(args, settings))
    except LiuhenError as e:
        report_error(e, as_json)
        return EXIT_ERROR
