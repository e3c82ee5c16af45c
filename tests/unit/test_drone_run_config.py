"""Settings for drone cameras in `run`: a live one names the live MAVLink source of its pose; a recorded one
takes its pose from its pose file. What is refused, and the messages."""

from __future__ import annotations

import pytest

from routewatch.cameras.livepose import live_poses
from routewatch.config import ConfigError, parse_settings

LINK = {"name": "uav-link", "url": "udpin:127.0.0.1:14550"}
REPLAY = {"name": "replay", "url": "file:flight.tlog"}


def settings(url: str, drone: dict[str, object], sources: list[dict[str, object]] | None = None) -> dict[str, object]:
    cam = {"name": "uav", "kind": "drone", "url": url, "drone": {"hfov_deg": 70, **drone}}
    return {"sources": [LINK, REPLAY] if sources is None else sources, "cameras": [cam],
            "mqtt": {"input": {"enabled": url == "mqtt"}}}


@pytest.mark.parametrize(("url", "drone", "sources", "live"), [
    pytest.param("mqtt", {"pose_source": "uav-link"}, None, True, id="mqtt-frames-posed-by-a-udp-link"),
    pytest.param("rtsp://10.0.0.5/main", {"pose_source": "uav-link", "sysid": 3, "pose_wait_s": 0}, None, True,
                 id="rtsp-stream-sysid-no-wait"),
    pytest.param("0", {"pose_source": "uav-link", "intrinsics": [800, 800, 320, 240], "hfov_deg": None}, None,
                 True, id="device-with-intrinsics"),
    pytest.param("flight.avi", {}, [], False, id="recorded-video-pose-file"),
    pytest.param("file:flight.avi", {"pose_file": "flight.klv"}, None, False, id="recorded-video-named-pose-file"),
])
def test_valid(url, drone, sources, live):
    tree = settings(url, {k: v for k, v in drone.items() if v is not None}, sources)
    if drone.get("hfov_deg", 0) is None:
        tree["cameras"][0]["drone"].pop("hfov_deg")  # type: ignore[index]
    s = parse_settings(tree)
    feeds, tracks = live_poses(s.cameras)
    assert list(tracks) == (["uav"] if live else [])
    assert {name: f.cameras for name, f in feeds.items()} == ({"uav-link": ["uav"]} if live else {})


@pytest.mark.parametrize(("url", "drone", "sources", "message"), [
    pytest.param("mqtt", {}, None, "a live drone camera needs the name of the live MAVLink source",
                 id="live-without-pose-source"),
    pytest.param("rtsp://10.0.0.5/main", {"pose_source": "nope"}, None,
                 "'nope' is not a configured source (sources: replay, uav-link)", id="unknown-source"),
    pytest.param("mqtt", {"pose_source": "uav-link"}, [], "is not a configured source (sources: none)",
                 id="no-sources-at-all"),
    pytest.param("mqtt", {"pose_source": "replay"}, None, "source 'replay' replays a .tlog", id="tlog-replay"),
    pytest.param("mqtt", {"pose_source": "uav-link", "hfov_deg": None}, None,
                 "MAVLink telemetry carries no field of view: set drone.hfov_deg", id="no-field-of-view"),
    pytest.param("flight.avi", {"pose_source": "uav-link"}, None,
                 "a recorded drone video takes its pose from its pose file", id="recorded-with-pose-source"),
    pytest.param("mqtt", {"pose_source": "bad name"}, None, "pose_source", id="bad-name"),
    pytest.param("mqtt", {"pose_source": "uav-link", "pose_wait_s": -1}, None, "pose_wait_s", id="negative-wait"),
    pytest.param("mqtt", {"pose_source": "uav-link", "pose_wait_s": 11}, None, "pose_wait_s", id="wait-too-long"),
    pytest.param("mqtt", {"pose_source": "uav-link", "sysid": 256}, None, "sysid", id="bad-sysid"),
])
def test_refused(url, drone, sources, message):
    tree = settings(url, drone, sources)
    if drone.get("hfov_deg", 0) is None:
        tree["cameras"][0]["drone"].pop("hfov_deg")  # type: ignore[index]
    with pytest.raises(ConfigError) as exc:
        parse_settings(tree)
    assert message in str(exc.value), str(exc.value)


def test_fixed_cameras_and_defaults_are_untouched():
    s = parse_settings({"sources": [LINK]})
    assert live_poses(s.cameras) == ({}, {})
    d = parse_settings(settings("flight.avi", {}, [])).cameras[0].drone
    assert d.pose_source is None and d.pose_wait_s == 0.5
