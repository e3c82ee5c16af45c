"""A small pool of password checks: Argon2 takes 64 MiB and most of a core each, so they are bounded.

Beyond the pool a login is answered 503 at once rather than queued: a flood of wrong passwords then
costs at most `size` x 64 MiB and leaves the rest of the API responsive. When the pool has two or more
places, the last one is kept for addresses with no recent failed login, so a flood from addresses that
keep failing cannot take every place from a user logging in from elsewhere. The checks run on threads
of their own at a lower CPU priority (nice +10): under a flood they slow logins, not the rest of the API.

>>> slots = PasswordSlots(2)
>>> slots.try_enter(suspect=True), slots.try_enter(suspect=True), slots.try_enter(suspect=False)
(True, False, True)
>>> slots.try_enter(suspect=False)
False
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

ARGON2_MIB = 64  # argon2-cffi's default (RFC 9106 low-memory profile) memory cost per check
NICE = 10
BUSY = "too many password checks at once; try again shortly"
T = TypeVar("T")


def _lower_priority() -> None:
    # On Linux nice is per thread (and Argon2's own lane threads inherit it); elsewhere, or when not allowed, skip.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


class PasswordSlots:
    """At most `size` password checks at once; entering never waits."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("password_checks must be >= 1")
        self.size = size
        self.reserved = 1 if size >= 2 else 0  # for addresses without recent failures
        self._busy = 0
        self._lock = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None  # started on first use, again after close()

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on a password-check thread (call it holding a place, see `check`)."""
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.size, thread_name_prefix="password-check",
                                                   initializer=_lower_priority)
            threads = self._threads
        return await asyncio.wrap_future(threads.submit(fn, *args))

    def close(self) -> None:
        """Stop the threads (after the checks in progress)."""
        with self._lock:
            threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=True)

    def try_enter(self, *, suspect: bool) -> bool:
        """Take a place if one is free (a `suspect` address cannot take the reserved one)."""
        with self._lock:
            free = self.size - self._busy
            if free <= (self.reserved if suspect else 0):
                return False
            self._busy += 1
            return True

    def full(self) -> bool:
        """Whether every place is taken (a login now would be refused)."""
        with self._lock:
            return self._busy >= self.size

    def leave(self) -> None:
        """Give a place back."""
        with self._lock:
            self._busy -= 1

    @contextmanager
    def check(self, *, suspect: bool = False) -> Iterator[None]:
        """A place for one password check, or 503 with Retry-After when there is none."""
        if not self.try_enter(suspect=suspect):
            raise HTTPException(503, BUSY, headers={"Retry-After": "1"})
        try:
            yield
        finally:
            self.leave()


class LoginGate:
    """ASGI middleware: while every place is taken, POST /api/login is 503 before routing or reading the body.

    A flood of logins then costs the event loop as little as it can, leaving room for everyone else.
    """

    def __init__(self, app: ASGIApp, slots: PasswordSlots) -> None:
        self.app = app
        self.slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/") == "/api/login"
                and self.slots.full()):
            await JSONResponse({"detail": BUSY}, 503, headers={"Retry-After": "1"})(scope, receive, send)
            return
        await self.app(scope, receive, send)
