"""``liuhen units`` and ``liuhen users``: units (单位), user accounts and their API tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli._common import EXIT_OK, Add, cli_actor, emit, opened, print_json
from liuhen import config
from liuhen.errors import LiuhenError


def _read_password() -> str:
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("密码 Password: ")
        if getpass.getpass("再次输入 Again: ") != first:
            raise LiuhenError("The two passwords differ.", "Run the command again and type the same password twice.")
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def cmd_units_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import add_unit

    with opened(settings) as archive, archive.sessions.begin() as db:
        u = add_unit(db, code=args.code, name=args.name, parent_code=args.parent)
        out = {"unit_id": u.id, "code": u.code, "name": u.name}
    emit(args, out, f"Unit {out['code']} ({out['name']}) added.")
    return EXIT_OK


def cmd_users_add(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import add_user

    password = _read_password()
    with opened(settings) as archive, archive.sessions.begin() as db:
        u = add_user(db, archive.custody, username=args.name, password=password, role=args.role,
                     unit_code=args.unit, display_name=args.display_name, actor=cli_actor())
        out = {"user_id": u.id, "username": u.username, "role": u.role, "unit": args.unit}
    emit(args, out, f"User {out['username']} ({out['role']}, unit {out['unit']}) added.")
    return EXIT_OK


def cmd_users_unlock(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import unlock

    with opened(settings) as archive, archive.sessions.begin() as db:
        unlock(db, archive.custody, username=args.name, actor=cli_actor())
    print(f"User {args.name} unlocked.")
    return EXIT_OK


def cmd_users_token(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import get_user, issue_api_token

    with opened(settings) as archive, archive.sessions.begin() as db:
        user = get_user(db, username=args.name)
        token = issue_api_token(db, archive.custody, user=user, name=args.token_name, actor=cli_actor())
    if args.json:
        print_json({"username": args.name, "name": args.token_name, "token": token})
    else:
        print(f"API token for {args.name} ({args.token_name}); send it as `Authorization: Bearer <token>`. "
              f"It is shown only once:\n{token}")
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    up = sub.add_parser("units", help="units (单位)").add_subparsers(dest="units_cmd", required=True)
    sp = add("add", cmd_units_add, "add a unit (单位), optionally under a parent unit", up)
    sp.add_argument("code")
    sp.add_argument("name")
    sp.add_argument("--parent", help="code of the parent unit")
    sp.add_argument("--json", action="store_true")

    usp = sub.add_parser("users", help="user accounts").add_subparsers(dest="users_cmd", required=True)
    sp = add("add", cmd_users_add, "add a user account; the password is read from standard input", usp)
    sp.add_argument("name")
    sp.add_argument("--role", required=True,
                    help="operator | investigator | legal_reviewer | records_manager | auditor | admin")
    sp.add_argument("--unit", required=True, help="code of the user's unit")
    sp.add_argument("--display-name")
    sp.add_argument("--json", action="store_true")
    sp = add("unlock", cmd_users_unlock, "unlock an account locked after failed logins", usp)
    sp.add_argument("name")
    sp = add("token", cmd_users_token, "issue an API token for a user (shown once)", usp)
    sp.add_argument("name")
    sp.add_argument("--name", dest="token_name", required=True, help="what the token is for, e.g. 案件系统对接")
    sp.add_argument("--json", action="store_true")
