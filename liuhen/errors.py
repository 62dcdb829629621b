"""One error base whose message a person can act on.

Every error carries a stable ``code`` (for the API's ``{"code", "detail"}`` and the CLI's
``--json``), a ``detail`` sentence saying what failed and on which file, and ``action``
saying what to do about it.
"""

from __future__ import annotations


class LiuhenError(Exception):
    code = "error"

    def __init__(self, detail: str, action: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.action = action

    def diagnostics(self) -> str:
        return f"{self.detail} {self.action}".strip()

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.diagnostics()}


class ConfigError(LiuhenError):
    code = "config"


class NotFound(LiuhenError):
    code = "not_found"
