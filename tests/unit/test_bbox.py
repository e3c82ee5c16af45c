"""Lon/lat boxes: parsing and checking the areas that queries and exports are narrowed to."""

from __future__ import annotations

import re

import pytest

from routewatch.geo.bbox import BBox, area, parse_bbox


@pytest.mark.parametrize(("text", "expected"), [
    ("5,52,5.5,52.25", BBox(5.0, 52.0, 5.5, 52.25)),
    ("-180,-90,180,90", BBox(-180.0, -90.0, 180.0, 90.0)),
    (" 5 , 52 , 6 , 53 ", BBox(5.0, 52.0, 6.0, 53.0)),
    ("", "4 numbers"),
    ("5,52,6", "4 numbers"),
    ("5,52,6,53,1", "4 numbers"),
    ("a,b,c,d", "not 4 comma-separated numbers"),
    ("5,52,6,", "not 4 comma-separated numbers"),
    ("nan,52,6,53", "finite"),
    ("5,52,inf,53", "finite"),
    ("-181,52,6,53", "minlon"),
    ("5,52,181,53", "maxlon"),
    ("5,-91,6,53", "minlat"),
    ("5,52,6,90.5", "maxlat"),
    ("6,52,5,53", "minlon (6.0) must be less than maxlon"),
    ("5,52,5,53", "minlon (5.0) must be less than maxlon"),
    ("5,53,6,52", "minlat (53.0) must be less than maxlat"),
])
def test_bbox_strings_are_checked(text: str, expected: BBox | str) -> None:
    if isinstance(expected, BBox):
        assert parse_bbox(text) == expected
    else:
        with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            parse_bbox(text)


def test_the_label_names_the_setting_in_the_message() -> None:
    with pytest.raises(ValueError, match=r"^area: minlon \(6\.0\) must be less than maxlon"):
        parse_bbox("6,52,5,53", label="area")


@pytest.mark.parametrize(("values", "says"), [
    ((5, 52, 6, 53), None),
    ((), "4 numbers"),
    ((5, 52, 6), "4 numbers"),
    ((5, 52, 6, 53, 1), "4 numbers"),
    ((5, 52, 5, 53), "minlon (5) must be less than maxlon"),
    ((5, 52, 6, float("nan")), "finite"),
])
def test_an_area_from_numbers_must_have_a_size(values: tuple[float, ...], says: str | None) -> None:
    if says is None:
        assert area(values) == BBox(5.0, 52.0, 6.0, 53.0)
    else:
        with pytest.raises(ValueError, match=re.escape(says)):
            area(values)


@pytest.mark.parametrize(("values", "ok"), [
    ((5.0, 52.0, 5.0, 52.0), True),  # the box of one point has no size, and is a box
    ((5.0, 52.0, 4.0, 53.0), False),
    ((5.0, 52.0, 6.0, 91.0), False),
    ((float("inf"), 52.0, 6.0, 53.0), False),
])
def test_a_box_is_checked_when_made(values: tuple[float, float, float, float], ok: bool) -> None:
    if ok:
        assert BBox(*values).contains(values[0], values[1])
    else:
        with pytest.raises(ValueError, match="bbox"):
            BBox(*values)


def test_contains_polygon_and_text_agree() -> None:
    b = parse_bbox("5,52,5.5,52.25")
    poly = b.polygon()
    assert poly.bounds == b.as_tuple()
    assert b.text() == "5,52,5.5,52.25"
    assert parse_bbox(b.text()) == b
    for lon, lat, inside in ((5.25, 52.1, True), (5.5, 52.25, True), (5.51, 52.1, False), (5.25, 51.99, False)):
        assert b.contains(lon, lat) is inside
