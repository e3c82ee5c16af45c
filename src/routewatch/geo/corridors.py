"""Corridor files: load and validate GeoJSON (RFC 7946, lon/lat) into Corridors, and export them.

Every problem in a file is collected first and raised once as a CorridorError, so a file with one
bad feature imports nothing. KML and ArduPilot fence files go through the same feature validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from shapely.geometry import mapping

from routewatch.config.files import FileRefusedError, read_regular_file
from routewatch.geo.corridor_geometry import DEPTH, number, parse_geometry, short
from routewatch.model import Corridor, CorridorKind, Direction, Role, Severity

MAX_BYTES = 20 * 1024 * 1024
MAX_FEATURES = 10_000
MAX_WIDTH_M = 50_000.0
MAX_SENSORS = 32  # min_sensors: more sensors than any corridor has
MAX_CONFIRM_S = 3600.0  # confirm_s: an hour of waiting for corroboration at most
ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

_E = TypeVar("_E", CorridorKind, Direction, Severity)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a corridor file; index is the feature's position (None: the whole file)."""

    index: int | None
    feature_id: str | None
    message: str

    def __str__(self) -> str:
        if self.index is None:
            return self.message
        where = f"feature {self.index}" + (f" (id {self.feature_id!r})" if self.feature_id else "")
        return f"{where}: {self.message}"


class CorridorError(ValueError):
    """A corridor file was refused; `problems` lists everything found, one per line in str()."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def file_error(message: str) -> CorridorError:
    """A CorridorError for a problem with the file as a whole."""
    return CorridorError([Problem(None, None, message)])


def load_corridors(source: str | bytes | Path, *, default_version: int = 1) -> tuple[Corridor, ...]:
    """Load a GeoJSON or KML/KMZ file (a Path) or document (str/bytes: content, never a path)."""
    suffix = ""
    if isinstance(source, Path):
        data: str | bytes = read_corridor_file(source)
        suffix = source.suffix.lower()
    else:
        data = source
    if len(data) > MAX_BYTES:
        raise file_error(f"input is {len(data)} bytes; the limit is {MAX_BYTES}")
    if isinstance(data, bytes):
        head = data.removeprefix(b"\xef\xbb\xbf").lstrip()[:64]
    else:
        head = data.removeprefix("\ufeff").lstrip()[:64].encode()
    if not head:
        raise file_error("empty input: no GeoJSON or KML to load")
    if head.startswith((b"<", b"PK")) or (not head.startswith(b"{") and suffix in (".kml", ".kmz")):
        return parse_kml(data, default_version=default_version)
    if head.startswith(b"{") or suffix in (".geojson", ".json"):
        return parse_geojson(_decode_json(data), default_version=default_version)
    raise file_error(f"not GeoJSON or KML: input starts with {head[:16]!r} (to load a file, pass a Path)")


def read_corridor_file(path: Path) -> bytes:
    """The bytes of a corridor file: a regular file within MAX_BYTES (never a pipe or a device)."""
    try:
        return read_regular_file(path, MAX_BYTES)
    except FileRefusedError as exc:
        raise file_error(str(exc)) from None


def require_some(corridors: tuple[Corridor, ...], origin: str) -> tuple[Corridor, ...]:
    """The corridors of an import, refused when there are none: an empty set would remove every corridor."""
    if not corridors:
        raise file_error(f"{origin} has no corridors: an empty set is refused (it would remove every corridor); "
                         "to remove corridors, delete them one by one")
    return corridors


def parse_kml(text: str | bytes, *, default_version: int = 1) -> tuple[Corridor, ...]:
    """Validate a KML document (or KMZ bytes) and return its corridors; see routewatch.geo.kml."""
    from routewatch.geo import kml  # kml builds on this module, so it is imported when first needed

    return kml.parse_kml(text, default_version=default_version)


def to_kml(corridors: Iterable[Corridor], *, name: str = "routewatch corridors") -> str:
    """The corridors as a KML document; see routewatch.geo.kml."""
    from routewatch.geo import kml

    return kml.to_kml(corridors, name=name)


def parse_fence_file(
    text: str | bytes, *, id: str, kind: CorridorKind = CorridorKind.OPERATING_AREA, name: str = ""
) -> Corridor:
    """The polygon of a MAVProxy/ArduPilot fence file as a corridor; see routewatch.geo.fencefile."""
    from routewatch.geo import fencefile

    return fencefile.parse_fence_file(text, id=id, kind=kind, name=name)


def _decode_json(data: str | bytes) -> Any:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise file_error(f"not UTF-8 text: bad byte at offset {e.start}") from None
    try:
        return json.loads(data.removeprefix("\ufeff"))
    except json.JSONDecodeError as e:
        raise file_error(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise file_error("not valid JSON: nested too deeply") from None


def parse_geojson(obj: Mapping[str, Any], *, default_version: int = 1) -> tuple[Corridor, ...]:
    """Validate a decoded GeoJSON FeatureCollection and return its corridors."""
    if not isinstance(obj, Mapping) or obj.get("type") != "FeatureCollection":
        got = obj.get("type") if isinstance(obj, Mapping) else type(obj).__name__
        raise file_error(f"not a GeoJSON FeatureCollection (type {short(got)})")
    crs = obj.get("crs")
    if crs is not None:
        props = crs.get("properties") if isinstance(crs, Mapping) else None
        label = props.get("name") if isinstance(props, Mapping) else crs
        if not any(ok in str(label) for ok in ("CRS84", "EPSG::4326", "EPSG:4326")):
            # pre-RFC 7946 files may declare a projected CRS; we read lon/lat only and do not reproject
            raise file_error(f"coordinates must be WGS84 lon/lat (RFC 7946), but the file declares crs {short(label)}")
    features = obj.get("features")
    if not isinstance(features, list):
        raise file_error("FeatureCollection has no 'features' list")
    return validate_features(features, default_version=default_version)


def validate_features(features: Sequence[object], *, default_version: int = 1) -> tuple[Corridor, ...]:
    """Validate GeoJSON-like Feature mappings; raise CorridorError naming every problem, or return all."""
    if len(features) > MAX_FEATURES:
        raise file_error(f"{len(features)} features; the limit is {MAX_FEATURES}")
    problems: list[Problem] = []
    corridors: list[Corridor] = []
    first_index: dict[str, int] = {}
    for index, feature in enumerate(features):
        errs: list[str] = []
        corridor, fid = _feature(feature, default_version, errs)
        if fid is not None:
            if fid in first_index:
                errs.insert(0, f"duplicate id {fid!r} (also feature {first_index[fid]})")
            else:
                first_index[fid] = index
        problems.extend(Problem(index, fid, m) for m in errs)
        if corridor is not None and not errs:
            corridors.append(corridor)
    if problems:
        raise CorridorError(problems)
    return tuple(corridors)


def _feature(feature: object, default_version: int, errs: list[str]) -> tuple[Corridor | None, str | None]:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        got = feature.get("type") if isinstance(feature, Mapping) else type(feature).__name__
        errs.append(f"not a GeoJSON Feature (type {short(got)})")
        return None, None
    props = feature.get("properties")
    if props is None:
        props = {}
    elif not isinstance(props, Mapping):
        errs.append("properties must be an object")
        props = {}
    fid = _id(props.get("id"), feature.get("id"), errs)
    fields = _properties(props, default_version, errs)
    geom = feature.get("geometry")
    gtype = geom.get("type") if isinstance(geom, Mapping) else None
    if gtype in DEPTH and fields["kind"] is not None:  # an unknown kind says enough on its own
        _check_kind_fits(fields, props, gtype, errs)
    geometry = parse_geometry(feature.get("geometry"), errs)
    if errs or geometry is None or fid is None:
        return None, fid
    return Corridor(id=fid, geometry=geometry, **fields), fid


def _id(prop_id: object, feature_id: object, errs: list[str]) -> str | None:
    if prop_id is None and feature_id is None:
        errs.append("missing id (set properties.id or the Feature's id)")
        return None
    if prop_id is not None and feature_id is not None and prop_id != feature_id:
        errs.append(f"properties.id {short(prop_id)} differs from the Feature id {short(feature_id)}")
    value = prop_id if prop_id is not None else feature_id
    if isinstance(value, str) and ID_RE.fullmatch(value):
        return value
    errs.append(f"id {short(value)} must be a string of 1-64 letters, digits, '_', '.', ':' or '-'")
    return None


def _properties(props: Mapping[str, Any], default_version: int, errs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"version": default_version}
    name = props.get("name")
    if name is not None:
        if isinstance(name, str):
            out["name"] = name
        else:
            errs.append(f"name must be a string, got {short(name)}")
    kind = props.get("kind")
    out["kind"] = CorridorKind.CORRIDOR if kind is None else _enum(CorridorKind, kind, "kind", errs)
    out["direction"] = _enum(Direction, props.get("direction"), "direction", errs)
    out["severity"] = _enum(Severity, props.get("severity"), "severity", errs)
    for key, limit in (("width_m", MAX_WIDTH_M), ("min_dwell_s", None), ("min_progress_m", None),
                       ("confirm_s", MAX_CONFIRM_S)):
        out[key] = _positive(props.get(key), key, limit, errs)
    sensors = props.get("min_sensors")
    if sensors is not None:
        if isinstance(sensors, int) and not isinstance(sensors, bool) and 1 <= sensors <= MAX_SENSORS:
            out["min_sensors"] = sensors
        else:
            errs.append(f"min_sensors must be an integer from 1 to {MAX_SENSORS}, got {short(sensors)}")
    if props.get("confirm_s") is not None and (sensors is None or sensors == 1):
        errs.append("confirm_s is how long an alert waits for min_sensors sensors: set min_sensors of 2 or more")
    version = props.get("version")
    if version is not None:
        if isinstance(version, int) and not isinstance(version, bool) and version > 0:
            out["version"] = version
        else:
            errs.append(f"version must be a positive integer, got {short(version)}")
    for key in ("classes", "subjects"):
        items = props.get(key)
        if items is None:
            continue
        if isinstance(items, list) and all(isinstance(c, str) and c for c in items):
            out[key] = frozenset(items)
        else:
            errs.append(f"{key} must be a list of non-empty strings, got {short(items)}")
    roles = props.get("roles")
    if roles is not None:
        if isinstance(roles, list) and roles and all(isinstance(r, str) and r in set(Role) for r in roles):
            out["roles"] = frozenset(Role(r) for r in roles)
        else:
            errs.append(f"roles must be a non-empty list of {', '.join(m.value for m in Role)}, got {short(roles)}")
    return out


def _enum(cls: type[_E], value: object, key: str, errs: list[str]) -> _E | None:
    if value is None:
        return None
    if isinstance(value, str) and value in {m.value for m in cls}:
        return cls(value)
    errs.append(f"{key} {short(value)} is not one of {', '.join(m.value for m in cls)}")
    return None


def _positive(value: object, key: str, limit: float | None, errs: list[str]) -> float | None:
    if value is None:
        return None
    got = number(value)
    if got is None or got <= 0:
        errs.append(f"{key} must be a positive number, got {short(value)}")
    elif limit is not None and got > limit:
        errs.append(f"{key} {short(value)} is above the limit of {limit:g}")
    else:
        return got
    return None


def _check_kind_fits(fields: Mapping[str, Any], props: Mapping[str, Any], gtype: str, errs: list[str]) -> None:
    kind, is_line = fields["kind"], gtype in ("LineString", "MultiLineString")
    centre_line = kind is CorridorKind.CORRIDOR and is_line
    if kind in (CorridorKind.EXCLUSION, CorridorKind.OPERATING_AREA) and is_line:
        errs.append(f"kind {kind} needs a Polygon or MultiPolygon, got {gtype}")
    if kind is CorridorKind.LINE and not is_line:
        errs.append(f"kind line needs a LineString or MultiLineString, got {gtype} (an area is an exclusion)")
    if centre_line and props.get("width_m") is None:
        errs.append("a corridor drawn as a LineString needs width_m > 0 (the centre-line is buffered by width/2)")
    if props.get("width_m") is not None and not centre_line:
        errs.append(f"width_m only applies to a corridor drawn as a LineString centre-line, not a {kind} {gtype}")
    if props.get("roles") is not None and kind is CorridorKind.OPERATING_AREA:
        errs.append("roles does not apply to an operating_area: it always watches our patrol assets")
    if props.get("subjects") is not None and kind is not CorridorKind.OPERATING_AREA:
        errs.append(f"subjects (our patrol assets) only applies to an operating_area, not a {kind}")
    if props.get("direction") is not None and not centre_line:
        hint = "; draw the corridor as a LineString centre-line with width_m" if not is_line else ""
        errs.append(f"direction needs a corridor centre-line, not a {kind} {gtype}{hint}")


def corridor_properties(corridor: Corridor) -> dict[str, Any]:
    """The corridor-file properties of a corridor (defaults left out, classes sorted)."""
    props: dict[str, Any] = {"id": corridor.id, "kind": corridor.kind.value, "version": corridor.version}
    if corridor.name:
        props["name"] = corridor.name
    for key in ("width_m", "min_dwell_s", "min_progress_m", "min_sensors", "confirm_s"):
        if getattr(corridor, key) is not None:
            props[key] = getattr(corridor, key)
    if corridor.direction is not None:
        props["direction"] = corridor.direction.value
    if corridor.severity is not None:
        props["severity"] = corridor.severity.value
    if corridor.classes:
        props["classes"] = sorted(corridor.classes)
    if corridor.subjects:
        props["subjects"] = sorted(corridor.subjects)
    if corridor.roles:
        props["roles"] = sorted(r.value for r in corridor.roles)
    return props


def _lists(value: Any) -> Any:
    return [_lists(v) for v in value] if isinstance(value, list | tuple) else value


def to_geojson(corridors: Iterable[Corridor]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the corridors; load_corridors reads it back unchanged."""
    features = [
        {
            "type": "Feature",
            "id": c.id,
            "properties": corridor_properties(c),
            "geometry": {
                "type": c.geometry.geom_type,
                "coordinates": _lists(mapping(c.geometry)["coordinates"]),
            },
        }
        for c in corridors
    ]
    return {"type": "FeatureCollection", "features": features}


def dumps_geojson(corridors: Iterable[Corridor]) -> str:
    """The corridors as GeoJSON text."""
    return json.dumps(to_geojson(corridors), ensure_ascii=False, allow_nan=False, indent=1) + "\n"
