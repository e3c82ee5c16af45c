"""Corridors: the current set, one corridor, history and versions, versioned edits, import and export."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from routewatch.geo.corridors import (
    CorridorError,
    dumps_geojson,
    load_corridors,
    require_some,
    to_geojson,
    to_kml,
    validate_features,
)
from routewatch.model import Corridor
from routewatch.store import CorridorConflictError, RemovalNotConfirmedError
from routewatch.store.records import CorridorVersion
from routewatch.web.bodies import read_limited
from routewatch.web.deps import AuditDep, ClockDep, CorridorsDep, Planner, Reader, SettingsDep
from routewatch.web.repos import AuditRepo, CorridorRepo
from routewatch.web.schemas import (
    CorridorDeleted,
    CorridorFeature,
    CorridorImport,
    CorridorSet,
    CorridorVersionOut,
    VersionFeature,
)
from routewatch.web.security import Principal
from routewatch.web.settings import Clock

router = APIRouter(prefix="/api/corridors", tags=["corridors"])
Writer = Planner
Why = Annotated[str, Query(max_length=2000, description="why: stored with the version")]
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class InvalidCorridor(Exception):
    """A refused corridor (answered 422 with the problems)."""

    def __init__(self, error: CorridorError) -> None:
        self.error = error


def invalid_response(error: CorridorError) -> JSONResponse:
    """422 naming each feature and its problem."""
    problems = [{"feature_index": p.index, "feature_id": p.feature_id, "message": p.message} for p in error.problems]
    return JSONResponse({"detail": str(error), "problems": problems}, status_code=422)


def safe_filename(name: str) -> str:
    """A file name reduced to its last component and safe characters (only ever logged, never opened)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    return _SAFE.sub("_", base).lstrip(".")[:100] or "upload"


def feature(c: Corridor) -> CorridorFeature:
    """One corridor as a GeoJSON Feature."""
    return CorridorFeature.model_validate(to_geojson([c])["features"][0])


def version_dict(v: CorridorVersion) -> CorridorVersionOut:
    """One version's audit fields."""
    return CorridorVersionOut(version=v.corridor.version, author=v.author, comment=v.comment,
                              created_at=v.created_at.isoformat(), deleted=v.deleted)


def _current(corridors: CorridorRepo, corridor_id: str) -> Corridor | None:
    return next((c for c in corridors.current() if c.id == corridor_id), None)


def _parse_one(body: Any, path_id: str | None = None) -> Corridor:
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise HTTPException(422, "the body must be one GeoJSON Feature")
    if path_id is not None:
        props = body.get("properties")
        props = dict(props) if isinstance(props, dict) else {}
        given = props.get("id", body.get("id"))
        if given is not None and given != path_id:
            raise HTTPException(422, f"the feature's id {given!r} does not match the URL's {path_id!r}")
        body = {**body, "properties": {**props, "id": path_id}}
    try:
        return validate_features([body])[0]
    except CorridorError as exc:
        raise InvalidCorridor(exc) from None


def _why(body: Any, comment: str) -> str:
    """The comment: the query parameter, or a `comment` member of the Feature."""
    given = body.get("comment", "") if isinstance(body, dict) and not comment else comment
    if not isinstance(given, str) or len(given) > 2000:
        raise HTTPException(422, "comment must be text of at most 2000 characters")
    return given


def _save(
    corridors: CorridorRepo, audit: AuditRepo, clock: Clock, corridor: Corridor, principal: Principal, comment: str,
    action: str, previous: int | None = None,
) -> CorridorFeature:
    try:
        (saved,) = corridors.save(
            [corridor], author=principal.name, comment=comment, at=clock(), replace=False
        )
    except CorridorConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    if saved.version != previous:  # an unchanged save adds no version and is not audited
        detail = f"v{saved.version}: {comment}"
        audit.add(action, actor=principal.name, target=saved.id, detail=detail, at=clock())
    return feature(saved)


@router.get("")
def list_corridors(corridors: CorridorsDep, _: Reader) -> CorridorSet:
    """The current corridor set as a GeoJSON FeatureCollection."""
    return CorridorSet.model_validate(to_geojson(corridors.current()))


@router.get("/export", response_class=Response, responses={200: {"content": {
    "application/geo+json": {}, "application/vnd.google-earth.kml+xml": {}}, "description": "The corridor file."}})
def export(corridors: CorridorsDep, _: Reader, format: Literal["geojson", "kml"] = "geojson") -> Response:
    """The current set as a GeoJSON or KML download."""
    current = corridors.current()
    if format == "kml":
        body, media = to_kml(current), "application/vnd.google-earth.kml+xml"
    else:
        body, media = dumps_geojson(current), "application/geo+json"
    headers = {"Content-Disposition": f'attachment; filename="corridors.{format}"'}
    return Response(body, media_type=media, headers=headers)


@router.post("/import")
async def import_file(
    request: Request, corridors: CorridorsDep, audit: AuditDep, settings: SettingsDep, clock: ClockDep,
    principal: Writer, comment: Why = "",
    filename: Annotated[str, Query(max_length=255)] = "upload",
    replace: bool = False,
    expect_removed: Annotated[int, Query(ge=0, description="with replace: how many corridors it removes")] = 0,
) -> CorridorImport:
    """Import a GeoJSON or KML/KMZ file sent as the request body (all or nothing; 413 when too large).

    An empty set is refused (422). With `replace`, stored corridors the file does not name are
    removed only if `expect_removed` is their number; otherwise 409 lists them and nothing is saved.
    """
    limit = settings.max_upload_bytes
    data = await read_limited(request, limit, what="upload")
    name = safe_filename(filename)
    try:
        loaded = require_some(load_corridors(data), "the upload")
    except CorridorError as exc:
        raise InvalidCorridor(exc) from None
    at = clock()
    why = comment or f"import {name}"
    try:
        saved = corridors.save(loaded, author=principal.name, comment=why, at=at, replace=replace,
                               expect_removed=expect_removed if replace else None)
    except RemovalNotConfirmedError as exc:
        raise HTTPException(409, f"{exc}: add expect_removed={len(exc.ids)} to remove them") from None
    except CorridorConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    audit.add("corridor_import", actor=principal.name, target=name,
              detail=f"{len(saved)} corridor(s), replace={replace}, removed={expect_removed if replace else 0}: "
              f"{why}", at=at)
    return CorridorImport.model_validate({"filename": name, "imported": [{"id": c.id, "version": c.version}
                                                                         for c in saved]})


@router.post("", status_code=201)
def create(corridors: CorridorsDep, audit: AuditDep, clock: ClockDep, principal: Writer,
           body: Annotated[Any, Body()], comment: Why = "") -> CorridorFeature:
    """Create a corridor from one GeoJSON Feature (409 if the id is in use)."""
    corridor = _parse_one(body)
    if _current(corridors, corridor.id) is not None:
        raise HTTPException(409, f"corridor {corridor.id!r} exists; PUT /api/corridors/{corridor.id} to change it")
    return _save(corridors, audit, clock, corridor, principal, _why(body, comment), "corridor_create")


@router.get("/{corridor_id}")
def get_corridor(corridor_id: str, corridors: CorridorsDep, _: Reader) -> CorridorFeature:
    """The current version of one corridor as a GeoJSON Feature."""
    found = _current(corridors, corridor_id)
    if found is None:
        raise HTTPException(404, f"no corridor {corridor_id!r}")
    return feature(found)


@router.put("/{corridor_id}")
def update(
    corridor_id: str, corridors: CorridorsDep, audit: AuditDep, clock: ClockDep, principal: Writer,
    body: Annotated[Any, Body()], comment: Why = "",
) -> CorridorFeature:
    """Save a new version of an existing corridor (unchanged content keeps its version)."""
    corridor = _parse_one(body, corridor_id)
    current = _current(corridors, corridor_id)
    if current is None:
        raise HTTPException(404, f"no corridor {corridor_id!r}")
    return _save(corridors, audit, clock, corridor, principal, _why(body, comment), "corridor_update",
                 current.version)


@router.delete("/{corridor_id}")
def delete(corridor_id: str, corridors: CorridorsDep, audit: AuditDep, clock: ClockDep, principal: Writer,
           comment: Why = "") -> CorridorDeleted:
    """Delete a corridor (a tombstone version keeps its history)."""
    at = clock()
    try:
        version = corridors.delete(corridor_id, author=principal.name, comment=comment, at=at)
    except CorridorConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    if version is None:
        raise HTTPException(404, f"no corridor {corridor_id!r}")
    audit.add("corridor_delete", actor=principal.name, target=corridor_id, detail=f"v{version}: {comment}", at=at)
    return CorridorDeleted(id=corridor_id, version=version, deleted=True)


@router.get("/{corridor_id}/history")
def history(corridor_id: str, corridors: CorridorsDep, _: Reader) -> list[CorridorVersionOut]:
    """Every version of a corridor with who, when and why, oldest first."""
    versions = corridors.history(corridor_id)
    if not versions:
        raise HTTPException(404, f"no corridor {corridor_id!r}")
    return [version_dict(v) for v in versions]


@router.get("/{corridor_id}/versions/{version}")
def get_version(corridor_id: str, version: int, corridors: CorridorsDep, _: Reader) -> VersionFeature:
    """One stored version as a GeoJSON Feature, its audit fields in `meta`."""
    for v in corridors.history(corridor_id):
        if v.corridor.version == version:
            return VersionFeature(**dict(feature(v.corridor)), meta=version_dict(v))
    raise HTTPException(404, f"no version {version} of corridor {corridor_id!r}")
