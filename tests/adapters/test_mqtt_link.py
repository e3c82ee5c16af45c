"""MqttLink against real Mosquitto brokers: the shared one on :1883 and private ones the tests start and restart."""

from __future__ import annotations

import json
import logging
import queue
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from routewatch.config.mqtt import MqttBrokerConfig
from routewatch.ingest.mqtt.client import STATUS_PREFIX, MqttError, MqttLink
from routewatch.model import InboundMessage
from tests.kits.mqtt_broker import PUBLIC_HOST, PUBLIC_PORT, PrivateBroker, port_open, private_broker, public_broker
from tests.kits.require import missing

FIXED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WAIT_S = 10.0  # a guard against hanging, not a timing assertion


def broker_cfg(host: str, port: int, client_id: str | None = None, **kw: Any) -> MqttBrokerConfig:
    kw = {"session_expiry_s": 300, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5, "keepalive_s": 5, **kw}
    return MqttBrokerConfig(host=host, port=port, client_id=client_id or f"rwtest-{uuid.uuid4().hex[:12]}", **kw)


def wait_for(pred: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


STATUS_LEFT: set[str] = set()  # retained status topics our links left on the shared broker


@pytest.fixture(scope="module", autouse=True)
def _clear_status_topics() -> Iterator[None]:
    """Leave no retained routewatch/v1/status/rwtest-* messages behind on the shared broker."""
    yield
    if not STATUS_LEFT or not port_open(PUBLIC_HOST, PUBLIC_PORT):
        return
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect(PUBLIC_HOST, PUBLIC_PORT)
    client.loop_start()
    infos = [client.publish(topic, b"", qos=1, retain=True) for topic in sorted(STATUS_LEFT)]
    for info in infos:
        info.wait_for_publish(WAIT_S)
    client.disconnect()
    client.loop_stop()
    STATUS_LEFT.clear()


class Peer:
    """A link with queues behind its callbacks: messages, status changes, broker acks."""

    def __init__(self, cfg: MqttBrokerConfig, subscriptions: tuple[str, ...] = (), *, auto_ack: bool = False) -> None:
        if (cfg.host, cfg.port) == (PUBLIC_HOST, PUBLIC_PORT):
            STATUS_LEFT.add(f"{STATUS_PREFIX}/{cfg.client_id}")
        self.messages: queue.Queue[InboundMessage] = queue.Queue()
        self.status: list[tuple[bool, str]] = []
        self.acked_mids: list[int] = []
        self.auto_ack = auto_ack
        self.link = MqttLink(cfg, subscriptions=subscriptions, on_message=self._message,
                             on_status=lambda up, detail: self.status.append((up, detail)),
                             on_published=self.acked_mids.append, clock=lambda: FIXED)

    def _message(self, msg: InboundMessage) -> None:
        if self.auto_ack:
            self.link.ack(msg.token)
        self.messages.put(msg)

    def get(self, n: int) -> list[InboundMessage]:
        out = []
        for _ in range(n):
            try:
                out.append(self.messages.get(timeout=WAIT_S))
            except queue.Empty:
                raise AssertionError(f"got {len(out)} of {n} messages: {[m.payload for m in out]}") from None
        return out

    def until(self, payload: bytes) -> list[InboundMessage]:
        """Messages up to and including the first with this payload (a marker sent last)."""
        out: list[InboundMessage] = []
        while not out or out[-1].payload != payload:
            out += self.get(1)
        return out

    def start(self) -> Peer:
        self.link.start()
        wait_for(lambda: self.link.connected, f"{self.link.cfg.client_id} to connect")
        return self

    def publish_confirmed(self, topic: str, payloads: list[bytes], *, retain: bool = False) -> list[int]:
        """Publish at QoS 1 and wait until the broker has acknowledged every one."""
        mids = [self.link.publish(topic, p, retain=retain) for p in payloads]
        wait_for(lambda: set(mids) <= set(self.acked_mids), f"PUBACKs for {mids}")
        return mids


@contextmanager
def peer(cfg: MqttBrokerConfig, subscriptions: tuple[str, ...] = (), *, auto_ack: bool = False) -> Iterator[Peer]:
    p = Peer(cfg, subscriptions, auto_ack=auto_ack).start()
    try:
        yield p
    finally:
        p.link.stop()


def subscribed(p: Peer, topic: str) -> None:
    """Wait until p's subscription is in place: a probe on topic comes back (and is acknowledged)."""
    probe = f"probe-{uuid.uuid4().hex}".encode()
    cfg = p.link.cfg.model_copy(update={"client_id": f"rwtest-{uuid.uuid4().hex[:12]}"})  # same TLS, credentials
    with peer(cfg) as pub:
        for _ in range(50):
            pub.publish_confirmed(topic, [probe])
            try:
                msg = p.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            assert msg.payload == probe
            assert p.link.ack(msg.token)
            return
    raise AssertionError(f"subscription of {p.link.cfg.client_id} never took effect")


@pytest.fixture
def public() -> Iterator[tuple[str, int, str]]:
    """(host, port, a topic prefix of our own) on the shared broker."""
    host, port = public_broker()
    yield host, port, f"rwtest/{uuid.uuid4().hex}"


@pytest.fixture
def private(tmp_path: Path) -> Iterator[PrivateBroker]:
    with private_broker(tmp_path) as broker:
        yield broker


def status_of(msg: InboundMessage) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(msg.payload)
    return body


def clear_retained(host: str, port: int, topic: str) -> None:
    with peer(broker_cfg(host, port)) as p:
        p.publish_confirmed(topic, [b""], retain=True)


# --- the shared broker ------------------------------------------------------------------------


def test_messages_arrive_as_inbound_messages(public: tuple[str, int, str]) -> None:
    host, port, prefix = public
    with peer(broker_cfg(host, port)) as pub:
        pub.publish_confirmed(f"{prefix}/pos/kept", [b"retained"], retain=True)
        with peer(broker_cfg(host, port), (f"{prefix}/pos/+",)) as sub:
            [kept] = sub.get(1)
            pub.publish_confirmed(f"{prefix}/pos/gps", [b'{"live": 1}'])
            [live] = sub.get(1)
            assert (kept.topic, kept.payload, kept.retain, kept.received_at) == (
                f"{prefix}/pos/kept", b"retained", True, FIXED)
            assert (live.topic, live.payload, live.retain, live.received_at) == (
                f"{prefix}/pos/gps", b'{"live": 1}', False, FIXED)
            assert kept.token > 0 and live.token > 0 and kept.token != live.token
            assert sub.link.ack(kept.token) and sub.link.ack(live.token)
            assert not sub.link.ack(0)
            stats = sub.link.stats
            assert (stats.received, stats.acked, stats.connects) == (2, 2, 1)
    clear_retained(host, port, f"{prefix}/pos/kept")


def test_unacked_messages_are_redelivered_after_a_restart(public: tuple[str, int, str]) -> None:
    host, port, prefix = public
    cfg = broker_cfg(host, port)
    topic = f"{prefix}/pos/a"
    sent = [f"m{i}".encode() for i in range(5)]
    with peer(broker_cfg(host, port)) as pub:
        with peer(cfg, (f"{prefix}/#",)) as first:
            subscribed(first, topic)
            pub.publish_confirmed(topic, sent)
            got = first.get(5)
            assert [m.payload for m in got] == sent
            assert first.link.ack(got[0].token) and first.link.ack(got[1].token)
        # stopped without acking m2..m4: the broker keeps them for the session
        with peer(cfg, (f"{prefix}/#",)) as second:
            pub.publish_confirmed(topic, [b"marker"])
            again = second.until(b"marker")
            assert [m.payload for m in again] == [b"m2", b"m3", b"m4", b"marker"]
            assert all(second.link.ack(m.token) for m in again)
        with peer(cfg, (f"{prefix}/#",)) as third:  # everything acknowledged: nothing comes back
            pub.publish_confirmed(topic, [b"marker2"])
            assert [m.payload for m in third.until(b"marker2")] == [b"marker2"]
            assert third.link.stats.received == 1


def test_messages_published_while_offline_arrive_after_reconnect(public: tuple[str, int, str]) -> None:
    host, port, prefix = public
    cfg = broker_cfg(host, port)
    topic = f"{prefix}/det/cam"
    with peer(cfg, (f"{prefix}/det/+",), auto_ack=True) as sub:
        subscribed(sub, topic)
    sent = [f"offline-{i}".encode() for i in range(20)]
    with peer(broker_cfg(host, port)) as pub:
        pub.publish_confirmed(topic, sent)
    with peer(cfg, (f"{prefix}/det/+",), auto_ack=True) as sub:
        got = sub.get(20)
        assert [m.payload for m in got] == sent
        assert sub.link.stats.acked == 20
        assert sub.status[0][0] and "session present: True" in sub.status[0][1]


def test_retained_online_then_offline_status(public: tuple[str, int, str]) -> None:
    host, port, _ = public
    cfg = broker_cfg(host, port)
    topic = f"{STATUS_PREFIX}/{cfg.client_id}"
    with peer(broker_cfg(host, port), (topic,), auto_ack=True) as watcher:
        link = Peer(cfg).start()
        online = watcher.get(1)[0]
        link.link.stop()
        offline = watcher.get(1)[0]
    assert status_of(online) == {"state": "online", "client_id": cfg.client_id, "time": FIXED.isoformat()}
    assert status_of(offline) == {"state": "offline", "client_id": cfg.client_id, "reason": "stopped",
                                  "time": FIXED.isoformat()}
    with peer(broker_cfg(host, port), (topic,), auto_ack=True) as late:  # a newcomer gets the retained state
        [kept] = late.get(1)
        assert kept.retain and status_of(kept)["state"] == "offline"
    clear_retained(host, port, topic)


WILL_SCRIPT = """
import sys, threading, time
from routewatch.config.mqtt import MqttBrokerConfig
from routewatch.ingest.mqtt.client import MqttLink
up = threading.Event()
cfg = MqttBrokerConfig(host=sys.argv[1], port=int(sys.argv[2]), client_id=sys.argv[3], session_expiry_s=0)
link = MqttLink(cfg, on_message=lambda m: None, on_status=lambda ok, detail: ok and up.set())
link.start()
print("up" if up.wait(10) else "down", flush=True)
time.sleep(60)
"""


def test_last_will_when_the_process_is_killed(public: tuple[str, int, str]) -> None:
    host, port, _ = public
    client_id = f"rwtest-will-{uuid.uuid4().hex[:8]}"
    topic = f"{STATUS_PREFIX}/{client_id}"
    with peer(broker_cfg(host, port), (topic,), auto_ack=True) as watcher:
        proc = subprocess.Popen([sys.executable, "-c", WILL_SCRIPT, host, str(port), client_id],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
            assert status_of(watcher.get(1)[0])["state"] == "online"
            proc.send_signal(signal.SIGKILL)
            will = watcher.get(1)[0]
        finally:
            proc.kill()
            proc.wait()
    assert status_of(will) == {"state": "offline", "client_id": client_id, "reason": "connection lost"}
    clear_retained(host, port, topic)


def test_publish_reports_each_broker_ack(public: tuple[str, int, str]) -> None:
    host, port, prefix = public
    topic = f"{prefix}/alerts/enter"
    with peer(broker_cfg(host, port), (topic,), auto_ack=True) as sub:
        subscribed(sub, topic)
        with peer(broker_cfg(host, port)) as pub:
            mids = pub.publish_confirmed(topic, [b"a1", b"a2", b"a3"])
            assert sorted(pub.acked_mids) == sorted(mids) and len(set(mids)) == 3
            assert (pub.link.stats.published, pub.link.stats.publish_acked) == (3, 3)
        assert [m.payload for m in sub.get(3)] == [b"a1", b"a2", b"a3"]


def test_hundreds_of_unacked_messages_flow_before_the_app_acks(public: tuple[str, int, str]) -> None:
    """The app acks after a batch commit; Mosquitto alone would stop at 20 messages in flight."""
    host, port, prefix = public
    topic = f"{prefix}/pos/batch"
    sent = [f"b{i}".encode() for i in range(300)]
    with peer(broker_cfg(host, port), (topic,)) as sub:
        subscribed(sub, topic)
        with peer(broker_cfg(host, port)) as pub:
            pub.publish_confirmed(topic, sent)
        got = sub.get(300)  # none acknowledged yet
        assert [m.payload for m in got] == sent
        assert all(sub.link.ack(m.token) for m in got)
        assert sub.link.stats.acked == 301  # and the probe


# --- private brokers: restarts, outages, credentials, TLS ------------------------------------------


def test_broker_restart_reconnects_and_redelivers(private: PrivateBroker) -> None:
    cfg = broker_cfg(private.host, private.port)
    topic = "routewatch/v1/pos/gps"
    with peer(cfg, ("routewatch/v1/pos/+",)) as sub:
        subscribed(sub, topic)
        with peer(broker_cfg(private.host, private.port)) as pub:
            pub.publish_confirmed(topic, [b"before"])
        [held] = sub.get(1)
        private.restart()
        wait_for(lambda: sub.link.stats.connects == 2, "the link to reconnect by itself")
        assert not sub.link.ack(held.token)  # a token of the old connection is refused, not misapplied
        [again] = sub.get(1)
        assert again.payload == b"before" and again.token != held.token
        assert sub.link.ack(again.token)
        with peer(broker_cfg(private.host, private.port)) as pub:
            pub.publish_confirmed(topic, [b"after"])
        [after] = sub.get(1)
        assert after.payload == b"after" and sub.link.ack(after.token)
        stats = sub.link.stats
        assert (stats.connects, stats.disconnects, stats.stale_acks) == (2, 1, 1)
        ups = [up for up, _ in sub.status]
        assert ups[0] and ups[-1] and False in ups
        assert "session present: True" in sub.status[-1][1]


def test_publish_while_the_broker_is_down_is_sent_when_it_returns(private: PrivateBroker) -> None:
    topic = "routewatch/v1/alerts/enter"
    with peer(broker_cfg(private.host, private.port), (topic,), auto_ack=True) as sub:
        subscribed(sub, topic)
        with peer(broker_cfg(private.host, private.port)) as pub:
            private.stop()
            wait_for(lambda: not pub.link.connected and not sub.link.connected, "both links to notice")
            mid = pub.link.publish(topic, b"queued")  # no exception: paho keeps it until reconnected
            assert pub.acked_mids == []
            private.start()
            wait_for(lambda: mid in pub.acked_mids, "the queued message to be acknowledged")
            assert sub.get(1)[0].payload == b"queued"
            assert pub.link.stats.connects == 2


def test_username_and_password(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if shutil.which("mosquitto_passwd") is None:
        missing("mosquitto_passwd not installed (it comes with mosquitto)")
    secret = f"s3cret-{uuid.uuid4().hex}"
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "scout", secret], check=True)
    caplog.set_level(logging.DEBUG)
    with private_broker(tmp_path, extra_conf=f"password_file {passwd}\n") as broker:
        with peer(broker_cfg(broker.host, broker.port, username="scout", password=secret)) as good:
            assert good.link.stats.connects == 1
        bad = Peer(broker_cfg(broker.host, broker.port, username="scout", password="wrong"))
        bad.link.start()
        try:
            wait_for(lambda: bad.link.stats.connect_failures > 0, "the broker to refuse a wrong password")
            assert bad.link.stats.connects == 0 and not bad.link.connected
            assert any(not up and "refused" in detail for up, detail in bad.status)
        finally:
            bad.link.stop()
    assert secret not in caplog.text and "wrong" not in caplog.text


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_tls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        missing("openssl CLI not installed, cannot make a test certificate")
    cert, key = make_cert(tmp_path, "server")
    other, _ = make_cert(tmp_path, "other")
    with private_broker(tmp_path, listener_conf=f"certfile {cert}\nkeyfile {key}\n") as broker:
        topic = "routewatch/v1/pos/tls"
        with peer(broker_cfg(broker.host, broker.port, tls=True, ca_file=cert), (topic,)) as sub:
            subscribed(sub, topic)
            assert sub.link.stats.connects == 1
        untrusted = Peer(broker_cfg(broker.host, broker.port, tls=True, ca_file=other))
        untrusted.link.start()
        try:
            wait_for(lambda: untrusted.link.stats.connect_failures > 0, "the certificate check to fail")
            assert untrusted.link.stats.connects == 0
        finally:
            untrusted.link.stop()


def test_tls_files_that_cannot_be_read_are_reported(tmp_path: Path) -> None:
    missing = tmp_path / "missing-ca.pem"
    with pytest.raises(MqttError, match=r"missing-ca\.pem"):
        MqttLink(broker_cfg("127.0.0.1", 8883, tls=True, ca_file=missing), on_message=lambda m: None)
    link = MqttLink(broker_cfg("127.0.0.1", 8883, tls=True, username="u", password="p"), on_message=lambda m: None)
    link.stop()  # never started: nothing to do
    assert link.stats.connects == 0 and not link.connected


def test_malformed_topic_filters_are_refused_up_front() -> None:
    cfg = broker_cfg("127.0.0.1", 1883)
    with pytest.raises(MqttError, match=r"routewatch/v1/pos/north-\+"):
        MqttLink(cfg, subscriptions=["routewatch/v1/pos/north-+"], on_message=lambda m: None)
    with pytest.raises(MqttError, match="invalid topic filter"):
        MqttLink(cfg, subscriptions=["a/#/b"], on_message=lambda m: None)
    ok = ("routewatch/v1/pos/+", "$share/workers/routewatch/v1/det/+", "frigate/events", "#")
    assert MqttLink(cfg, subscriptions=ok, on_message=lambda m: None).subscriptions == ok
