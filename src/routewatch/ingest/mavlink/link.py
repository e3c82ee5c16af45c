"""Live MAVLink links (UDP, TCP, serial; a .tlog replays) run in a thread, reconnecting with backoff."""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from pymavlink.dialects.v20 import ardupilotmega as dialect

from routewatch.config.sources import SourceConfig
from routewatch.ingest.mavlink.decode import MavlinkDecoder
from routewatch.ingest.mavlink.frame import Handler, MavlinkError, MavlinkStats
from routewatch.ingest.mavlink.tlog import TlogReader
from routewatch.model import LinkStatus, TelemetryEvent

log = logging.getLogger(__name__)

POLL_S = 0.2  # longest blocking read, so stop is honoured quickly
HEARTBEAT_S = 1.0
CONNECT_S = 5.0
# Not 255: our heartbeats must never stand in for the real GCS and mask the vehicle's GCS failsafe.
HEARTBEAT_SYSID, HEARTBEAT_COMPID = 254, 190


def utc_now() -> datetime:
    """The default receipt clock."""
    return datetime.now(UTC)


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host or path, port or baud) of a MAVLink connection URL."""
    if url.endswith(".tlog") and ":" not in url.split("/")[0]:
        return "file", url, 0
    scheme, _, rest = url.partition(":")
    if scheme == "file":
        return scheme, rest, 0
    if scheme == "serial":
        path, _, baud = rest.rpartition(":")
        if not (path and baud.isdigit()):
            path, baud = rest, "57600"
        return scheme, path, int(baud)
    host, _, port = rest.rpartition(":")
    if scheme not in ("udpin", "udp", "udpout", "tcp", "tcpin") or not host or not port.isdigit():
        raise MavlinkError(f"bad MAVLink URL {url!r}: use udpin:HOST:PORT, udpout:HOST:PORT, tcp:HOST:PORT, "
                           "tcpin:HOST:PORT, serial:/dev/X[:BAUD] or file:PATH.tlog")
    return ("udpin" if scheme == "udp" else scheme), host.strip("[]"), int(port)


class _Transport(Protocol):
    def recv(self, timeout: float) -> bytes: ...  # b"" on timeout; raises OSError when the link is gone
    def send(self, data: bytes) -> None: ...
    def close(self) -> None: ...


def _addr(host: str, port: int, kind: socket.SocketKind) -> tuple[socket.AddressFamily, tuple[str, int]]:
    family, _, _, _, addr = socket.getaddrinfo(host, port, type=kind)[0]
    return family, (str(addr[0]), int(addr[1]))


# Linux: with SO_RXQ_OVFL set, each datagram carries the socket's count of datagrams the kernel
# dropped for want of buffer space (the only place those losses show). Python names neither constant.
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_OVFL_SPACE = socket.CMSG_SPACE(4)


class _Udp:
    def __init__(self, host: str, port: int, listen: bool, rcvbuf: int) -> None:
        family, addr = _addr(host, port, socket.SOCK_DGRAM)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.peer: tuple[str, int] | None = None if listen else addr
        self.listen = listen
        self.kernel_drops = 0
        self.rcvbuf = _size_rcvbuf(self.sock, rcvbuf)
        self._ovfl = sys.platform == "linux"
        if self._ovfl:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            except OSError:
                self._ovfl = False
        if listen:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(addr)

    def recv(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        try:
            if self._ovfl:
                data, anc, _, addr = self.sock.recvmsg(65535, _OVFL_SPACE)
                for level, kind, value in anc:
                    if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                        self.kernel_drops = int.from_bytes(value[:4], sys.byteorder)
            else:
                data, addr = self.sock.recvfrom(65535)
        except (TimeoutError, ConnectionRefusedError):  # refused: the peer is not up yet (ICMP)
            return b""
        if self.listen:
            self.peer = addr
        return data

    def send(self, data: bytes) -> None:
        if self.peer is not None:
            try:
                self.sock.sendto(data, self.peer)
            except OSError as e:  # a lost datagram is not a lost link
                log.debug("udp send to %s failed: %s", self.peer, e)

    def close(self) -> None:
        self.sock.close()


def _size_rcvbuf(sock: socket.socket, want: int) -> int:
    """Ask for a receive buffer of `want` bytes (past net.core.rmem_max where allowed); the size granted."""
    for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):  # FORCE needs CAP_NET_ADMIN; the plain one is capped
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, want)
            break
        except OSError:
            continue
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    # Linux reports twice the size asked for (room for its bookkeeping) and caps it at rmem_max.
    if sys.platform == "linux":
        got //= 2
    if got < want:
        log.warning("UDP receive buffer is %d bytes, not the %d asked for (recv_buffer_bytes): raise "
                    "net.core.rmem_max, or bursts are dropped by the kernel (counted as kernel drops)", got, want)
    return got


class _Tcp:
    def __init__(self, sock: socket.socket, server: socket.socket | None = None) -> None:
        self.sock, self.server = sock, server
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    @classmethod
    def connect(cls, host: str, port: int, stop: threading.Event) -> _Tcp | None:
        """Connect without blocking past POLL_S at a time, so stop is honoured; None if stopped."""
        family, addr = _addr(host, port, socket.SOCK_STREAM)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            err = sock.connect_ex(addr)
            deadline = time.monotonic() + CONNECT_S
            while err in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
                if stop.is_set():
                    sock.close()
                    return None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer from {host}:{port} in {CONNECT_S:g} s")
                if select.select([], [sock], [], POLL_S)[1]:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            sock.setblocking(True)
            return cls(sock)
        except BaseException:
            sock.close()
            raise

    @classmethod
    def accept(cls, host: str, port: int, stop: threading.Event) -> _Tcp | None:
        family, addr = _addr(host, port, socket.SOCK_STREAM)
        server = socket.socket(family, socket.SOCK_STREAM)
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(addr)
            server.listen(1)
            server.settimeout(POLL_S)
            while not stop.is_set():
                try:
                    return cls(server.accept()[0], server)
                except TimeoutError:
                    continue
        except BaseException:
            server.close()
            raise
        server.close()
        return None

    def recv(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return b""
        if not data:
            raise ConnectionResetError("connection closed by peer")
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()
        if self.server is not None:
            self.server.close()


class _Serial:
    def __init__(self, path: str, baud: int) -> None:
        speed = getattr(termios, f"B{baud}", None)
        if speed is None:
            raise MavlinkError(f"unsupported baud rate {baud} for {path}")
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            tty.setraw(self.fd, termios.TCSANOW)  # TCSAFLUSH would drop bytes already queued
            attrs = termios.tcgetattr(self.fd)
            attrs[2] |= termios.CLOCAL | termios.CREAD
            attrs[4] = attrs[5] = speed
            termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        except BaseException:
            os.close(self.fd)
            raise

    def recv(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return b""
        if not data:
            raise ConnectionResetError("serial device closed")
        return data

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self) -> None:
        os.close(self.fd)


class MavlinkLink:
    """One configured MAVLink source; run(stop) in a thread emits events and LinkStatus changes."""

    def __init__(self, cfg: SourceConfig, emit: Callable[[TelemetryEvent], None], *,
                 clock: Callable[[], datetime] = utc_now, stats: MavlinkStats | None = None,
                 monotonic: Callable[[], float] = time.monotonic, taps: Mapping[int, Handler] | None = None) -> None:
        self.cfg = cfg
        self.emit = emit
        self.clock = clock
        self.stats = stats if stats is not None else MavlinkStats()
        self.scheme, self.target, self.port = parse_url(cfg.url)
        self.decoder = MavlinkDecoder(cfg.name, self.stats, taps=taps,  # taps: raw payloads, e.g. drone poses
                                      vehicle_time=cfg.time_source == "vehicle", gps_uere_m=cfg.gps_uere_m)
        self.up = False
        self._kernel_drops_before = 0  # of sockets closed already
        self._mono = monotonic
        mav = dialect.MAVLink(None, srcSystem=HEARTBEAT_SYSID, srcComponent=HEARTBEAT_COMPID)
        self._heartbeat = bytes(dialect.MAVLink_heartbeat_message(
            dialect.MAV_TYPE_GCS, dialect.MAV_AUTOPILOT_INVALID, 0, 0, dialect.MAV_STATE_ACTIVE, 3).pack(mav))

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run in a new daemon thread and return it."""
        thread = threading.Thread(target=self.run, args=(stop,), name=f"mavlink-{self.cfg.name}", daemon=True)
        thread.start()
        return thread

    def run(self, stop: threading.Event) -> None:
        """Connect, decode and emit until stop is set; reconnect with exponential backoff."""
        if self.scheme == "file":
            self._replay(stop)
            return
        delay = self.cfg.reconnect_s
        try:
            while not stop.is_set():
                if self._session(stop):
                    delay = self.cfg.reconnect_s
                if stop.wait(delay):
                    break
                delay = min(delay * 2, self.cfg.reconnect_max_s)
        finally:
            self._set_up(False, "stopped")

    def _open(self, stop: threading.Event) -> _Transport | None:
        if self.scheme in ("udpin", "udpout"):
            return _Udp(self.target, self.port, listen=self.scheme == "udpin", rcvbuf=self.cfg.recv_buffer_bytes)
        if self.scheme == "tcp":
            return _Tcp.connect(self.target, self.port, stop)
        if self.scheme == "tcpin":
            return _Tcp.accept(self.target, self.port, stop)
        return _Serial(self.target, self.port)

    def _session(self, stop: threading.Event) -> bool:
        """One connection's life; True if it carried MAVLink."""
        try:
            transport = self._open(stop)
        except OSError as e:
            self.stats.connect_errors += 1
            log.warning("%s: cannot open %s: %s", self.cfg.name, self.cfg.url, e)
            return False
        if transport is None:
            return False
        self.stats.connects += 1
        if isinstance(transport, _Udp):
            self.stats.recv_buffer_bytes = transport.rcvbuf
        got = False
        try:
            got = self._pump(transport, stop)
        except OSError as e:
            self.stats.drops += 1
            log.warning("%s: link lost: %s", self.cfg.name, e)
            self._set_up(False, f"connection lost: {e}")
        finally:
            if isinstance(transport, _Udp):
                self._kernel_drops_before += transport.kernel_drops
            transport.close()
            self.decoder.reset()
        return got

    def _pump(self, transport: _Transport, stop: threading.Event) -> bool:
        st = self.stats
        got = False
        last_rx = self._mono()
        next_hb = last_rx
        while not stop.is_set():
            if self.scheme == "udpout" and self._mono() >= next_hb:
                transport.send(self._heartbeat)
                next_hb = self._mono() + HEARTBEAT_S
            data = transport.recv(POLL_S)
            if data:
                valid = st.messages - st.unknown_id - st.bad_crc - st.bad_frame
                # A datagram holds whole packets: parsed alone, its junk cannot spoil the next one.
                feed = self.decoder.feed_datagram if isinstance(transport, _Udp) else self.decoder.feed
                events = feed(data, self.clock())
                if st.messages - st.unknown_id - st.bad_crc - st.bad_frame > valid:
                    got = True
                    last_rx = self._mono()
                    self._set_up(True, f"receiving from {self.cfg.url}")
                if isinstance(transport, _Udp):
                    st.kernel_drops = self._kernel_drops_before + transport.kernel_drops
                for ev in events:
                    self.emit(ev)
            if self.up and self._mono() - last_rx >= self.cfg.link_timeout_s:
                self._set_up(False, f"no MAVLink for {self.cfg.link_timeout_s:g} s")
        return got

    def _replay(self, stop: threading.Event) -> None:
        try:
            reader = TlogReader(self.target, self.cfg.name, self.stats, realtime=self.cfg.realtime,
                                speed=self.cfg.speed, sleep=stop.wait, gps_uere_m=self.cfg.gps_uere_m)
        except (OSError, MavlinkError) as e:
            self.stats.connect_errors += 1
            log.error("%s: %s", self.cfg.name, e)
            self.emit(LinkStatus(self.cfg.name, self.clock(), False, str(e)))
            return
        last: datetime | None = None
        for ev in reader:
            if stop.is_set():
                break
            if last is None:  # replayed link status carries data time, so a replay is repeatable
                self.up = True
                self.emit(LinkStatus(self.cfg.name, ev.time, True, f"replaying {self.target}"))
            last = ev.time
            self.emit(ev)
        if last is not None:
            self.up = False
            self.emit(LinkStatus(self.cfg.name, last, False, "stopped" if stop.is_set() else "end of file"))

    def _set_up(self, up: bool, detail: str) -> None:
        if up != self.up:
            self.up = up
            self.emit(LinkStatus(self.cfg.name, self.clock(), up, detail))
