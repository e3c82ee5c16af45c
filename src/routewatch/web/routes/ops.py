"""Health and Prometheus metrics: alerts by kind from the store, pipeline counters the app feeds in."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from routewatch.web.deps import AlertsDep, MetricsDep, Reader, RegistryDep
from routewatch.web.repos import AlertCounts
from routewatch.web.schemas import Health, PipelineStatus

router = APIRouter(tags=["ops"])


class Metrics:
    """Pipeline counters the application sets (thread-safe); read at each scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {"messages_in": 0.0, "dropped": 0.0, "dead_lettered": 0.0, "pipeline_lag_seconds": 0.0}
        self._cameras: dict[str, dict[str, int]] = {}
        self._links: dict[str, dict[str, Any]] = {}
        self._publishers: dict[str, dict[str, int]] = {}
        self._sectors: dict[str, int] = {}

    def set_messages_in(self, total: float) -> None:
        """Messages received since start (a running total)."""
        self._set("messages_in", total)

    def set_dropped(self, total: float) -> None:
        """Messages dropped since start."""
        self._set("dropped", total)

    def set_dead_lettered(self, total: float) -> None:
        """Messages dead-lettered since start."""
        self._set("dead_lettered", total)

    def set_pipeline_lag(self, seconds: float) -> None:
        """Now minus the event time of the newest processed observation."""
        self._set("pipeline_lag_seconds", seconds)

    def set_camera(self, camera: str, counts: Mapping[str, int]) -> None:
        """A live camera's running totals (frames received, dropped, corrupt, reopens, ...; stale_now 0/1)."""
        with self._lock:
            self._cameras[camera] = dict(counts)

    def cameras(self) -> dict[str, dict[str, int]]:
        """The live cameras' counters, by camera."""
        with self._lock:
            return {k: dict(v) for k, v in self._cameras.items()}

    def set_link(self, source: str, report: Mapping[str, Any]) -> None:
        """A MAVLink source's link quality: kernel_drops, recv_buffer_bytes, senders {"1/1": {received, lost}}."""
        with self._lock:
            self._links[source] = dict(report)

    def set_publishers(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        """MQTT publishers' sequence counters by topic: received, gaps (messages missing), repeats."""
        with self._lock:
            self._publishers = {k: dict(v) for k, v in counts.items()}

    def set_sectors(self, counts: Mapping[str, int]) -> None:
        """A sector worker's positions by verdict: sector_owned, sector_margin, sector_outside, sector_unsectored."""
        with self._lock:
            self._sectors = dict(counts)

    def sectors(self) -> dict[str, int]:
        """The sector counters (empty when this worker owns no sector)."""
        with self._lock:
            return dict(self._sectors)

    def status(self) -> dict[str, Any]:
        """Everything this holds, for the status endpoint."""
        with self._lock:
            return {"pipeline": dict(self._values), "cameras": {k: dict(v) for k, v in self._cameras.items()},
                    "mavlink": {k: dict(v) for k, v in self._links.items()},
                    "mqtt_publishers": {k: dict(v) for k, v in self._publishers.items()}}

    def _set(self, key: str, value: float) -> None:
        with self._lock:
            self._values[key] = float(value)

    def snapshot(self) -> dict[str, float]:
        """The current values."""
        with self._lock:
            return dict(self._values)


class StoreCollector(Collector):
    """Collects the stored alerts by kind and the Metrics values at scrape time."""

    def __init__(self, alerts: AlertCounts, metrics: Metrics) -> None:
        self._alerts = alerts
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families."""
        values = self._metrics.snapshot()
        for key in ("messages_in", "dropped", "dead_lettered"):
            family = CounterMetricFamily(f"routewatch_{key}", f"Pipeline messages {key.replace('_', ' ')}")
            family.add_metric([], values[key])
            yield family
        lag = GaugeMetricFamily("routewatch_pipeline_lag_seconds", "Wall time minus event time of the newest fix")
        lag.add_metric([], values["pipeline_lag_seconds"])
        yield lag
        frames = CounterMetricFamily("routewatch_camera_frames", "Live camera frames by camera and what became of "
                                     "them (received, skipped, queued, dropped, processed, corrupt; drone cameras: "
                                     "no_pose)",
                                     labels=["camera", "outcome"])
        reopens = CounterMetricFamily("routewatch_camera_reopens", "Live stream reopens", labels=["camera"])
        stale = GaugeMetricFamily("routewatch_camera_stale", "1 while a live camera has sent no frame for stale_s",
                                  labels=["camera"])
        for camera, counts in self._metrics.cameras().items():
            for outcome in ("received", "skipped", "queued", "dropped", "processed", "corrupt",
                            *(("no_pose",) if "no_pose" in counts else ())):
                frames.add_metric([camera, outcome], counts.get(outcome, 0))
            reopens.add_metric([camera], counts.get("reopens", 0))
            stale.add_metric([camera], counts.get("stale_now", 0))
        yield from (frames, reopens, stale)
        yield from _ingest_families(self._metrics.status())
        sectors = self._metrics.sectors()
        if sectors:
            family = CounterMetricFamily("routewatch_sector_positions", "Positions by what this sector's worker did "
                                         "with them: owned (stored, alerted on), margin (state only), outside "
                                         "(another worker's), unsectored (in no sector, owned here as the default)",
                                         labels=["verdict"])
            for verdict in ("owned", "margin", "outside", "unsectored"):
                family.add_metric([verdict], sectors.get(f"sector_{verdict}", 0))
            yield family
        alerts = GaugeMetricFamily("routewatch_alerts", "Stored alerts by kind", labels=["kind"])
        for kind, count in self._alerts.count_by_kind().items():
            alerts.add_metric([kind], count)
        yield alerts


def _ingest_families(status: Mapping[str, Any]) -> Iterator[Metric]:
    """Link quality of MAVLink sources and sequence gaps of MQTT publishers."""
    received = CounterMetricFamily("routewatch_mavlink_packets_received", "MAVLink packets received per sender "
                                   "(CRC-checked)", labels=["source", "system", "component"])
    lost = CounterMetricFamily("routewatch_mavlink_packets_lost", "MAVLink packets lost on the way, from gaps in "
                               "the sender's sequence numbers", labels=["source", "system", "component"])
    kernel = CounterMetricFamily("routewatch_mavlink_kernel_drops", "UDP datagrams the kernel dropped for want of "
                                 "receive buffer (SO_RXQ_OVFL)", labels=["source"])
    buffer = GaugeMetricFamily("routewatch_mavlink_receive_buffer_bytes", "UDP receive buffer granted",
                               labels=["source"])
    for source, report in status["mavlink"].items():
        kernel.add_metric([source], report.get("kernel_drops", 0))
        buffer.add_metric([source], report.get("recv_buffer_bytes", 0))
        for sender, counts in report.get("senders", {}).items():
            system, _, component = sender.partition("/")
            received.add_metric([source, system, component], counts["received"])
            lost.add_metric([source, system, component], counts["lost"])
    gaps = CounterMetricFamily("routewatch_mqtt_seq_gaps", "MQTT messages missing by a publisher's seq "
                               "(dropped by a broker or on the way)", labels=["topic"])
    for topic, counts in status["mqtt_publishers"].items():
        gaps.add_metric([topic], counts.get("gaps", 0))
    yield from (received, lost, kernel, buffer, gaps)


def make_registry(alerts: AlertCounts, metrics: Metrics) -> CollectorRegistry:
    """A registry of this app's metrics (not the process-global one); `alerts`: the store's, counted by kind."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(alerts, metrics))
    return registry


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "database down"}})
def health(alerts: AlertsDep) -> Health | JSONResponse:
    """Liveness and database reachability (no auth)."""
    try:
        alerts.latest_event_seq()
    except Exception as exc:
        return JSONResponse({"status": "error", "database": f"unreachable: {type(exc).__name__}"}, status_code=503)
    return Health(status="ok", database="ok")


@router.get("/api/status")
def status(metrics: MetricsDep, who: Reader) -> PipelineStatus:
    """What the pipeline took in and lost: MAVLink link quality, MQTT sequence gaps, drops, cameras."""
    return PipelineStatus.model_validate(metrics.status())


@router.get("/metrics", response_class=Response, responses={200: {
    "content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text exposition."}})
def metrics(registry: RegistryDep) -> Response:
    """Prometheus text exposition (no auth, as scrapers expect; holds counts only)."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
