"""Who is asking and what they may do: session cookies (sessions kept in the database), API tokens, roles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from fastapi import HTTPException, Request

from routewatch.store.users import UserRole
from routewatch.web.settings import Clock

if TYPE_CHECKING:
    from routewatch.web.repos import SessionRepo, UserRepo

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


def unauthorized(message: str = "log in or send an API token") -> HTTPException:
    """A 401 with the Bearer challenge."""
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


class Credentials(Protocol):
    """What authenticating reads of the app's store: API tokens and login sessions."""

    @property
    def users(self) -> UserRepo: ...

    @property
    def sessions(self) -> SessionRepo: ...


def authenticate(request: Request) -> Principal | None:
    """The caller from `Authorization: Bearer` (an API token) or the session cookie, or None."""
    store: Credentials = request.app.state.store
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("malformed Authorization header; use 'Bearer <token>'")
        found = store.users.api_token(token.strip())
        if found is None:
            raise unauthorized("unknown or revoked API token")
        return Principal(f"token:{found.name}", found.role, "token", f"token:{found.id}")
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    user = store.sessions.user(cookie, at=now(request))
    if user is None:
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
