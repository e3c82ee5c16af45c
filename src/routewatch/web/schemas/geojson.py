"""GeoJSON (RFC 7946) as the API sends it: corridors, footprints and coverage layers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, JsonValue

from routewatch.web.schemas.base import Out


def _plain(value: object) -> object:
    """`value` with tuples as lists (Shapely's `mapping` gives tuples, which are no JSON value to pydantic)."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# A GeoJSON geometry object (type, coordinates; or geometries for a collection).
Geometry = Annotated[dict[str, JsonValue], BeforeValidator(_plain)]


class Feature(Out):
    """A GeoJSON Feature."""

    type: Literal["Feature"]
    geometry: Geometry
    properties: dict[str, JsonValue]


class CorridorFeature(Feature):
    """One corridor version as a GeoJSON Feature (its properties are those of the corridor file)."""

    id: str


class FeatureCollection(Out):
    """A GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[Feature]


class CorridorSet(Out):
    """A corridor set as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[CorridorFeature]
