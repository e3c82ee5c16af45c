"""GeoJSON (RFC 7946) as the API sends it: corridors, footprints and coverage layers."""

from __future__ import annotations

from typing import Literal

from pydantic import JsonValue

from routewatch.web.schemas.base import Out

# A GeoJSON geometry object (type, coordinates; or geometries for a collection).
Geometry = dict[str, JsonValue]


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
