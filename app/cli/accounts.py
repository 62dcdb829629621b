"""``liuhen units`` and ``liuhen users``: units (单位), user accounts and their API tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli._common import EXIT_OK, Add, cli_actor, emit, opened, print_json
from liuhen import config
from liuhen.errors import LiuhenError
from liuhen.words import said


def _read_password(prompt: str = "密码 Password: ") -> str:
    """A password from the terminal (typed twice) or one line of standard input."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(prompt)
        if getpass.getpass("再次输入 Again: ") != first:
            raise LiuhenError(said("两次输入的密码不同", "The two passwords differ."), said("请重新运行命令，两次输入相同的密码。", "Run the command again and type the same password twice."))
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
                     unit_code=args.unit, display_name=args.display_name, actor=cli_actor(),
                     settings=settings.auth, legal_qualification=bool(args.legal_qualification),
                     officer_no=args.officer_no or None)
        out = {"user_id": u.id, "username": u.username, "role": u.role, "unit": args.unit,
               "legal_qualification": u.legal_qualification, "officer_no": u.officer_no}
    emit(args, out, f"User {out['username']} ({out['role']}, unit {out['unit']}) added.")
    return EXIT_OK


def cmd_users_update(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import update_user

    if args.legal_qualification is None and args.officer_no is None:
        raise LiuhenError(said(f"用户 {args.name} 没有要更改的内容", f"Nothing to change for user {args.name}."),
                          said("请给出 --legal-qualification/--no-legal-qualification 或 --officer-no 警号（--officer-no '' 清除）。", "Give --legal-qualification/--no-legal-qualification or --officer-no NUMBER "
                               "(--officer-no '' clears it)."))
    with opened(settings) as archive, archive.sessions.begin() as db:
        u = update_user(db, archive.custody, username=args.name, legal_qualification=args.legal_qualification,
                        officer_no=args.officer_no, actor=cli_actor())
        out = {"username": u.username, "role": u.role, "legal_qualification": u.legal_qualification,
               "officer_no": u.officer_no}
    emit(args, out, f"User {out['username']}: 法律职业资格 legal qualification "
         f"{'yes' if out['legal_qualification'] else 'no'}, 警号 officer number {out['officer_no'] or '-'}.")
    return EXIT_OK


def cmd_users_unlock(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import unlock

    with opened(settings) as archive, archive.sessions.begin() as db:
        unlock(db, archive.custody, username=args.name, actor=cli_actor())
    print(f"User {args.name}: login throttle cleared.")
    return EXIT_OK


def cmd_users_disable(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import disable

    with opened(settings) as archive, archive.sessions.begin() as db:
        u = disable(db, archive.custody, username=args.name, actor=cli_actor())
    print(f"User {u.username} disabled: signed out everywhere; cannot sign in or use API tokens until enabled.")
    return EXIT_OK


def cmd_users_enable(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import enable

    with opened(settings) as archive, archive.sessions.begin() as db:
        u = enable(db, archive.custody, username=args.name, actor=cli_actor())
    print(f"User {u.username} enabled.")
    return EXIT_OK


def cmd_users_passwd(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import change_password

    old = _read_password("旧密码 Old password: ") if sys.stdin.isatty() else _read_password()
    new = _read_password("新密码 New password: ") if sys.stdin.isatty() else _read_password()
    with opened(settings) as archive:
        u = change_password(archive.sessions, archive.custody, username=args.name, old_password=old,
                            new_password=new, ip=None, settings=settings.auth)
    print(f"Password of {u.username} changed; every session of theirs has ended.")
    return EXIT_OK


def cmd_users_reset(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import reset_password

    password = _read_password("临时密码 Temporary password: ")
    with opened(settings) as archive, archive.sessions.begin() as db:
        u = reset_password(db, archive.custody, username=args.name, new_password=password, actor=cli_actor(),
                           settings=settings.auth)
    print(f"Password of {u.username} reset; they must choose a new one at their next sign-in.")
    return EXIT_OK


def cmd_users_revoke_token(args: argparse.Namespace, settings: config.Settings) -> int:
    from auth.service import revoke_api_tokens

    if args.token_name is None and not args.all:
        raise LiuhenError(said("要吊销哪个令牌？未给出 --name 或 --all", "Which token? Neither --name nor --all was given."),
                          said("请指明令牌名称（--name 名称，与签发时相同），或全部吊销（--all）。", "Name the token (--name WHAT, as it was issued) or revoke them all (--all)."))
    with opened(settings) as archive, archive.sessions.begin() as db:
        n = revoke_api_tokens(db, archive.custody, username=args.name, name=args.token_name, actor=cli_actor())
    emit(args, {"username": args.name, "revoked": n}, f"{n} API token(s) of {args.name} revoked.")
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


def _reviewer_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--legal-qualification", action=argparse.BooleanOptionalAction, default=None,
                    help="whether the user holds the legal professional qualification (法律职业资格), which a "
                         "first-time reviewer of penalty decisions must have")
    sp.add_argument("--officer-no", metavar="NUMBER",
                    help="the user's own officer number (警号), so they never review a case they acted in "
                         "('' clears it)")


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
    _reviewer_options(sp)
    sp.add_argument("--json", action="store_true")
    sp = add("update", cmd_users_update, "set a user's legal qualification (法律职业资格) or own officer number", usp)
    sp.add_argument("name")
    _reviewer_options(sp)
    sp.add_argument("--json", action="store_true")
    sp = add("unlock", cmd_users_unlock, "clear the login throttle of a user name after failed logins", usp)
    sp.add_argument("name")
    sp = add("disable", cmd_users_disable, "disable an account (its sessions end, its API tokens are refused)", usp)
    sp.add_argument("name")
    sp = add("enable", cmd_users_enable, "enable a disabled account", usp)
    sp.add_argument("name")
    sp = add("passwd", cmd_users_passwd, "change a password, proving the old one; from standard input: the old "
             "password on the first line, the new one on the second", usp)
    sp.add_argument("name")
    sp = add("reset", cmd_users_reset, "set a temporary password (from standard input) that the user must change "
             "at the next sign-in", usp)
    sp.add_argument("name")
    sp = add("revoke-token", cmd_users_revoke_token, "revoke a user's API token by its name, or all of them", usp)
    sp.add_argument("name")
    sp.add_argument("--name", dest="token_name", help="the token's name, as it was issued")
    sp.add_argument("--all", action="store_true", help="revoke every live token of the user")
    sp.add_argument("--json", action="store_true")
    sp = add("token", cmd_users_token, "issue an API token for a user (shown once)", usp)
    sp.add_argument("name")
    sp.add_argument("--name", dest="token_name", required=True, help="what the token is for, e.g. 案件系统对接")
    sp.add_argument("--json", action="store_true")
