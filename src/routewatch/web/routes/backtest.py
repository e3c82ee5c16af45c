"""Backtest for planners: a draft corridor set (or the set in force) re-run over stored history."""

from __future__ import annotations

import json
import threading
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from routewatch.analysis.backtest import DEFAULT_WARMUP_S, BacktestError, Window, backtest
from routewatch.config.engine import AlertsConfig, EngineConfig
from routewatch.config.world import WorldConfig
from routewatch.geo.corridors import CorridorError, load_corridors
from routewatch.store import Store
from routewatch.web.bodies import body_schema, read_model
from routewatch.web.deps import AlertsConfigDep, EngineDep, Planner, SettingsDep, StoreDep, WorldConfigDep
from routewatch.web.routes.corridors import InvalidCorridor
from routewatch.web.schemas import BacktestReport

router = APIRouter(prefix="/api/backtest", tags=["backtest"])


class BacktestRequest(BaseModel):
    """What to re-run: a window, and a draft corridor set (a GeoJSON FeatureCollection) or none."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: datetime = Field(alias="from", description="Window start, ISO 8601 with a time zone.")
    end: datetime = Field(alias="to", description="Window end (exclusive), ISO 8601 with a time zone.")
    corridors: dict[str, JsonValue] | None = Field(
        None, description="A draft corridor set (GeoJSON FeatureCollection), not saved; none: the set in force.")
    warmup_s: float = Field(DEFAULT_WARMUP_S, ge=0, le=7 * 86400,
                            description="History replayed before the window so ongoing episodes go on.")


_ONE_AT_A_TIME = threading.Lock()  # a backtest is CPU-heavy and shares the process with the live pipeline


@router.post("", responses={409: {"description": "another backtest is running"},
                            413: {"description": "request too large"}},
             openapi_extra=body_schema(BacktestRequest))
async def run_backtest(request: Request, store: StoreDep, settings: SettingsDep, engine: EngineDep,
                       alerts: AlertsConfigDep, world: WorldConfigDep, _: Planner) -> BacktestReport:
    """Alerts the corridors would have opened in the window beside those opened: added, removed, unchanged.

    The body is a BacktestRequest. One backtest runs at a time in this process (409 otherwise).
    """
    body = await read_model(request, BacktestRequest, settings.max_upload_bytes)
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise HTTPException(409, "another backtest is running; try again when it has finished")
    try:
        return await run_in_threadpool(_run, store, engine, alerts, world, body)
    finally:
        _ONE_AT_A_TIME.release()


def _run(store: Store, engine: EngineConfig, alerts: AlertsConfig, world: WorldConfig,
         body: BacktestRequest) -> BacktestReport:
    try:
        window = Window(body.start, body.end)
    except BacktestError as exc:
        raise HTTPException(422, str(exc)) from None
    if body.corridors is None:
        corridors = store.corridors.current()
    else:
        try:
            corridors = load_corridors(json.dumps(body.corridors))
        except CorridorError as exc:
            raise InvalidCorridor(exc) from None
    if not corridors:
        raise HTTPException(422, "no corridors: send a draft set or save corridors first")
    report = backtest(store, corridors, window, engine, alerts, warmup_s=body.warmup_s, world=world)
    return BacktestReport.model_validate(report.as_dict())
