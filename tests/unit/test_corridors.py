"""Corridor files: GeoJSON loading, validation messages, export, fence files and the real data files."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon

from routewatch.geo.corridors import (
    MAX_BYTES,
    MAX_FEATURES,
    CorridorError,
    Problem,
    dumps_geojson,
    load_corridors,
    parse_geojson,
    to_geojson,
)
from routewatch.geo.fencefile import parse_fence_file
from routewatch.model import Corridor, CorridorKind, Direction, Role, Severity
from tests.kits.require import require_file

GEO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "geo"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "corridors.geojson"

# a 450 x 560 m square at the CMAC field, counter-clockwise
SQUARE = [[149.160, -35.365], [149.165, -35.365], [149.165, -35.360], [149.160, -35.360], [149.160, -35.365]]
HOLE = [[149.161, -35.364], [149.162, -35.364], [149.162, -35.363], [149.161, -35.364]]
TRACK = [[149.1555, -35.372], [149.159, -35.368], [149.1605, -35.364]]
# south of -80°, drawn the way Natural Earth draws Antarctica: along the pole from -180 to 180
CAP = [[-180.0, -90.0], [180.0, -90.0], [180.0, -80.0], [0.0, -80.0], [-180.0, -80.0], [-180.0, -90.0]]


def fc(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def feature(geometry: Any, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def polygon(*rings: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def line(coords: Any) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": coords}


GOOD = feature(polygon(SQUARE), id="good", kind="exclusion")


def problems_of(doc: Any, **kw: Any) -> tuple[Problem, ...]:
    with pytest.raises(CorridorError) as info:
        parse_geojson(doc, **kw)
    return info.value.problems


# --- good files load to exact values -------------------------------------------------------------

GOOD_ROWS = [
    ("empty collection", fc(), ()),
    (
        "exclusion polygon, defaults",
        fc(feature(polygon(SQUARE), id="a", kind="exclusion")),
        (Corridor("a", Polygon(SQUARE), kind=CorridorKind.EXCLUSION),),
    ),
    (
        "centre-line with every property",
        fc(
            feature(
                line(TRACK),
                id="creek",
                name="Creek",
                kind="corridor",
                width_m=60,
                direction="reverse",
                classes=["person", "car", "person"],
                min_dwell_s=30,
                min_progress_m=150.5,
                severity="critical",
                version=4,
            )
        ),
        (
            Corridor(
                "creek",
                LineString(TRACK),
                name="Creek",
                width_m=60.0,
                direction=Direction.REVERSE,
                classes=frozenset({"person", "car"}),
                min_dwell_s=30.0,
                min_progress_m=150.5,
                severity=Severity.CRITICAL,
                version=4,
            ),
        ),
    ),
    (
        "kind defaults to corridor; Feature id; nulls are absent",
        fc({"type": "Feature", "id": "b", "properties": {"name": None, "severity": None}, "geometry": polygon(SQUARE)}),
        (Corridor("b", Polygon(SQUARE)),),
    ),
    (
        "null properties with a Feature id",
        fc({"type": "Feature", "id": "c", "properties": None, "geometry": polygon(SQUARE)}),
        (Corridor("c", Polygon(SQUARE)),),
    ),
    (
        "clockwise exterior is reoriented, Z dropped, repeats removed",
        fc(feature(polygon([[x, y, 580.0] for x, y in [*SQUARE[:2], SQUARE[1], *SQUARE[2:]][::-1]]), id="d")),
        (Corridor("d", Polygon(SQUARE[::-1]).reverse()),),
    ),
    (
        "polygon with a hole (hole oriented clockwise)",
        fc(feature(polygon(SQUARE, HOLE), id="e", kind="operating_area", subjects=["uav-1"])),
        (
            Corridor(
                "e",
                Polygon(SQUARE, [HOLE[::-1]]),
                kind=CorridorKind.OPERATING_AREA,
                subjects=frozenset({"uav-1"}),
            ),
        ),
    ),
    (
        "an exclusion our patrols may not enter (roles)",
        fc(feature(polygon(SQUARE), id="nofly", kind="exclusion", roles=["patrol"])),
        (Corridor("nofly", Polygon(SQUARE), kind=CorridorKind.EXCLUSION, roles=frozenset({Role.PATROL})),),
    ),
    (
        "a line that asks for two sensors within 20 s (corroboration)",
        fc(feature(line(TRACK), id="gate2", kind="line", min_sensors=2, confirm_s=20)),
        (Corridor("gate2", LineString(TRACK), kind=CorridorKind.LINE, min_sensors=2, confirm_s=20.0),),
    ),
    (
        "an edge along the south pole is not an antimeridian crossing",
        fc(feature(polygon(CAP), id="cap")),
        (Corridor("cap", Polygon(CAP)),),
    ),
    (
        "MultiLineString line and MultiPolygon exclusion",
        fc(
            feature({"type": "MultiLineString", "coordinates": [TRACK, SQUARE[:3]]}, id="f", kind="line"),
            feature({"type": "MultiPolygon", "coordinates": [[SQUARE]]}, id="g", kind="exclusion", classes=[]),
        ),
        (
            Corridor("f", MultiLineString([TRACK, SQUARE[:3]]), kind=CorridorKind.LINE),
            Corridor("g", MultiPolygon([Polygon(SQUARE)]), kind=CorridorKind.EXCLUSION),
        ),
    ),
]


@pytest.mark.parametrize(("doc", "expected"), [r[1:] for r in GOOD_ROWS], ids=[r[0] for r in GOOD_ROWS])
def test_good_files_load_exactly(doc: dict[str, Any], expected: tuple[Corridor, ...]) -> None:
    got = parse_geojson(doc)
    assert got == expected
    for c, e in zip(got, expected, strict=True):
        assert c.geometry.equals_exact(e.geometry, 0.0) and not c.geometry.has_z


def test_default_version_applies_unless_the_feature_has_one() -> None:
    doc = fc(GOOD, feature(polygon(SQUARE), id="v7", version=7))
    assert [c.version for c in parse_geojson(doc, default_version=3)] == [3, 7]


# --- every validation problem names the feature, and nothing is returned -------------------------

BOWTIE = [[149.16, -35.365], [149.165, -35.36], [149.165, -35.365], [149.16, -35.36], [149.16, -35.365]]
BAD_ROWS: list[tuple[str, Any, str | None, str]] = [
    ("missing id", feature(polygon(SQUARE)), None, "missing id"),
    ("duplicate id", feature(polygon(SQUARE), id="good"), "good", "duplicate id 'good' (also feature 0)"),
    ("id not a string", feature(polygon(SQUARE), id=42), None, "id 42 must be a string"),
    ("id with spaces", feature(polygon(SQUARE), id="north gap"), None, "id 'north gap' must be a string of 1-64"),
    ("id too long", feature(polygon(SQUARE), id="x" * 65), None, "must be a string of 1-64"),
    ("empty id", feature(polygon(SQUARE), id=""), None, "id '' must be a string"),
    (
        "ids disagree",
        {"type": "Feature", "id": "a", "properties": {"id": "b"}, "geometry": polygon(SQUARE)},
        "b",
        "properties.id 'b' differs from the Feature id 'a'",
    ),
    ("not a Feature", polygon(SQUARE), None, "not a GeoJSON Feature (type 'Polygon')"),
    ("feature is a string", "x", None, "not a GeoJSON Feature (type 'str')"),
    (
        "properties a list",
        {"type": "Feature", "id": "p", "properties": [], "geometry": polygon(SQUARE)},
        "p",
        "properties must be an object",
    ),
    (
        "unknown kind",
        feature(polygon(SQUARE), id="k", kind="fence"),
        "k",
        "kind 'fence' is not one of corridor, exclusion, operating_area, line",
    ),
    ("Point", feature({"type": "Point", "coordinates": [149.16, -35.36]}, id="pt"), "pt", "a Point is not a geofence"),
    (
        "MultiPoint",
        feature({"type": "MultiPoint", "coordinates": [[149.16, -35.36]]}, id="mp"),
        "mp",
        "a MultiPoint is not a geofence",
    ),
    (
        "GeometryCollection",
        feature({"type": "GeometryCollection", "geometries": []}, id="gc"),
        "gc",
        "'GeometryCollection' not supported",
    ),
    ("no geometry", feature(None, id="ng"), "ng", "no geometry"),
    (
        "exclusion as a line",
        feature(line(TRACK), id="x1", kind="exclusion"),
        "x1",
        "kind exclusion needs a Polygon or MultiPolygon, got LineString",
    ),
    (
        "operating area as a line",
        feature(line(TRACK), id="x2", kind="operating_area"),
        "x2",
        "kind operating_area needs a Polygon",
    ),
    (
        "line as a polygon",
        feature(polygon(SQUARE), id="x3", kind="line"),
        "x3",
        "kind line needs a LineString or MultiLineString, got Polygon",
    ),
    ("centre-line without width", feature(line(TRACK), id="w0"), "w0", "needs width_m > 0"),
    ("width zero", feature(line(TRACK), id="w1", width_m=0), "w1", "width_m must be a positive number, got 0"),
    ("width negative", feature(line(TRACK), id="w2", width_m=-5), "w2", "width_m must be a positive number, got -5"),
    ("width text", feature(line(TRACK), id="w3", width_m="60"), "w3", "width_m must be a positive number, got '60'"),
    ("width bool", feature(line(TRACK), id="w4", width_m=True), "w4", "width_m must be a positive number, got True"),
    ("width too big", feature(line(TRACK), id="w5", width_m=60_000), "w5", "width_m 60000 is above the limit of 50000"),
    (
        "width on a polygon",
        feature(polygon(SQUARE), id="w6", width_m=50),
        "w6",
        "width_m only applies to a corridor drawn as a LineString",
    ),
    (
        "unknown direction",
        feature(line(TRACK), id="d1", width_m=9, direction="north"),
        "d1",
        "direction 'north' is not one of forward, reverse, both",
    ),
    (
        "direction on a polygon",
        feature(polygon(SQUARE), id="d2", direction="forward"),
        "d2",
        "direction needs a corridor centre-line, not a corridor Polygon; draw the corridor as a LineString",
    ),
    (
        "direction on a line",
        feature(line(TRACK), id="d3", kind="line", direction="both"),
        "d3",
        "direction needs a corridor centre-line, not a line LineString",
    ),
    (
        "classes a string",
        feature(polygon(SQUARE), id="c1", classes="person"),
        "c1",
        "classes must be a list of non-empty strings, got 'person'",
    ),
    (
        "classes not strings",
        feature(polygon(SQUARE), id="c2", classes=[1]),
        "c2",
        "classes must be a list of non-empty strings",
    ),
    (
        "roles empty",
        feature(polygon(SQUARE), id="r1", kind="exclusion", roles=[]),
        "r1",
        "roles must be a non-empty list of patrol, target, got []",
    ),
    (
        "roles unknown",
        feature(polygon(SQUARE), id="r2", kind="exclusion", roles=["ours"]),
        "r2",
        "roles must be a non-empty list of patrol, target, got ['ours']",
    ),
    (
        "roles on an operating area",
        feature(polygon(SQUARE), id="r3", kind="operating_area", roles=["target"]),
        "r3",
        "roles does not apply to an operating_area",
    ),
    (
        "subjects on an exclusion",
        feature(polygon(SQUARE), id="s1", kind="exclusion", subjects=["uav"]),
        "s1",
        "subjects (our patrol assets) only applies to an operating_area",
    ),
    (
        "dwell negative",
        feature(polygon(SQUARE), id="m1", min_dwell_s=-1),
        "m1",
        "min_dwell_s must be a positive number, got -1",
    ),
    (
        "progress text",
        feature(polygon(SQUARE), id="m2", min_progress_m="far"),
        "m2",
        "min_progress_m must be a positive number, got 'far'",
    ),
    (
        "unknown severity",
        feature(polygon(SQUARE), id="sv", severity="urgent"),
        "sv",
        "severity 'urgent' is not one of info, low, medium, high, critical",
    ),
    ("sensors zero", feature(polygon(SQUARE), id="ms0", min_sensors=0), "ms0",
     "min_sensors must be an integer from 1 to 32, got 0"),
    ("sensors float", feature(polygon(SQUARE), id="ms1", min_sensors=2.5), "ms1",
     "min_sensors must be an integer from 1 to 32, got 2.5"),
    ("sensors bool", feature(polygon(SQUARE), id="ms2", min_sensors=True), "ms2",
     "min_sensors must be an integer from 1 to 32, got True"),
    ("sensors too many", feature(polygon(SQUARE), id="ms3", min_sensors=33), "ms3",
     "min_sensors must be an integer from 1 to 32, got 33"),
    ("confirm without sensors", feature(polygon(SQUARE), id="cs0", confirm_s=10), "cs0",
     "confirm_s is how long an alert waits for min_sensors sensors: set min_sensors of 2 or more"),
    ("confirm negative", feature(polygon(SQUARE), id="cs1", min_sensors=2, confirm_s=-1), "cs1",
     "confirm_s must be a positive number, got -1"),
    ("confirm too long", feature(polygon(SQUARE), id="cs2", min_sensors=2, confirm_s=7200), "cs2",
     "confirm_s 7200 is above the limit of 3600"),
    ("version zero", feature(polygon(SQUARE), id="v0", version=0), "v0", "version must be a positive integer, got 0"),
    (
        "version float",
        feature(polygon(SQUARE), id="v1", version=1.5),
        "v1",
        "version must be a positive integer, got 1.5",
    ),
    ("name not text", feature(polygon(SQUARE), id="n1", name=5), "n1", "name must be a string, got 5"),
    (
        "coordinates not an array",
        feature({"type": "Polygon", "coordinates": "149,-35"}, id="g1"),
        "g1",
        "coordinates must be an array, got '149,-35'",
    ),
    (
        "coordinate text",
        feature(line([["149.16", -35.36], [149.17, -35.36]]), id="g2", kind="line"),
        "g2",
        "coordinates[0] must be a [lon, lat] pair of finite numbers",
    ),
    (
        "coordinate NaN",
        feature(line([[149.16, math.nan], [149.17, -35.36]]), id="g3", kind="line"),
        "g3",
        "coordinates[0] must be a [lon, lat] pair of finite numbers, got [149.16, nan]",
    ),
    (
        "coordinate infinite",
        feature(polygon([*SQUARE[:2], [math.inf, 0.0], *SQUARE[2:]]), id="g4"),
        "g4",
        "coordinates[0][2] must be a [lon, lat] pair",
    ),
    (
        "coordinate one number",
        feature(line([[149.16], [149.17, -35.36]]), id="g5", kind="line"),
        "g5",
        "coordinates[0] must be a [lon, lat] pair",
    ),
    (
        "longitude out of range",
        feature(line([[190.0, -35.0], [189.0, -35.0]]), id="r1", kind="line"),
        "r1",
        "coordinate (190.0, -35.0) out of range (lon -180..180, lat -90..90)",
    ),
    (
        "latitude out of range",
        feature(line([[170.0, 95.0], [170.0, 80.0]]), id="r2", kind="line"),
        "r2",
        "coordinate (170.0, 95.0) out of range",
    ),
    (
        "lat/lon swapped",
        feature(polygon([[y, x] for x, y in SQUARE]), id="north-gap"),
        "north-gap",
        "lat/lon swapped? (-35.365, 149.16) is out of range as lon,lat but every point fits as lat,lon",
    ),
    ("empty polygon", feature(polygon(), id="e1"), "e1", "empty geometry: the Polygon has no coordinates"),
    ("empty ring", feature(polygon([]), id="e2"), "e2", "empty geometry"),
    ("empty line", feature(line([]), id="e3", kind="line"), "e3", "empty geometry: the LineString has no coordinates"),
    (
        "line of one point",
        feature(line([TRACK[0]]), id="l1", kind="line"),
        "l1",
        "line has 1 points after removing repeats; a line needs at least 2",
    ),
    (
        "line of a repeated point",
        feature(line([TRACK[0], TRACK[0]]), id="l2", kind="line"),
        "l2",
        "a line needs at least 2",
    ),
    (
        "ring of three",
        feature(polygon([SQUARE[0], SQUARE[1], SQUARE[0]]), id="l3"),
        "l3",
        "ring 0 has 3 points after removing repeats; a ring needs at least 4",
    ),
    (
        "ring not closed",
        feature(polygon(SQUARE[:4]), id="l4"),
        "l4",
        "ring 0 is not closed: first point (149.16, -35.365) differs from last (149.16, -35.36)",
    ),
    (
        "antimeridian",
        feature(line([[179.5, -16.5], [-179.5, -16.6]]), id="fiji", kind="line"),
        "fiji",
        "line crosses the antimeridian between (179.5, -16.5) and (-179.5, -16.6)",
    ),
    (
        "self-intersection",
        feature(polygon(BOWTIE), id="north-gap"),
        "north-gap",
        "invalid geometry: self-intersection near (149.1625, -35.3625)",
    ),
    (
        "hole outside",
        feature(polygon(SQUARE, [[x + 0.01, y] for x, y in HOLE]), id="h1"),
        "h1",
        "invalid geometry: hole lies outside shell near",
    ),
    (
        "overlapping parts",
        feature({"type": "MultiPolygon", "coordinates": [[SQUARE], [[[x + 0.001, y] for x, y in SQUARE]]]}, id="h2"),
        "h2",
        "invalid geometry: self-intersection near",
    ),
]


@pytest.mark.parametrize(("bad", "fid", "message"), [r[1:] for r in BAD_ROWS], ids=[r[0] for r in BAD_ROWS])
def test_each_problem_names_the_feature_and_nothing_loads(bad: Any, fid: str | None, message: str) -> None:
    problems = problems_of(fc(GOOD, bad))
    assert all(p.index == 1 for p in problems), problems
    assert any(message in p.message for p in problems), problems
    named = f"feature 1 (id {fid!r})" if fid else "feature 1: "
    assert any(message in str(p) and str(p).startswith(named) for p in problems)


def test_error_lists_every_problem_one_per_line() -> None:
    doc = fc(feature(polygon(BOWTIE), id="north-gap"), GOOD, feature({"type": "Point", "coordinates": [1, 2]}))
    with pytest.raises(CorridorError) as info:
        parse_geojson(doc)
    assert str(info.value).splitlines() == [
        "feature 0 (id 'north-gap'): invalid geometry: self-intersection near (149.1625, -35.3625)",
        "feature 2: missing id (set properties.id or the Feature's id)",
        "feature 2: a Point is not a geofence: draw a Polygon around the place, or a LineString with width_m",
    ]
    assert isinstance(info.value, ValueError)


# --- file-level problems --------------------------------------------------------------------------

FILE_ROWS: list[tuple[str, Any, str | None]] = [
    ("empty text", "", "empty input: no GeoJSON or KML to load"),
    ("whitespace", b"   \n", "empty input: no GeoJSON or KML to load"),
    ("plain text", "hello", "not GeoJSON or KML: input starts with b'hello' (to load a file, pass a Path)"),
    (
        "truncated JSON",
        '{"type": "FeatureCollection",\n "features": [}',
        "not valid JSON: Expecting value at line 2 column 15",
    ),
    (
        "trailing comma",
        '{"type": "FeatureCollection", "features": [],}',
        "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 46",
    ),
    ("not UTF-8", b'{"type": "\xff"}', "not UTF-8 text: bad byte at offset 10"),
    ("a Feature", json.dumps(GOOD), "not a GeoJSON FeatureCollection (type 'Feature')"),
    ("a list", b"{}", "not a GeoJSON FeatureCollection (type None)"),
    ("no features", '{"type": "FeatureCollection"}', "FeatureCollection has no 'features' list"),
    (
        "projected crs",
        '{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}, "features": []}',
        "coordinates must be WGS84 lon/lat (RFC 7946), but the file declares crs 'EPSG:3857'",
    ),
    (
        "CRS84 is fine, empty collection is empty",
        '{"type": "FeatureCollection", "crs": {"properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},'
        ' "features": []}',
        None,
    ),
    (
        "features not a list",
        '{"type": "FeatureCollection", "features": {}}',
        "FeatureCollection has no 'features' list",
    ),
    ("too many bytes", b"{" + b" " * MAX_BYTES, f"input is {MAX_BYTES + 1} bytes; the limit is {MAX_BYTES}"),
    (
        "too many features",
        json.dumps(fc(*[GOOD] * (MAX_FEATURES + 1))),
        f"{MAX_FEATURES + 1} features; the limit is {MAX_FEATURES}",
    ),
]


@pytest.mark.parametrize(("source", "message"), [r[1:] for r in FILE_ROWS], ids=[r[0] for r in FILE_ROWS])
def test_file_level_problems(source: str | bytes, message: str | None) -> None:
    if message is None:
        assert load_corridors(source) == ()
        return
    with pytest.raises(CorridorError) as info:
        load_corridors(source)
    assert [str(p) for p in info.value.problems] == [message]
    assert info.value.problems[0].index is None


def test_json_list_is_not_a_collection() -> None:
    with pytest.raises(CorridorError, match=r"not a GeoJSON FeatureCollection \(type 'list'\)"):
        parse_geojson([])  # type: ignore[arg-type]


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.geojson"
    with path.open("wb") as f:
        f.truncate(MAX_BYTES + 1)
    with pytest.raises(CorridorError, match=f"file is {MAX_BYTES + 1} bytes; the limit is {MAX_BYTES}"):
        load_corridors(path)


# --- load_corridors: sources and detection --------------------------------------------------------

DOC = json.dumps(fc(GOOD))
SOURCE_ROWS = [
    ("str", DOC),
    ("bytes", DOC.encode()),
    ("bytes with BOM", b"\xef\xbb\xbf" + DOC.encode()),
    ("str with BOM and blank lines", "\ufeff\n\n " + DOC),
    ("long leading whitespace", b"\n" * 200 + DOC.encode()),
]


@pytest.mark.parametrize("source", [r[1] for r in SOURCE_ROWS], ids=[r[0] for r in SOURCE_ROWS])
def test_load_detects_geojson_content(source: str | bytes) -> None:
    assert [c.id for c in load_corridors(source)] == ["good"]


@pytest.mark.parametrize("suffix", [".geojson", ".json", ".txt", ""])
def test_load_from_path(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"c{suffix}"
    path.write_text(DOC)
    assert [c.id for c in load_corridors(path, default_version=2)] == ["good"]
    assert load_corridors(path, default_version=2)[0].version == 2


def test_geojson_suffix_reports_json_errors_with_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text("\n\n  [1, 2,,]")
    with pytest.raises(CorridorError, match="not valid JSON: Expecting value at line 3 column 9"):
        load_corridors(path)


# --- export ---------------------------------------------------------------------------------------


def test_example_file_loads_and_round_trips() -> None:
    corridors = load_corridors(EXAMPLE)
    assert [(c.id, c.kind) for c in corridors] == [
        ("west-boundary", CorridorKind.LINE),
        ("creek-track", CorridorKind.CORRIDOR),
        ("hangar-exclusion", CorridorKind.EXCLUSION),
        ("cmac-patrol-area", CorridorKind.OPERATING_AREA),
    ]
    creek = corridors[1]
    assert (creek.width_m, creek.direction, creek.classes) == (60.0, Direction.FORWARD, {"person", "car", "truck"})
    assert load_corridors(dumps_geojson(corridors)) == corridors
    assert parse_geojson(json.loads(json.dumps(to_geojson(corridors)))) == corridors


def test_export_writes_ids_and_leaves_defaults_out() -> None:
    c = Corridor("a", LineString(TRACK), width_m=20.0, classes=frozenset({"car", "bus"}))
    [f] = to_geojson([c])["features"]
    assert f["id"] == "a"
    assert f["properties"] == {"id": "a", "kind": "corridor", "version": 1, "width_m": 20.0, "classes": ["bus", "car"]}
    assert f["geometry"] == {"type": "LineString", "coordinates": TRACK}
    assert to_geojson([]) == fc()


# --- ArduPilot / MAVProxy fence files -------------------------------------------------------------

FENCE = "-35.363720\t149.163651\n-35.358738\t149.165070\n-35.359295\t149.154434\n-35.372292\t149.157135\n"
FENCE_RING = [(149.16507, -35.358738), (149.154434, -35.359295), (149.157135, -35.372292), (149.16507, -35.358738)]
FENCE_ROWS = [
    ("tabs, closed", FENCE + "-35.358738\t149.165070\n", FENCE_RING),
    ("open ring is closed", FENCE, FENCE_RING),
    (
        "spaces, CRLF, comments",
        "# fence\r\n" + FENCE.replace("\t", "   ").replace("\n", "\r\n") + "\r\n\r\n",
        FENCE_RING,
    ),
    ("bytes", FENCE.encode(), FENCE_RING),
    (
        "clockwise is reoriented",
        FENCE.split("\n")[0] + "\n" + "\n".join(FENCE.split("\n")[1:4][::-1]),
        FENCE_RING[::-1],
    ),
]


@pytest.mark.parametrize(("text", "ring"), [r[1:] for r in FENCE_ROWS], ids=[r[0] for r in FENCE_ROWS])
def test_fence_file(text: str | bytes, ring: list[tuple[float, float]]) -> None:
    c = parse_fence_file(text, id="fence", name="CMAC")
    assert (c.id, c.kind, c.name) == ("fence", CorridorKind.OPERATING_AREA, "CMAC")
    assert shapely.is_ccw(c.geometry.exterior)
    assert Polygon(ring).normalize().equals_exact(c.geometry.normalize(), 0.0)


FENCE_BAD_ROWS = [
    ("empty", "", "a fence file needs a return point and at least 3 vertices, got 0 points"),
    ("return point only", FENCE.split("\n")[0], "needs a return point and at least 3 vertices, got 1 points"),
    ("text in a line", FENCE + "north\teast\n", "line 5: expected 'lat lon', got 'north\\teast'"),
    ("three numbers", FENCE + "1 2 3\n", "line 5: expected 'lat lon', got '1 2 3'"),
    ("a mission file", "QGC WPL 110\n0\t0\t0\t16\n", "this is a QGC WPL mission file, not a fence file"),
    ("lon lat order", "\n".join(" ".join(ln.split("\t")[::-1]) for ln in FENCE.splitlines()), "lat/lon swapped?"),
    ("self-intersecting", FENCE + "-35.368290 149.166809\n-35.372292 149.157135\n", "invalid geometry"),
]


@pytest.mark.parametrize(("text", "message"), [r[1:] for r in FENCE_BAD_ROWS], ids=[r[0] for r in FENCE_BAD_ROWS])
def test_fence_file_problems(text: str, message: str) -> None:
    with pytest.raises(CorridorError) as info:
        parse_fence_file(text, id="fence")
    assert any(message in str(p) and str(p).startswith("feature 0 (id 'fence')") for p in info.value.problems)


def test_fence_file_kind_must_fit() -> None:
    with pytest.raises(CorridorError, match="kind line needs a LineString"):
        parse_fence_file(FENCE, id="fence", kind=CorridorKind.LINE)
    assert parse_fence_file(FENCE, id="fence", kind=CorridorKind.EXCLUSION).kind is CorridorKind.EXCLUSION


# --- the real files in shared/data/geo ------------------------------------------------------------


def real(name: str) -> Path:
    return require_file(GEO / name)


def test_real_cmac_fence_file_imports_with_the_file_vertices() -> None:
    path = real("ardupilot_CMAC-fence.txt")
    c = parse_fence_file(path.read_text(), id="cmac-fence", name="CMAC fence")
    assert c.kind is CorridorKind.OPERATING_AREA and c.geometry.geom_type == "Polygon"
    lines = [ln.split("\t") for ln in path.read_text().splitlines()]
    from_file = [(float(lon), float(lat)) for lat, lon in lines[1:]]
    assert list(c.geometry.exterior.coords) == from_file  # already counter-clockwise, so unchanged
    # the real flight (lon 149.16544..149.16597 at lat -35.3621) crosses the east edge
    assert c.geometry.contains(shapely.Point(149.16545, -35.3621))
    assert not c.geometry.contains(shapely.Point(149.16595, -35.3621))


def test_real_derived_geojson_is_refused_until_fixed() -> None:
    doc = json.loads(real("cmac_fence_and_circuit.derived.geojson").read_text())
    kinds = "is not one of corridor, exclusion, operating_area, line"
    # its kinds are ArduPilot's words, not ours, so they are refused too (and nothing that follows from them)
    assert [str(p) for p in problems_of(doc)] == [
        "feature 0: missing id (set properties.id or the Feature's id)",
        f"feature 0: kind 'fence_inclusion' {kinds}",
        "feature 1: missing id (set properties.id or the Feature's id)",
        f"feature 1: kind 'fence_return_point' {kinds}",
        "feature 1: a Point is not a geofence: draw a Polygon around the place, or a LineString with width_m",
        "feature 2: missing id (set properties.id or the Feature's id)",
        f"feature 2: kind 'route' {kinds}",
    ]

    fixed = copy.deepcopy(doc)
    fixed["features"] = [f for f in fixed["features"] if f["geometry"]["type"] != "Point"]
    fixed["features"][0]["properties"].update(id="cmac-fence", kind="operating_area")
    fixed["features"][1]["properties"].update(id="cmac-circuit", kind="corridor", width_m=30, direction="forward")
    fence, circuit = parse_geojson(fixed)
    assert (fence.kind, circuit.kind, circuit.width_m) == (CorridorKind.OPERATING_AREA, CorridorKind.CORRIDOR, 30.0)
    assert len(circuit.geometry.coords) == 6


def test_real_natural_earth_borders_load_as_lines() -> None:
    doc = json.loads(real("ne_50m_admin_0_boundary_lines_land.geojson").read_text())
    raw = copy.deepcopy(doc)
    with pytest.raises(CorridorError, match="feature 0: missing id"):
        parse_geojson(raw)
    for i, f in enumerate(doc["features"]):
        f["properties"].update(id=f"ne50-{i}", kind="line")
    borders = parse_geojson(doc)
    assert len(borders) == 361
    assert {c.kind for c in borders} == {CorridorKind.LINE}
    multi = [c for c in borders if c.geometry.geom_type == "MultiLineString"]
    assert [c.id for c in multi] == ["ne50-179"] and len(multi[0].geometry.geoms) > 1
    # no land border reaches the antimeridian, so none is refused for crossing it
    assert max(abs(x) for c in borders for x in c.geometry.bounds[::2]) < 180
    # repeated vertices in the source are removed on import
    assert len(borders[19].geometry.coords) < len(raw["features"][19]["geometry"]["coordinates"])
    assert all(c.name == "" for c in borders)  # Natural Earth writes name: null


def test_real_natural_earth_countries_load_as_exclusions_except_an_invalid_one() -> None:
    doc = json.loads(real("ne_110m_admin_0_countries.geojson").read_text())
    for f in doc["features"]:
        f["properties"] = {"id": f["properties"]["ADM0_A3"], "kind": "exclusion", "name": f["properties"]["NAME"]}
    # Natural Earth's 1:110m Sudan ring touches itself; the other 176 (Fiji and Russia are already cut at
    # 180°, Antarctica's ring runs along the pole from 180 to -180) are valid
    assert [str(p) for p in problems_of(doc)] == [
        "feature 139 (id 'SDN'): invalid geometry: self-intersection near (33.963393, 9.464285)"
    ]
    del doc["features"][139]
    countries = {c.id: c for c in parse_geojson(doc)}
    assert len(countries) == 176
    assert countries["AUS"].geometry.contains(shapely.Point(149.165, -35.362))
    assert countries["FJI"].geometry.bounds[::2] == (-180.0, 180.0)
