"""Cross-site writes refused, and security headers on every response.

A state-changing request (POST, PUT, PATCH, DELETE) with a body needs a JSON content type, or for a
corridor upload the file's own (KML, KMZ, octet-stream): none of those can be sent cross-site without a
CORS preflight, which this server never grants, so SameSite is not the only defence. When such a request
carries an Origin header it must be this server's own (403 otherwise).

Every response says: Content-Security-Policy (scripts, styles and workers from this server only, no
inline script, no framing), X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and
X-Frame-Options: DENY. The API docs at /docs load Swagger UI from its CDN with an inline script; that
page alone gets a policy allowing them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UPLOAD_TYPES = frozenset({"application/octet-stream", "application/vnd.google-earth.kml+xml",
                           "application/vnd.google-earth.kmz", "application/xml", "text/xml"})
_UPLOADS = frozenset({"/api/corridors/import"})
_DOCS = frozenset({"/docs", "/docs/oauth2-redirect"})
_CDN = "https://cdn.jsdelivr.net"


def _json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def content_type_ok(path: str, content_type: str) -> bool:
    """Whether a write to `path` may carry a body of this content type."""
    media = content_type.split(";", 1)[0].strip().lower()
    return _json(media) or (path.rstrip("/") in _UPLOADS and media in _UPLOAD_TYPES)


def policy(tiles_url: str | None) -> str:
    """The Content-Security-Policy of the UI and API (the tile server, when configured, may be fetched)."""
    tiles = ""
    if tiles_url:
        parts = urlsplit(tiles_url.replace("{", "").replace("}", ""))
        tiles = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{tiles}; "
            f"connect-src 'self'{tiles}; worker-src 'self' blob:; font-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


DOCS_POLICY = (f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; style-src 'self' {_CDN}; "
               "img-src 'self' data: https://fastapi.tiangolo.com; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'")


class SecurityHeaders:
    """ASGI middleware: refuses cross-site writes, adds the security headers (see the module docstring)."""

    def __init__(self, app: ASGIApp, tiles_url: str | None = None) -> None:
        self.app = app
        self.policy = policy(tiles_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = DOCS_POLICY if path in _DOCS else self.policy

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = csp
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
            await send(message)

        refusal = self._refusal(scope) if scope["method"] in _WRITES else None
        if refusal is not None:
            status, detail = refusal
            await JSONResponse({"detail": detail}, status)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _refusal(scope: Scope) -> tuple[int, str] | None:
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None:
            own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
            if origin.lower().rstrip("/") != own:
                return 403, f"cross-site request refused (Origin {origin[:100]!r} is not {own!r})"
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        content_type = headers.get("content-type")
        if (has_body or content_type is not None) and not content_type_ok(scope["path"], content_type or ""):
            what = "the file's own type (KML, KMZ) or application/octet-stream" if scope["path"] in _UPLOADS else ""
            return 415, f"send application/json{' or ' + what if what else ''} (got {content_type or 'none'!r})"
        return None
