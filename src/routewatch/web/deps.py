"""Typed FastAPI dependencies: what a route needs, taken from the app that `create_app` composed.

Routes ask for these through `Annotated` aliases (`alerts: AlertsDep`, `who: Reader`) and never read
`request.app.state` themselves; `create_app` is the one place that puts things there. The getters are
async so that they run on the event loop: a sync dependency would wait for a worker thread, and the
login route must answer its refusals without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry

from routewatch.config.engine import AlertsConfig, EngineConfig
from routewatch.config.recording import RecordingConfig
from routewatch.config.web import WebConfig
from routewatch.config.world import WorldConfig
from routewatch.store import Store
from routewatch.web.limits import LoginLimiter
from routewatch.web.passwords import PasswordSlots
from routewatch.web.repos import (
    AlertRepo,
    AuditRepo,
    CorridorRepo,
    CoverageRepo,
    PositionRepo,
    RecordingRepo,
    SessionRepo,
    SnapshotRepo,
    UserRepo,
)
from routewatch.web.security import Perm, Principal, require
from routewatch.web.settings import Clock

if TYPE_CHECKING:  # the routes that define these import this module
    from routewatch.web.routes.export import ExportJobs
    from routewatch.web.routes.live import LiveHub
    from routewatch.web.routes.ops import Metrics

__all__ = [
    "Acker", "Admin", "AlertsConfigDep", "AlertsDep", "AuditDep", "ClockDep", "Commander", "CorridorsDep",
    "CoverageDep", "EngineDep", "ExportsDep", "HubDep", "LimiterDep", "MetricsDep", "Planner", "PositionsDep",
    "Reader", "RecordingConfigDep", "RecordingsDep", "RegistryDep", "SessionsDep", "SettingsDep", "SlotsDep",
    "SnapshotsDep", "StoreDep", "UsersDep", "WorldConfigDep",
]


async def get_store(request: Request) -> Store:
    """The store the app serves (for the few routes whose helpers read several repositories)."""
    store: Store = request.app.state.store
    return store


# One repository each, typed by what the web layer uses of it (`web.repos`).

async def get_alert_repo(request: Request) -> AlertRepo:
    """The stored alerts."""
    return (await get_store(request)).alerts


async def get_snapshot_repo(request: Request) -> SnapshotRepo:
    """The alerts' snapshots."""
    return (await get_store(request)).snapshots


async def get_position_repo(request: Request) -> PositionRepo:
    """The stored fixes."""
    return (await get_store(request)).positions


async def get_corridor_repo(request: Request) -> CorridorRepo:
    """The corridor versions."""
    return (await get_store(request)).corridors


async def get_recording_repo(request: Request) -> RecordingRepo:
    """The recorded segments."""
    return (await get_store(request)).recordings


async def get_coverage_repo(request: Request) -> CoverageRepo:
    """The camera footprints."""
    return (await get_store(request)).coverage


async def get_user_repo(request: Request) -> UserRepo:
    """The users and API tokens."""
    return (await get_store(request)).users


async def get_session_repo(request: Request) -> SessionRepo:
    """The login sessions."""
    return (await get_store(request)).sessions


async def get_audit_repo(request: Request) -> AuditRepo:
    """The audit log."""
    return (await get_store(request)).audit


async def get_settings(request: Request) -> WebConfig:
    """The config's `web` section."""
    settings: WebConfig = request.app.state.settings
    return settings


async def get_recording(request: Request) -> RecordingConfig | None:
    """The config's `recording` section, or None where nothing is recorded."""
    recording: RecordingConfig | None = request.app.state.recording
    return recording


async def get_engine(request: Request) -> EngineConfig:
    """The rules' settings (for backtests)."""
    engine: EngineConfig = request.app.state.engine
    return engine


async def get_world_config(request: Request) -> WorldConfig:
    """The world tracker's settings (for backtests)."""
    world: WorldConfig = request.app.state.world
    return world


async def get_alerts_config(request: Request) -> AlertsConfig:
    """The alert lifecycle's settings (for backtests)."""
    alerts: AlertsConfig = request.app.state.alerts
    return alerts


async def get_clock(request: Request) -> Clock:
    """The app's clock (read it where the time is needed: a dependency would read it too early)."""
    clock: Clock = request.app.state.clock
    return clock


async def get_hub(request: Request) -> LiveHub:
    """The live alert hub."""
    hub: LiveHub = request.app.state.hub
    return hub


async def get_metrics(request: Request) -> Metrics:
    """The pipeline counters the app is fed."""
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_registry(request: Request) -> CollectorRegistry:
    """The app's Prometheus registry."""
    registry: CollectorRegistry = request.app.state.registry
    return registry


async def get_exports(request: Request) -> ExportJobs:
    """The app's export jobs."""
    jobs: ExportJobs = request.app.state.exports
    return jobs


async def get_login_limiter(request: Request) -> LoginLimiter:
    """The failed-login limiter."""
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


async def get_password_slots(request: Request) -> PasswordSlots:
    """The pool of password checks."""
    slots: PasswordSlots = request.app.state.password_slots
    return slots


StoreDep = Annotated[Store, Depends(get_store)]
AlertsDep = Annotated[AlertRepo, Depends(get_alert_repo)]
SnapshotsDep = Annotated[SnapshotRepo, Depends(get_snapshot_repo)]
PositionsDep = Annotated[PositionRepo, Depends(get_position_repo)]
CorridorsDep = Annotated[CorridorRepo, Depends(get_corridor_repo)]
RecordingsDep = Annotated[RecordingRepo, Depends(get_recording_repo)]
CoverageDep = Annotated[CoverageRepo, Depends(get_coverage_repo)]
UsersDep = Annotated[UserRepo, Depends(get_user_repo)]
SessionsDep = Annotated[SessionRepo, Depends(get_session_repo)]
AuditDep = Annotated[AuditRepo, Depends(get_audit_repo)]
SettingsDep = Annotated[WebConfig, Depends(get_settings)]
RecordingConfigDep = Annotated[RecordingConfig | None, Depends(get_recording)]
EngineDep = Annotated[EngineConfig, Depends(get_engine)]
AlertsConfigDep = Annotated[AlertsConfig, Depends(get_alerts_config)]
WorldConfigDep = Annotated[WorldConfig, Depends(get_world_config)]
ClockDep = Annotated[Clock, Depends(get_clock)]
HubDep = Annotated["LiveHub", Depends(get_hub)]
MetricsDep = Annotated["Metrics", Depends(get_metrics)]
RegistryDep = Annotated[CollectorRegistry, Depends(get_registry)]
ExportsDep = Annotated["ExportJobs", Depends(get_exports)]
LimiterDep = Annotated[LoginLimiter, Depends(get_login_limiter)]
SlotsDep = Annotated[PasswordSlots, Depends(get_password_slots)]

# The caller, checked for a permission (401 nobody, 403 a role without it).
Reader = Annotated[Principal, Depends(require(Perm.READ))]
Acker = Annotated[Principal, Depends(require(Perm.ACK))]
Commander = Annotated[Principal, Depends(require(Perm.REPLAY))]
Planner = Annotated[Principal, Depends(require(Perm.CORRIDOR_WRITE))]
Admin = Annotated[Principal, Depends(require(Perm.ADMIN))]
