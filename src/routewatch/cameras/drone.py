"""Drone cameras: pose files, and their detector and georeference for the one frame pipeline (cameras.pipeline).

video + pose file -> detections -> ground points -> observations.
Each processed frame (`fps` a second, full frame: no motion gate on a moving camera) takes the
drone's pose at its time from the pose file named alongside the video (see ingest.posefile).
A frame with no telemetry within `drone.max_pose_gap_s` on each side is counted `no_pose` and
skipped: never georeferenced from a guessed pose. A detection's ground point is the bottom
centre of its box, cast onto flat ground at `drone.ground_alt_m` through the gimbal's angles;
its accuracy_m carries the pose's error through that cast (geo.accuracy): the drone's GPS
accuracy (else `drone.position_error_m`) and the pointing error (`drone.angle_error_deg` with
`pixel_error_px` as an angle) times the slant range, grown by 1/sin of the depression angle.

With a model, Ultralytics tracks the boxes (BoT-SORT by default here: its global motion
compensation follows the moving view; ByteTrack when `detector.tracker` says so). Without
one, moving objects are found against a motion-compensated background
(tracking.egomotion) and tracked on the ground in metres (tracking.groundtrack), so the
path works without weights; such tracks have the class `moving_object`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from routewatch.cameras.detector import yolo_tracker
from routewatch.cameras.egomotion import CompensatedMotion
from routewatch.cameras.footprints import DroneFootprints
from routewatch.cameras.framecache import FrameCache
from routewatch.cameras.pipeline import FramePipeline, Placed, Placer
from routewatch.config.cameras import CameraConfig, DetectorConfig, DroneConfig
from routewatch.geo.accuracy import raycast_accuracy_m
from routewatch.geo.camera import Pinhole, intersect_ground
from routewatch.geo.crs import LocalFrame
from routewatch.geo.dronepose import camera_pose
from routewatch.geo.poseinterp import PoseTrack
from routewatch.ingest.posefile import PoseFile, PoseFileError, find_pose_file, read_pose_file
from routewatch.ingest.video import Frame, VideoStats, iter_file
from routewatch.model import Box, Observation, Pose
from routewatch.recording.recorder import FrameRecorder, follow_source
from routewatch.tracking.groundtrack import GroundTracker

PoseLookup = Callable[[datetime, float], Pose | None]
"""The drone's pose at a frame time with at most the given gap (s) to telemetry, or None (PoseTrack.at)."""


def tracker_for(det: DetectorConfig) -> str:
    """The Ultralytics tracker of a drone camera: the configured one, else BoT-SORT (camera-motion compensation).

    >>> tracker_for(DetectorConfig()), tracker_for(DetectorConfig(tracker="bytetrack.yaml"))
    ('botsort.yaml', 'bytetrack.yaml')
    """
    return det.tracker if "tracker" in det.model_fields_set else "botsort.yaml"


def _check(pf: PoseFile, d: DroneConfig) -> None:
    """Refuse, before any work, a pose file that cannot place this camera's frames."""
    where = f"pose file {pf.path}"
    if d.ground_alt_m == "home" and pf.home_alt_m is None:
        raise PoseFileError(f"{where} gives no home altitude ({pf.kind}): set drone.ground_alt_m to the ground's "
                            "altitude in metres (same datum as the pose)")
    if d.intrinsics is None and d.hfov_deg is None and not pf.has_fov:
        raise PoseFileError(f"{where} has no field of view: set drone.hfov_deg (or drone.intrinsics)")
    if not pf.gimbal and d.fixed_mount_deg is None:
        raise PoseFileError(f"{where} has no gimbal attitude (MOUNT_STATUS or GIMBAL_DEVICE_ATTITUDE_STATUS): "
                            "for a camera fixed to the airframe set drone.fixed_mount_deg [yaw, pitch, roll]")
    if d.start_time_clock == "vehicle" and pf.kind == "tlog" and pf.vehicle_clock_offset_s is None:
        raise PoseFileError(f"{where} has no SYSTEM_TIME to relate the vehicle clock to it: "
                            "use drone.start_time_clock: receiver")


class DroneVision:
    """Georeferenced tracks from drone videos, each with its pose file read once up front; or, with no
    pose files, from any frames and a pose lookup (`track_frames`, the live path of `run`)."""

    def __init__(self, cam: CameraConfig, pose_files: Mapping[Path, PoseFile] | None = None) -> None:
        if cam.kind != "drone":
            raise ValueError(f"camera {cam.name} is not a drone camera")
        if pose_files and cam.start_time is None:
            raise ValueError(f"camera {cam.name}: a recorded video needs `start_time` (its first frame's time)")
        self.cam = cam
        self._files = dict(pose_files or {})
        self._tracks: dict[Path, PoseTrack] = {}
        for pf in {id(p): p for p in self._files.values()}.values():
            _check(pf, cam.drone)

    @classmethod
    def for_videos(cls, inputs: Sequence[Path], cam: CameraConfig) -> DroneVision:
        """Find and read the pose file of every video (PoseFileError, a ValueError, says what is wrong)."""
        d = cam.drone
        read: dict[Path, PoseFile] = {}
        files: dict[Path, PoseFile] = {}
        for video in inputs:
            path = find_pose_file(video, d.pose_file).resolve()
            if path not in read:
                read[path] = read_pose_file(path, sysid=d.sysid, mount_status_frame=d.mount_status_frame,
                                            max_gap_s=d.max_pose_gap_s)
            files[video] = read[path]
        return cls(cam, files)

    def pose_file(self, video: Path) -> PoseFile:
        """The pose file read for a video."""
        return self._files[video]

    def _track(self, pf: PoseFile) -> PoseTrack:
        tr = self._tracks.get(pf.path)
        if tr is None:
            d = self.cam.drone
            by_vehicle = d.start_time_clock == "vehicle" and pf.kind == "tlog"
            vehicle = (pf.vehicle_clock_offset_s or 0.0) if by_vehicle else 0.0  # _check: known when needed
            # PoseTrack reads poses at t - clock_offset_s; pose time = frame time + time offset (+ tlog - vehicle).
            tr = self._tracks[pf.path] = pf.track(clock_offset_s=-(d.time_offset_s + vehicle))
        return tr

    def observations(self, path: Path, counts: Counter[str], video: VideoStats | None = None, *,
                     cache: FrameCache | None = None, footprints: DroneFootprints | None = None,
                     record: FrameRecorder | None = None) -> Iterator[Observation]:
        """Tracks in one drone video placed on the ground; frames without a pose are counted `no_pose`.

        With `cache`, each frame with tracks is cached (for alert snapshots) before its observations.
        """
        cam, d = self.cam, self.cam.drone
        assert cam.start_time is not None
        pf = self._files[path]
        track = self._track(pf)
        ground_alt = pf.home_alt_m if d.ground_alt_m == "home" else d.ground_alt_m
        assert ground_alt is not None
        follow_source(record, path, cam.start_time)  # a stream-copy recorder copies this file's own video
        yield from self.track_frames(iter_file(path, cam.name, cam.start_time, video), track.at,
                                     lambda: ground_alt, counts, cache=cache, footprints=footprints, record=record)

    def track_frames(self, frames: Iterable[Frame], pose_at: PoseLookup, ground_alt_m: Callable[[], float | None],
                     counts: Counter[str], *, sample: bool = True, cache: FrameCache | None = None,
                     footprints: DroneFootprints | None = None,
                     record: FrameRecorder | None = None) -> Iterator[Observation]:
        """Per frame: the pose at its time, detector or motion, tracker, ground points; from any timed frames.

        `pose_at(t, drone.max_pose_gap_s)` gives the pose (None: counted `no_pose`), `ground_alt_m()` the
        ground's altitude (None: counted `no_ground_alt`). With `sample`, frames closer than 1/fps to
        the last processed one are skipped (live sources sample before their queue and pass False).
        With `footprints`, each processed frame's ground footprint is recorded (see `cameras.footprints`); with
        `record`, each processed frame and its placed tracks' boxes are (see `recording`).
        """
        georef = PoseRaycast(self.cam, pose_at, ground_alt_m, counts, footprints)
        pipeline = FramePipeline(self.cam.name, self.cam.fps, DroneDetector(self.cam, counts), georef, counts,
                                 cache, record)
        yield from pipeline.run(frames, sample=sample)


class DroneDetector:
    """A drone camera's detector: YOLO (BoT-SORT by default), else motion against a compensated background.

    Motion blobs come without track ids: the drone's georeference tracks them on the ground.
    """

    def __init__(self, cam: CameraConfig, counts: Counter[str]) -> None:
        d, det = cam.drone, cam.detector
        self.yolo = yolo_tracker(det, tracker_for(det))
        self.motion = CompensatedMotion(width=cam.motion.width, min_area_frac=cam.motion.min_area_frac,
                                        threshold=d.motion_threshold, history_s=d.motion_history_s)
        self.counts = counts

    def detect(self, frame: Frame, t_s: float, placeable: bool) -> list[Box] | None:
        """Boxes in a frame that can be placed; motion keeps its registered history through the others (cheap)."""
        regions = self.motion.regions(frame.image, t_s) if self.yolo is None else []
        if not placeable:
            return None
        if self.yolo is None:
            return [Box(r.x1, r.y1, r.x2, r.y2) for r in regions]
        self.counts["detector_calls"] += 1
        return self.yolo.update(frame.image)

    def finish(self) -> None:
        """Add the motion detector's own counts."""
        self.counts.update(self.motion.counts)


class PoseRaycast:
    """A drone camera's georeference: the drone's pose at the frame's time, boxes ray-cast onto flat ground.

    Boxes without a track id (motion blobs) are tracked on the ground in metres (tracking.groundtrack).
    """

    record_unplaced = False  # the recorder shows the placed tracks only

    def __init__(self, cam: CameraConfig, pose_at: PoseLookup, ground_alt_m: Callable[[], float | None],
                 counts: Counter[str], footprints: DroneFootprints | None = None) -> None:
        self.cam, self.pose_at, self.ground_alt_m = cam, pose_at, ground_alt_m
        self.counts, self.footprints = counts, footprints
        self.ground_tracks = GroundTracker() if cam.detector.model is None else None  # motion blobs: no ids
        self.local: LocalFrame | None = None

    def view(self, frame: Frame) -> Placer | None:
        """The frame's placer from the pose at its time; None (counted `no_pose`, `no_ground_alt`) without one."""
        d = self.cam.drone
        pose = self.pose_at(frame.time, d.max_pose_gap_s)
        cpose = camera_pose(pose, d.fixed_mount_deg) if pose is not None else None
        if pose is None or cpose is None:
            self._unplaced(frame, "no_pose")
            return None
        ground_alt = self.ground_alt_m()
        if ground_alt is None:
            self._unplaced(frame, "no_ground_alt")
            return None
        h, w = frame.image.shape[:2]
        pin = self._pinhole(w, h, pose)
        if self.footprints is not None:
            self.footprints.frame(frame.time, cpose, pin, ground_alt)

        position_sigma = pose.accuracy_m if pose.accuracy_m is not None else d.position_error_m
        # The box's bottom is off by pixel_error_px: an angle at the focal length, on top of the pose's own.
        angle_sigma = math.hypot(d.angle_error_deg, math.degrees(self.cam.pixel_error_px / pin.fy))
        height = cpose.alt_m - ground_alt

        def place(boxes: Sequence[Box], t_s: float) -> list[Placed]:
            placed: list[Placed] = []
            for b in boxes:
                ray = pin.ray_ned(cpose, *b.bottom_centre)
                g = intersect_ground(cpose, ray, ground_alt, max_range_m=d.max_range_m)
                if g is None:
                    self.counts["not_on_ground"] += 1
                    continue
                placed.append(Placed(b, g[0], g[1], raycast_accuracy_m(ray, height, position_sigma, angle_sigma)))
            return placed if self.ground_tracks is None else self._track(self.ground_tracks, pose, placed, t_s)

        return place

    def _unplaced(self, frame: Frame, why: str) -> None:
        self.counts[why] += 1
        if self.footprints is not None:
            self.footprints.frame(frame.time, None)

    def _track(self, tracker: GroundTracker, pose: Pose, placed: list[Placed], t_s: float) -> list[Placed]:
        self.local = self.local or LocalFrame(pose.lon, pose.lat)
        local = self.local
        found = tracker.update(t_s, [local.xy(p.lon, p.lat) for p in placed])
        return [replace(placed[j], box=replace(placed[j].box, track=str(tid))) for tid, j in found]

    def _pinhole(self, width: int, height: int, pose: Pose) -> Pinhole:
        d = self.cam.drone
        if d.intrinsics is not None:
            fx, fy, cx, cy = d.intrinsics
            return Pinhole(width, height, fx, fy, cx, cy)
        if d.hfov_deg is not None:
            return Pinhole.from_fov(width, height, d.hfov_deg, d.vfov_deg)
        assert pose.hfov_deg is not None  # _check: the pose file carries the field of view
        return Pinhole.from_fov(width, height, pose.hfov_deg, pose.vfov_deg)
