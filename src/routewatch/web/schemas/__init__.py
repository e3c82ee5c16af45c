"""Response models of the web API: what every route answers, so OpenAPI (and the UI's types) show it.

The models mirror the JSON the routes have always sent, key for key: they forbid unknown keys, so a
route that sends more than its model says fails its tests instead of losing a field. Times are ISO 8601
text as the routes write them (a datetime field would re-format them).
"""

from routewatch.web.schemas.alerts import (
    AlertDetail,
    AlertEventOut,
    AlertOut,
    AlertPage,
    ApiAlert,
    SnapshotLink,
    TrackPoint,
)
from routewatch.web.schemas.analysis import BacktestReport, CoverageReport
from routewatch.web.schemas.base import Out
from routewatch.web.schemas.geojson import CorridorFeature, CorridorSet, Feature, FeatureCollection, Geometry
from routewatch.web.schemas.misc import (
    ApiTokenOut,
    AuditEntryOut,
    Basemap,
    CorridorDeleted,
    CorridorImport,
    CorridorVersionOut,
    ExportJob,
    Health,
    Me,
    NewApiToken,
    PipelineStatus,
    UserOut,
    VersionFeature,
)
from routewatch.web.schemas.replay import CorridorsAt, Footprints, ReplayBoxes, ReplayCameras, ReplayPositions, Sorties

__all__ = [
    "AlertDetail", "AlertEventOut", "AlertOut", "AlertPage", "ApiAlert", "ApiTokenOut", "AuditEntryOut",
    "BacktestReport", "Basemap", "CorridorDeleted", "CorridorFeature", "CorridorImport", "CorridorSet",
    "CorridorVersionOut", "CorridorsAt", "CoverageReport", "ExportJob", "Feature", "FeatureCollection",
    "Footprints", "Geometry", "Health", "Me", "NewApiToken", "Out", "PipelineStatus", "ReplayBoxes",
    "ReplayCameras", "ReplayPositions", "SnapshotLink", "Sorties", "TrackPoint", "UserOut", "VersionFeature",
]
