"""The console's one catalogue of words, in parts: each module here (``dock.py``, ``cases.py`` …)
holds ``WORDS: dict[str, tuple[str, str]]`` — key: (简体中文, English) — for its area, and
``console.i18n`` merges them with its own. A key defined twice is an error at import, so two parts
can never disagree silently. Keys starting with ``js.`` are also handed to the page's JavaScript
(``base.html`` embeds them as JSON; ``W(key)`` in ``console.js`` reads them)."""

from __future__ import annotations

import importlib
import pkgutil


def collect() -> dict[str, tuple[str, str]]:
    words: dict[str, tuple[str, str]] = {}
    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        part = importlib.import_module(f"{__name__}.{m.name}")
        for key, pair in getattr(part, "WORDS", {}).items():
            if key in words:
                raise RuntimeError(f"console word {key!r} is defined twice (console/words/{m.name}.py)")
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(s, str) and s for s in pair)):
                raise RuntimeError(f"console word {key!r} in console/words/{m.name}.py needs (中文, English)")
            words[key] = pair
    return words
