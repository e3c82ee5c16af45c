"""Broker limits: the shipped mosquitto.conf keeps an offline session's messages, and where a broker
drops some anyway, the publishers' `seq` numbers make routewatch count them (real Mosquitto)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt

from routewatch.config.mqtt import MqttInputConfig
from routewatch.ingest.mqtt.receive import to_delivery
from routewatch.ingest.mqtt.sequence import SeqCounter
from routewatch.model import InboundMessage
from tests.kits.mqtt_broker import private_broker

TOPIC = "routewatch/v1/pos/gps"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WAIT_S = 60.0


def report(seq: int) -> bytes:
    return json.dumps({"subject_id": "t1", "time": "2026-03-01T11:59:00Z", "lon": 10.5, "lat": 50.25,
                       "seq": seq}).encode()


class Subscriber:
    """A QoS 1 subscriber on a persistent session, as routewatch's is; collects what it is given."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.got: list[InboundMessage] = []
        self._lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rw-test", protocol=mqtt.MQTTv5)
        self.c.on_message = self._on_message

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.got.append(InboundMessage(msg.topic, bytes(msg.payload), NOW))

    def connect(self) -> None:
        props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.c.connect("127.0.0.1", self.port, clean_start=False, properties=props)
        self.c.loop_start()
        self.c.subscribe(TOPIC, qos=1)

    def disconnect(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()

    def wait(self, n: int, quiet_s: float = 1.0) -> list[InboundMessage]:
        """At least n messages, then none for quiet_s."""
        deadline = time.monotonic() + WAIT_S
        last, seen = time.monotonic(), -1
        while True:
            with self._lock:
                count = len(self.got)
            if count != seen:
                last, seen = time.monotonic(), count
            if count >= n and time.monotonic() - last > quiet_s:
                with self._lock:
                    return list(self.got)
            assert time.monotonic() < deadline, f"got {count} of {n} messages"
            time.sleep(0.05)


def publish(port: int, seqs: range) -> None:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    infos = [pub.publish(TOPIC, report(i), qos=1) for i in seqs]
    for info in infos:
        info.wait_for_publish(timeout=WAIT_S)
    pub.disconnect()
    pub.loop_stop()


def test_the_shipped_conf_keeps_an_offline_sessions_messages_across_a_broker_restart(tmp_path: Path) -> None:
    """Mosquitto's default max_queued_messages (1000) would keep 1,000 of these 3,000."""
    with private_broker(tmp_path) as broker:
        sub = Subscriber(broker.port)
        sub.connect()
        time.sleep(0.3)
        sub.disconnect()  # routewatch away (restarting, killed)
        publish(broker.port, range(3000))
        broker.restart()
        sub.connect()
        got = sub.wait(3000)
        sub.disconnect()
    seqs = SeqCounter()
    delivery = to_delivery(got, MqttInputConfig(), NOW, seqs=seqs)
    assert len(delivery.events) == 3000 and not delivery.dead
    assert seqs.counts()[TOPIC] == {"received": 3000, "gaps": 0, "repeats": 0, "restarts": 0}


def test_messages_a_broker_drops_are_counted_by_seq(tmp_path: Path) -> None:
    with private_broker(tmp_path, extra_conf="max_queued_messages 100\n") as broker:
        sub = Subscriber(broker.port)
        sub.connect()
        publish(broker.port, range(10))
        sub.wait(10)
        sub.disconnect()
        publish(broker.port, range(10, 1010))  # the broker keeps 100 of these for the offline session
        sub.connect()
        sub.wait(110)
        publish(broker.port, range(1010, 1011))  # the next message shows how many never came
        got = sub.wait(111)
        sub.disconnect()
    seqs = SeqCounter()
    to_delivery(got, MqttInputConfig(), NOW, seqs=seqs)
    counts = seqs.counts()[TOPIC]
    assert counts["received"] == len(got) < 1011
    assert counts["gaps"] == 1011 - len(got) and counts["repeats"] == counts["restarts"] == 0
    assert seqs.gaps == counts["gaps"]
