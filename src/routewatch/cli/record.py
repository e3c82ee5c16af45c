"""`routewatch record`: the MQTT input traffic of the live broker into a recording file, for `analyze` later."""

from __future__ import annotations

from pathlib import Path

import click

from routewatch.cli.common import err, fail, load_settings, out


@click.command(name="record")
@click.option("-c", "--config", "config_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Settings file (its mqtt section).")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The recording file to write (JSON Lines, e.g. night.jsonl).")
@click.option("--append", is_flag=True, help="Add to OUT if it exists (else an existing OUT is refused).")
@click.option("--duration", "duration_s", type=click.FloatRange(min=0, min_open=True),
              help="Stop after this many seconds [default: at SIGINT/SIGTERM].")
@click.option("--topic", "topics", multiple=True,
              help="Topic filter to record (repeatable) [default: the settings' mqtt.input topics, Frigate's topic "
                   "and camera frames].")
@click.option("--client-id", help="MQTT client id of the recorder [default: mqtt.broker.client_id + '-record'].")
def record_cmd(config_file: Path, out_file: Path, append: bool, duration_s: float | None, topics: tuple[str, ...],
               client_id: str | None) -> None:
    """Record the MQTT input traffic into OUT, one message per line, until SIGINT/SIGTERM or --duration.

    \b
    Each line is one JSON object:
      {"topic": "routewatch/v1/pos/cam-a", "received_at": "2026-03-01T22:14:03.120Z", "payload": {...}}
    received_at is this recorder's clock (UTC); a message that is not UTF-8 JSON (e.g. binary) is kept
    as "payload_b64" (base64) instead of "payload". Analyze it with `routewatch analyze OUT`.
    """
    import signal
    import threading

    from routewatch.app.record import open_output, record, record_topics, recorder_broker
    from routewatch.config.mqtt import valid_topic_filter
    from routewatch.ingest.mqtt.client import MqttError

    settings = load_settings(config_file)
    bad = [t for t in topics if not valid_topic_filter(t)]
    if bad:
        fail(f"invalid topic filter(s) {', '.join(map(repr, bad))}: '+' and '#' must fill a whole level, '#' only "
             "last (e.g. routewatch/v1/pos/+)")
    chosen = record_topics(settings, topics)
    if not chosen:
        fail(f"{config_file}: no topics to record (set mqtt.input.topics, or give --topic)")
    broker = recorder_broker(settings.mqtt.broker, client_id)
    try:
        f = open_output(out_file, append=append)
    except FileExistsError:
        fail(f"{out_file} exists: give --append to add to it, or another --out")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def on_status(up: bool, detail: str) -> None:
        err.print(f"[{'green' if up else 'yellow'}]mqtt:[/] {detail}", highlight=False)

    err.print(f"recording {', '.join(chosen)} from {broker.host}:{broker.port} as {broker.client_id} into "
              f"{out_file}; Ctrl-C to stop", highlight=False)
    try:
        with f:
            stats = record(broker, chosen, f, stop, duration_s=duration_s, on_status=on_status)
    except MqttError as exc:
        fail(str(exc))
    out.print(f"recorded {stats.messages:,} message(s), {stats.bytes:,} bytes, in {stats.seconds:.1f} s to "
              f"{out_file}", highlight=False)
