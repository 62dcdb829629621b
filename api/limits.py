"""How large a request body may be, enforced before anything reads it.

``BodyLimit`` is a plain ASGI middleware, outside FastAPI's parsing and authentication: a body
whose ``Content-Length`` is over its route's limit is answered 413 ``{code, detail}`` at once, and
a body sent without a length (chunked) is counted as it streams and cut off at the limit — the
413 goes out, the application sees the client gone, and the rest is never read (uvicorn closes
the connection). So an anonymous client can make the archive hold at most one limit's worth of
bytes, and only for a route that reads its body at all.

The limits (``[web]``): an intake chunk (``PATCH /api/v1/intake/uploads/{id}``) ``max_chunk_mb``;
a text-record upload or a filled form (``POST /api/v1/cases/{id}/records|forms``)
``max_record_mb``, as a powers document (``POST /api/v1/publication/powers`` and the console's
``/publication/powers``, which then refuse one over ``publication.powers.MAX_BYTES``, 20 MiB);
everything else ``max_body_kb``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from api.errors import RequestError, request_lang
from liuhen.config import WebSettings
from liuhen.words import said

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_CHUNK = re.compile(r"^/api/v1/intake/uploads/[^/]+$")
_RECORD = re.compile(r"^/api/v1/cases/[0-9]+/(records|forms)$")
_POWERS = re.compile(r"^(/api/v1)?/publication/powers$")  # a powers document (API and console form)


def limit_for(web: WebSettings, method: str, path: str) -> tuple[int, str]:
    """(bytes, the setting that says so) for a request's body."""
    if method == "PATCH" and _CHUNK.match(path):
        return web.max_chunk_mb << 20, "max_chunk_mb"
    if method == "POST" and (_RECORD.match(path) or _POWERS.match(path)):
        return (web.max_record_mb << 20) + (64 << 10), "max_record_mb"  # (and the multipart framing)
    return web.max_body_kb << 10, "max_body_kb"


def _too_large(limit: int, setting: str, lang: str) -> bytes:
    err = RequestError("too_large", said(f"请求正文超过本档案库在该地址接受的大小（{limit} 字节，[web] {setting}），未保存任何内容",
                                         f"The request body is larger than this archive takes on this route "
                                         f"({limit} bytes, [web] {setting}); nothing of it was kept."),
                       said("请发送较小的正文，或请管理员调高该限制。",
                            "Send a smaller body, or ask the administrator to raise the limit."))
    return json.dumps(err.to_dict(lang), ensure_ascii=False).encode()


class BodyLimit:
    def __init__(self, app: ASGIApp, *, web: WebSettings) -> None:
        self.app = app
        self.web = web

    async def _refuse(self, scope: Scope, send: Send, limit: int, setting: str) -> None:
        body = _too_large(limit, setting, request_lang(Request(scope)))
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = limit_for(self.web, scope["method"], scope["path"])
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # (the server refuses a malformed length before it gets here)
                if declared > limit:
                    await self._refuse(scope, send, limit, setting)
                    return
        seen = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await self._refuse(scope, send, limit, setting)
                    return {"type": "http.disconnect"}  # the application stops reading; nothing more is
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the 413 has been sent: whatever the application answers to the cut-off body is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted, guarded)
