"""What a user name and a password must be: the rules, in one place.

User names are compared as their NFKC normal form, case-folded (``name_key``), so ``Inv1`` and
full-width ``ｉｎｖ１`` are the same name as ``inv1`` and cannot be a second account; the name is
stored NFKC-normalised, so the custody log reads it as it compares. A name with an invisible
character (zero-width, bidi controls, any format or control character, a space) or with letters of
more than one script that can pass for each other (Latin with Cyrillic or Greek, say) is refused.
Han, Hiragana, Katakana, Bopomofo and Hangul may stand with Latin (Unicode's "highly restrictive"
profile, UTS #39 §5.2).

Passwords: at least ``[auth] min_password`` characters (``min_password_admin`` for an
administrator), at least 5 different characters, not the user name nor containing it, and not on
the common-password list shipped beside this file (``common-passwords.txt``: the entries of 8
characters or more of Royce Williams' 20,000 most common passwords, as shipped in Django 5.1.4,
compared case-insensitively).
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

from auth.errors import InvalidAccount, WeakPassword
from liuhen.config import AuthSettings
from liuhen.words import said

MAX_NAME = 64
MAX_PASSWORD = 1024  # argon2 takes any length; this only bounds the work one request can ask for
MIN_DISTINCT = 5

# Scripts that may share a name with Latin (UTS #39 "highly restrictive"); any other mix is refused.
_CJK = frozenset({"HAN", "HIRAGANA", "KATAKANA", "BOPOMOFO", "HANGUL"})


def normalize(name: str) -> str:
    """The form a user name is stored in: NFKC (full-width letters become ASCII, ligatures split)."""
    return unicodedata.normalize("NFKC", name)


def name_key(name: str) -> str:
    """What makes two user names the same: NFKC, case-folded, NFKC again."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _script(ch: str) -> str | None:
    """The script of a letter, from its Unicode name (the stdlib has no Script property); None for
    digits, punctuation and other characters common to all scripts."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    n = unicodedata.name(ch, "")
    if n.startswith("CJK ") or n.startswith("IDEOGRAPHIC"):
        return "HAN"
    if n.startswith("HANGUL"):
        return "HANGUL"
    return n.split(" ", 1)[0] or None


def check_name(name: str) -> str:
    """The stored form of ``name`` if it may be a user name, else ``InvalidAccount`` saying why."""
    stored = normalize(name)
    if not stored or len(stored) > MAX_NAME:
        raise InvalidAccount(said(f"用户名 {name!r} 有 {len(stored)} 个字符", f"User name {name!r} has {len(stored)} characters."), said(f"请使用 1–{MAX_NAME} 个字符。", f"Use 1–{MAX_NAME} characters."))
    hidden = [ch for ch in stored if unicodedata.category(ch)[0] in "CZ"]
    if hidden:
        shown = ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}" for ch in dict.fromkeys(hidden))
        raise InvalidAccount(said(f"用户名 {name!r} 含有不可见字符、空格或控制字符（{shown}），看起来会像另一个名字", f"User name {name!r} contains invisible, space or control characters ({shown}); "
                                  "it would read like another name."),
                             said("请只使用可见的字母、数字和标点。", "Use visible letters, digits and punctuation only."))
    scripts = {s for s in map(_script, stored) if s is not None}
    if len(scripts - _CJK) > 1:
        raise InvalidAccount(said(f"用户名 {name!r} 混用了 {', '.join(sorted(scripts))} 文字，可能与其他用户名看起来完全相同", f"User name {name!r} mixes letters of {', '.join(sorted(scripts))}; such names can "
                                  "look exactly like another user's name."),
                             said("请用一种文字书写用户名（汉字可与拉丁字母同用）。", "Write the name in one script (Chinese characters may go with Latin letters)."))
    return stored


@functools.cache
def common_passwords() -> frozenset[str]:
    text = (Path(__file__).parent / "common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password(password: str, *, username: str, role: str, settings: AuthSettings) -> None:
    """Return if ``password`` may be ``username``'s, else ``WeakPassword`` naming the rule it breaks."""
    minimum = settings.min_password_admin if role == "admin" else settings.min_password
    who = f"{username} ({role})"
    if len(password) < minimum:
        raise WeakPassword(said(f"{who} 的密码只有 {len(password)} 个字符，至少需要 {minimum} 个", f"The password for {who} has {len(password)} characters; at least {minimum} are "
                                "required."), said("请选择更长的密码，例如几个互不相关的词。", "Choose a longer password, e.g. several unrelated words."))
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(said(f"{who} 的密码超过 {MAX_PASSWORD} 个字符", f"The password for {who} is longer than {MAX_PASSWORD} characters."),
                           said("请选择较短的密码。", "Choose a shorter password."))
    if len(set(password)) < MIN_DISTINCT:
        raise WeakPassword(said(f"{who} 的密码中不同的字符少于 {MIN_DISTINCT} 个", f"The password for {who} uses fewer than {MIN_DISTINCT} different characters."),
                           said("请选择不是重复模式的密码。", "Choose a password that is not a repeated pattern."))
    folded = name_key(password)
    if name_key(username) in folded:
        raise WeakPassword(said(f"{who} 的密码包含用户名", f"The password for {who} contains the user name."), said("请选择不含用户名的密码。", "Choose a password without it."))
    if password.lower() in common_passwords() or folded in common_passwords():
        raise WeakPassword(said(f"{who} 的密码在常用密码列表中", f"The password for {who} is on the list of common passwords."),
                           said("请选择别人不大可能使用的密码。", "Choose a password nobody else is likely to use."))
