"""A sentence in both languages: what every error (and every message liuhen says to a person
outside the console's page words) carries, so the console shows the user's language and the API
adds the localised sentence beside its stable English code.

``said("案件已结案", "The case is closed")`` — Simplified Chinese first, English second. ``str()``
of a ``Said`` is the Chinese and the English joined (the form messages had before, for logs)."""

from __future__ import annotations

from dataclasses import dataclass

LANGS = ("zh", "en")


@dataclass(frozen=True, slots=True)
class Said:
    zh: str
    en: str

    def in_(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def __str__(self) -> str:
        if not self.en or self.en == self.zh:
            return self.zh
        return f"{self.zh} / {self.en}" if self.zh else self.en


def said(zh: str, en: str) -> Said:
    return Said(zh, en)
