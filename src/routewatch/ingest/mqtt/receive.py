"""MQTT in: a batch of inbound messages becomes telemetry or dead letters, handed to the loop unlost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from routewatch.config.mqtt import MqttInputConfig
from routewatch.ingest.handoff import Batcher, Delivery, Handoff
from routewatch.ingest.mqtt.frames import is_frame_topic
from routewatch.ingest.mqtt.payloads import Accepted, PixelToGround, dead_letter, parse_message
from routewatch.ingest.mqtt.sequence import SeqCounter
from routewatch.model import DeadLetter, InboundMessage, TelemetryEvent

MQTT_BATCH_S = 0.005


def to_delivery(messages: Sequence[InboundMessage], cfg: MqttInputConfig, now: datetime,
                frames: Callable[[InboundMessage], DeadLetter | None] | None = None,
                ground: Mapping[str, PixelToGround] | None = None, seqs: SeqCounter | None = None) -> Delivery:
    """Parse a batch of inbound messages; every one ends up as telemetry or as a dead letter.

    Camera frames (routewatch/v1/frames/...) go to `frames`, which queues them for their camera or
    returns a dead letter; without it they are dead letters (no camera takes frames from MQTT).
    Pixel detections are placed through `ground` (camera name -> its calibration's pixel-to-ground).
    Publishers' `seq` numbers go to `seqs`, which counts the gaps.
    """
    events: list[TelemetryEvent] = []
    dead: list[DeadLetter] = []
    for msg in messages:
        if is_frame_topic(msg.topic):
            refused = (frames or _no_frames)(msg)
            if refused is not None:
                dead.append(refused)
            continue
        res = parse_message(msg, cfg, now=now, ground=ground)
        if isinstance(res, Accepted):
            events.extend(res.events)
            if seqs is not None and res.seq is not None:
                seqs.see(msg.topic, res.seq)
        else:
            dead.append(res)
    return Delivery(tuple(events), tuple(dead), tuple(m.token for m in messages))


def _no_frames(msg: InboundMessage) -> DeadLetter:
    return dead_letter(msg, "unknown camera: no camera takes frames from MQTT (set a camera's url to mqtt)")


def mqtt_receiver(cfg: MqttInputConfig, hand: Handoff, stop: threading.Event,
                  frames: Callable[[InboundMessage], DeadLetter | None] | None = None,
                  ground: Mapping[str, PixelToGround] | None = None,
                  seqs: SeqCounter | None = None) -> Callable[[InboundMessage], None]:
    """The on_message callback for the MQTT link: messages are parsed in batches and handed over.

    Camera frames go to `frames` (their camera's queue); their acks travel with the batch.

    They are put with backpressure (never dropped): unacknowledged QoS 1 messages stay with the
    broker, which holds them until we ack after the database commit.
    """
    def emit(items: list[object]) -> None:
        msgs = [m for m in items if isinstance(m, InboundMessage)]
        hand.put(to_delivery(msgs, cfg, datetime.now(UTC), frames, ground, seqs), stop)

    # A short period: alert latency from a report to the published alert is what field teams feel.
    return Batcher(emit, stop, period_s=MQTT_BATCH_S)
