"""Login rate limiting: failed logins per (username, address) and per client address lock that key a while.

Pure logic (times are plain seconds passed in, so tests need no sleeping). A key is locked once it has
`per_user` (or `per_address`) failures, each less than `window_s` after the one before; the first lock
lasts `lockout_s`, and each further failure after it doubles the lock, up to `max_lockout_s`. While a key
is locked every attempt is refused without checking the password, even a right one, so guessing gains
nothing and costs the server no hashing. A name is counted per address: failures from one address never
lock the name for another, so nobody can keep a user (an admin, say) out by failing on purpose, and a
user with the right password from an address without recent failures is never refused. An address that
keeps failing is locked for every name. A successful login forgets its (name, address) failures but not
its address's: otherwise anyone holding one account could clear their address's count at will.

Memory is bounded: each table holds at most `max_entries` keys, dropping quiet ones first, then the
least recently seen.

>>> limiter = LoginLimiter(LoginLimits(per_user=2, per_address=0, lockout_s=30))
>>> limiter.failed("ann", "10.0.0.1", now=0.0)
>>> limiter.failed("ann", "10.0.0.1", now=1.0)
30.0
>>> limiter.check("ann", "10.0.0.1", now=2.0)
Refusal(scope='user', retry_after_s=29, refusals=1, audit=True)
>>> limiter.check("ann", "10.0.0.9", now=2.0) is None
True
>>> limiter.check("ann", "10.0.0.1", now=31.0) is None
True
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How failed logins are limited; a limit of 0 turns that key off."""

    per_user: int = 5
    per_address: int = 20
    window_s: float = 900.0
    lockout_s: float = 60.0
    max_lockout_s: float = 900.0
    max_entries: int = 10_000

    def __post_init__(self) -> None:
        if self.per_user < 0 or self.per_address < 0:
            raise ValueError("login failure limits must be >= 0 (0: no limit)")
        if not (self.window_s > 0 and self.lockout_s > 0 and self.max_lockout_s >= self.lockout_s):
            raise ValueError("need window_s > 0 and 0 < lockout_s <= max_lockout_s")
        if self.max_entries < 1:
            raise ValueError("max_entries must be >= 1")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an attempt is refused: the locked key's kind, whole seconds to wait, refusals so far in this lock.

    `audit` is true for the 1st, 2nd, 4th, 8th... refusal of a lock, so a client hammering a locked
    key is recorded without writing one audit row per request.
    """

    scope: str  # "user" (this name from this address) or "address" (every name from it)
    retry_after_s: int
    refusals: int
    audit: bool


@dataclass(slots=True)
class _Entry:
    failures: int = 0
    last: float = -math.inf
    locked_until: float = -math.inf
    refusals: int = 0
    pending: int = 0  # attempts let through whose password check has not finished


class _Table:
    """Failure counts per key, at most `max_entries` keys."""

    def __init__(self, limit: int, limits: LoginLimits) -> None:
        self.limit = limit
        self._limits = limits
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def locked(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        return entry if entry is not None and entry.locked_until > now else None

    def _stale(self, entry: _Entry, now: float) -> bool:
        return entry.locked_until <= now and now - entry.last >= self._limits.window_s and not entry.pending

    def busy(self, key: str, now: float) -> bool:
        """Whether enough checks are in flight to use up what is left before the limit.

        After a lock has run out one attempt at a time goes ahead (its failure locks again).
        """
        entry = self._entries.get(key)
        if not self.limit or entry is None:
            return False
        recent = entry.failures if now - entry.last < self._limits.window_s else 0
        return entry.pending >= max(self.limit - recent, 1)

    def recent(self, key: str, now: float) -> int:
        """Failures of this key within the window."""
        entry = self._entries.get(key)
        return entry.failures if entry is not None and now - entry.last < self._limits.window_s else 0

    def reserve(self, key: str, now: float) -> None:
        """Count an attempt as in flight (its password check is slow; parallel guesses must not slip by)."""
        if not self.limit:
            return
        entry = self._entries.pop(key, None) or _Entry()
        entry.pending += 1
        self._entries[key] = entry
        self._bound(now)

    def release(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.pending:
            entry.pending -= 1

    def failed(self, key: str, now: float) -> float | None:
        """Count a failure; the lock's length in seconds when this failure locks the key."""
        if not self.limit:
            return None
        entry = self._entries.pop(key, None) or _Entry()
        if now - entry.last >= self._limits.window_s:
            entry.failures = 0
        entry.failures += 1
        entry.last = now
        self._entries[key] = entry  # now the most recently seen
        self._bound(now)
        if entry.failures < self.limit:
            return None
        doublings = min(entry.failures - self.limit, 32)  # a long guessing run must not overflow the float
        lock = min(self._limits.lockout_s * 2.0 ** doublings, self._limits.max_lockout_s)
        entry.locked_until, entry.refusals = now + lock, 0
        return lock

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def _bound(self, now: float) -> None:
        # Oldest first: drop quiet entries, then (only when still over) the least recently seen.
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if not self._stale(oldest, now) and len(self._entries) <= self._limits.max_entries:
                return
            self._entries.popitem(last=False)


def _pair(username: str, address: str) -> str:
    # An address never contains NUL, so the key splits back unambiguously at its last one.
    return f"{username}\x00{address}"


class LoginLimiter:
    """Thread-safe failed-login bookkeeping for one process (see the module docstring)."""

    def __init__(self, limits: LoginLimits | None = None) -> None:
        self.limits = limits or LoginLimits()
        self._users = _Table(self.limits.per_user, self.limits)
        self._addresses = _Table(self.limits.per_address, self.limits)
        self._lock = threading.Lock()

    def check(self, username: str, address: str, now: float) -> Refusal | None:
        """None when this attempt may go ahead, else why not and for how long."""
        with self._lock:
            pair = _pair(username, address)
            found = [(scope, e) for scope, e in (("user", self._users.locked(pair, now)),
                                                 ("address", self._addresses.locked(address, now))) if e]
            if not found:
                for scope, table, key in (("user", self._users, pair), ("address", self._addresses, address)):
                    if table.busy(key, now):  # enough guesses already in flight to lock it
                        return Refusal(scope, 1, 0, False)
                self._users.reserve(pair, now)
                self._addresses.reserve(address, now)
                return None
            for _, entry in found:
                entry.refusals += 1
            scope, longest = max(found, key=lambda item: item[1].locked_until)
            count = max(e.refusals for _, e in found)
            audit = any(e.refusals & (e.refusals - 1) == 0 for _, e in found)
            return Refusal(scope, max(1, math.ceil(longest.locked_until - now)), count, audit)

    def failed(self, username: str, address: str, now: float) -> float | None:
        """Count a failed login (ending the attempt `check` let through); the longest lock it starts, if any."""
        with self._lock:
            self._release(username, address)
            pair = _pair(username, address)
            locks = [t for t in (self._users.failed(pair, now), self._addresses.failed(address, now)) if t]
        return max(locks) if locks else None

    def succeeded(self, username: str, address: str) -> None:
        """A right password: forget this name's failures from this address (the address's stay counted)."""
        with self._lock:
            self._release(username, address)
            self._users.forget(_pair(username, address))

    def abandoned(self, username: str, address: str) -> None:
        """The attempt `check` let through ended without a verdict (an error): it is no longer in flight."""
        with self._lock:
            self._release(username, address)

    def suspect(self, address: str, now: float) -> bool:
        """Whether this address failed a login within the window (it gets no reserved password-check place)."""
        with self._lock:
            return self._addresses.recent(address, now) > 0

    def _release(self, username: str, address: str) -> None:
        self._users.release(_pair(username, address))
        self._addresses.release(address)

    def sizes(self) -> tuple[int, int]:
        """How many (username, address) pairs and addresses are remembered."""
        with self._lock:
            return len(self._users), len(self._addresses)
