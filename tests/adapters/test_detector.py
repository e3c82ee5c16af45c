"""The YOLO path on real video with the real COCO models in ../shared/data/models (the `detect` extra)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from routewatch.config.cameras import CameraConfig

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_people_are_detected_and_tracked_with_stable_ids(shared_data, openvino_model, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    from routewatch.cameras.detector import YoloTracker
    from routewatch.ingest.video import iter_file

    yolo = YoloTracker(openvino_model, classes=["person", "bicycle"])
    lengths: Counter[str] = Counter()
    per_frame = []
    for f in iter_file(shared_data / "video" / "people.mp4", "cam", T0):
        if f.index % 3:
            continue  # 10 fps is plenty for walking people
        tracked = yolo.update(f.image)
        per_frame.append(len(tracked))
        lengths.update(t.track for t in tracked)
        assert all(t.cls in ("person", "bicycle") and 0 < t.conf <= 1 for t in tracked)
    assert yolo.calls == len(per_frame) == 101
    # A busy street: about 10-20 people a frame, and most tracks last (ByteTrack splits some: test stability).
    assert 8 <= sorted(per_frame)[len(per_frame) // 2] <= 30
    long_lived = [tid for tid, n in lengths.items() if n >= 50]
    assert len(long_lived) >= 5, lengths.most_common(10)


def test_missing_model_and_unknown_class_are_clear(openvino_model, tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    from routewatch.cameras.detector import DetectorError, YoloTracker

    with pytest.raises(DetectorError, match="model not found"):
        YoloTracker(str(tmp_path / "nope.onnx"))
    with pytest.raises(DetectorError, match="YOLO_OFFLINE"):
        YoloTracker("yolo11n.pt")
    with pytest.raises(DetectorError, match="not in the model"):
        YoloTracker(openvino_model, classes=["person", "unicorn"])


def test_camera_detector_settings_validate():
    cam = CameraConfig(name="c", gcps=[(0, 0, 1, 1)] * 4, detector={"model": "m.onnx", "conf": 0.5})
    assert cam.detector.model == "m.onnx" and cam.detector.gate
    with pytest.raises(ValueError, match="tracker"):
        CameraConfig(name="c", gcps=[(0, 0, 1, 1)] * 4, detector={"tracker": "sort.yaml"})
