"""POST /api/backtest: planners re-run a draft corridor set over stored history, with bad input refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Polygon

from routewatch.config.engine import AlertsConfig, EngineConfig
from routewatch.model import Corridor, CorridorKind, Observation
from routewatch.pipeline.core import Pipeline
from routewatch.store import Store
from tests.web.conftest import T0, login

FROM, TO = T0.isoformat(), (T0 + timedelta(hours=1)).isoformat()


def box(x0: float, x1: float) -> list[list[list[float]]]:
    return [[[x0, 52.0], [x1, 52.0], [x1, 52.01], [x0, 52.01], [x0, 52.0]]]


def exclusion(cid: str, x0: float, x1: float) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"id": cid, "kind": "exclusion"},
            "geometry": {"type": "Polygon", "coordinates": box(x0, x1)}}


@pytest.fixture
def history(store: Store) -> list[str]:
    """Two walkers east along lat 52.005 (one 40 s later), run live against zone z1 [5.004, 5.008]."""
    corridors = [Corridor("z1", Polygon(box(5.004, 5.008)[0]), kind=CorridorKind.EXCLUSION)]
    store.corridors.save(corridors, author="t", comment="live set", at=T0)
    pipe = Pipeline(corridors, EngineConfig(), AlertsConfig())
    fixes = [Observation(f"w{k}", T0 + timedelta(seconds=s + 40 * k), 5.0 + s * 1.5e-5, 52.005,
                         subject_class="person", source="t") for s in range(900) for k in (0, 1)]
    fixes.sort(key=lambda o: (o.time, o.subject_id))
    changes = pipe.feed_many(fixes)
    store.batches.write(changes, fixes)
    return sorted({c.alert.id for c in changes})


def _login(client: TestClient, role: str) -> None:
    client.cookies.clear()
    client.cookies.update(login(client, role))


def test_the_set_in_force_reproduces_the_stored_alerts(client: TestClient, history: list[str]) -> None:
    _login(client, "planner")
    r = client.post("/api/backtest", json={"from": FROM, "to": TO})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["counts"] == {"added": 0, "removed": 0, "unchanged": len(history)} and history
    assert sorted(a["id"] for a in got["unchanged"]) == history
    assert got["observations"] == 1800


def test_a_draft_zone_further_east_adds_its_own_alerts(client: TestClient, history: list[str]) -> None:
    draft = {"type": "FeatureCollection", "features": [exclusion("z1", 5.004, 5.008), exclusion("z2", 5.010, 5.012)]}
    _login(client, "planner")
    r = client.post("/api/backtest", json={"from": FROM, "to": TO, "corridors": draft})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["counts"]["removed"] == 0 and got["counts"]["unchanged"] == len(history)
    added = got["added"]
    assert {(a["corridor_id"], a["kind"], a["subject_id"]) for a in added if a["kind"] == "enter"} == {
        ("z2", "enter", "w0"), ("z2", "enter", "w1")}
    assert {a["corridor_id"] for a in added} == {"z2"}
    # The draft is not saved.
    assert [c["properties"]["id"] for c in client.get("/api/corridors")
            .json()["features"]] == ["z1"]


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"from": TO, "to": FROM}, 422, "reversed"),
    ({"from": FROM, "to": FROM}, 422, "empty"),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, 422, "at most 31 days"),
    ({"from": "2026-03-01T12:00:00", "to": TO}, 422, "time zone"),
    ({"from": "noon", "to": TO}, 422, "from"),
    ({"to": TO}, 422, "from"),
    ({"from": FROM, "to": TO, "warmup_s": -1}, 422, "warmup_s"),
    ({"from": FROM, "to": TO, "extra": 1}, 422, "extra"),
    ({"from": FROM, "to": TO, "corridors": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "exclusion"},
         "geometry": {"type": "Point", "coordinates": [5, 52]}}]}}, 422, "id"),
    ({"from": FROM, "to": TO, "corridors": {"type": "FeatureCollection", "features": []}}, 422, "no corridors"),
])
def test_bad_requests_are_refused_with_the_reason(client: TestClient, history: list[str], body: Any, status: int,
                                                  says: str) -> None:
    _login(client, "planner")
    r = client.post("/api/backtest", json=body)
    assert r.status_code == status, r.text
    assert says in r.text


def test_a_field_user_may_not_backtest(client: TestClient, history: list[str]) -> None:
    _login(client, "field")
    r = client.post("/api/backtest", json={"from": FROM, "to": TO})
    assert r.status_code == 403


def test_one_backtest_at_a_time_and_bodies_are_bounded(client: TestClient, history: list[str]) -> None:
    from routewatch.web.routes import backtest as web_backtest

    _login(client, "planner")
    with web_backtest._ONE_AT_A_TIME:  # as if another planner's backtest were running
        r = client.post("/api/backtest", json={"from": FROM, "to": TO})
    assert r.status_code == 409 and "another backtest" in r.text
    assert client.post("/api/backtest", json={"from": FROM, "to": TO}).status_code == 200  # free again
    huge = {"from": FROM, "to": TO, "corridors": {"type": "FeatureCollection", "features": [],
                                                  "pad": "x" * 70_000}}
    r = client.post("/api/backtest", json=huge)
    assert r.status_code == 413
