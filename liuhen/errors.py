"""One error base whose message a person can act on, in their language.

Every error carries a stable English ``code`` (for the API's ``{"code", "detail", "message"}`` and
the CLI's ``--json``), a ``detail`` saying what failed and on which file, and an ``action`` saying
what to do about it. Both are a ``Said`` — the sentence in Simplified Chinese and in English —
raised as ``SomeError(said("没有案件 7", "There is no case 7."), said("请核对案件编号。", "Check the
case number."))``. ``diagnostics(lang)`` is the whole sentence in one language; the API answers in
the request's language, the console's error page in the user's, the CLI in the terminal's.

A plain ``str`` is still accepted (code written before ``Said``): it stands for both languages,
and a legacy ``"中文 / English"`` string is split at its `` / `` into the two.
"""

from __future__ import annotations

import re

from liuhen.words import Said

Text = str | Said

# "中文…… / English…": Chinese before the first " / " that is followed by a Latin letter, backquote or quote
_PAIR = re.compile(r"^(?P<zh>.*?[\u3000-\u9fff\uff00-\uffef].*?)\s+/\s+(?P<en>[A-Za-z`'\"(].*)$", re.S)
_END = tuple("。！？；：.!?;:）)」】")


def as_said(text: Text) -> Said:
    """``text`` in both languages: a ``Said`` as it is; a legacy ``"中文 / English"`` pair split; any
    other string standing for both."""
    if isinstance(text, Said):
        return text
    m = _PAIR.match(text)
    if m:
        return Said(m["zh"].strip(), m["en"].strip())
    return Said(text, text)


def sentence(detail: Said, action: Said, lang: str) -> str:
    """``detail`` then ``action`` in ``lang`` as one sentence (Chinese joined without a space)."""
    d, a = detail.in_(lang).strip(), action.in_(lang).strip()
    if not a:
        return d
    if not d:
        return a
    if lang == "en":
        return f"{d} {a}"
    return f"{d}{'' if d.endswith(_END) else '。'}{a}"


class LiuhenError(Exception):
    code = "error"

    def __init__(self, detail: Text, action: Text = "") -> None:
        self.said = as_said(detail)
        self.said_action = as_said(action)
        #: both languages as one string, as messages read before ``Said`` (kept for code and logs that read them)
        self.detail = str(self.said)
        self.action = str(self.said_action)
        super().__init__(self.detail)

    def message(self, lang: str) -> str:
        """The sentence — what failed, what to do — in ``lang`` (``"zh"`` or ``"en"``)."""
        return sentence(self.said, self.said_action, lang)

    def diagnostics(self, lang: str | None = None) -> str:
        """The sentence in ``lang``; without a language, in both — ``"中文句子 / English sentence"``,
        one when they are the same — as it is written to logs, job records and custody details that
        any reader may read later (``as_said`` splits it again)."""
        if lang is not None:
            return self.message(lang)
        zh, en = self.message("zh"), self.message("en")
        return zh if zh == en else f"{zh} / {en}"

    def to_dict(self, lang: str = "zh") -> dict[str, str]:
        """The API's and ``--json``'s body: the stable ``code``, ``detail`` (the sentence in both
        languages, as before ``message`` existed) and ``message`` (the sentence in ``lang``)."""
        return {"code": self.code, "detail": self.diagnostics(), "message": self.message(lang)}


class ConfigError(LiuhenError):
    code = "config"


class NotFound(LiuhenError):
    code = "not_found"
