"""KML corridor files: import Placemarks (and KMZ archives) through the GeoJSON validation, and export.

Corridor properties travel as ExtendedData Data/SimpleData elements with the GeoJSON property
names; values there are text, so they are converted to numbers and lists before validation.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import Any
from xml.etree import ElementTree as ET

from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped]
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from routewatch.geo.corridors import MAX_BYTES, MAX_FEATURES, corridor_properties, file_error, validate_features
from routewatch.model import Corridor

KML_NS = "http://www.opengis.net/kml/2.2"
_NUMBERS = {"width_m": float, "min_dwell_s": float, "min_progress_m": float, "version": int, "min_sensors": int,
            "confirm_s": float}
_GEOMETRIES = {"Point", "LineString", "LinearRing", "Polygon", "MultiGeometry", "Model", "Track", "MultiTrack"}
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# KML colours are aabbggrr
_STYLES = {"corridor": "ff00a5ff", "exclusion": "ff0000ff", "operating_area": "ff00ff00", "line": "ffff00ff"}


def parse_kml(text: str | bytes, *, default_version: int = 1) -> tuple[Corridor, ...]:
    """Validate a KML document (or KMZ bytes) and return the corridors of its Placemarks."""
    if isinstance(text, bytes) and text.startswith(b"PK"):
        text = _unzip(text)
    if len(text) > MAX_BYTES:
        raise file_error(f"KML is {len(text)} bytes; the limit is {MAX_BYTES}")
    try:
        root: ET.Element = SafeET.fromstring(text)
    except ET.ParseError as e:
        raise file_error(f"not well-formed XML: {e}") from None
    except ValueError as e:  # defusedxml refuses DTDs, entities and external references
        raise file_error(f"refused unsafe XML ({type(e).__name__}); a KML file needs no DTD or entities") from None
    if _local(root.tag) != "kml":
        raise file_error(f"not a KML document: the root element is <{_local(root.tag)}>, not <kml>")
    placemarks = [el for el in root.iter() if _local(el.tag) == "Placemark"]
    if len(placemarks) > MAX_FEATURES:
        raise file_error(f"{len(placemarks)} Placemarks; the limit is {MAX_FEATURES}")
    return validate_features([_feature(pm) for pm in placemarks], default_version=default_version)


def _unzip(data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            kmls = [i for i in archive.infolist() if i.filename.lower().endswith(".kml")]
            if not kmls:
                raise file_error("KMZ archive holds no .kml file")
            # the KMZ convention: doc.kml if present, else the first .kml in the archive
            info = next((i for i in kmls if i.filename.lower() == "doc.kml"), kmls[0])
            with archive.open(info) as f:
                return f.read(MAX_BYTES + 1)  # the header's size may lie; read at most one byte too many
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as e:
        # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks
        raise file_error(f"not a valid KMZ (zip) archive: {e}") from None


def _feature(pm: ET.Element) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for ext in _children(pm, "ExtendedData"):
        for el in ext.iter():
            if _local(el.tag) == "Data":
                value = next(_children(el, "value"), None)
                props[el.get("name", "")] = (value.text or "") if value is not None else ""
            elif _local(el.tag) == "SimpleData":
                props[el.get("name", "")] = el.text or ""
    name = next(_children(pm, "name"), None)
    if name is not None and (name.text or "").strip():
        props["name"] = (name.text or "").strip()
    props = {k: _typed(k, v.strip()) for k, v in props.items() if v.strip()}
    feature: dict[str, Any] = {"type": "Feature", "properties": props}
    if pm.get("id") is not None:
        feature["id"] = pm.get("id")
    geometry = next((el for el in pm if _local(el.tag) in _GEOMETRIES), None)
    feature["geometry"] = None if geometry is None else _geometry(geometry)
    return feature


def _typed(key: str, value: str) -> object:
    if key in _NUMBERS:
        try:
            return _NUMBERS[key](value)
        except ValueError:
            return value  # left as text, so validation reports it as not a number
    if key in ("classes", "subjects", "roles"):
        if value.startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return [c.strip() for c in value.split(",") if c.strip()]
    return value


def _geometry(el: ET.Element) -> dict[str, Any]:
    kind = _local(el.tag)
    if kind == "Point":
        return {"type": "Point", "coordinates": next(iter(_coords(el)), [])}
    if kind in ("LineString", "LinearRing"):
        return {"type": "LineString", "coordinates": _coords(el)}
    if kind == "Polygon":
        outer = [_coords(r) for b in _children(el, "outerBoundaryIs") for r in _children(b, "LinearRing")]
        inner = [_coords(r) for b in _children(el, "innerBoundaryIs") for r in _children(b, "LinearRing")]
        return {"type": "Polygon", "coordinates": [*outer[:1], *inner] if outer else []}
    if kind != "MultiGeometry":
        return {"type": f"KML {kind}"}
    parts = list(_parts(el))
    types = sorted({p["type"] for p in parts})
    if len(types) == 1 and types[0] in ("Polygon", "LineString", "Point"):
        return {"type": "Multi" + types[0], "coordinates": [p["coordinates"] for p in parts]}
    if not parts:
        return {"type": "MultiPolygon", "coordinates": []}
    # the validator names the type in its message: "MultiGeometry of LineString+Polygon not supported"
    return {"type": f"MultiGeometry of {'+'.join(types)}"}


def _parts(el: ET.Element) -> Iterator[dict[str, Any]]:
    for child in el:
        if _local(child.tag) == "MultiGeometry":
            yield from _parts(child)
        elif _local(child.tag) in _GEOMETRIES:
            yield _geometry(child)


def _coords(el: ET.Element) -> list[list[Any]]:
    text = " ".join(c.text or "" for c in _children(el, "coordinates"))
    # some writers put spaces after the commas inside a tuple
    tuples = re.sub(r"\s*,\s*", ",", text.strip()).split()
    return [[_float(v) for v in t.split(",")] for t in tuples]


def _float(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in el if _local(child.tag) == name)


def to_kml(corridors: Iterable[Corridor], *, name: str = "routewatch corridors") -> str:
    """The corridors as a KML document; parse_kml reads it back unchanged."""
    ET.register_namespace("", KML_NS)
    root = ET.Element(_q("kml"))
    doc = ET.SubElement(root, _q("Document"))
    ET.SubElement(doc, _q("name")).text = name
    for kind, colour in _STYLES.items():
        style = ET.SubElement(doc, _q("Style"), id=f"kind-{kind}")
        line = ET.SubElement(style, _q("LineStyle"))
        ET.SubElement(line, _q("color")).text = colour
        ET.SubElement(line, _q("width")).text = "3"
        ET.SubElement(ET.SubElement(style, _q("PolyStyle")), _q("color")).text = "40" + colour[2:]
    for c in corridors:
        pm = ET.SubElement(doc, _q("Placemark"))
        if _NCNAME.fullmatch(c.id):
            pm.set("id", c.id)
        if c.name:
            ET.SubElement(pm, _q("name")).text = c.name
        ET.SubElement(pm, _q("styleUrl")).text = f"#kind-{c.kind.value}"
        ext = ET.SubElement(pm, _q("ExtendedData"))
        for key, value in corridor_properties(c).items():
            if key != "name":
                data = ET.SubElement(ext, _q("Data"), name=key)
                ET.SubElement(data, _q("value")).text = _text(value)
        _write_geometry(pm, c.geometry)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _text(value: object) -> str:
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return repr(value) if isinstance(value, float) else str(value)


def _write_geometry(parent: ET.Element, geom: BaseGeometry) -> None:
    if isinstance(geom, MultiPolygon | MultiLineString):
        multi = ET.SubElement(parent, _q("MultiGeometry"))
        for part in geom.geoms:
            _write_geometry(multi, part)
    elif isinstance(geom, LineString):
        line = ET.SubElement(parent, _q("LineString"))
        ET.SubElement(line, _q("tessellate")).text = "1"
        ET.SubElement(line, _q("coordinates")).text = _coord_text(geom.coords)
    elif isinstance(geom, Polygon):
        poly = ET.SubElement(parent, _q("Polygon"))
        for boundary, ring in [("outerBoundaryIs", geom.exterior)] + [("innerBoundaryIs", r) for r in geom.interiors]:
            ring_el = ET.SubElement(ET.SubElement(poly, _q(boundary)), _q("LinearRing"))
            ET.SubElement(ring_el, _q("coordinates")).text = _coord_text(ring.coords)
    else:
        raise ValueError(f"cannot write a {geom.geom_type} to KML")


def _coord_text(coords: Iterable[tuple[float, ...]]) -> str:
    return " ".join(f"{p[0]!r},{p[1]!r}" for p in coords)


def _q(name: str) -> str:
    return f"{{{KML_NS}}}{name}"
