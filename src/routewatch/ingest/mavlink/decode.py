"""MAVLink messages -> model events, with per-system state (vehicle or not, GPS fix, last status)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as dialect

from routewatch.ingest.mavlink.frame import Framer, Handler, MavlinkStats
from routewatch.model import (
    Attitude,
    ClockOffset,
    FenceStatus,
    Observation,
    Role,
    TelemetryEvent,
    VehicleStatus,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

HEARTBEAT = dialect.MAVLINK_MSG_ID_HEARTBEAT
SYSTEM_TIME = dialect.MAVLINK_MSG_ID_SYSTEM_TIME
GPS_RAW_INT = dialect.MAVLINK_MSG_ID_GPS_RAW_INT
ATTITUDE = dialect.MAVLINK_MSG_ID_ATTITUDE
GLOBAL_POSITION_INT = dialect.MAVLINK_MSG_ID_GLOBAL_POSITION_INT
FENCE_STATUS = dialect.MAVLINK_MSG_ID_FENCE_STATUS
ADSB_VEHICLE = dialect.MAVLINK_MSG_ID_ADSB_VEHICLE
OPEN_DRONE_ID_LOCATION = dialect.MAVLINK_MSG_ID_OPEN_DRONE_ID_LOCATION
MOUNT_STATUS = dialect.MAVLINK_MSG_ID_MOUNT_STATUS
GIMBAL_DEVICE_ATTITUDE_STATUS = dialect.MAVLINK_MSG_ID_GIMBAL_DEVICE_ATTITUDE_STATUS

# MAV_TYPEs that are parts of a system or ground equipment, not something that flies or drives
NON_VEHICLE_TYPES = frozenset(
    getattr(dialect, f"MAV_TYPE_{n}") for n in (
        "ANTENNA_TRACKER", "GCS", "ONBOARD_CONTROLLER", "GIMBAL", "ADSB", "CAMERA", "CHARGING_STATION",
        "FLARM", "SERVO", "ODID", "BATTERY", "PARACHUTE", "LOG", "OSD", "IMU", "GPS", "WINCH",
        "ILLUMINATOR", "GRIPPER",
    ) if hasattr(dialect, f"MAV_TYPE_{n}")
)
NOT_VEHICLE_SYSIDS = frozenset({0, 51, 255})  # broadcast, SiK radio, GCS: until a heartbeat says otherwise
# GPS user equivalent range error (one sigma, m) by default: sources.gps_uere_m's default.
DEFAULT_GPS_UERE_M = 4.0
_UINT16_MAX, _UINT32_MAX = 0xFFFF, 0xFFFFFFFF
_ODID_HOR_ACC_M = {1: 18520.0, 2: 7408.0, 3: 3704.0, 4: 1852.0, 5: 926.0, 6: 555.6, 7: 185.2,
                   8: 92.6, 9: 30.0, 10: 10.0, 11: 3.0, 12: 1.0}


def _expect(cls: Any, names: str) -> None:
    """Guard the wire-order tuple unpacking below against a changed dialect."""
    got = cls.ordered_fieldnames[: len(names.split())]
    if got != names.split():  # pragma: no cover - only on an incompatible pymavlink
        raise ImportError(f"{cls.msgname} wire order changed: {got}")


_expect(dialect.MAVLink_heartbeat_message, "custom_mode type autopilot base_mode")
_expect(dialect.MAVLink_gps_raw_int_message, "time_usec lat lon alt eph epv vel cog fix_type")
_expect(dialect.MAVLink_global_position_int_message, "time_boot_ms lat lon alt relative_alt vx vy vz hdg")
_expect(dialect.MAVLink_attitude_message, "time_boot_ms roll pitch yaw")
_expect(dialect.MAVLink_system_time_message, "time_unix_usec time_boot_ms")
_expect(dialect.MAVLink_fence_status_message, "breach_time breach_count breach_status breach_type")
_expect(dialect.MAVLink_adsb_vehicle_message, "ICAO_address lat lon altitude heading hor_velocity")
_expect(dialect.MAVLink_open_drone_id_location_message,
        "latitude longitude altitude_barometric altitude_geodetic height timestamp direction "
        "speed_horizontal speed_vertical target_system target_component id_or_mac status")
_expect(dialect.MAVLink_mount_status_message, "pointing_a pointing_b pointing_c target_system target_component")
_expect(dialect.MAVLink_gimbal_device_attitude_status_message,
        "time_boot_ms q angular_velocity_x angular_velocity_y angular_velocity_z failure_flags flags")


def gimbal_yaw_frame(flags: int) -> str:
    """'earth' or 'vehicle': what a GIMBAL_DEVICE_ATTITUDE_STATUS quaternion's yaw is relative to.

    The message's rules: YAW_IN_VEHICLE_FRAME or YAW_IN_EARTH_FRAME say it; with neither, the
    older YAW_LOCK flag means earth. Pitch and roll are relative to the horizon either way.

    >>> gimbal_yaw_frame(dialect.GIMBAL_DEVICE_FLAGS_YAW_LOCK), gimbal_yaw_frame(0)
    ('earth', 'vehicle')
    """
    if flags & dialect.GIMBAL_DEVICE_FLAGS_YAW_IN_VEHICLE_FRAME:
        return "vehicle"
    if flags & dialect.GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME:
        return "earth"
    return "earth" if flags & dialect.GIMBAL_DEVICE_FLAGS_YAW_LOCK else "vehicle"


def gps_accuracy_m(eph: int, h_acc_mm: int, uere_m: float = DEFAULT_GPS_UERE_M) -> float | None:
    """One-sigma horizontal accuracy (m) of a GPS_RAW_INT: its h_acc when sent, else HDOP times the UERE.

    common.xml: `eph` is the HDOP, unitless * 100 (UINT16_MAX: unknown); `h_acc` (a MAVLink 2
    extension, so 0 from MAVLink 1 senders) is the position uncertainty in mm. None when neither is known.

    >>> gps_accuracy_m(228, 0), gps_accuracy_m(228, 1500), gps_accuracy_m(65535, 0)
    (9.12, 1.5, None)
    """
    if 0 < h_acc_mm < _UINT32_MAX:
        return h_acc_mm / 1000.0
    if 0 < eph < _UINT16_MAX:
        return eph / 100.0 * uere_m
    return None


def to_us(t: datetime) -> int:
    """Microseconds since the Unix epoch of a tz-aware datetime (exact)."""
    if t.tzinfo is None:
        raise ValueError(f"receipt time must be timezone-aware, got {t!r}")
    return (t - EPOCH) // _US


def _chain(first: Handler, then: Handler) -> Handler:
    def both(t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        first(t, sysid, compid, v)
        then(t, sysid, compid, v)

    return both


class _HeartbeatView:
    """The four fields pymavlink's mode_string_v10 reads."""

    def __init__(self, mav_type: int, autopilot: int, base_mode: int, custom_mode: int) -> None:
        self.type, self.autopilot, self.base_mode, self.custom_mode = mav_type, autopilot, base_mode, custom_mode

    def get_type(self) -> str:
        return "HEARTBEAT"


_STATUS_CACHE: dict[tuple[int, int, int, int], tuple[str, str, bool]] = {}


def describe_heartbeat(mav_type: int, autopilot: int, base_mode: int, custom_mode: int) -> tuple[str, str, bool]:
    """(vehicle type name, flight mode name, armed) of a HEARTBEAT."""
    key = (mav_type, autopilot, base_mode, custom_mode)
    got = _STATUS_CACHE.get(key)
    if got is None:
        entry = dialect.enums["MAV_TYPE"].get(mav_type)
        kind = entry.name.removeprefix("MAV_TYPE_").lower() if entry else f"type_{mav_type}"
        try:
            mode = str(mavutil.mode_string_v10(_HeartbeatView(*key)))
        except Exception:  # a malformed heartbeat must not stop the stream
            mode = f"Mode({custom_mode})"
        got = (kind, mode, bool(base_mode & dialect.MAV_MODE_FLAG_SAFETY_ARMED))
        if len(_STATUS_CACHE) < 4096:
            _STATUS_CACHE[key] = got
    return got


_OTHER, _UNKNOWN, _VEHICLE = 0, 1, 2


class _System:
    __slots__ = ("accuracy_m", "boot_us", "compid", "fence", "fence_us", "fix", "kind", "last_us", "status",
                 "status_us", "subject_id")

    def __init__(self, source: str, sysid: int) -> None:
        self.kind = _OTHER if sysid in NOT_VEHICLE_SYSIDS else _UNKNOWN
        self.compid = -1
        self.fix = -1
        self.accuracy_m: float | None = None  # of the newest GPS_RAW_INT: GLOBAL_POSITION_INT carries none
        self.subject_id = f"{source}/{sysid}"
        self.status: tuple[str, str, bool] | None = None
        self.status_us = 0
        self.fence: tuple[bool, int, int] | None = None
        self.fence_us = 0
        self.boot_us: int | None = None  # the vehicle's clock at its boot (SYSTEM_TIME), µs since the epoch
        self.last_us = 0  # the vehicle's time of its newest timed message


class MavlinkDecoder:
    """Turns MAVLink bytes (a live stream or tlog records) into model events for one source."""

    def __init__(self, source: str, stats: MavlinkStats | None = None, *, status_every_s: float = 10.0,
                 taps: Mapping[int, Handler] | None = None, vehicle_time: bool = False,
                 gps_uere_m: float = DEFAULT_GPS_UERE_M) -> None:
        if not (math.isfinite(gps_uere_m) and gps_uere_m > 0):
            raise ValueError(f"gps_uere_m must be a positive number of metres, got {gps_uere_m}")
        self.source = source
        self.gps_uere_m = gps_uere_m
        # With vehicle_time, a vehicle's events are timed by its own clock (SYSTEM_TIME + time_boot_ms),
        # not by receipt: a replay at any speed then gives the same times.
        self.vehicle_time = vehicle_time
        self.stats = stats if stats is not None else MavlinkStats()
        self._every_us = int(status_every_s * 1e6)
        self._systems: dict[int, _System] = {}
        self._out: list[TelemetryEvent] = []
        self._t_us = -1
        self._t = EPOCH
        handlers: dict[int, Handler] = {
            HEARTBEAT: self._heartbeat, SYSTEM_TIME: self._system_time, GPS_RAW_INT: self._gps_raw,
            ATTITUDE: self._attitude, GLOBAL_POSITION_INT: self._position, FENCE_STATUS: self._fence,
            ADSB_VEHICLE: self._adsb, OPEN_DRONE_ID_LOCATION: self._odid,
        }
        # Taps see raw payloads (e.g. the gimbal, for drone camera poses) after any handler of ours.
        for mid, tap in (taps or {}).items():
            handlers[mid] = _chain(handlers[mid], tap) if mid in handlers else tap
        self._stream = Framer(self.stats, handlers, tlog=False)
        self._records = Framer(self.stats, handlers, tlog=True)
        self._buf = b""
        self._tbuf = b""

    def feed(self, data: bytes, recv_time: datetime) -> list[TelemetryEvent]:
        """Decode stream bytes received at recv_time; a packet split across calls is joined."""
        t_us = to_us(recv_time)
        self.stats.bytes_in += len(data)
        buf = self._buf + bytes(data) if self._buf else bytes(data)
        used = self._stream.scan(buf, t_us)
        self._buf = buf[used:]
        return self._take()

    def feed_datagram(self, data: bytes, recv_time: datetime) -> list[TelemetryEvent]:
        """Decode one UDP datagram received at recv_time on its own (it carries whole packets)."""
        self.stats.bytes_in += len(data)
        self._stream.scan_datagram(bytes(data), to_us(recv_time))
        return self._take()

    def feed_tlog(self, data: bytes, *, final: bool = False) -> list[TelemetryEvent]:
        """Decode tlog bytes (8-byte µs stamp + packet per record); final marks the end of the file."""
        self.stats.bytes_in += len(data)
        buf = self._tbuf + bytes(data) if self._tbuf else bytes(data)
        used = self._records.scan(buf, 0, final)
        self._tbuf = buf[used:]
        return self._take()

    def reset(self) -> None:
        """Drop a partial packet (the connection went away); it is counted as truncated."""
        if self._buf:
            self.stats.truncated += 1
        self._buf = b""

    def vehicles(self) -> list[str]:
        """Subject ids of the systems known to be vehicles so far."""
        return [s.subject_id for s in self._systems.values() if s.kind == _VEHICLE]

    def _take(self) -> list[TelemetryEvent]:
        out = self._out
        self._out = []
        self.stats.events += len(out)
        return out

    def _time(self, t_us: int) -> datetime:
        if t_us != self._t_us:
            self._t_us = t_us
            self._t = EPOCH + timedelta(microseconds=t_us)
        return self._t

    def _system(self, sysid: int) -> _System:
        st = self._systems.get(sysid)
        if st is None:
            st = self._systems[sysid] = _System(self.source, sysid)
        return st

    def _vehicle(self, sysid: int, compid: int) -> _System | None:
        """The system if it may be one of our vehicles and compid is its autopilot, else None."""
        st = self._system(sysid)
        if st.kind == _UNKNOWN or (st.kind == _VEHICLE and compid == st.compid):
            return st
        self.stats.ignored += 1
        return None

    def _heartbeat(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        custom_mode, mav_type, autopilot, base_mode = v[0], v[1], v[2], v[3]
        st = self._system(sysid)
        if mav_type in NON_VEHICLE_TYPES or autopilot == dialect.MAV_AUTOPILOT_INVALID:
            if st.kind != _VEHICLE:
                st.kind = _OTHER
            self.stats.ignored += 1
            return
        if st.kind != _VEHICLE:
            st.kind, st.compid = _VEHICLE, compid
        elif compid != st.compid:
            self.stats.ignored += 1
            return
        if self.vehicle_time and (t := self._own(st, None)) < 0:
            return
        status = describe_heartbeat(mav_type, autopilot, base_mode, custom_mode)
        if status != st.status or t - st.status_us >= self._every_us:
            st.status, st.status_us = status, t
            self._out.append(VehicleStatus(st.subject_id, self._time(t), *status, source=self.source))

    def _gps_raw(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        st = self._vehicle(sysid, compid)
        if st is not None:
            st.fix = v[8]
            st.accuracy_m = gps_accuracy_m(v[4], v[11], self.gps_uere_m)

    def _position(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        st = self._vehicle(sysid, compid)
        if st is None:
            return
        if 0 <= st.fix < 2:
            self.stats.no_fix += 1
            return
        if self.vehicle_time and (t := self._own(st, v[0])) < 0:
            return
        _, lat, lon, alt, _, vx, vy, _, hdg = v
        if (lat == 0 and lon == 0) or not (-900_000_000 <= lat <= 900_000_000
                                           and -1_800_000_000 <= lon <= 1_800_000_000):
            self.stats.invalid_position += 1
            return
        speed = math.hypot(vx, vy) / 100.0
        if hdg < 36000:
            heading: float | None = hdg / 100.0
        elif speed > 0.5:  # hdg unknown (65535): the velocity vector still says where it goes
            heading = math.degrees(math.atan2(vy, vx)) % 360.0
        else:
            heading = None
        self._out.append(Observation(st.subject_id, self._time(t), lon / 1e7, lat / 1e7, alt / 1000.0,
                                     "drone", Role.PATROL, 1.0, self.source, speed, heading, st.accuracy_m))

    def _attitude(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        st = self._vehicle(sysid, compid)
        if st is not None and self.vehicle_time and (t := self._own(st, v[0])) < 0:
            return
        if st is not None:
            self._out.append(Attitude(st.subject_id, self._time(t), math.degrees(v[1]), math.degrees(v[2]),
                                      math.degrees(v[3]), self.source))

    def _system_time(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        st = self._vehicle(sysid, compid)
        if st is not None and v[0] and self.vehicle_time:
            st.boot_us = v[0] - v[1] * 1000
            st.last_us = max(st.last_us, v[0])
            self._out.append(ClockOffset(st.subject_id, self._time(v[0]), (t - v[0]) / 1e6, self.source))
        elif st is not None and v[0]:
            self._out.append(ClockOffset(st.subject_id, self._time(t), (t - v[0]) / 1e6, self.source))

    def _fence(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        st = self._vehicle(sysid, compid)
        if st is None or (self.vehicle_time and (t := self._own(st, None)) < 0):
            return
        fence = (v[2] != 0, v[1], v[3])
        if fence != st.fence or t - st.fence_us >= self._every_us:
            st.fence, st.fence_us = fence, t
            self._out.append(FenceStatus(st.subject_id, self._time(t), *fence, source=self.source))

    def _own(self, st: _System, boot_ms: int | None) -> int:
        """A vehicle message's time by its own clock (µs), or -1 (counted) before SYSTEM_TIME gave that clock.

        Messages without a time of their own take the time of the vehicle's newest timed one.
        """
        if st.boot_us is None:
            self.stats.no_vehicle_time += 1
            return -1
        if boot_ms is not None and boot_ms > 0:
            st.last_us = st.boot_us + boot_ms * 1000
        return st.last_us

    def _target(self, subject_id: str, cls: str, t: int, lat: int, lon: int, alt_m: float | None,
                speed: float | None, heading: float | None, accuracy: float | None = None) -> None:
        if (lat == 0 and lon == 0) or not (-900_000_000 <= lat <= 900_000_000
                                           and -1_800_000_000 <= lon <= 1_800_000_000):
            self.stats.invalid_position += 1
            return
        self._out.append(Observation(subject_id, self._time(t), lon / 1e7, lat / 1e7, alt_m, cls,
                                     Role.TARGET, 1.0, self.source, speed, heading, accuracy))

    def _adsb(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        icao, lat, lon, alt, hdg, hvel, flags = v[0], v[1], v[2], v[3], v[4], v[5], v[7]
        if not flags & dialect.ADSB_FLAGS_VALID_COORDS:
            self.stats.invalid_position += 1
            return
        self._target(
            f"adsb:{icao:06X}", "aircraft", t, lat, lon,
            alt / 1000.0 if flags & dialect.ADSB_FLAGS_VALID_ALTITUDE else None,
            hvel / 100.0 if flags & dialect.ADSB_FLAGS_VALID_VELOCITY else None,
            hdg / 100.0 if flags & dialect.ADSB_FLAGS_VALID_HEADING and hdg < 36000 else None,
        )

    def _odid(self, t: int, sysid: int, compid: int, v: tuple[Any, ...]) -> None:
        lat, lon, alt_baro, alt_geo, direction, hspeed = v[0], v[1], v[2], v[3], v[6], v[7]
        uas = bytes(v[11:31]).rstrip(b"\0")
        status, hacc = v[31], v[33]
        if not uas:  # zero-filled: the sender's own Remote ID, i.e. our vehicle
            self.stats.ignored += 1
            return
        if status == dialect.MAV_ODID_STATUS_REMOTE_ID_SYSTEM_FAILURE:
            self.stats.invalid_position += 1
            return
        text = uas.decode("ascii") if all(32 <= b < 127 for b in uas) else uas.hex().upper()
        alt = next((a for a in (alt_geo, alt_baro) if a != -1000.0 and math.isfinite(a)), None)
        self._target(
            f"odid:{text}", "drone", t, lat, lon, alt,
            hspeed / 100.0 if hspeed != 25500 else None,
            direction / 100.0 if direction < 36000 else None,
            _ODID_HOR_ACC_M.get(hacc),
        )
