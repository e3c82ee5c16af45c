"""GET /api/coverage: corridors' camera coverage over a window, as numbers and a GeoJSON map layer."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box, shape

from routewatch.geo.crs import LocalFrame
from routewatch.geo.footprint import Footprint
from routewatch.model import Corridor
from routewatch.store import Store
from tests.web.conftest import T0, at, login

FRAME = LocalFrame(5.0, 52.0)
NEAR = Corridor("near", FRAME.to_lonlat(box(0, 0, 100, 100)), name="Near")
AWAY = Corridor("away", FRAME.to_lonlat(box(5000, 5000, 5100, 5100)))
LEFT_HALF = FRAME.to_lonlat(box(-50, -50, 50, 150))


def iso(t) -> str:
    return t.isoformat().replace("+00:00", "Z")


def query(client: TestClient, start: float = 0, end: float = 600, **params: str) -> dict:
    r = client.get("/api/coverage", params={"from": iso(at(start)), "to": iso(at(end)), **params})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def covered(store: Store, client: TestClient) -> TestClient:
    """Two corridors saved at T0; camera gate saw the left half of `near` from 60 s to 120 s."""
    store.corridors.save([NEAR, AWAY], author="t", comment="setup", at=T0)
    store.coverage.put_footprints([Footprint("gate", at(60), at(120), LEFT_HALF)])
    for key, value in login(client, "commander").items():
        client.cookies.set(key, value)
    return client


def test_coverage_per_corridor(covered: TestClient) -> None:
    got = query(covered)
    assert got["cameras"] == ["gate"] and got["footprints"] == 1 and got["versions"] == "current"
    by_id = {c["id"]: c for c in got["corridors"]}
    near = by_id["near"]
    assert [(i["from"], i["to"], round(i["fraction"], 4), i["cameras"]) for i in near["intervals"]] == [
        (at(60).isoformat(), at(120).isoformat(), 0.5, ["gate"])]
    assert [(g["from"], g["to"]) for g in near["gaps"]] == [(at(0).isoformat(), at(60).isoformat()),
                                                           (at(120).isoformat(), at(600).isoformat())]
    assert (near["in_force_s"], near["covered_s"], near["name"]) == (600.0, 60.0, "Near")
    assert near["mean_fraction"] == pytest.approx(0.05, abs=1e-4) and near["covered_time_share"] == 0.1
    assert by_id["away"]["intervals"] == [] and len(by_id["away"]["gaps"]) == 1
    features = got["layer"]["features"]
    assert [(f["properties"]["layer"], f["properties"]["corridor_id"]) for f in features] == [
        ("covered", "near"), ("interval", "near")]
    part = FRAME.to_local(shape(features[0]["geometry"]))
    assert part.area == pytest.approx(5000.0, rel=1e-3) and part.bounds == pytest.approx((0, 0, 50, 100), abs=0.05)


def test_one_corridor_and_unknown_ones(covered: TestClient, store: Store) -> None:
    assert [c["id"] for c in query(covered, corridor="away")["corridors"]] == ["away"]
    r = covered.get("/api/coverage", params={"from": iso(at(0)), "to": iso(at(60)), "corridor": "nope"})
    assert r.status_code == 404 and "no corridor 'nope'" in r.json()["detail"]
    store.corridors.save([NEAR], author="t", comment="drop away", at=at(300))
    r = covered.get("/api/coverage", params={"from": iso(at(0)), "to": iso(at(60)), "corridor": "away"})
    assert r.status_code == 404 and "versions=history" in r.json()["detail"]
    # As it was: in force until it was deleted at 300 s.
    away = query(covered, corridor="away", versions="history")["corridors"][0]
    assert away["in_force_s"] == 300.0 and [(g["from"], g["to"]) for g in away["gaps"]] == [
        (at(0).isoformat(), at(300).isoformat())]


def test_versions_in_force(covered: TestClient, store: Store) -> None:
    # Redrawn at 90 s onto the camera's side: wholly covered from then on.
    store.corridors.save([dataclasses.replace(NEAR, geometry=FRAME.to_lonlat(box(0, 0, 40, 100))), AWAY],
                         author="t", comment="narrower", at=at(90))
    near = query(covered, versions="history", corridor="near")["corridors"][0]
    assert [(i["from"], i["to"], round(i["fraction"], 4), i["version"]) for i in near["intervals"]] == [
        (at(60).isoformat(), at(90).isoformat(), 0.5, 1), (at(90).isoformat(), at(120).isoformat(), 1.0, 2)]
    assert near["version"] == 2 and near["ever_fraction"] == pytest.approx(0.5, abs=1e-4)
    current = query(covered, corridor="near")["corridors"][0]
    assert [round(i["fraction"], 4) for i in current["intervals"]] == [1.0]


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"from": "2026-03-01T12:00:00Z", "to": "2026-03-01T12:00:00Z"}, 422, "empty"),
    ({"from": "2026-03-01T12:00:00Z", "to": "2026-03-01T11:00:00Z"}, 422, "reversed"),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, 422, "at most 31 days"),
    ({"from": "2026-03-01T12:00:00", "to": "2026-03-01T13:00:00Z"}, 422, "time zone"),
    ({"from": "noon", "to": "2026-03-01T13:00:00Z"}, 422, "from"),
    ({"to": "2026-03-01T13:00:00Z"}, 422, "from"),
    ({"from": "2026-03-01T12:00:00Z", "to": "2026-03-01T13:00:00Z", "versions": "all"}, 422, "versions"),
    ({"from": "2026-03-01T12:00:00Z", "to": "2026-03-01T13:00:00Z", "corridor": "x" * 201}, 422, "corridor"),
])
def test_bad_requests(covered: TestClient, params: dict, status: int, message: str) -> None:
    r = covered.get("/api/coverage", params=params)
    assert r.status_code == status and message in r.json()["detail"], r.text


def test_too_many_footprints(covered: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from routewatch.web.routes import coverage

    store.coverage.put_footprints([Footprint("uav", at(200 + i), at(201 + i), LEFT_HALF, "drone") for i in range(5)])
    monkeypatch.setattr(coverage, "MAX_ROWS", 3)
    r = covered.get("/api/coverage", params={"from": iso(at(0)), "to": iso(at(600))})
    assert r.status_code == 422 and "6 camera footprints" in r.json()["detail"] and "narrow" in r.json()["detail"]
    assert query(covered, 0, 100)["footprints"] == 1  # a narrower window is fine


def test_field_users_may_not(client: TestClient) -> None:
    for key, value in login(client, "field").items():
        client.cookies.set(key, value)
    r = client.get("/api/coverage", params={"from": iso(T0), "to": iso(T0 + timedelta(hours=1))})
    assert r.status_code == 403 and "replay" in r.json()["detail"]
