"""KML corridor files: import of Placemarks and KMZ, the problems KML can have, and export."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from shapely.geometry import LineString, MultiPolygon, Polygon

from routewatch.geo.corridors import MAX_FEATURES, CorridorError, load_corridors
from routewatch.geo.kml import parse_kml, to_kml
from routewatch.model import Corridor, CorridorKind, Direction, Severity

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "corridors.geojson"
NS = 'xmlns="http://www.opengis.net/kml/2.2"'
SQUARE = [(149.16, -35.365), (149.165, -35.365), (149.165, -35.36), (149.16, -35.36), (149.16, -35.365)]
SQUARE_TEXT = " ".join(f"{x},{y},0" for x, y in SQUARE)
HOLE = [(149.161, -35.364), (149.161, -35.363), (149.162, -35.363), (149.161, -35.364)]
TRACK = [(149.1555, -35.372), (149.159, -35.368), (149.1605, -35.364)]
TRACK_TEXT = " ".join(f"{x},{y}" for x, y in TRACK)
BOWTIE = [(149.16, -35.365), (149.165, -35.36), (149.165, -35.365), (149.16, -35.36), (149.16, -35.365)]


def kml(body: str, ns: str = NS) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<kml {ns}><Document>{body}</Document></kml>'


def poly(coords: str = SQUARE_TEXT, inner: str = "") -> str:
    holes = f"<innerBoundaryIs><LinearRing><coordinates>{inner}</coordinates></LinearRing></innerBoundaryIs>"
    return (
        f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{coords}</coordinates></LinearRing></outerBoundaryIs>"
        f"{holes if inner else ''}</Polygon>"
    )


def text(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def linestring(coords: str = TRACK_TEXT) -> str:
    return f"<LineString><coordinates>{coords}</coordinates></LineString>"


def data(**props: str) -> str:
    items = "".join(f'<Data name="{k}"><value>{v}</value></Data>' for k, v in props.items())
    return f"<ExtendedData>{items}</ExtendedData>"


def kmz(doc: str, name: str = "doc.kml") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("files/readme.txt", "not KML")
        z.writestr(name, doc)
    return buf.getvalue()


GOOD_ROWS = [
    ("empty document", kml(""), ()),
    (
        "polygon with name, id attribute and Data",
        kml(
            f'<Placemark id="hangar"><name> Hangar </name>{data(kind="exclusion", severity="high")}{poly()}</Placemark>'
        ),
        (Corridor("hangar", Polygon(SQUARE), kind=CorridorKind.EXCLUSION, name="Hangar", severity=Severity.HIGH),),
    ),
    (
        "centre-line, SimpleData, id in ExtendedData, classes as a comma list",
        kml(
            '<Folder><Placemark><ExtendedData><SchemaData schemaUrl="#s">'
            '<SimpleData name="id">creek</SimpleData><SimpleData name="width_m">60</SimpleData>'
            '<SimpleData name="direction">both</SimpleData><SimpleData name="classes">person, car</SimpleData>'
            '<SimpleData name="min_progress_m">150</SimpleData><SimpleData name="version">3</SimpleData>'
            f"</SchemaData></ExtendedData><LineString><tessellate>1</tessellate><coordinates>\n\t{TRACK_TEXT}\n"
            "</coordinates></LineString></Placemark></Folder>"
        ),
        (
            Corridor(
                "creek",
                LineString(TRACK),
                width_m=60.0,
                direction=Direction.BOTH,
                classes=frozenset({"person", "car"}),
                min_progress_m=150.0,
                version=3,
            ),
        ),
    ),
    (
        "no namespace, spaces after commas, classes as JSON, empty values are absent",
        kml(
            f'<Placemark id="a">{data(classes=r"[&quot;truck&quot;]", severity="", kind="exclusion")}'
            f"{poly(' '.join(f'{x}, {y}' for x, y in SQUARE))}</Placemark>",
            ns="",
        ),
        (Corridor("a", Polygon(SQUARE), kind=CorridorKind.EXCLUSION, classes=frozenset({"truck"})),),
    ),
    (
        "Google's KML 2.1 namespace, clockwise ring and hole reoriented",
        kml(
            f'<Placemark id="b">{poly(text(SQUARE[::-1]), text(HOLE[::-1]))}</Placemark>',
            ns='xmlns="http://earth.google.com/kml/2.1"',
        ),
        (Corridor("b", Polygon(SQUARE, [HOLE])),),
    ),
    (
        "MultiGeometry of polygons, nested",
        kml(
            f'<Placemark id="m">{data(kind="operating_area", subjects="uav-1,uav-2")}'
            f"<MultiGeometry>{poly()}<MultiGeometry>{poly(' '.join(f'{x + 0.01},{y}' for x, y in SQUARE))}"
            "</MultiGeometry></MultiGeometry></Placemark>"
        ),
        (
            Corridor(
                "m",
                MultiPolygon([Polygon(SQUARE), Polygon([(x + 0.01, y) for x, y in SQUARE])]),
                kind=CorridorKind.OPERATING_AREA,
                subjects=frozenset({"uav-1", "uav-2"}),
            ),
        ),
    ),
]


@pytest.mark.parametrize(("doc", "expected"), [r[1:] for r in GOOD_ROWS], ids=[r[0] for r in GOOD_ROWS])
def test_good_kml_loads_exactly(doc: str, expected: tuple[Corridor, ...]) -> None:
    got = parse_kml(doc)
    assert got == expected
    assert parse_kml(doc.encode()) == expected
    assert all(not c.geometry.has_z for c in got)


OK = f'<Placemark id="ok">{poly()}</Placemark>'
BAD_ROWS: list[tuple[str, str, str]] = [
    (
        "Point",
        '<Placemark id="p"><Point><coordinates>149.16,-35.36,0</coordinates></Point></Placemark>',
        "feature 1 (id 'p'): a Point is not a geofence",
    ),
    (
        "points in a MultiGeometry",
        '<Placemark id="p"><MultiGeometry><Point><coordinates>149.16,-35.36</coordinates></Point>'
        "</MultiGeometry></Placemark>",
        "feature 1 (id 'p'): a MultiPoint is not a geofence",
    ),
    (
        "mixed MultiGeometry",
        f'<Placemark id="mx"><MultiGeometry>{poly()}{linestring()}</MultiGeometry></Placemark>',
        "feature 1 (id 'mx'): geometry type 'MultiGeometry of LineString+Polygon' not supported",
    ),
    ("no geometry", '<Placemark id="n"><name>x</name></Placemark>', "feature 1 (id 'n'): no geometry"),
    (
        "a gx:Track",
        '<Placemark id="t" xmlns:gx="http://www.google.com/kml/ext/2.2"><gx:Track/></Placemark>',
        "feature 1 (id 't'): geometry type 'KML Track' not supported",
    ),
    ("empty MultiGeometry", '<Placemark id="e"><MultiGeometry/></Placemark>', "feature 1 (id 'e'): empty geometry"),
    (
        "polygon without outer boundary",
        '<Placemark id="o"><Polygon/></Placemark>',
        "feature 1 (id 'o'): empty geometry",
    ),
    ("missing id", f"<Placemark><name>Gap</name>{poly()}</Placemark>", "feature 1: missing id"),
    (
        "ids disagree",
        f'<Placemark id="a">{data(id="b")}{poly()}</Placemark>',
        "feature 1 (id 'b'): properties.id 'b' differs from the Feature id 'a'",
    ),
    (
        "duplicate id",
        f'<Placemark id="ok">{poly()}</Placemark>',
        "feature 1 (id 'ok'): duplicate id 'ok' (also feature 0)",
    ),
    (
        "width not a number",
        f'<Placemark id="w">{data(width_m="wide")}{linestring()}</Placemark>',
        "feature 1 (id 'w'): width_m must be a positive number, got 'wide'",
    ),
    (
        "version not an integer",
        f'<Placemark id="v">{data(version="2.5")}{poly()}</Placemark>',
        "feature 1 (id 'v'): version must be a positive integer, got '2.5'",
    ),
    (
        "classes broken JSON",
        f'<Placemark id="c">{data(classes="[person")}{poly()}</Placemark>',
        "feature 1 (id 'c'): classes must be a list of non-empty strings, got '[person'",
    ),
    (
        "unknown kind",
        f'<Placemark id="k">{data(kind="zone")}{poly()}</Placemark>',
        "feature 1 (id 'k'): kind 'zone' is not one of",
    ),
    (
        "coordinate not a number",
        f'<Placemark id="x">{poly("149.16,abc 149.17,-35.36 149.17,-35.37 149.16,abc")}</Placemark>',
        "feature 1 (id 'x'): coordinates[0][0] must be a [lon, lat] pair of finite numbers, got [149.16, 'abc']",
    ),
    (
        "lat,lon order",
        f'<Placemark id="s">{poly(" ".join(f"{y},{x}" for x, y in SQUARE))}</Placemark>',
        "feature 1 (id 's'): lat/lon swapped?",
    ),
    (
        "ring not closed",
        f'<Placemark id="r">{poly(" ".join(f"{x},{y}" for x, y in SQUARE[:4]))}</Placemark>',
        "feature 1 (id 'r'): ring 0 is not closed",
    ),
    (
        "self-intersection",
        f'<Placemark id="north-gap">{poly(text(BOWTIE))}</Placemark>',
        "feature 1 (id 'north-gap'): invalid geometry: self-intersection near (149.1625, -35.3625)",
    ),
    (
        "antimeridian",
        f'<Placemark id="am">{data(kind="line")}{linestring("179.9,-16 -179.9,-16")}</Placemark>',
        "feature 1 (id 'am'): line crosses the antimeridian",
    ),
]


@pytest.mark.parametrize(("bad", "message"), [r[1:] for r in BAD_ROWS], ids=[r[0] for r in BAD_ROWS])
def test_each_kml_problem_names_the_placemark_and_nothing_loads(bad: str, message: str) -> None:
    with pytest.raises(CorridorError) as info:
        parse_kml(kml(OK + bad))
    assert any(str(p).startswith(message) for p in info.value.problems), info.value.problems


BOMB = '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><kml>&b;</kml>'
EXTERNAL = '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]><kml>&x;</kml>'
FILE_ROWS: list[tuple[str, str | bytes, str]] = [
    (
        "mismatched tag",
        kml("<Placemark>\n<name>x</Placemark>"),
        "not well-formed XML: mismatched tag: line 3, column 9",
    ),
    ("truncated", kml("")[:-10], "not well-formed XML: unclosed token: line 2"),
    ("not KML", '<?xml version="1.0"?><gpx><trk/></gpx>', "not a KML document: the root element is <gpx>, not <kml>"),
    ("entity expansion", BOMB, "refused unsafe XML (EntitiesForbidden); a KML file needs no DTD or entities"),
    ("external entity", EXTERNAL, "refused unsafe XML (EntitiesForbidden)"),
    ("KMZ without KML", kmz("x", name="doc.txt"), "KMZ archive holds no .kml file"),
    ("broken KMZ", b"PK\x03\x04 not really a zip", "not a valid KMZ (zip) archive"),
    ("corrupt KMZ member", kmz(kml(OK) * 50).replace(b"Placemark", b"Placemarx"), "not a valid KMZ (zip) archive"),
    (
        "too many placemarks",
        kml(OK * (MAX_FEATURES + 1)),
        f"{MAX_FEATURES + 1} Placemarks; the limit is {MAX_FEATURES}",
    ),
]


@pytest.mark.parametrize(("source", "message"), [r[1:] for r in FILE_ROWS], ids=[r[0] for r in FILE_ROWS])
def test_kml_file_problems(source: str | bytes, message: str) -> None:
    with pytest.raises(CorridorError) as info:
        load_corridors(source)
    [problem] = info.value.problems
    assert problem.index is None and str(problem).startswith(message), problem


def test_kmz_and_paths_are_detected(tmp_path: Path) -> None:
    doc = kml(OK)
    assert [c.id for c in parse_kml(kmz(doc))] == ["ok"]
    for name, content in [("a.kml", doc.encode()), ("b.kmz", kmz(doc)), ("c.xml", doc.encode())]:
        (tmp_path / name).write_bytes(content)
        assert [c.id for c in load_corridors(tmp_path / name)] == ["ok"]
    (tmp_path / "d.kml").write_text("not xml at all")
    with pytest.raises(CorridorError, match="not well-formed XML: syntax error: line 1, column 0"):
        load_corridors(tmp_path / "d.kml")


def test_example_round_trips_through_kml() -> None:
    corridors = load_corridors(EXAMPLE)
    text = to_kml(corridors)
    assert parse_kml(text) == corridors
    assert load_corridors(text.encode()) == corridors
    assert '<Data name="width_m">' in text and "<name>Creek track, south-west to north-east</name>" in text


def test_ids_that_are_not_xml_names_travel_in_extended_data() -> None:
    c = Corridor("1st:gap", LineString(TRACK), kind=CorridorKind.LINE, name="<&> gap", classes=frozenset({"a,b"}))
    text = to_kml([c])
    assert 'id="1st:gap"' not in text and "&lt;&amp;&gt; gap" in text
    assert parse_kml(text) == (c,)


def test_export_refuses_geometry_kml_cannot_hold() -> None:
    from shapely.geometry import Point

    with pytest.raises(ValueError, match="cannot write a Point to KML"):
        to_kml([Corridor("p", Point(1, 2))])


def test_corridors_module_offers_the_kml_and_fence_functions_too() -> None:
    from routewatch.geo import corridors

    example = load_corridors(EXAMPLE)
    assert corridors.parse_kml(corridors.to_kml(example, name="x")) == example
    fence = corridors.parse_fence_file("0 0\n-35.36 149.16\n-35.36 149.17\n-35.37 149.17\n", id="f")
    assert fence.kind is CorridorKind.OPERATING_AREA and fence.geometry.area > 0
