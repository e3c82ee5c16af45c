"""The current caller, users, API tokens and the audit log (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from routewatch.store import StoreError
from routewatch.store.users import ApiToken, AuditEntry, User, UserRole, check_username
from routewatch.web.security import Perm, Principal, require

router = APIRouter(prefix="/api", tags=["auth"])
Admin = Annotated[Principal, Depends(require(Perm.ADMIN))]
Reader = Annotated[Principal, Depends(require(Perm.READ))]


class NewUser(BaseModel):
    """A user to create."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=10, max_length=1024)
    role: UserRole


class UserChange(BaseModel):
    """Changes to a user (admin); a new password, a new role or disabling ends the user's sessions."""

    password: str | None = Field(default=None, min_length=10, max_length=1024)
    role: UserRole | None = None
    disabled: bool | None = None


class NewToken(BaseModel):
    """An API token to create."""

    name: str = Field(min_length=1, max_length=100)
    role: UserRole


def user_dict(u: User) -> dict[str, Any]:
    """The JSON of a user."""
    return {"username": u.username, "role": u.role.value, "created_at": u.created_at.isoformat(),
            "disabled": u.disabled}


def token_dict(t: ApiToken) -> dict[str, Any]:
    """The JSON of an API token's metadata."""
    return {"id": t.id, "name": t.name, "role": t.role.value, "created_at": t.created_at.isoformat(),
            "revoked": t.revoked}


def audit_dict(e: AuditEntry) -> dict[str, Any]:
    """The JSON of an audit entry."""
    return {"id": e.id, "time": e.time.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
            "detail": e.detail}


def _now(request: Request) -> datetime:
    return request.app.state.clock()  # type: ignore[no-any-return]


@router.get("/me")
def me(principal: Reader) -> dict[str, Any]:
    """Who the caller is and what they may do."""
    perms = sorted(p.value for p in Perm if principal.may(p))
    return {"name": principal.name, "role": principal.role.value, "via": principal.via, "permissions": perms}


@router.get("/users")
def list_users(request: Request, _: Admin) -> list[dict[str, Any]]:
    """All users."""
    return [user_dict(u) for u in request.app.state.store.users.all()]


@router.post("/users", status_code=201)
def add_user(body: NewUser, request: Request, principal: Admin) -> dict[str, Any]:
    """Create a user (409 if the name is taken)."""
    try:
        check_username(body.username)
        with request.app.state.password_slots.check():  # hashing costs what checking does
            user = request.app.state.store.users.add(body.username, body.password, body.role, at=_now(request))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except StoreError as exc:
        raise HTTPException(409, str(exc)) from None
    request.app.state.store.audit.add("user_create", actor=principal.name, target=body.username,
                                  detail=body.role.value, at=_now(request))
    return user_dict(user)


@router.patch("/users/{username}")
def change_user(username: str, body: UserChange, request: Request, principal: Admin) -> dict[str, Any]:
    """Change a user's password, role or disabled flag (each but enabling ends the user's sessions at once)."""
    store = request.app.state.store
    if store.users.get(username) is None:
        raise HTTPException(404, f"no user {username!r}")
    changed = []
    if body.password is not None:
        with request.app.state.password_slots.check():  # hashing costs what checking does
            store.sessions.set_password(username, body.password)
        changed.append("password")
    if body.role is not None:
        store.sessions.set_role(username, body.role)
        changed.append(f"role={body.role.value}")
    if body.disabled is not None:
        store.sessions.set_disabled(username, body.disabled)
        changed.append(f"disabled={body.disabled}")
    store.audit.add("user_change", actor=principal.name, target=username, detail=", ".join(changed), at=_now(request))
    user = store.users.get(username)
    assert user is not None
    return user_dict(user)


@router.delete("/users/{username}", status_code=204)
def remove_user(username: str, request: Request, principal: Admin) -> None:
    """Remove a user (their sessions end at once)."""
    if not request.app.state.store.sessions.remove_user(username):
        raise HTTPException(404, f"no user {username!r}")
    request.app.state.store.audit.add("user_remove", actor=principal.name, target=username, at=_now(request))


@router.get("/tokens")
def list_tokens(request: Request, _: Admin) -> list[dict[str, Any]]:
    """All API tokens (metadata only)."""
    return [token_dict(t) for t in request.app.state.store.users.api_tokens()]


@router.post("/tokens", status_code=201)
def add_token(body: NewToken, request: Request, principal: Admin) -> dict[str, Any]:
    """Create an API token; the token is in this response only."""
    meta, token = request.app.state.store.users.add_api_token(body.name, body.role, at=_now(request))
    request.app.state.store.audit.add("token_create", actor=principal.name, target=str(meta.id),
                                  detail=f"{body.name} ({body.role.value})", at=_now(request))
    return {**token_dict(meta), "token": token}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, request: Request, principal: Admin) -> None:
    """Revoke an API token."""
    if not request.app.state.store.users.revoke_api_token(token_id):
        raise HTTPException(404, f"no API token {token_id}")
    request.app.state.store.audit.add("token_revoke", actor=principal.name, target=str(token_id), at=_now(request))


@router.get("/audit")
def audit_log(
    request: Request, _: Admin, after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, action: str | None = None,
) -> list[dict[str, Any]]:
    """Audit entries after an id, oldest first."""
    where = {"action": action} if action else {}
    return [audit_dict(e) for e in request.app.state.store.audit.entries(limit=limit, after=after, **where)]
