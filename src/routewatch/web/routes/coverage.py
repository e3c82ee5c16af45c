"""Camera coverage of corridors for commanders and planners: a table and a map layer over a window."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from routewatch.analysis.coverage import (
    MAX_FOOTPRINTS,
    CoverageError,
    CoverageStore,
    UnknownCorridorError,
    coverage_report,
)
from routewatch.web.deps import get_store
from routewatch.web.schemas import CoverageReport
from routewatch.web.security import Perm, Principal, caller, unauthorized

router = APIRouter(prefix="/api/coverage", tags=["coverage"])
# Commanders replay patrols (where were we looking?); planners judge corridors (what is never watched?).
PERMS = (Perm.REPLAY, Perm.CORRIDOR_WRITE)
# Footprint rows one request may measure (a drone writes one every few seconds): beyond it, 422.
MAX_ROWS = MAX_FOOTPRINTS


def commander_or_planner(request: Request) -> Principal:
    """The caller, or 401 (nobody) / 403 (a role with neither replay nor corridor rights)."""
    principal = caller(request)
    if principal is None:
        raise unauthorized()
    if not any(principal.may(p) for p in PERMS):
        raise HTTPException(403, f"role {principal.role.value!r} may not do this (needs 'replay' or 'corridor_write')")
    return principal


Viewer = Annotated[Principal, Depends(commander_or_planner)]
# A report reads two repositories (corridors and footprints): the store, seen as just those.
Measured = Annotated[CoverageStore, Depends(get_store)]


@router.get("")
def get_coverage(
    store: Measured,
    _: Viewer,
    start: Annotated[datetime, Query(alias="from", description="Window start, ISO 8601 with a time zone.")],
    end: Annotated[datetime, Query(alias="to", description="Window end (exclusive), ISO 8601 with a time zone.")],
    corridor: Annotated[str | None, Query(max_length=200, description="Only this corridor id.")] = None,
    versions: Annotated[Literal["current", "history"], Query(
        description="current: the corridors in force now over the whole window; history: each stored version "
        "over the time it was in force.")] = "current",
) -> CoverageReport:
    """Per corridor: covered intervals (with the fraction covered and the cameras), gaps, totals, and `layer`:
    a GeoJSON FeatureCollection of the covered parts (`layer: covered` per corridor, `layer: interval` per interval).

    422: an empty, reversed, unzoned or too long window, or too many footprints in it; 404: no such corridor.
    """
    try:
        report = coverage_report(store, start, end, corridor_id=corridor, versions=versions, max_footprints=MAX_ROWS)
    except UnknownCorridorError as exc:
        raise HTTPException(404, str(exc)) from None
    except CoverageError as exc:
        raise HTTPException(422, str(exc)) from None
    return CoverageReport.model_validate(report.as_dict())
