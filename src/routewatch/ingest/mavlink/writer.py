"""Synthetic MAVLink streams and tlogs, packed by pymavlink, for tests and the demo."""

from __future__ import annotations

import math
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as dialect
from pymavlink.generator.mavcrc import x25crc

from routewatch.ingest.mavlink.decode import to_us

MAV_TYPE_QUADROTOR = dialect.MAV_TYPE_QUADROTOR
MAV_TYPE_FIXED_WING = dialect.MAV_TYPE_FIXED_WING
MAV_TYPE_GCS = dialect.MAV_TYPE_GCS
MAV_AUTOPILOT_ARDUPILOTMEGA = dialect.MAV_AUTOPILOT_ARDUPILOTMEGA
MAV_AUTOPILOT_INVALID = dialect.MAV_AUTOPILOT_INVALID
COPTER_MODES = {"STABILIZE": 0, "AUTO": 3, "GUIDED": 4, "LOITER": 5, "RTL": 6, "LAND": 9}
ADSB_ALL_VALID = (dialect.ADSB_FLAGS_VALID_COORDS | dialect.ADSB_FLAGS_VALID_ALTITUDE
                  | dialect.ADSB_FLAGS_VALID_HEADING | dialect.ADSB_FLAGS_VALID_VELOCITY
                  | dialect.ADSB_FLAGS_VALID_CALLSIGN)


def _e7(deg: float) -> int:
    return round(deg * 1e7)


class TlogWriter:
    """Collects packets with their receipt times; renders a raw stream or a .tlog file."""

    def __init__(self, mavlink2: bool = False, *, sign_key: bytes | None = None) -> None:
        self.mavlink2 = mavlink2
        self.sign_key = sign_key  # MAVLink 2 packets get a signature block (32-byte key)
        self._mavs: dict[int, Any] = {}
        self._packets: list[tuple[datetime, bytes]] = []

    def message(self, t: datetime, sysid: int, msg: Any, *, compid: int = 1) -> bytes:
        """Pack any pymavlink message object as sysid/compid (MAVLink 2 for ids above 255)."""
        mav = self._mav(sysid)
        mav.srcComponent = compid
        data = bytes(msg.pack(mav, force_mavlink1=not self.mavlink2 and msg.id < 256))
        mav.seq = (mav.seq + 1) % 256
        self._packets.append((t, data))
        return data

    def custom(self, t: datetime, sysid: int, msgid: int, payload: bytes, *, compid: int = 1,
               crc_extra: int = 0, mavlink2: bool | None = None) -> bytes:
        """Frame an arbitrary payload under any message id (unknown ids, wrong lengths)."""
        v2 = self.mavlink2 if mavlink2 is None else mavlink2
        seq = self._next_seq(sysid)
        if v2 or msgid > 255:
            head = struct.pack("<BBBBBBBHB", 0xFD, len(payload), 0, 0, seq, sysid, compid,
                               msgid & 0xFFFF, msgid >> 16)
        else:
            head = struct.pack("<BBBBBB", 0xFE, len(payload), seq, sysid, compid, msgid)
        crc = x25crc(head[1:] + payload)
        crc.accumulate(bytes([crc_extra]))
        return self.raw(t, head + payload + struct.pack("<H", crc.crc))

    def raw(self, t: datetime, data: bytes) -> bytes:
        """Append bytes as they are (garbage, a hand-made packet) as one record."""
        self._packets.append((t, bytes(data)))
        return bytes(data)

    def heartbeat(self, t: datetime, sysid: int, mav_type: int = MAV_TYPE_QUADROTOR, custom_mode: int = 0,
                  armed: bool = True, *, autopilot: int = MAV_AUTOPILOT_ARDUPILOTMEGA, compid: int = 1) -> bytes:
        """HEARTBEAT; custom_mode is the autopilot's mode number (COPTER_MODES for ArduCopter)."""
        base = dialect.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (dialect.MAV_MODE_FLAG_SAFETY_ARMED if armed else 0)
        state = dialect.MAV_STATE_ACTIVE if armed else dialect.MAV_STATE_STANDBY
        msg = dialect.MAVLink_heartbeat_message(mav_type, autopilot, base, custom_mode, state, 3)
        return self.message(t, sysid, msg, compid=compid)

    def gps_raw_int(self, t: datetime, sysid: int, fix_type: int, lat: float, lon: float, alt_m: float,
                    *, satellites: int = 10, compid: int = 1, eph: int = 100, h_acc_mm: int = 0) -> bytes:
        """GPS_RAW_INT with a fix type (0/1 no fix, 3 3D fix), HDOP * 100 (`eph`) and, MAVLink 2 only, h_acc."""
        msg = dialect.MAVLink_gps_raw_int_message(to_us(t), fix_type, _e7(lat), _e7(lon), round(alt_m * 1000),
                                                  eph, 150, 0, 65535, satellites, h_acc=h_acc_mm)
        return self.message(t, sysid, msg, compid=compid)

    def global_position_int(self, t: datetime, sysid: int, lat: float, lon: float, alt_m: float,
                            rel_alt_m: float = 0.0, vx_m_s: float = 0.0, vy_m_s: float = 0.0,
                            vz_m_s: float = 0.0, hdg_deg: float | None = None, *, time_boot_ms: int = 0,
                            compid: int = 1) -> bytes:
        """GLOBAL_POSITION_INT; hdg_deg None is sent as 65535 (unknown)."""
        hdg = 65535 if hdg_deg is None else round(hdg_deg * 100) % 36000
        msg = dialect.MAVLink_global_position_int_message(
            time_boot_ms, _e7(lat), _e7(lon), round(alt_m * 1000), round(rel_alt_m * 1000),
            round(vx_m_s * 100), round(vy_m_s * 100), round(vz_m_s * 100), hdg)
        return self.message(t, sysid, msg, compid=compid)

    def attitude(self, t: datetime, sysid: int, roll_deg: float, pitch_deg: float, yaw_deg: float,
                 *, time_boot_ms: int = 0, compid: int = 1) -> bytes:
        """ATTITUDE (sent in radians)."""
        msg = dialect.MAVLink_attitude_message(time_boot_ms, math.radians(roll_deg), math.radians(pitch_deg),
                                               math.radians(yaw_deg), 0.0, 0.0, 0.0)
        return self.message(t, sysid, msg, compid=compid)

    def gimbal_attitude(self, t: datetime, sysid: int, pitch_deg: float, *, time_boot_ms: int = 0,
                        locked: bool = True) -> bytes:
        """GIMBAL_DEVICE_ATTITUDE_STATUS from the gimbal component: yaw 0, `pitch_deg` (negative: down).

        `locked`: pitch and roll locked to the horizon, yaw following the vehicle (ArduPilot 4.3+).
        """
        half = math.radians(pitch_deg) / 2
        flags = dialect.GIMBAL_DEVICE_FLAGS_ROLL_LOCK | dialect.GIMBAL_DEVICE_FLAGS_PITCH_LOCK if locked else 0
        msg = dialect.MAVLink_gimbal_device_attitude_status_message(
            0, 0, time_boot_ms, flags, [math.cos(half), 0.0, math.sin(half), 0.0], math.nan, math.nan, math.nan, 0)
        return self.message(t, sysid, msg, compid=dialect.MAV_COMP_ID_GIMBAL)

    def system_time(self, t: datetime, sysid: int, vehicle_time: datetime | None, *, time_boot_ms: int = 0,
                    compid: int = 1) -> bytes:
        """SYSTEM_TIME; vehicle_time None is sent as 0 (no time yet)."""
        unix = 0 if vehicle_time is None else to_us(vehicle_time)
        return self.message(t, sysid, dialect.MAVLink_system_time_message(unix, time_boot_ms), compid=compid)

    def fence_status(self, t: datetime, sysid: int, breached: bool, breach_count: int = 0,
                     breach_type: int = 0, *, compid: int = 1) -> bytes:
        """FENCE_STATUS (the autopilot's own fence)."""
        msg = dialect.MAVLink_fence_status_message(int(breached), breach_count, breach_type, 0, 0)
        return self.message(t, sysid, msg, compid=compid)

    def adsb_vehicle(self, t: datetime, sysid: int, icao: int, lat: float, lon: float, alt_m: float,
                     heading_deg: float, speed_m_s: float, callsign: str = "", *, flags: int = ADSB_ALL_VALID,
                     compid: int = 1) -> bytes:
        """ADSB_VEHICLE as relayed by a vehicle's ADS-B receiver."""
        msg = dialect.MAVLink_adsb_vehicle_message(
            icao, _e7(lat), _e7(lon), dialect.ADSB_ALTITUDE_TYPE_GEOMETRIC, round(alt_m * 1000),
            round(heading_deg * 100) % 36000, round(speed_m_s * 100), 0, callsign.encode("ascii")[:8],
            dialect.ADSB_EMITTER_TYPE_LIGHT, 1, flags, 1200)
        return self.message(t, sysid, msg, compid=compid)

    def open_drone_id_location(self, t: datetime, sysid: int, uas_id: str | bytes, lat: float, lon: float,
                               alt_m: float | None, direction_deg: float | None, speed_m_s: float | None,
                               *, status: int = 2, horizontal_accuracy: int = 10, compid: int = 1) -> bytes:
        """OPEN_DRONE_ID_LOCATION of another drone; None values are sent as the spec's unknowns."""
        uid = uas_id.encode("ascii") if isinstance(uas_id, str) else bytes(uas_id)
        msg = dialect.MAVLink_open_drone_id_location_message(
            0, 0, list(uid[:20].ljust(20, b"\0")), status,
            36100 if direction_deg is None else round(direction_deg * 100) % 36000,
            25500 if speed_m_s is None else min(round(speed_m_s * 100), 25425), 6300,
            _e7(lat), _e7(lon), -1000.0, -1000.0 if alt_m is None else alt_m,
            dialect.MAV_ODID_HEIGHT_REF_OVER_TAKEOFF, -1000.0, horizontal_accuracy, 0, 0, 0, 0.0, 0)
        return self.message(t, sysid, msg, compid=compid)

    def radio_status(self, t: datetime, sysid: int = 51, *, compid: int = 68) -> bytes:
        """RADIO_STATUS as a SiK radio sends it (sysid 51, compid 68)."""
        return self.message(t, sysid, dialect.MAVLink_radio_status_message(180, 170, 100, 40, 38, 0, 0),
                            compid=compid)

    def packets(self) -> list[tuple[datetime, bytes]]:
        """(receipt time, packet bytes) in the order written."""
        return list(self._packets)

    def stream_bytes(self) -> bytes:
        """The packets back to back, as a serial or TCP link carries them."""
        return b"".join(data for _, data in self._packets)

    def tlog_bytes(self) -> bytes:
        """A .tlog: each packet after its 8-byte big-endian µs receipt time."""
        return b"".join(struct.pack(">Q", to_us(t)) + data for t, data in self._packets)

    def write(self, path: str | Path) -> Path:
        """Write the .tlog to path and return it."""
        out = Path(path)
        out.write_bytes(self.tlog_bytes())
        return out

    def _mav(self, sysid: int) -> Any:
        mav = self._mavs.get(sysid)
        if mav is None:
            mav = self._mavs[sysid] = dialect.MAVLink(None, srcSystem=sysid, srcComponent=1)
            if self.sign_key is not None:
                mav.signing.secret_key = self.sign_key
                mav.signing.sign_outgoing = True
        return mav

    def _next_seq(self, sysid: int) -> int:
        mav = self._mav(sysid)
        seq = int(mav.seq)
        mav.seq = (seq + 1) % 256
        return seq
