"""MQTT 5 link (paho-mqtt 2): persistent session, manual acks, retained status and last will.

The only module that imports paho. paho runs its network loop in its own thread and calls back
from it; the callbacks given to `MqttLink` must hand their values over (e.g. with
`loop.call_soon_threadsafe`) and return quickly.

Delivery is at least once, end to end: a message is acknowledged to the broker only when the app
calls `ack(token)` after storing it, so a message in hand when routewatch dies is delivered again
after restart (the session outlives the connection). Tokens are only good on the connection that
delivered them: after a reconnect the broker sends every unacknowledged message again.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage, MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from routewatch.config.mqtt import MqttBrokerConfig, valid_topic_filter
from routewatch.model import InboundMessage

log = logging.getLogger(__name__)

STATUS_PREFIX = "routewatch/v1/status"
RECEIVE_MAXIMUM = 10_000
"""Unacknowledged messages the broker may have in flight to us (MQTT 5 Receive Maximum).

Without it Mosquitto stops at 20, which would throttle an app that acks after each batch commit.
The app must ack at least this often or delivery pauses until it does."""
_MID_BITS = 16


def utc_now() -> datetime:
    """The current time, tz-aware UTC."""
    return datetime.now(UTC)


class MqttError(Exception):
    """The MQTT link cannot be set up as configured (e.g. unreadable TLS files)."""


@dataclass(slots=True)
class MqttStats:
    """Counters of one MQTT link (mutable)."""

    received: int = 0
    acked: int = 0
    stale_acks: int = 0
    published: int = 0
    publish_acked: int = 0
    publish_failed: int = 0
    connects: int = 0
    connect_failures: int = 0
    subscribe_failures: int = 0
    disconnects: int = 0
    callback_errors: int = 0


class MqttLink:
    """One MQTT 5 connection: subscriptions with manual acks, publishing, and a status topic."""

    def __init__(self, broker: MqttBrokerConfig, *, subscriptions: Sequence[str] = (),
                 on_message: Callable[[InboundMessage], None],
                 on_status: Callable[[bool, str], None] | None = None,
                 on_published: Callable[[int], None] | None = None,
                 clock: Callable[[], datetime] = utc_now, receive_maximum: int = RECEIVE_MAXIMUM) -> None:
        self.cfg = broker
        self.subscriptions = tuple(subscriptions)
        bad = [f for f in self.subscriptions if not valid_filter(f)]
        if bad:
            raise MqttError(f"invalid topic filter(s) {bad}: '+' and '#' must fill a whole level, '#' only last "
                            "(e.g. routewatch/v1/pos/+ or $share/workers/routewatch/v1/pos/+)")
        self.status_topic = f"{STATUS_PREFIX}/{broker.client_id}"
        self.stats = MqttStats()
        self._on_message_cb = on_message
        self._on_status_cb = on_status
        self._on_published_cb = on_published
        self._clock = clock
        self._receive_maximum = receive_maximum
        self._lock = threading.RLock()  # connection generation vs acks from the app's thread
        self._mids_lock = threading.Lock()  # never held while calling into paho (paho calls on_publish locked)
        self._generation = 0
        self._connected = False
        self._started = False
        self._app_mids: set[int] = set()
        self._internal_mids: set[int] = set()
        self._early: dict[int, bool] = {}
        self._client = self._make_client()

    @property
    def connected(self) -> bool:
        """Whether the broker has accepted the connection and it has not been lost since."""
        return self._connected

    def start(self) -> None:
        """Connect in the background (and keep reconnecting with backoff); never blocks."""
        if self._started:
            return
        self._started = True
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.cfg.session_expiry_s
        props.ReceiveMaximum = self._receive_maximum
        self._client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s, clean_start=False,
                                   properties=props)
        self._client.loop_start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish the retained offline status, disconnect cleanly (no last will) and stop the network thread."""
        if not self._started:
            return
        self._started = False
        if self._connected:
            info = self._publish_internal(self._status_payload("offline", reason="stopped"))
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):  # the connection went meanwhile: the broker sent the will
                log.debug("offline status not confirmed: %s", info.rc)
        self._client.disconnect()
        self._client.loop_stop()

    def ack(self, token: int) -> bool:
        """Acknowledge a delivered message once it is safely stored; False if the token is no longer good.

        A token from an earlier connection is not sent: the broker redelivers that message instead.
        """
        if token <= 0:  # QoS 0: nothing to acknowledge
            return False
        with self._lock:
            if token >> _MID_BITS != self._generation or not self._connected:
                self.stats.stale_acks += 1
                return False
            rc = self._client.ack(token & ((1 << _MID_BITS) - 1), 1)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self.stats.stale_acks += 1
                return False
            self.stats.acked += 1
            return True

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Publish and return the message id; `on_published(mid)` is called once the broker has it.

        A fast PUBACK can beat the return: on_published(mid) may run before this returns. While
        disconnected, a QoS 1 message is kept in memory and sent after reconnecting (not across a
        restart of routewatch: keep an outbox); a QoS 0 message is dropped. Invalid topics (empty,
        with wildcards) raise ValueError.
        """
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        with self._mids_lock:
            self.stats.published += 1
            if qos == 0 and info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return info.mid
            ok = self._early.pop(info.mid, None)
            if ok is None:
                self._app_mids.add(info.mid)
            else:
                self._count_published(ok)
        if ok and self._on_published_cb is not None:
            self._call(self._on_published_cb, info.mid)
        return info.mid

    def _make_client(self) -> Client:
        cfg = self.cfg
        client = Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=cfg.client_id,
                        protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True)
        client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        client.suppress_exceptions = True  # an exception in a callback would end the thread, and all reconnecting
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]  # floats work
        if cfg.username is not None or cfg.password is not None:
            password = cfg.password.get_secret_value() if cfg.password is not None else None
            client.username_pw_set(cfg.username or "", password)
        if cfg.tls:
            try:
                client.tls_set(ca_certs=_path(cfg.ca_file), certfile=_path(cfg.cert_file),
                               keyfile=_path(cfg.key_file))
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise MqttError(f"TLS setup failed (ca_file={cfg.ca_file}, cert_file={cfg.cert_file}, "
                                f"key_file={cfg.key_file}): {exc}") from exc
        client.will_set(self.status_topic, self._status_payload("offline", reason="connection lost"),
                        qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        return client

    def _status_payload(self, state: str, **extra: str) -> bytes:
        body = {"state": state, "client_id": self.cfg.client_id, **extra}
        if state == "online" or extra.get("reason") == "stopped":  # the will's time would be when it was set
            body["time"] = self._clock().isoformat()
        return json.dumps(body).encode()

    def _publish_internal(self, payload: bytes) -> MQTTMessageInfo:
        info = self._client.publish(self.status_topic, payload, qos=1, retain=True)
        with self._mids_lock:
            if self._early.pop(info.mid, None) is None:
                self._internal_mids.add(info.mid)
        return info

    def _on_connect(self, client: Client, userdata: Any, flags: ConnectFlags, reason: ReasonCode,
                    properties: Properties | None) -> None:
        if reason.is_failure:
            self.stats.connect_failures += 1
            self._status(False, f"connection refused by {self.cfg.host}:{self.cfg.port}: {reason}")
            return
        with self._lock:
            self._generation += 1
            self._connected = True
        self.stats.connects += 1
        if self.subscriptions:  # also when the session was kept: harmless, and heals a broker that lost it
            client.subscribe([(f, SubscribeOptions(qos=1)) for f in self.subscriptions])
        self._publish_internal(self._status_payload("online"))
        self._status(True, f"connected to {self.cfg.host}:{self.cfg.port} (session present: {flags.session_present})")

    def _on_subscribe(self, client: Client, userdata: Any, mid: int, reasons: list[ReasonCode],
                      properties: Properties | None) -> None:
        refused = [f"{f} ({r})" for f, r in zip(self.subscriptions, reasons, strict=False) if r.is_failure]
        if refused:  # e.g. an ACL: without this line the link would look healthy and receive nothing
            self.stats.subscribe_failures += len(refused)
            log.error("mqtt %s: broker refused subscription(s): %s", self.cfg.client_id, ", ".join(refused))

    def _on_connect_fail(self, client: Client, userdata: Any) -> None:
        self.stats.connect_failures += 1
        self._status(False, f"cannot connect to {self.cfg.host}:{self.cfg.port}; retrying")

    def _on_disconnect(self, client: Client, userdata: Any, flags: DisconnectFlags, reason: ReasonCode,
                       properties: Properties | None) -> None:
        with self._lock:
            was, self._connected = self._connected, False
        if was:
            self.stats.disconnects += 1
            self._status(False, f"disconnected from {self.cfg.host}:{self.cfg.port}: {reason}")

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # handed on all the same, to be dead-lettered and acknowledged
            topic = "<topic not UTF-8>"
        token = (self._generation << _MID_BITS) | message.mid if message.qos > 0 else 0
        self.stats.received += 1
        msg = InboundMessage(topic, bytes(message.payload), self._clock(), token, bool(message.retain))
        self._call(self._on_message_cb, msg)

    def _on_publish(self, client: Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Properties | None) -> None:
        ok = not reason.is_failure
        with self._mids_lock:
            if mid in self._internal_mids:
                self._internal_mids.discard(mid)
                return
            if mid not in self._app_mids:  # acked before publish() got the mid back: it reports it
                self._early[mid] = ok
                return
            self._app_mids.discard(mid)
            self._count_published(ok)
        if not ok:
            log.warning("broker refused message %d: %s", mid, reason)
        elif self._on_published_cb is not None:
            self._call(self._on_published_cb, mid)

    def _count_published(self, ok: bool) -> None:
        if ok:
            self.stats.publish_acked += 1
        else:
            self.stats.publish_failed += 1

    def _status(self, up: bool, detail: str) -> None:
        log.info("mqtt %s: %s", self.cfg.client_id, detail)
        if self._on_status_cb is not None:
            self._call(self._on_status_cb, up, detail)

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:  # an exception would end paho's thread, and with it all reconnecting
            self.stats.callback_errors += 1
            log.exception("MQTT callback %r failed", callback)


def valid_filter(topic_filter: str) -> bool:
    """Whether an MQTT topic filter is well formed (the settings check the same)."""
    return valid_topic_filter(topic_filter)


def _path(value: object) -> str | None:
    return None if value is None else str(value)
