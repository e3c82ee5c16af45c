"""The current caller, users, API tokens and the audit log (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from routewatch.store import StoreError
from routewatch.store.users import ApiToken, AuditEntry, User, UserRole, check_username
from routewatch.web.deps import Admin, AuditDep, ClockDep, Reader, SessionsDep, SlotsDep, UsersDep
from routewatch.web.schemas import ApiTokenOut, AuditEntryOut, Me, NewApiToken, UserOut
from routewatch.web.security import Perm

router = APIRouter(prefix="/api", tags=["auth"])


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


def user_dict(u: User) -> UserOut:
    """A user for the API."""
    return UserOut(username=u.username, role=u.role.value, created_at=u.created_at.isoformat(), disabled=u.disabled)


def token_dict(t: ApiToken) -> ApiTokenOut:
    """An API token's metadata for the API."""
    return ApiTokenOut(id=t.id, name=t.name, role=t.role.value, created_at=t.created_at.isoformat(),
                       revoked=t.revoked)


def audit_dict(e: AuditEntry) -> AuditEntryOut:
    """An audit entry for the API."""
    return AuditEntryOut(id=e.id, time=e.time.isoformat(), actor=e.actor, action=e.action, target=e.target,
                         detail=e.detail)


@router.get("/me")
def me(principal: Reader) -> Me:
    """Who the caller is and what they may do."""
    perms = sorted(p.value for p in Perm if principal.may(p))
    return Me(name=principal.name, role=principal.role.value, via=principal.via, permissions=perms)


@router.get("/users")
def list_users(users: UsersDep, _: Admin) -> list[UserOut]:
    """All users."""
    return [user_dict(u) for u in users.all()]


@router.post("/users", status_code=201)
def add_user(body: NewUser, users: UsersDep, audit: AuditDep, clock: ClockDep, slots: SlotsDep,
             principal: Admin) -> UserOut:
    """Create a user (409 if the name is taken)."""
    try:
        check_username(body.username)
        with slots.check():  # hashing costs what checking does
            user = users.add(body.username, body.password, body.role, at=clock())
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except StoreError as exc:
        raise HTTPException(409, str(exc)) from None
    audit.add("user_create", actor=principal.name, target=body.username, detail=body.role.value, at=clock())
    return user_dict(user)


@router.patch("/users/{username}")
def change_user(username: str, body: UserChange, users: UsersDep, sessions: SessionsDep, audit: AuditDep,
                clock: ClockDep, slots: SlotsDep, principal: Admin) -> UserOut:
    """Change a user's password, role or disabled flag (each but enabling ends the user's sessions at once)."""
    if users.get(username) is None:
        raise HTTPException(404, f"no user {username!r}")
    changed = []
    if body.password is not None:
        with slots.check():  # hashing costs what checking does
            sessions.set_password(username, body.password)
        changed.append("password")
    if body.role is not None:
        sessions.set_role(username, body.role)
        changed.append(f"role={body.role.value}")
    if body.disabled is not None:
        sessions.set_disabled(username, body.disabled)
        changed.append(f"disabled={body.disabled}")
    audit.add("user_change", actor=principal.name, target=username, detail=", ".join(changed), at=clock())
    user = users.get(username)
    assert user is not None
    return user_dict(user)


@router.delete("/users/{username}", status_code=204)
def remove_user(username: str, sessions: SessionsDep, audit: AuditDep, clock: ClockDep, principal: Admin) -> None:
    """Remove a user (their sessions end at once)."""
    if not sessions.remove_user(username):
        raise HTTPException(404, f"no user {username!r}")
    audit.add("user_remove", actor=principal.name, target=username, at=clock())


@router.get("/tokens")
def list_tokens(users: UsersDep, _: Admin) -> list[ApiTokenOut]:
    """All API tokens (metadata only)."""
    return [token_dict(t) for t in users.api_tokens()]


@router.post("/tokens", status_code=201)
def add_token(body: NewToken, users: UsersDep, audit: AuditDep, clock: ClockDep, principal: Admin) -> NewApiToken:
    """Create an API token; the token is in this response only."""
    meta, token = users.add_api_token(body.name, body.role, at=clock())
    audit.add("token_create", actor=principal.name, target=str(meta.id),
              detail=f"{body.name} ({body.role.value})", at=clock())
    return NewApiToken(**dict(token_dict(meta)), token=token)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, users: UsersDep, audit: AuditDep, clock: ClockDep, principal: Admin) -> None:
    """Revoke an API token."""
    if not users.revoke_api_token(token_id):
        raise HTTPException(404, f"no API token {token_id}")
    audit.add("token_revoke", actor=principal.name, target=str(token_id), at=clock())


@router.get("/audit")
def audit_log(
    audit: AuditDep, _: Admin, after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, action: str | None = None,
) -> list[AuditEntryOut]:
    """Audit entries after an id, oldest first."""
    where = {"action": action} if action else {}
    return [audit_dict(e) for e in audit.entries(limit=limit, after=after, **where)]
