"""The alert snapshot endpoint (per camera with ?camera=), `snapshot_url` and `snapshots` in the alert JSON."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from routewatch.model import Box
from routewatch.recording.evidence import render
from routewatch.store import Snapshot, Store
from tests.web.conftest import ROLES, T0, lifecycle, login, make_alert, token_for


@pytest.fixture
def alerts(store: Store) -> tuple[str, str]:
    """Two stored alerts: the first with a snapshot (a real rendered frame), the second without."""
    with_snap, without = make_alert("gate/1"), make_alert("gate/2", opened=3)
    store.batches.write(lifecycle(with_snap) + lifecycle(without), [])
    frame = np.full((240, 320, 3), 90, np.uint8)
    box = Box(40, 50, 120, 200, "person", track="1")
    jpeg, w, h = render(frame, box, T0, quality=80)
    store.snapshots.put(Snapshot(with_snap.id, "gate", T0, w, h, box.clipped(w, h), jpeg))
    return with_snap.id, without.id


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_the_jpeg(client: TestClient, alerts: tuple[str, str], role: str, store: Store) -> None:
    with_snap, without = alerts
    headers = token_for(store, role)
    response = client.get(f"/api/alerts/{with_snap}/snapshot", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content == store.snapshots.get(with_snap).jpeg  # type: ignore[union-attr]
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)
    missing = client.get(f"/api/alerts/{without}/snapshot", headers=headers)
    assert missing.status_code == 404 and "no snapshot" in missing.json()["detail"]


@pytest.mark.parametrize("path", ["/api/alerts/{id}/snapshot", "/api/alerts/no-such-alert/snapshot"])
def test_anonymous_is_401_and_unknown_is_404(client: TestClient, alerts: tuple[str, str], path: str) -> None:
    url = path.format(id=alerts[0])
    assert client.get(url).status_code == 401
    cookies = login(client, "field")
    for key, value in cookies.items():
        client.cookies.set(key, value)
    assert client.get(url).status_code == (200 if "no-such" not in url else 404)


def test_alert_json_carries_snapshot_url(client: TestClient, alerts: tuple[str, str], store: Store) -> None:
    with_snap, without = alerts
    headers = token_for(store, "field")
    expected = {with_snap: f"/api/alerts/{with_snap}/snapshot", without: None}
    listed = client.get("/api/alerts", headers=headers).json()["items"]
    assert {a["id"]: a["snapshot_url"] for a in listed} == expected
    for alert_id, url in expected.items():
        one = client.get(f"/api/alerts/{alert_id}", headers=headers).json()
        assert one["snapshot_url"] == url
        acked = client.post(f"/api/alerts/{alert_id}/ack", json={"comment": "seen"}, headers=headers).json()
        assert acked["snapshot_url"] == url and acked["state"] in {"acknowledged", "closed"}
    # the URL it gives is the one that serves the image
    assert client.get(expected[with_snap], headers=headers).status_code == 200  # type: ignore[arg-type]


def test_no_alerts_no_query_trouble(client: TestClient, store: Store) -> None:
    response = client.get("/api/alerts", headers=token_for(store, "field"))
    assert response.status_code == 200 and response.json()["items"] == []


@pytest.fixture
def witnessed(store: Store) -> str:
    """An alert on a world track with snapshots from two cameras (stored "tower" first), frames of two sizes."""
    alert = make_alert("w-5f3a", sensors=("gate/1", "tower/7"))
    store.batches.write(lifecycle(alert), [])
    for camera, (w, h) in (("tower", (200, 90)), ("gate", (320, 240))):
        box = Box(10, 20, 60, 80, "person", track="1")
        jpeg, w, h = render(np.full((h, w, 3), 90, np.uint8), box, T0, quality=80)
        store.snapshots.put(Snapshot(alert.id, camera, T0, w, h, box.clipped(w, h), jpeg))
    return alert.id


def test_an_alert_lists_a_snapshot_per_camera(client: TestClient, alerts: tuple[str, str], witnessed: str,
                                              store: Store) -> None:
    with_snap, without = alerts
    headers = token_for(store, "field")
    base = f"/api/alerts/{witnessed}/snapshot"
    expected = {
        witnessed: (base, [{"camera": "tower", "url": f"{base}?camera=tower"},
                           {"camera": "gate", "url": f"{base}?camera=gate"}]),
        with_snap: (f"/api/alerts/{with_snap}/snapshot",
                    [{"camera": "gate", "url": f"/api/alerts/{with_snap}/snapshot?camera=gate"}]),
        without: (None, []),
    }
    listed = client.get("/api/alerts", headers=headers).json()["items"]
    assert {a["id"]: (a["snapshot_url"], a["snapshots"]) for a in listed} == expected
    one = client.get(f"/api/alerts/{witnessed}", headers=headers).json()
    assert (one["snapshot_url"], one["snapshots"]) == expected[witnessed]
    # each URL serves its camera's JPEG; the one without a camera serves the first stored
    sizes = {"tower": (90, 200, 3), "gate": (240, 320, 3)}
    for link in one["snapshots"]:
        got = client.get(link["url"], headers=headers)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert cv2.imdecode(np.frombuffer(got.content, np.uint8), cv2.IMREAD_COLOR).shape == sizes[link["camera"]]
        assert got.content == store.snapshots.get(witnessed, link["camera"]).jpeg  # type: ignore[union-attr]
    first = client.get(one["snapshot_url"], headers=headers)
    assert first.status_code == 200 and first.content == store.snapshots.get(witnessed, "tower").jpeg  # type: ignore[union-attr]


# (camera query, status, words in the error)
CAMERA_QUERIES = [
    pytest.param("?camera=gate", 200, None, id="known-camera"),
    pytest.param("", 200, None, id="no-camera"),
    pytest.param("?camera=elsewhere", 404, "from camera 'elsewhere'", id="camera-without-a-snapshot"),
    pytest.param("?camera=", 422, "at least 1", id="empty-camera"),
    pytest.param("?camera=..%2Fetc", 422, "pattern", id="not-a-camera-name"),
    pytest.param("?camera=" + "c" * 65, 422, "at most 64", id="too-long"),
]


@pytest.mark.parametrize(("query", "status", "words"), CAMERA_QUERIES)
def test_the_camera_query(client: TestClient, witnessed: str, store: Store, query: str, status: int,
                          words: str | None) -> None:
    response = client.get(f"/api/alerts/{witnessed}/snapshot{query}", headers=token_for(store, "field"))
    assert response.status_code == status
    if words is not None:
        assert words in str(response.json()["detail"])


def test_an_unknown_alert_from_a_camera_is_404(client: TestClient, store: Store) -> None:
    response = client.get("/api/alerts/no-such-alert/snapshot?camera=gate", headers=token_for(store, "field"))
    assert response.status_code == 404 and "from camera 'gate'" in response.json()["detail"]
