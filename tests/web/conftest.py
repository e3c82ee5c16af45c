"""Fixtures for the web API: a migrated store, users of every role, API tokens and a running app."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from routewatch.config.web import WebConfig
from routewatch.model import Alert, AlertChange, AlertState, Change, EventKind, Observation, Severity, alert_id
from routewatch.store import Store
from routewatch.store.users import create_user
from routewatch.web import create_app

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
ROLES = ("field", "commander", "planner", "admin")


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = T0 + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_alert(subject: str = "s1", corridor: str = "c1", kind: EventKind = EventKind.ENTER,
               opened: float = 0.0, **kw: Any) -> Alert:
    opened_at = at(opened)
    values: dict[str, Any] = {"corridor_version": 1, "subject_class": "person", "last_seen": opened_at,
                              "lon": 5.005, "lat": 52.005, "severity": Severity.MEDIUM}
    values.update(kw)
    return Alert(id=alert_id(subject, corridor, kind.value, opened_at), kind=kind, corridor_id=corridor,
                 subject_id=subject, opened_at=opened_at, **values)


def lifecycle(alert: Alert) -> list[AlertChange]:
    """opened -> updated 5 s later -> closed 10 s later."""
    updated = dataclasses.replace(alert, last_seen=alert.opened_at + timedelta(seconds=5), updates=1)
    closed = dataclasses.replace(updated, state=AlertState.CLOSED, closed_at=alert.opened_at + timedelta(seconds=10))
    return [AlertChange(Change.OPENED, alert), AlertChange(Change.UPDATED, updated), AlertChange(Change.CLOSED, closed)]


def fix(subject: str, seconds: float) -> Observation:
    return Observation(subject, at(seconds), 5.0 + seconds / 1e4, 52.0 + seconds / 1e5, subject_class="person")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as s:
        s.upgrade(postgis=False)
        for role in ROLES:
            create_user(s.users, role, PASSWORD, role, at=T0)
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings() -> WebConfig:
    return WebConfig(max_upload_bytes=64 * 1024, live_poll_s=0.05, live_keepalive_s=0.5)


@pytest.fixture
def client(store: Store, settings: WebConfig, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(store, settings, clock=clock)) as c:
        yield c


def login(client: TestClient, role: str) -> dict[str, str]:
    """Log in as the user named after `role`; return the session cookie as a dict for requests."""
    response = client.post("/api/login", json={"username": role, "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = response.cookies.get("routewatch_session")
    assert cookie
    client.cookies.clear()
    return {"routewatch_session": cookie}


def token_for(store: Store, role: str) -> dict[str, str]:
    """An Authorization header with a new API token of `role`."""
    _, token = store.users.add_api_token(f"bot-{role}", role, at=T0)
    return {"Authorization": f"Bearer {token}"}
