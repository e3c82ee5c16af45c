"""Detection and tracking with Ultralytics YOLO (the `detect` extra): boxes with stable track ids."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routewatch.config.cameras import DetectorConfig
from routewatch.model import Box

# People and vehicles: COCO-trained models also say "boat", "suitcase" or "cell phone" from high angles.
DEFAULT_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")


class DetectorError(RuntimeError):
    """The detector cannot run: the extra is not installed, or the model cannot be found or loaded."""


class YoloTracker:
    """Ultralytics `model.track()` (ByteTrack by default) on one camera's frames; one instance per camera."""

    def __init__(self, model: str, *, classes: Sequence[str] = DEFAULT_CLASSES, conf: float = 0.35,
                 tracker: str = "bytetrack.yaml") -> None:
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise DetectorError(
                "the detector needs the detect extra: pip install 'routewatch[detect]' "
                f"(it brings Ultralytics and PyTorch) — {exc}"
            ) from None
        path = Path(model)
        looks_local = path.suffix in (".onnx", ".xml", ".tflite", ".engine") or "/" in model or path.is_dir()
        if looks_local and not path.exists():
            raise DetectorError(f"model not found: {model}; put an Ultralytics model there (.pt, ONNX, an OpenVINO "
                                "directory, TFLite) or name a hub model such as yolo11n.pt (needs internet)")
        if not looks_local and os.environ.get("YOLO_OFFLINE") and not path.exists():
            raise DetectorError(f"model {model!r} is not on disk and YOLO_OFFLINE is set, so it cannot be downloaded")
        try:
            self._model = YOLO(model, task="detect")
        except Exception as exc:  # Ultralytics raises many kinds for unreadable or unsupported files
            raise DetectorError(f"cannot load model {model}: {exc}") from None
        names: dict[int, str] = dict(self._model.names)
        unknown = sorted(set(classes) - set(names.values()))
        if unknown:
            raise DetectorError(f"classes {unknown} are not in the model (it knows e.g. {sorted(names.values())[:8]})")
        self._ids = [i for i, n in names.items() if n in set(classes)]
        self._names = names
        self.conf = conf
        self.tracker = tracker
        self.calls = 0

    def update(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        """Detect and track in one frame; only boxes that already have a track id are returned (in `track`)."""
        self.calls += 1
        results: Any = self._model.track(image, persist=True, verbose=False, classes=self._ids, conf=self.conf,
                                         tracker=self.tracker)
        boxes = results[0].boxes
        if boxes is None or boxes.id is None:
            return []
        out = []
        for (x1, y1, x2, y2), tid, cls, conf in zip(boxes.xyxy.tolist(), boxes.id.tolist(), boxes.cls.tolist(),
                                                    boxes.conf.tolist(), strict=True):
            out.append(Box(x1, y1, x2, y2, self._names[int(cls)], float(conf), track=str(int(tid))))
        return out


def yolo_tracker(det: DetectorConfig, tracker: str) -> YoloTracker | None:
    """The camera's YOLO tracker with `tracker` (an Ultralytics tracker file), or None when no model is set."""
    if det.model is None:
        return None
    return YoloTracker(det.model, classes=det.classes, conf=det.conf, tracker=tracker)
