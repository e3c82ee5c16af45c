"""Request bodies at the ASGI layer: a size limit per route, and who asks is known before a byte is read.

- A declared Content-Length over the route's limit is answered 413 before any of the body is read.
- A chunked body is counted as it streams; the request fails with 413 once it passes the limit.
- A request with a body to anything but POST /api/login needs a valid session or API token first
  (401 otherwise), so nobody unauthenticated can make the server read, buffer or parse a body.

Routes take `max_upload_bytes` for corridor imports and edits and backtests (GeoJSON can be large),
`max_body_bytes` everywhere else.
"""

from __future__ import annotations

import re

import anyio.to_thread
from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from routewatch.config.web import WebConfig
from routewatch.web.security import PRINCIPAL, authenticate, unauthorized

_UPLOADS = (
    ("POST", re.compile(r"/api/corridors(/import)?/?")),
    ("PUT", re.compile(r"/api/corridors/[^/]+")),
    ("POST", re.compile(r"/api/backtest/?")),
)
_PUBLIC = (("POST", re.compile(r"/api/login/?")),)


def _matches(table: tuple[tuple[str, re.Pattern[str]], ...], method: str, path: str) -> bool:
    return any(method == m and pattern.fullmatch(path) for m, pattern in table)


def body_limit(settings: WebConfig, method: str, path: str) -> int:
    """The most bytes a request body to this route may have."""
    return settings.max_upload_bytes if _matches(_UPLOADS, method, path) else settings.max_body_bytes


async def _answer(scope: Scope, receive: Receive, send: Send, error: StarletteHTTPException) -> None:
    await JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)(scope, receive, send)


class BodyGuard:
    """ASGI middleware: body limits and authentication before the body (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: WebConfig) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = Headers(scope=scope)
        limit = body_limit(self.settings, method, path)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            what = f"{declared} bytes" if declared.isdigit() else "of an unreadable length"
            await _answer(scope, receive, send, HTTPException(413, f"the request body is {what}; the limit is {limit}"))
            return
        has_body = (declared is not None and declared != "0") or "transfer-encoding" in headers
        if has_body and not _matches(_PUBLIC, method, path):
            request = Request(scope)
            try:
                principal = await anyio.to_thread.run_sync(authenticate, request)
            except StarletteHTTPException as exc:
                await _answer(scope, receive, send, exc)
                return
            if principal is None:
                await _answer(scope, receive, send, unauthorized())
                return
            scope.setdefault("state", {})[PRINCIPAL] = principal  # `require` uses it: one lookup per request
        await self.app(scope, _counted(receive, limit), send)


def _counted(receive: Receive, limit: int) -> Receive:
    """`receive` that fails with 413 once the body's bytes pass `limit` (chunked bodies declare no length)."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise StarletteHTTPException(413, f"the request body is over the limit of {limit} bytes")
        return message

    return counted
