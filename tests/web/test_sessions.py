"""Sessions live in the database: they survive restarts, and logouts and account changes end them everywhere.

Two apps over one store stand for two workers, or for the server before and after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from routewatch.config.web import WebConfig
from routewatch.store import Store
from routewatch.web import create_app
from tests.web.conftest import PASSWORD, Clock, login

NEW_PASSWORD = "an entirely new password"


@pytest.fixture
def workers(store: Store, clock: Clock) -> Iterator[tuple[TestClient, TestClient]]:
    with TestClient(create_app(store, WebConfig(), clock=clock)) as one, \
            TestClient(create_app(store, WebConfig(), clock=clock)) as two:
        yield one, two


def _me(client: TestClient, cookie: dict[str, str]) -> int:
    client.cookies.clear()
    return client.get("/api/me", cookies=cookie).status_code


def test_a_session_survives_a_restart_and_a_logout_does_too(store: Store, clock: Clock) -> None:
    with TestClient(create_app(store, WebConfig(), clock=clock)) as before:
        kept, ended = login(before, "field"), login(before, "planner")
        assert before.post("/api/logout", cookies=ended).status_code == 204
    with TestClient(create_app(store, WebConfig(), clock=clock)) as after:  # the restarted server
        assert _me(after, kept) == 200
        assert _me(after, ended) == 401


def test_a_logout_ends_the_session_in_every_worker_at_once(workers: tuple[TestClient, TestClient]) -> None:
    one, two = workers
    cookie, other = login(one, "field"), login(one, "field")
    assert _me(two, cookie) == 200
    one.post("/api/logout", cookies=cookie)
    assert _me(two, cookie) == 401
    assert _me(two, other) == 200  # the user's other session (another browser) goes on


def _patch(change: dict[str, Any]) -> Callable[[TestClient, dict[str, str]], int]:
    return lambda c, admin: c.patch("/api/users/field", json=change, cookies=admin).status_code


@pytest.mark.parametrize(("change", "status"), [
    (_patch({"password": NEW_PASSWORD}), 200), (_patch({"role": "planner"}), 200),
    (_patch({"disabled": True}), 200), (lambda c, admin: c.delete("/api/users/field", cookies=admin).status_code, 204),
], ids=["password", "role", "disabled", "removed"])
def test_account_changes_end_the_users_sessions_everywhere(
    workers: tuple[TestClient, TestClient], store: Store, change: Any, status: int,
) -> None:
    one, two = workers
    field, admin = login(one, "field"), login(one, "admin")
    one.cookies.clear()
    assert change(one, admin) == status
    assert _me(two, field) == 401
    assert _me(two, admin) == 200  # nobody else's
    assert store.audit.entries(limit=1000)[-1].action in ("user_change", "user_remove")


def test_enabling_a_user_or_an_unknown_name(workers: tuple[TestClient, TestClient]) -> None:
    one, _ = workers
    admin = login(one, "admin")
    one.cookies.clear()
    assert one.patch("/api/users/nobody", json={"role": "admin"}, cookies=admin).status_code == 404
    assert one.delete("/api/users/nobody", cookies=admin).status_code == 404
    planner = login(one, "planner")
    assert one.patch("/api/users/field", json={"role": "admin"}, cookies=planner).status_code == 403


def test_changing_ones_own_password_ends_every_other_session(workers: tuple[TestClient, TestClient]) -> None:
    one, two = workers
    here, elsewhere = login(one, "field"), login(one, "field")
    one.cookies.clear()
    wrong = one.post("/api/me/password", json={"current_password": "not my password", "new_password": NEW_PASSWORD},
                     cookies=here)
    assert wrong.status_code == 403
    done = one.post("/api/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                    cookies=here)
    assert done.status_code == 200
    fresh = {"routewatch_session": done.cookies["routewatch_session"]}
    assert (_me(two, here), _me(two, elsewhere), _me(two, fresh)) == (401, 401, 200)
    two.cookies.clear()
    assert two.post("/api/login", json={"username": "field", "password": NEW_PASSWORD}).status_code == 200


def test_sessions_expire(store: Store, clock: Clock) -> None:
    with TestClient(create_app(store, WebConfig(session_ttl_s=60), clock=clock)) as c:
        cookie = login(c, "field")
        clock.now += timedelta(seconds=59)
        assert _me(c, cookie) == 200
        clock.now += timedelta(seconds=1)
        assert _me(c, cookie) == 401


def test_only_a_hash_of_the_token_is_stored(store: Store, clock: Clock) -> None:
    token = store.sessions.start("field", at=clock(), ttl_s=60)
    assert store.sessions.user(token, at=clock()) is not None
    assert store.sessions.user(token + "x", at=clock()) is None
    store.sessions.end_all("field")
    assert store.sessions.user(token, at=clock()) is None
