"""The web API's composition: create_app(store, web config, ...) -> FastAPI (docs at /docs)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from routewatch.config.engine import AlertsConfig, EngineConfig
from routewatch.config.recording import RecordingConfig
from routewatch.config.web import WebConfig
from routewatch.config.world import WorldConfig
from routewatch.store import Store
from routewatch.web import auth
from routewatch.web.guard import BodyGuard
from routewatch.web.headers import SecurityHeaders
from routewatch.web.limits import LoginLimiter
from routewatch.web.passwords import LoginGate, PasswordSlots
from routewatch.web.proxy import Proxies, ProxyHeaders
from routewatch.web.routes import alerts as alert_routes
from routewatch.web.routes import backtest, basemap, corridors, coverage, export, live, login, ops, replay
from routewatch.web.routes.corridors import InvalidCorridor, invalid_response
from routewatch.web.routes.live import LiveHub
from routewatch.web.routes.ops import Metrics, make_registry
from routewatch.web.settings import Clock, login_limits, utc_now
from routewatch.web.static import mount_ui

__all__ = ["create_app"]


def _errors(app: FastAPI) -> None:
    async def http_error(_: Request, exc: Any) -> JSONResponse:
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else "error"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    async def validation_error(_: Request, exc: Any) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors)
        safe = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
        return JSONResponse({"detail": where or "invalid request", "errors": safe}, status_code=422)

    async def corridor_error(_: Request, exc: Any) -> JSONResponse:
        assert isinstance(exc, InvalidCorridor)
        return invalid_response(exc.error)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(InvalidCorridor, corridor_error)


def create_app(
    store: Store,
    web: WebConfig | None = None,
    *,
    recording: RecordingConfig | None = None,
    engine: EngineConfig | None = None,
    alerts: AlertsConfig | None = None,
    world: WorldConfig | None = None,
    clock: Clock = utc_now,
    metrics: Metrics | None = None,
    hub: LiveHub | None = None,
) -> FastAPI:
    """The operator API over `store` (migrated already), set up by the config's `web` section.

    `recording` (None: nothing is recorded, so no replay frames or exports) and `engine`/`alerts`/`world` (the
    rules backtests run) are their config sections; `hub.publish` and `metrics` are the pipeline's hooks.
    """
    settings = web or WebConfig()
    hub = hub or LiveHub(store.alerts, poll_s=settings.live_poll_s, keepalive_s=settings.live_keepalive_s)
    metrics = metrics or Metrics()
    exports = export.ExportJobs(clock, export.storage(settings, recording))
    password_slots = PasswordSlots(settings.password_checks)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(hub.run())
        try:
            yield
        finally:
            hub.close()
            await asyncio.to_thread(exports.close)  # stops a running export, removes every file
            await asyncio.to_thread(password_slots.close)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # One API page: ReDoc would need its CDN script too, which the Content-Security-Policy refuses.
    app = FastAPI(title="routewatch", version="1", docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.store = store
    app.state.settings = settings
    app.state.recording = recording
    app.state.engine = engine or EngineConfig()
    app.state.alerts = alerts or AlertsConfig()
    app.state.world = world or WorldConfig()
    app.state.clock = clock
    app.state.login_limiter = LoginLimiter(login_limits(settings))
    app.state.password_slots = password_slots
    app.state.hub = hub
    app.state.metrics = metrics
    app.state.exports = exports
    app.state.registry = make_registry(store.alerts, metrics)
    _errors(app)
    for module in (login, auth, alert_routes, live, corridors, backtest, coverage, basemap, replay, export, ops):
        app.include_router(module.router)
    mount_ui(app)
    # Outermost last: the proxy fixes the client address before the guard counts or authenticates anything.
    app.add_middleware(BodyGuard, settings=settings)
    app.add_middleware(LoginGate, slots=password_slots)
    app.add_middleware(SecurityHeaders, tiles_url=settings.tiles_url)
    app.add_middleware(ProxyHeaders, proxies=Proxies(settings.trusted_proxies))
    return app
