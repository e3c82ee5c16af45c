"""Logging in and out: the password check (limited, pooled) and the session cookie."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from routewatch.config.web import WebConfig
from routewatch.web.auth import user_dict
from routewatch.web.deps import AuditDep, ClockDep, LimiterDep, SessionsDep, SettingsDep, SlotsDep, UsersDep
from routewatch.web.schemas import UserOut
from routewatch.web.security import COOKIE, caller, unauthorized

router = APIRouter(prefix="/api", tags=["auth"])


class Login(BaseModel):
    """Credentials for POST /api/login."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


@router.post("/login", responses={429: {"description": "too many failed logins; see Retry-After"},
                                  503: {"description": "too many password checks at once; see Retry-After"}})
async def login(body: Login, request: Request, response: Response, users: UsersDep, sessions: SessionsDep,
                audit: AuditDep, settings: SettingsDep, clock: ClockDep, limiter: LimiterDep,
                slots: SlotsDep) -> UserOut:
    """Check a password; on success set the session cookie (HttpOnly, SameSite=Strict).

    After repeated failures for a username or from an address, attempts are refused with 429 and
    Retry-After (seconds) for a while, without checking the password (see routewatch.web.limits).
    When every password-check place is busy the answer is 503 at once (see routewatch.web.passwords).
    """
    # Async so that refusals (429, 503) cost the event loop a moment and never wait for a worker thread:
    # a flood of them must not queue ahead of other requests. Only the database and Argon2 go to threads.
    at = clock()
    client = request.client.host if request.client else ""
    refusal = limiter.check(body.username, client, at.timestamp())
    if refusal is not None:
        if refusal.audit:
            detail = f"{client}; {refusal.scope} locked {refusal.retry_after_s} s more; refusal {refusal.refusals}"
            await anyio.to_thread.run_sync(lambda: audit.add(
                "login_refused", actor=body.username, target=body.username, at=at, detail=detail))
        raise HTTPException(429, f"too many failed logins; try again in {refusal.retry_after_s} s",
                            headers={"Retry-After": str(refusal.retry_after_s)})
    try:
        with slots.check(suspect=limiter.suspect(client, at.timestamp())):  # 503 at once when all are busy
            user = await slots.run(users.check_password, body.username, body.password)
    except BaseException:
        limiter.abandoned(body.username, client)
        raise
    if user is None:
        lock = limiter.failed(body.username, client, at.timestamp())
        detail = client if lock is None else f"{client}; locked for {lock:.0f} s"
        await anyio.to_thread.run_sync(lambda: audit.add(
            "login_failed", actor=body.username, target=body.username, detail=detail, at=at))
        raise HTTPException(401, "wrong username or password")
    limiter.succeeded(body.username, client)
    await anyio.to_thread.run_sync(lambda: audit.add(
        "login", actor=user.username, target=user.username, detail=client, at=at))
    ttl = settings.session_ttl_s
    token = await anyio.to_thread.run_sync(lambda: sessions.start(user.username, at=at, ttl_s=ttl))
    set_session_cookie(request, response, token, settings)
    return user_dict(user)


def set_session_cookie(request: Request, response: Response, token: str, settings: WebConfig) -> None:
    """Set the session cookie (HttpOnly, SameSite=Strict, Secure where the connection is https)."""
    response.set_cookie(COOKIE, token, max_age=int(settings.session_ttl_s), httponly=True, samesite="strict",
                        secure=secure(request, settings), path="/")


def secure(request: Request, settings: WebConfig) -> bool:
    """Whether cookies are Secure: always when configured, else over TLS or from an https trusted proxy."""
    return bool(settings.cookie_secure) or request.url.scheme == "https"


class PasswordChange(BaseModel):
    """A user's own password change."""

    current_password: str = Field(max_length=1024)
    new_password: str = Field(min_length=10, max_length=1024)


@router.post("/me/password", responses={503: {"description": "too many password checks at once"}})
async def change_password(body: PasswordChange, request: Request, response: Response, users: UsersDep,
                          sessions: SessionsDep, audit: AuditDep, settings: SettingsDep, clock: ClockDep,
                          limiter: LimiterDep, slots: SlotsDep) -> UserOut:
    """Change one's own password: every session of the user ends, this browser gets a new one."""
    principal = await anyio.to_thread.run_sync(caller, request)
    if principal is None or principal.via != "session":
        raise unauthorized("log in (as a user, not with an API token) to change your password")
    at = clock()
    client = request.client.host if request.client else ""
    refusal = limiter.check(principal.name, client, at.timestamp())  # guesses of the current one count
    if refusal is not None:
        raise HTTPException(429, f"too many failed attempts; try again in {refusal.retry_after_s} s",
                            headers={"Retry-After": str(refusal.retry_after_s)})
    try:
        with slots.check():
            user = await slots.run(users.check_password, principal.name, body.current_password)
            if user is not None:
                await slots.run(sessions.set_password, principal.name, body.new_password)
    except BaseException:
        limiter.abandoned(principal.name, client)
        raise
    if user is None:
        limiter.failed(principal.name, client, at.timestamp())
        raise HTTPException(403, "the current password is wrong")
    limiter.succeeded(principal.name, client)
    ttl = settings.session_ttl_s
    token = await anyio.to_thread.run_sync(lambda: sessions.start(user.username, at=at, ttl_s=ttl))
    await anyio.to_thread.run_sync(lambda: audit.add("password_change", actor=user.username,
                                                 target=user.username, at=at))
    set_session_cookie(request, response, token, settings)
    return user_dict(user)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, sessions: SessionsDep, settings: SettingsDep) -> None:
    """End the session (idempotent)."""
    token = request.cookies.get(COOKIE)
    if token:
        sessions.end(token)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure(request, settings))
