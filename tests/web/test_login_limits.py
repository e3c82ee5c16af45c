"""Login rate limiting: the pure limiter (table-driven, a fake clock) and POST /api/login's 429s and audit."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from routewatch.config.web import WebConfig
from routewatch.store import Store
from routewatch.web import create_app
from routewatch.web.limits import LoginLimiter, LoginLimits
from routewatch.web.settings import login_limits
from tests.web.conftest import PASSWORD, Clock

LIMITS = LoginLimits(per_user=3, per_address=5, window_s=100.0, lockout_s=10.0, max_lockout_s=40.0, max_entries=50)

# Steps: ("fail", user, address, t), ("ok", user, address, t) or ("check", user, address, t, expected), where
# expected is None (may go ahead) or (scope, retry_after_s).
Step = tuple[Any, ...]
SCENARIOS: list[tuple[str, list[Step]]] = [
    ("no attempts", [("check", "ann", "a1", 0.0, None)]),
    ("empty names are keys like any other", [
        *[("fail", "", "", float(t)) for t in range(3)], ("check", "", "", 3.0, ("user", 9))]),
    ("under the user limit", [
        ("fail", "ann", "a1", 0.0), ("fail", "ann", "a2", 1.0), ("check", "ann", "a3", 2.0, None)]),
    ("the third failure locks the name from that address", [
        *[("fail", "ann", "a1", float(t)) for t in range(3)], ("check", "ann", "a1", 2.5, ("user", 10))]),
    ("but not from any other address", [
        *[("fail", "ann", "a1", float(t)) for t in range(3)], ("check", "ann", "a2", 2.5, None)]),
    ("failures of a name spread over addresses lock nothing", [
        *[("fail", "ann", f"a{t}", float(t)) for t in range(4)], ("check", "ann", "a0", 4.0, None),
        ("check", "ann", "a9", 4.0, None)]),
    ("a lock ends", [
        *[("fail", "ann", "a1", float(t)) for t in range(3)], ("check", "ann", "a1", 11.9, ("user", 1)),
        ("check", "ann", "a1", 12.0, None)]),
    ("each further failure doubles the lock, up to the cap", [
        *[("fail", "ann", "a1", float(t)) for t in range(3)],
        ("fail", "ann", "a1", 20.0), ("check", "ann", "a1", 20.0, ("user", 20)),
        ("fail", "ann", "a1", 50.0), ("check", "ann", "a1", 50.0, ("user", 40)),
        ("fail", "ann", "a1", 95.0), ("check", "ann", "a1", 95.0, ("user", 40))]),
    ("failures further apart than the window never lock", [
        *[("fail", "ann", "a1", t * 100.0) for t in range(6)], ("check", "ann", "a1", 501.0, None)]),
    ("a success forgets the name's failures", [
        ("fail", "ann", "a1", 0.0), ("fail", "ann", "a1", 1.0), ("ok", "ann", "a1", 2.0),
        ("fail", "ann", "a1", 3.0), ("fail", "ann", "a1", 4.0), ("check", "ann", "a1", 5.0, None)]),
    ("other names are not locked by one name's failures", [
        *[("fail", "ann", "a1", float(t)) for t in range(3)], ("check", "bob", "a2", 3.0, None)]),
    ("one address guessing many names is locked for every name", [
        *[("fail", f"user{t}", "a1", float(t)) for t in range(5)], ("check", "new", "a1", 5.0, ("address", 9)),
        ("check", "new", "a2", 5.0, None)]),
    ("a success does not clear the address's count", [
        *[("fail", f"user{t}", "a1", float(t)) for t in range(4)], ("ok", "mine", "a1", 4.0),
        ("fail", "user9", "a1", 5.0), ("check", "mine", "a1", 6.0, ("address", 9))]),
    ("both locked: the longer wait wins", [
        *[("fail", "ann", "a1", float(t)) for t in range(3)], ("fail", "bob", "a1", 3.0), ("fail", "cy", "a1", 3.0),
        ("check", "ann", "a1", 3.0, ("address", 10))]),
]


@pytest.mark.parametrize(("steps"), [s for _, s in SCENARIOS], ids=[n for n, _ in SCENARIOS])
def test_limiter_scenarios(steps: list[Step]) -> None:
    limiter = LoginLimiter(LIMITS)
    for step in steps:
        op, user, address, t = step[:4]
        if op == "fail":
            limiter.failed(user, address, t)
        elif op == "ok":
            limiter.succeeded(user, address)
        else:
            refusal = limiter.check(user, address, t)
            got = None if refusal is None else (refusal.scope, refusal.retry_after_s)
            assert got == step[4], step


@pytest.mark.parametrize(("per_user", "per_address", "failures", "locked"), [
    (0, 0, 50, False),   # both off
    (0, 5, 4, False),
    (0, 5, 5, True),     # address only
    (3, 0, 3, True),     # user only
    (1, 1, 1, True),
])
def test_limits_of_zero_turn_a_key_off(per_user: int, per_address: int, failures: int, locked: bool) -> None:
    limiter = LoginLimiter(dataclasses.replace(LIMITS, per_user=per_user, per_address=per_address))
    for i in range(failures):
        limiter.failed("ann", "a1", float(i))
    assert (limiter.check("ann", "a1", float(failures)) is not None) is locked


def test_failed_reports_the_lock_it_starts() -> None:
    limiter = LoginLimiter(LIMITS)
    assert [limiter.failed("ann", "a1", float(t)) for t in range(3)] == [None, None, 10.0]


def test_refusals_are_audited_at_powers_of_two() -> None:
    limiter = LoginLimiter(LIMITS)
    for t in range(3):
        limiter.failed("ann", "a1", float(t))
    refusals = [limiter.check("ann", "a1", 3.0) for _ in range(9)]
    assert [r.refusals for r in refusals if r] == list(range(1, 10))
    assert [r.refusals for r in refusals if r and r.audit] == [1, 2, 4, 8]


def test_memory_is_bounded_and_quiet_entries_go_first() -> None:
    limiter = LoginLimiter(LIMITS)
    for t in range(3):
        limiter.failed("victim", "a0", float(t))
    for i in range(1000):  # a flood of made-up names from many addresses
        limiter.failed(f"guess{i}", f"10.0.{i // 256}.{i % 256}", 3.0)
    users, addresses = limiter.sizes()
    assert users <= LIMITS.max_entries and addresses <= LIMITS.max_entries
    assert limiter.check("victim", "a0", 4.0) is None  # the least recently seen was dropped
    limiter.abandoned("victim", "a0")  # every attempt check() lets through ends (failed/succeeded/abandoned)
    # Entries quiet for a whole window are dropped before busy ones.
    for i in range(3):
        limiter.failed(f"late{i}", "b1", 200.0)
    assert limiter.sizes() == (3, 1)


@pytest.mark.parametrize("bad", [
    {"per_user": -1}, {"per_address": -1}, {"window_s": 0.0}, {"lockout_s": 0.0},
    {"lockout_s": 50.0, "max_lockout_s": 40.0}, {"max_entries": 0},
])
def test_bad_limits_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        dataclasses.replace(LIMITS, **bad)


@pytest.mark.parametrize(("fields", "problem"), [
    ({"login_max_failures_per_user": -1}, "greater than or equal to 0"),
    ({"login_max_failures_per_address": 100_001}, "less than or equal to 100000"),
    ({"login_window_s": 0}, "greater than 0"),
    ({"login_lockout_s": 0.5}, "greater than or equal to 1"),
    ({"login_lockout_s": 120, "login_max_lockout_s": 60}, "at least login_lockout_s"),
    ({"login_limiter_entries": 10}, "greater than or equal to 100"),
])
def test_config_bounds(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        WebConfig(**fields)


def test_config_maps_onto_the_limiter() -> None:
    web = WebConfig(login_max_failures_per_user=7, login_max_failures_per_address=0, login_window_s=60,
                    login_lockout_s=5, login_max_lockout_s=5, login_limiter_entries=200)
    assert login_limits(web) == LoginLimits(7, 0, 60.0, 5.0, 5.0, 200)
    assert login_limits(WebConfig()) == LoginLimits()


# --- the endpoint -------------------------------------------------------------------------------------------


def with_limits(web: WebConfig, limits: LoginLimits) -> WebConfig:
    """`web` with the limiter's settings of `limits` (unvalidated: LIMITS remembers fewer names than config allows)."""
    return web.model_copy(update={
        "login_max_failures_per_user": limits.per_user, "login_max_failures_per_address": limits.per_address,
        "login_window_s": limits.window_s, "login_lockout_s": limits.lockout_s,
        "login_max_lockout_s": limits.max_lockout_s, "login_limiter_entries": limits.max_entries})


@pytest.fixture
def limited(store: Store, settings: WebConfig, clock: Clock) -> Iterator[TestClient]:
    app = create_app(store, with_limits(settings, LIMITS), clock=clock)
    with TestClient(app) as c:
        yield c


def _login(c: TestClient, user: str, password: str) -> Any:
    c.cookies.clear()
    return c.post("/api/login", json={"username": user, "password": password})


# Who is refused, and when (LIMITS: 3 per name and address, 5 per address, 10 s first lock). The attacker
# at 10.6.6.6 fails on purpose to lock the admin out; the admin logs in from 10.0.0.1.
LOCKOUT_TABLE = [
    # (who, address, password right?, after seconds, expected status)
    ("admin", "10.6.6.6", False, 0, 401), ("admin", "10.6.6.6", False, 1, 401),
    ("admin", "10.6.6.6", False, 2, 401),                 # the pair (admin, 10.6.6.6) is locked 10 s
    ("admin", "10.6.6.6", True, 3, 429),                  # even the right password from there
    ("admin", "10.0.0.1", True, 3, 200),                  # the admin from elsewhere: never held up
    ("field", "10.6.6.6", False, 4, 401), ("planner", "10.6.6.6", False, 5, 401),  # 5 failures from the address
    ("commander", "10.6.6.6", True, 6, 429),              # the address is locked for every name
    ("commander", "10.0.0.2", True, 6, 200),
    ("admin", "10.0.0.1", False, 7, 401), ("admin", "10.0.0.1", True, 8, 200),  # own typo: still fine
    ("admin", "10.6.6.6", True, 16, 200),                 # both locks over (10 s): the right password works
]


def test_nobody_can_lock_a_user_out_from_another_address(store: Store, settings: WebConfig, clock: Clock) -> None:
    app = create_app(store, with_limits(settings, LIMITS), clock=clock)
    start = clock.now
    got = []
    for who, address, right, after, _ in LOCKOUT_TABLE:
        clock.now = start + timedelta(seconds=after)
        with TestClient(app, client=(address, 40000)) as c:
            got.append(_login(c, who, PASSWORD if right else "wrong password!").status_code)
    assert got == [row[-1] for row in LOCKOUT_TABLE]


def test_a_locked_name_gets_429_with_retry_after_even_with_the_right_password(
    limited: TestClient, store: Store, clock: Clock,
) -> None:
    assert [_login(limited, "field", "wrong password!").status_code for _ in range(3)] == [401, 401, 401]
    clock.now += timedelta(seconds=4)
    refused = _login(limited, "field", PASSWORD)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "6"
    assert refused.json()["detail"] == "too many failed logins; try again in 6 s"
    assert "set-cookie" not in refused.headers
    assert _login(limited, "planner", PASSWORD).status_code == 200  # other names are fine
    clock.now += timedelta(seconds=6)
    assert _login(limited, "field", PASSWORD).status_code == 200
    # The success forgot the name's failures: one more does not lock it again.
    assert _login(limited, "field", "wrong password!").status_code == 401
    assert _login(limited, "field", PASSWORD).status_code == 200
    log = [(e.action, e.actor, e.detail) for e in store.audit.entries(limit=1000)]
    assert log[:5] == [
        ("login_failed", "field", "testclient"), ("login_failed", "field", "testclient"),
        ("login_failed", "field", "testclient; locked for 10 s"),
        ("login_refused", "field", "testclient; user locked 6 s more; refusal 1"),
        ("login", "planner", "testclient"),
    ]


def test_an_address_guessing_names_is_refused(limited: TestClient, store: Store) -> None:
    statuses = [_login(limited, f"nobody{i}", "guess guess").status_code for i in range(5)]
    assert statuses == [401] * 5
    refused = _login(limited, "admin", PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 10
    assert [e.detail for e in store.audit.entries(action="login_refused")] == [
        "testclient; address locked 10 s more; refusal 1"]


def test_hammering_a_lock_writes_few_audit_rows(limited: TestClient, store: Store) -> None:
    for _ in range(3):
        _login(limited, "field", "wrong password!")
    assert {_login(limited, "field", PASSWORD).status_code for _ in range(20)} == {429}
    refusals = [e.detail.rsplit(" ", 1)[-1] for e in store.audit.entries(action="login_refused")]
    assert refusals == ["1", "2", "4", "8", "16"]


def test_bad_login_bodies_are_422_and_not_counted(limited: TestClient) -> None:
    for body in ({}, {"username": "field"}, {"username": "x" * 65, "password": "p"}, {"username": 1, "password": []}):
        assert limited.post("/api/login", json=body).status_code == 422
    assert _login(limited, "field", PASSWORD).status_code == 200


def test_parallel_guesses_cannot_slip_past_the_limit() -> None:
    """The password check is slow: attempts in flight count, so a burst gets at most `per_user` checks."""
    limiter = LoginLimiter(LIMITS)
    let_through = [limiter.check("admin", "10.1.0.1", 1.0) is None for i in range(30)]
    assert sum(let_through) == LIMITS.per_user
    refused = limiter.check("admin", "10.1.0.1", 1.0)
    assert refused is not None and refused.scope == "user"
    assert limiter.check("admin", "10.1.0.2", 1.0) is None  # the name from elsewhere is not held up
    limiter.abandoned("admin", "10.1.0.2")
    for _ in range(LIMITS.per_user):  # the checks finish: wrong passwords, which lock the pair
        limiter.failed("admin", "10.1.0.1", 1.5)
    assert limiter.check("admin", "10.1.0.1", 2.0) is not None
    # Many names from one address in parallel: at most `per_address` checks.
    many = LoginLimiter(LIMITS)
    assert sum(many.check(f"n{i}", "10.2.0.1", 1.0) is None for i in range(30)) == LIMITS.per_address
    # An abandoned attempt (an error in the check) frees its place.
    other = LoginLimiter(LIMITS)
    assert other.check("bob", "a", 1.0) is None
    other.abandoned("bob", "a")
    assert sum(other.check("bob", "a", 1.0) is None for i in range(30)) == LIMITS.per_user


def test_a_long_guessing_run_does_not_overflow_the_lock() -> None:
    limits = dataclasses.replace(LIMITS, window_s=86_400.0)
    limiter = LoginLimiter(limits)
    lock = None
    for i in range(3000):
        lock = limiter.failed("admin", "x", float(i))
    assert lock == limits.max_lockout_s
