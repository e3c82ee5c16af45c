"""API tests against the real app and a real database: every endpoint, bad input included."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from routewatch.geo.corridors import load_corridors, to_kml
from routewatch.model import EventKind
from routewatch.store import Store, current_revision, downgrade, upgrade
from routewatch.store.spatial import include_object
from routewatch.store.tables import Base
from tests.web.conftest import PASSWORD, Clock, at, fix, lifecycle, login, make_alert, token_for
from tests.web.test_roles import feature


def use(client: TestClient, cookies: dict[str, str]) -> TestClient:
    client.cookies.clear()
    for key, value in cookies.items():
        client.cookies.set(key, value)
    return client


def test_login_cookie_logout_expiry_and_audit(client: TestClient, store: Store, clock: Clock) -> None:
    bad = client.post("/api/login", json={"username": "field", "password": "wrong password!"})
    assert bad.status_code == 401 and bad.json()["detail"] == "wrong username or password"
    assert client.post("/api/login", json={"username": "nobody", "password": "x"}).status_code == 401
    ok = client.post("/api/login", json={"username": "field", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["role"] == "field"
    header = ok.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header
    assert client.get("/api/me").json()["permissions"] == ["ack", "read"]
    assert [(e.action, e.actor) for e in store.audit.entries()] == [
        ("login_failed", "field"), ("login_failed", "nobody"), ("login", "field")]
    assert client.post("/api/logout").status_code == 204
    cookies = login(client, "field")
    use(client, cookies)
    assert client.get("/api/me").status_code == 200
    clock.now += timedelta(hours=13)
    assert client.get("/api/me").status_code == 401


def test_logout_revokes_the_session_even_if_the_cookie_is_replayed(client: TestClient) -> None:
    cookies = login(client, "planner")
    use(client, cookies).post("/api/logout")
    assert use(client, cookies).get("/api/me").status_code == 401


def _alerts(store: Store) -> list[str]:
    a = make_alert("s1", "c1", EventKind.ENTER, 0)
    b = make_alert("s2", "c2", EventKind.DWELL, 100, subject_class="car", lon=6.0, lat=53.0)
    c = make_alert("s3", "c1", EventKind.CROSS, 200)
    store.batches.write([*lifecycle(a), lifecycle(b)[0], lifecycle(c)[0]], [fix("s1", t) for t in range(0, 20, 2)])
    return [a.id, b.id, c.id]


def test_alert_filters_and_pagination(client: TestClient, store: Store) -> None:
    a, b, c = _alerts(store)
    use(client, login(client, "field"))

    def ids(**params: Any) -> list[str]:
        response = client.get("/api/alerts", params=params)
        assert response.status_code == 200, response.text
        return [x["id"] for x in response.json()["items"]]

    assert ids() == [a, b, c]
    assert ids(kind="dwell") == [b]
    assert ids(corridor="c1") == [a, c]
    assert ids(state="closed") == [a]
    assert ids(**{"class": "car"}) == [b]
    assert ids(since=at(50).isoformat(), until=at(150).isoformat()) == [b]
    assert ids(bbox="5.9,52.9,6.1,53.1") == [b]
    page = client.get("/api/alerts", params={"limit": 2}).json()
    assert [x["id"] for x in page["items"]] == [a, b] and page["next_offset"] == 2
    last = client.get("/api/alerts", params={"limit": 2, "offset": 2}).json()
    assert [x["id"] for x in last["items"]] == [c] and last["next_offset"] is None
    assert ids(**{"class": "person", "limit": 1, "offset": 1}) == [c]


def test_bad_alert_filters_are_422(client: TestClient) -> None:
    use(client, login(client, "field"))
    for params in ({"kind": "teleport"}, {"kind": "return"}, {"state": "x"}, {"bbox": "1,2,3"}, {"bbox": "a,b,c,d"},
                   {"bbox": "10,0,5,1"}, {"bbox": "0,0,200,1"}, {"since": "yesterday"},
                   {"since": "2026-03-01T12:00:00"}, {"limit": 501}, {"limit": 0}, {"offset": -1},
                   {"since": at(10).isoformat(), "until": at(5).isoformat()}):
        response = client.get("/api/alerts", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"], params


def test_alert_detail_ack_dismiss(client: TestClient, store: Store, clock: Clock) -> None:
    a, b, _ = _alerts(store)
    use(client, login(client, "field"))
    detail = client.get(f"/api/alerts/{a}").json()
    assert [f["time"] for f in detail["track"]] == [at(t).isoformat() for t in range(0, 11, 2)]
    assert [e["change"] for e in detail["events"]] == ["opened", "updated", "closed"]
    assert detail["evidence"] == [] and detail["dismissed"] is False
    assert client.get("/api/alerts/nope").status_code == 404
    assert client.post("/api/alerts/nope/ack", json={"comment": "x"}).status_code == 404
    assert client.post("/api/alerts/nope/dismiss", json={}).status_code == 404
    assert client.post(f"/api/alerts/{b}/ack", json={"comment": 5}).status_code == 422
    acked = client.post(f"/api/alerts/{b}/ack", json={"comment": "on it"})
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    clock.now += timedelta(seconds=1)  # the store keeps one ack event per (alert, time, updates)
    dismissed = client.post(f"/api/alerts/{b}/dismiss", json={"comment": "a cow"})
    assert dismissed.status_code == 200
    detail = client.get(f"/api/alerts/{b}").json()
    assert detail["dismissed"] is True
    assert [(e["actor"], e["comment"]) for e in detail["events"][-2:]] == [
        ("field", "on it"), ("field", "dismissed: a cow")]
    assert [(e.action, e.target, e.detail) for e in store.audit.entries(action="ack")] == [("ack", b, "on it")]
    assert [e.detail for e in store.audit.entries(action="dismiss")] == ["dismissed: a cow"]


def test_corridor_lifecycle_versions_and_audit(client: TestClient, store: Store) -> None:
    use(client, login(client, "planner"))
    created = client.post("/api/corridors?comment=first draw", json=feature("farm"))
    assert created.status_code == 201 and created.json()["properties"]["version"] == 1
    assert client.post("/api/corridors", json=feature("farm")).status_code == 409
    changed = client.put("/api/corridors/farm", json={**feature("farm", 5.5), "comment": "moved east"})
    assert changed.status_code == 200 and changed.json()["properties"]["version"] == 2
    same = client.put("/api/corridors/farm", json=feature("farm", 5.5))
    assert same.json()["properties"]["version"] == 2  # unchanged content keeps its version
    assert client.get("/api/corridors/farm").json()["geometry"]["coordinates"][0][0] == [5.5, 52.0]
    assert [f["id"] for f in client.get("/api/corridors").json()["features"]] == ["farm"]
    v1 = client.get("/api/corridors/farm/versions/1").json()
    assert v1["geometry"]["coordinates"][0][0] == [5.0, 52.0] and v1["meta"]["comment"] == "first draw"
    assert client.get("/api/corridors/farm/versions/9").status_code == 404
    deleted = client.delete("/api/corridors/farm?comment=obsolete")
    assert deleted.status_code == 200 and deleted.json()["version"] == 3
    assert client.get("/api/corridors/farm").status_code == 404
    assert client.delete("/api/corridors/farm").status_code == 404
    assert client.put("/api/corridors/farm", json=feature("farm")).status_code == 404
    history = client.get("/api/corridors/farm/history").json()
    assert [(h["version"], h["author"], h["comment"], h["deleted"]) for h in history] == [
        (1, "planner", "first draw", False), (2, "planner", "moved east", False), (3, "planner", "obsolete", True)]
    assert client.get("/api/corridors/nope/history").status_code == 404
    assert client.get("/api/corridors/nope").status_code == 404
    assert [e.action for e in store.audit.entries()][-3:] == ["corridor_create", "corridor_update", "corridor_delete"]


def test_bad_corridors_are_422_naming_the_problem(client: TestClient) -> None:
    use(client, login(client, "planner"))
    bowtie = feature("bow")
    bowtie["geometry"]["coordinates"] = [[[5.0, 52.0], [5.01, 52.01], [5.01, 52.0], [5.0, 52.01], [5.0, 52.0]]]
    response = client.post("/api/corridors", json=bowtie)
    assert response.status_code == 422
    problem = response.json()["problems"][0]
    assert problem["feature_id"] == "bow" and "self-intersect" in problem["message"]
    swapped = feature("swap")
    swapped["geometry"]["coordinates"] = [[[52.0, 95.0], [52.0, 95.1], [52.1, 95.1], [52.0, 95.0]]]
    assert client.post("/api/corridors", json=swapped).status_code == 422
    no_id = feature("x")
    del no_id["properties"]["id"]
    assert "id" in client.post("/api/corridors", json=no_id).json()["detail"]
    assert client.post("/api/corridors", json={"type": "FeatureCollection"}).status_code == 422
    broken = client.post("/api/corridors", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422
    assert client.put("/api/corridors/a", json=feature("b")).status_code == 422
    assert client.get("/api/corridors").json()["features"] == []


def test_import_export_limits_and_file_names(client: TestClient, store: Store, settings: Any) -> None:
    use(client, login(client, "planner"))
    file = {"content-type": "application/octet-stream"}  # as the UI sends it
    collection = {"type": "FeatureCollection", "features": [feature("a"), feature("b", 5.2)]}
    trick = client.post("/api/corridors/import", headers=file, content=json.dumps(collection).encode(),
                        params={"filename": "../../etc/passwd", "comment": "base set"})
    assert trick.status_code == 200, trick.text
    assert trick.json() == {"filename": "passwd", "imported": [{"id": "a", "version": 1}, {"id": "b", "version": 1}]}
    win = client.post("/api/corridors/import", headers=file, params={"filename": "..\\..\\x.kml"},
                      content=to_kml(load_corridors(json.dumps({**collection, "features": [feature("k", 6.0)]}))))
    assert win.status_code == 200 and win.json()["filename"] == "x.kml"
    assert [e.target for e in store.audit.entries(action="corridor_import")] == ["passwd", "x.kml"]
    bad = {"type": "FeatureCollection", "features": [feature("c"), {"type": "Feature", "properties": {"id": "d"}}]}
    refused = client.post("/api/corridors/import", headers=file, content=json.dumps(bad).encode())
    assert refused.status_code == 422 and refused.json()["problems"][0]["feature_index"] == 1
    assert client.post("/api/corridors/import", headers=file, content=b"\x00garbage").status_code == 422
    huge = b" " * (settings.max_upload_bytes + 1)
    assert client.post("/api/corridors/import", headers=file, content=huge).status_code == 413

    def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
        for _ in range(settings.max_upload_bytes // 1024 + 2):
            yield b" " * 1024

    assert client.post("/api/corridors/import", headers=file, content=chunks()).status_code == 413
    assert sorted(c.id for c in store.corridors.current()) == ["a", "b", "k"]
    exported = client.get("/api/corridors/export?format=geojson")
    assert exported.headers["content-disposition"] == 'attachment; filename="corridors.geojson"'
    assert [c.id for c in load_corridors(exported.content)] == ["a", "b", "k"]
    kml = client.get("/api/corridors/export", params={"format": "kml"})
    assert [c.id for c in load_corridors(kml.content)] == ["a", "b", "k"]
    assert client.get("/api/corridors/export?format=shp").status_code == 422
    empty = {"type": "FeatureCollection", "features": []}
    for params in ({}, {"replace": "true", "expect_removed": "3"}):  # an empty set never removes everything
        refused = client.post("/api/corridors/import", params=params, headers=file, content=json.dumps(empty).encode())
        assert refused.status_code == 422 and "an empty set is refused" in refused.json()["detail"]
    for params in ({"replace": "true"}, {"replace": "true", "expect_removed": "2"}):  # k would go: say so
        unconfirmed = client.post("/api/corridors/import", params=params, headers=file,
                                  content=json.dumps(collection).encode())
        assert unconfirmed.status_code == 409 and "would remove 1 stored corridor(s)" in unconfirmed.json()["detail"]
        assert ": k;" in unconfirmed.json()["detail"] and "expect_removed=1" in unconfirmed.json()["detail"]
    assert sorted(c.id for c in store.corridors.current()) == ["a", "b", "k"]
    replaced = client.post("/api/corridors/import", params={"replace": "true", "expect_removed": "1"}, headers=file,
                           content=json.dumps(collection).encode())
    assert replaced.status_code == 200 and sorted(c.id for c in store.corridors.current()) == ["a", "b"]


def test_health_and_metrics(client: TestClient, store: Store) -> None:
    _alerts(store)
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    client.app.state.metrics.set_messages_in(42)  # type: ignore[attr-defined]
    client.app.state.metrics.set_pipeline_lag(0.25)  # type: ignore[attr-defined]
    text = client.get("/metrics").text
    assert 'routewatch_alerts{kind="enter"} 1.0' in text and 'routewatch_alerts{kind="breach"} 0.0' in text
    assert "routewatch_messages_in_total 42.0" in text and "routewatch_pipeline_lag_seconds 0.25" in text
    assert "routewatch_dead_lettered_total 0.0" in text


def test_users_and_tokens(client: TestClient, store: Store) -> None:
    use(client, login(client, "admin"))
    made = client.post("/api/users", json={"username": "eve", "password": PASSWORD, "role": "planner"})
    assert made.status_code == 201 and "password" not in json.dumps(made.json())
    assert client.post("/api/users", json={"username": "eve", "password": PASSWORD, "role": "field"}).status_code == 409
    assert client.post("/api/users", json={"username": "x", "password": "short", "role": "field"}).status_code == 422
    assert client.post("/api/users", json={"username": "a b", "password": PASSWORD, "role": "field"}).status_code == 422
    assert client.post("/api/users", json={"username": "y", "password": PASSWORD, "role": "god"}).status_code == 422
    assert "eve" in [u["username"] for u in client.get("/api/users").json()]
    token = client.post("/api/tokens", json={"name": "ci", "role": "field"}).json()
    assert token["token"].startswith("rw_") and "token" not in client.get("/api/tokens").json()[0]
    client.cookies.clear()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token['token']}"}).json()["name"] == "token:ci"
    assert client.delete("/api/tokens/999", headers=token_for(store, "admin")).status_code == 404


def _sse(client: TestClient, n: int, **kwargs: Any) -> list[tuple[int, dict[str, Any]]]:
    """The first n events of /api/live as (id, data)."""
    events: list[tuple[int, dict[str, Any]]] = []
    deadline = time.monotonic() + 10
    with client.stream("GET", "/api/live", **kwargs) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        seq = None
        for line in response.iter_lines():
            if line.startswith("id: "):
                seq = int(line[4:])
            elif line.startswith("data: ") and seq is not None:
                events.append((seq, json.loads(line[6:])))
                if len(events) == n:
                    break
            assert time.monotonic() < deadline, f"only {len(events)} of {n} events"
    return events


def test_live_resume_gets_exactly_the_missed_events(client: TestClient, store: Store) -> None:
    headers = token_for(store, "field")
    a, b, c = _alerts(store)
    events = store.alerts.events()
    assert len(events) == 5
    missed = _sse(client, 3, headers={**headers, "Last-Event-ID": str(events[1].seq)})
    assert [s for s, _ in missed] == [e.seq for e in events[2:]]
    assert [(d["change"], d["alert"]["id"]) for _, d in missed] == [("closed", a), ("opened", b), ("opened", c)]
    assert _sse(client, 1, headers=headers, params={"after": events[3].seq})[0][0] == events[4].seq
    assert client.get("/api/live", headers={**headers, "Last-Event-ID": "abc"}).status_code == 422


def test_live_follows_new_events(client: TestClient, store: Store) -> None:
    headers = token_for(store, "field")
    _alerts(store)
    last = store.alerts.events()[-1].seq
    newer = make_alert("s9", "c9", EventKind.BREACH, 500)
    def later() -> None:
        time.sleep(0.3)
        store.batches.write(lifecycle(newer)[:1], [])
        client.app.state.hub.publish(())  # type: ignore[attr-defined]

    threading.Thread(target=later).start()
    got = _sse(client, 1, headers={**headers, "Last-Event-ID": str(last)})
    assert got[0][1]["alert"]["id"] == newer.id and got[0][0] > last


def test_live_carries_positions(client: TestClient, store: Store) -> None:
    headers = token_for(store, "field")
    def later() -> None:
        time.sleep(0.3)
        client.app.state.hub.publish_positions([fix("s7", 3)])  # type: ignore[attr-defined]

    threading.Thread(target=later).start()
    deadline = time.monotonic() + 10
    with client.stream("GET", "/api/live", headers=headers) as response:
        for line in response.iter_lines():
            assert time.monotonic() < deadline, "no position event"
            if line.startswith("data: "):
                assert json.loads(line[6:])["subject_id"] == "s7"
                break


def test_migration_0003_up_down_and_matches_models(db_url: str) -> None:
    upgrade(db_url)
    assert current_revision(db_url) == "0010"  # head: 0003, ..., the outbox messages, the world tracks
    with Store(db_url) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []
    downgrade(db_url, "0002")
    with Store(db_url) as store:
        assert not {"users", "api_tokens", "audit", "web_sessions"} & set(inspect(store.engine).get_table_names())
    upgrade(db_url)
    assert current_revision(db_url) == "0010"  # head: 0003, ..., the outbox messages, the world tracks


def test_link_quality_and_publisher_gaps_in_metrics_and_status(client: TestClient, store: Store) -> None:
    """What ingest lost (MAVLink sequence gaps, kernel drops, MQTT seq gaps) is where an operator looks."""
    metrics = client.app.state.metrics  # type: ignore[attr-defined]
    metrics.set_link("field", {"kernel_drops": 7, "recv_buffer_bytes": 4194304, "lost": 12,
                               "senders": {"1/1": {"received": 988, "lost": 12}}})
    metrics.set_publishers({"routewatch/v1/pos/gps": {"received": 95, "gaps": 5, "repeats": 0, "restarts": 0}})
    text = client.get("/metrics").text
    assert 'routewatch_mavlink_packets_lost_total{component="1",source="field",system="1"} 12.0' in text
    assert 'routewatch_mavlink_packets_received_total{component="1",source="field",system="1"} 988.0' in text
    assert 'routewatch_mavlink_kernel_drops_total{source="field"} 7.0' in text
    assert 'routewatch_mavlink_receive_buffer_bytes{source="field"} 4.194304e+06' in text
    assert 'routewatch_mqtt_seq_gaps_total{topic="routewatch/v1/pos/gps"} 5.0' in text
    assert client.get("/api/status").status_code == 401
    use(client, login(client, "field"))
    status = client.get("/api/status").json()
    assert status["mavlink"]["field"]["senders"] == {"1/1": {"received": 988, "lost": 12}}
    assert status["mavlink"]["field"]["kernel_drops"] == 7
    assert status["mqtt_publishers"]["routewatch/v1/pos/gps"]["gaps"] == 5
