"""Who is asking and what they may do: signed session cookies, API tokens and role checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fastapi import HTTPException, Request

from routewatch.store.users import UserRole
from routewatch.web.settings import Clock, WebSettings, WebStore

COOKIE = "routewatch_session"
PRINCIPAL = "principal"  # the request state's key of a caller already authenticated (by routewatch.web.guard)


class Perm(StrEnum):
    """A permission an endpoint needs."""

    READ = "read"  # alerts, live stream, corridors
    ACK = "ack"
    REPLAY = "replay"
    CORRIDOR_WRITE = "corridor_write"
    ADMIN = "admin"


_FIELD = frozenset({Perm.READ, Perm.ACK})
ROLE_PERMS: dict[UserRole, frozenset[Perm]] = {
    UserRole.FIELD: _FIELD,
    UserRole.COMMANDER: _FIELD | {Perm.REPLAY},
    UserRole.PLANNER: _FIELD | {Perm.CORRIDOR_WRITE},
    UserRole.ADMIN: frozenset(Perm),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user (by session cookie) or a machine (by API token)."""

    name: str  # shown and audited; a token's name is not unique
    role: UserRole
    via: str  # "session" or "token"
    key: str  # a stable, unique id of the caller: "user:<username>" or "token:<token id>"

    def may(self, perm: Perm) -> bool:
        """Whether this caller's role grants `perm`."""
        return perm in ROLE_PERMS[self.role]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """HMAC-signed session tokens with expiry; logout revokes a session id until it expires."""

    def __init__(self, settings: WebSettings, clock: Clock) -> None:
        self._key = settings.secret_key or secrets.token_bytes(32)
        self._ttl = settings.session_ttl_s
        self._clock = clock
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue(self, username: str) -> str:
        """A new session token for a user."""
        claims = {"u": username, "sid": secrets.token_urlsafe(12), "exp": self._clock().timestamp() + self._ttl}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def _claims(self, token: str) -> dict[str, object] | None:
        body, _, sig = token.partition(".")
        if not sig or not hmac.compare_digest(sig, self._sign(body)):
            return None
        try:
            claims = json.loads(_unb64(body))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) else None

    def username(self, token: str) -> str | None:
        """The user a valid, unexpired, not logged-out token belongs to."""
        claims = self._claims(token)
        if claims is None:
            return None
        exp, user, sid = claims.get("exp"), claims.get("u"), claims.get("sid")
        if not isinstance(exp, int | float) or not isinstance(user, str) or not isinstance(sid, str):
            return None
        now = self._clock().timestamp()
        with self._lock:
            if exp <= now or sid in self._revoked:
                return None
        return user

    def revoke(self, token: str) -> None:
        """Log a session out (kept revoked until it would have expired)."""
        claims = self._claims(token)
        if claims is None or not isinstance(claims.get("sid"), str):
            return
        now = self._clock().timestamp()
        with self._lock:
            self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now}
            exp = claims.get("exp")
            self._revoked[str(claims["sid"])] = float(exp) if isinstance(exp, int | float) else now + self._ttl


def unauthorized(message: str = "log in or send an API token") -> HTTPException:
    """A 401 with the Bearer challenge."""
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def authenticate(request: Request) -> Principal | None:
    """The caller from `Authorization: Bearer` (an API token) or the session cookie, or None."""
    store: WebStore = request.app.state.store
    sessions: Sessions = request.app.state.sessions
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("malformed Authorization header; use 'Bearer <token>'")
        found = store.api_token(token.strip())
        if found is None:
            raise unauthorized("unknown or revoked API token")
        return Principal(f"token:{found.name}", found.role, "token", f"token:{found.id}")
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    username = sessions.username(cookie)
    user = store.get_user(username) if username is not None else None
    if user is None or user.disabled:
        raise unauthorized("session expired or invalid; log in again")
    return Principal(user.username, user.role, "session", f"user:{user.username}")


def caller(request: Request) -> Principal | None:
    """The caller, authenticated once per request (the body guard may have done it already)."""
    known = request.scope.get("state", {}).get(PRINCIPAL)
    return known if isinstance(known, Principal) else authenticate(request)


def require(perm: Perm) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the caller, or 401 (nobody) / 403 (role lacks `perm`)."""

    def dependency(request: Request) -> Principal:
        principal = caller(request)
        if principal is None:
            raise unauthorized()
        if not principal.may(perm):
            raise HTTPException(403, f"role {principal.role.value!r} may not do this (needs {perm.value!r})")
        return principal

    return dependency


def now(request: Request) -> datetime:
    """The app's clock reading."""
    clock: Clock = request.app.state.clock
    return clock()
