"""PostGIS, where the server has it: geometry columns generated from the stored lon/lat or GeoJSON.

The geometry columns are not in the ORM tables (they exist only on PostGIS), so the insert path
is the same everywhere: PostgreSQL computes `geom` itself (generated columns). Spatial filters
use them with a GiST index on PostGIS, and a bounding box in SQL plus an exact Shapely test
elsewhere, with the same results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from itertools import compress, islice
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Column, ColumnElement, Computed, Connection, bindparam, func, literal_column, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import QueryableAttribute

if TYPE_CHECKING:  # Alembic is loaded where a migration runs
    from alembic.operations import Operations

log = logging.getLogger(__name__)

SRID = 4326
GEOM = "geom"
# Table -> (geometry type, the SQL that computes it from the row). Part of revision 0002: change
# only together with a new revision.
GENERATED = {
    "alerts": ("POINT", "ST_SetSRID(ST_MakePoint(lon, lat), 4326)"),
    "positions": ("POINT", "ST_SetSRID(ST_MakePoint(lon, lat), 4326)"),
    "corridors": ("GEOMETRY", "ST_SetSRID(ST_GeomFromGeoJSON(geometry), 4326)"),
}
# Tables the postgis extension creates in the schema; not ours, so schema comparison skips them.
POSTGIS_TABLES = frozenset({"spatial_ref_sys"})
_CHUNK = 2048
_T = TypeVar("_T")

_GEOM_TABLES = text(
    "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
    " AND column_name = :column"
)


def index_name(table: str) -> str:
    """Name of the GiST index on a table's geometry column."""
    return f"ix_{table}_{GEOM}"


def _present(conn: Connection) -> set[str]:
    """The store's tables that have a geometry column."""
    return {name for (name,) in conn.execute(_GEOM_TABLES, {"column": GEOM})} & set(GENERATED)


def has_geometry(conn: Connection) -> bool:
    """Whether this database has the PostGIS geometry columns of the store."""
    return conn.dialect.name == "postgresql" and _present(conn) == set(GENERATED)


def _ensure_extension(conn: Connection) -> str | None:
    if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first() is not None:
        return None
    if conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")).first() is None:
        return "the server has no postgis extension (install the PostGIS package, e.g. postgresql-15-postgis-3)"
    try:
        # A savepoint: a refused CREATE EXTENSION must not abort the migration's transaction.
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except DBAPIError as exc:
        first_line = str(exc.orig).strip().splitlines()[0]
        return f"cannot create the postgis extension ({first_line}); a superuser can run CREATE EXTENSION postgis"
    return None


def add_geometry(ops: Operations) -> str | None:
    """Add the geometry columns and GiST indexes (creating PostGIS if allowed); return why not, or None."""
    conn = ops.get_bind()
    if conn.dialect.name != "postgresql":
        return f"{conn.dialect.name} has no PostGIS"
    reason = _ensure_extension(conn)
    if reason is None:
        try:
            from geoalchemy2 import Geometry
        except ImportError:
            reason = "GeoAlchemy2 is not installed (pip install 'routewatch[postgres]')"
    if reason is not None:
        log.warning("PostGIS geometry columns not added: %s", reason)
        return reason
    present = _present(conn)
    for table, (kind, expression) in GENERATED.items():
        if table in present:
            continue
        geometry = Geometry(kind, srid=SRID, spatial_index=False)
        ops.add_column(table, Column(GEOM, geometry, Computed(expression, persisted=True)))
        ops.create_index(index_name(table), table, [GEOM], postgresql_using="gist")
    return None


def drop_geometry(ops: Operations) -> None:
    """Drop the geometry columns and their indexes, where present (the extension stays)."""
    conn = ops.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in sorted(_present(conn)):
        ops.drop_index(index_name(table), table_name=table, if_exists=True)
        ops.drop_column(table, GEOM)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic include_object: leave PostGIS's own tables and the optional geometry columns alone."""
    if type_ == "table" and name in POSTGIS_TABLES:
        return False
    if type_ == "column" and name == GEOM and reflected and compare_to is None:
        return False
    return not (type_ == "index" and name in {index_name(t) for t in GENERATED})


def area_of(geom: BaseGeometry) -> BaseGeometry:
    """A valid lon/lat (Multi)Polygon to filter by (a prepared copy), or ValueError saying what is wrong."""
    if not isinstance(geom, BaseGeometry) or geom.geom_type not in ("Polygon", "MultiPolygon"):
        got = getattr(geom, "geom_type", type(geom).__name__)
        raise ValueError(f"a spatial filter must be a Polygon or MultiPolygon in lon/lat, not {got}")
    if geom.is_empty:
        raise ValueError("a spatial filter polygon is empty")
    if not geom.is_valid:
        raise ValueError(f"a spatial filter polygon is invalid: {shapely.is_valid_reason(geom)}")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ValueError(
            f"a spatial filter polygon is outside lon/lat range (bounds {geom.bounds}); are lon and lat swapped?"
        )
    area = shapely.from_wkb(shapely.to_wkb(geom))
    shapely.prepare(area)
    return area


def intersects(geom_column: str, area: BaseGeometry) -> ColumnElement[bool]:
    """`ST_Intersects(<table>.geom, ST_GeomFromText(:wkt, 4326))`: the WKT is a bound parameter."""
    wkt = shapely.to_wkt(area, rounding_precision=-1)
    shape = func.ST_GeomFromText(bindparam("within_wkt", wkt), literal_column(str(SRID)))
    result: ColumnElement[bool] = func.ST_Intersects(literal_column(geom_column), shape)
    return result


def in_bbox(
    lon: QueryableAttribute[float], lat: QueryableAttribute[float], area: BaseGeometry
) -> list[ColumnElement[bool]]:
    """Conditions keeping the points inside the area's bounding box (borders included)."""
    minx, miny, maxx, maxy = area.bounds
    return [lon >= minx, lon <= maxx, lat >= miny, lat <= maxy]


def exactly_within(
    items: Iterable[_T], area: BaseGeometry, lonlat: Callable[[_T], tuple[float, float]]
) -> Iterator[_T]:
    """The items whose point intersects the area (as ST_Intersects: borders included), in order."""
    iterator = iter(items)
    while chunk := list(islice(iterator, _CHUNK)):
        xy = np.array([lonlat(item) for item in chunk], dtype=float)
        yield from compress(chunk, shapely.intersects_xy(area, xy[:, 0], xy[:, 1]))
