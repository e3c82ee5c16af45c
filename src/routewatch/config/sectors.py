"""Sectors: the areas workers own when `run` is scaled out (docs/operator.md, "Scaling out")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from routewatch.config.base import Section, require_unique

SECTOR_ID = r"^[A-Za-z0-9_.-]+$"


class SectorArea(Section):
    """One sector: an id and its area, a GeoJSON polygon written inline or a GeoJSON file."""

    id: str = Field(..., min_length=1, max_length=64, pattern=SECTOR_ID, description="Stable sector id.")
    polygon: dict[str, Any] | None = Field(
        None,
        description="The area as a GeoJSON Polygon or MultiPolygon geometry (lon, lat), e.g. "
        "{type: Polygon, coordinates: [[[lon, lat], ...]]}. Give this or `file`.",
    )
    file: Path | None = Field(
        None,
        description="A GeoJSON file (geometry, Feature or FeatureCollection) whose polygons, unioned, are the "
        "area. Give this or `polygon`.",
    )

    @model_validator(mode="after")
    def _one_area(self) -> SectorArea:
        if (self.polygon is None) == (self.file is None):
            raise ValueError(f"sector {self.id!r}: give exactly one of `polygon` (inline GeoJSON) or `file`")
        if self.polygon is not None and self.polygon.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"sector {self.id!r}: polygon must be a GeoJSON Polygon or MultiPolygon, "
                             f"got type {self.polygon.get('type')!r}")
        return self


class SectorsConfig(Section):
    """Which sector this worker owns. Empty `areas`: no sectors, this worker takes every position."""

    areas: list[SectorArea] = Field(
        default_factory=list,
        description="Every sector, the same list (in the same order) on every worker. A position inside several "
        "belongs to the first listed.",
    )
    own: str | None = Field(
        None, max_length=64,
        description="The id of the sector this worker owns: it raises the alerts of positions in it. Required "
        "with `areas`.",
    )
    default: str | None = Field(
        None, max_length=64,
        description="The sector that owns positions in no sector, so that none is lost (default: the first "
        "listed). Its worker counts them as `sector_unsectored`.",
    )
    margin_m: float = Field(
        300.0, ge=0, le=100_000,
        description="Positions this far outside the owned sector are also processed (never alerted on here), so "
        "a subject arriving from a neighbour comes with its state: pending crossings, hysteresis, confirmation. "
        "At least a subject's longest step between two fixes plus engine.hysteresis_m.",
    )

    @field_validator("areas")
    @classmethod
    def _unique(cls, v: list[SectorArea]) -> list[SectorArea]:
        require_unique((a.id for a in v), "sector id")
        return v

    @model_validator(mode="after")
    def _names(self) -> SectorsConfig:
        ids = [a.id for a in self.areas]
        if not ids:
            if self.own is not None or self.default is not None:
                raise ValueError("sectors.own and sectors.default name sectors: list them in sectors.areas")
            return self
        if self.own is None:
            raise ValueError(f"sectors.own: which sector does this worker own? one of {ids}")
        for key, value in (("own", self.own), ("default", self.default)):
            if value is not None and value not in ids:
                raise ValueError(f"sectors.{key}: {value!r} is not a sector in sectors.areas ({', '.join(ids)})")
        return self

    @property
    def enabled(self) -> bool:
        """Whether this worker owns a sector (rather than everything)."""
        return bool(self.areas)

    @property
    def default_id(self) -> str | None:
        """The sector owning positions in no sector."""
        return self.default if self.default is not None else (self.areas[0].id if self.areas else None)
