"""Corridors compiled into a local metric frame and indexed for fast point and segment tests."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry

from routewatch.geo.crs import FloatArray, LocalFrame
from routewatch.geo.linear import CentreLine
from routewatch.model import Corridor, CorridorKind

# A corridor whose bounding box covers more grid cells than this is found through an STRtree.
MAX_CELLS = 20_000
# Cell (i, j) is keyed as i * _ROW + j: one int, cheap to hash and to compute vectorised.
_ROW = 1 << 32


def cell_key(x: float, y: float, cell_m: float) -> int:
    """Grid key of the cell holding (x, y)."""
    return math.floor(x / cell_m) * _ROW + math.floor(y / cell_m)


@dataclass(frozen=True, slots=True)
class Compiled:
    """One corridor in metres: core area, outer (hysteresis) area, line, centre-line."""

    index: int
    corridor: Corridor
    core: BaseGeometry | None
    outer: BaseGeometry | None
    line_xy: tuple[FloatArray, ...] = ()
    centre: CentreLine | None = None


@dataclass(frozen=True, slots=True)
class Crossing:
    """A segment crossed a line geofence: where along the segment, and which way."""

    index: int
    frac: float
    left_to_right: bool


def compile_corridor(index: int, corridor: Corridor, frame: LocalFrame, hysteresis_m: float) -> Compiled:
    """Project a corridor into the frame and build its test geometries."""
    geom = frame.to_local(corridor.geometry)
    if corridor.kind is CorridorKind.LINE:
        parts = geom.geoms if isinstance(geom, MultiLineString) else [geom]
        arrays = tuple(np.asarray(p.coords, dtype=np.float64)[:, :2] for p in parts)
        return Compiled(index, corridor, None, None, line_xy=arrays)
    centre = None
    if isinstance(geom, LineString | MultiLineString):
        width = corridor.width_m or 0.0
        core = geom.buffer(width / 2.0, cap_style="flat")
        if isinstance(geom, LineString):
            centre = CentreLine([(float(x), float(y)) for x, y, *_ in geom.coords])
    else:
        core = geom
    outer = core.buffer(hysteresis_m) if hysteresis_m > 0 else core
    shapely.prepare(core)
    shapely.prepare(outer)
    return Compiled(index, corridor, core, outer, centre=centre)


class CorridorIndex:
    """Grid index over compiled corridors; exact tests on prepared geometries."""

    def __init__(
        self, corridors: Sequence[Corridor], frame: LocalFrame, *, hysteresis_m: float, cell_m: float
    ) -> None:
        self.frame = frame
        self.cell_m = float(cell_m)
        self.compiled = tuple(compile_corridor(i, c, frame, hysteresis_m) for i, c in enumerate(corridors))
        self._areas: dict[int, list[tuple[int, bool]]] = defaultdict(list)
        self._lines: dict[int, list[int]] = defaultdict(list)
        big_areas: list[int] = []
        big_lines: list[int] = []
        for comp in self.compiled:
            if comp.outer is not None:
                if not self._grid_area(comp):
                    big_areas.append(comp.index)
            elif not self._grid_line(comp):
                big_lines.append(comp.index)
        self._big_areas = big_areas
        self._big_area_tree = shapely.STRtree([self.compiled[i].outer for i in big_areas])
        self._flatten_grid()
        self.line_cells = frozenset(self._lines)
        self._big_lines = big_lines
        self.has_big_lines = bool(big_lines)
        line_geoms = [MultiLineString(list(self.compiled[i].line_xy)) for i in big_lines]
        self._big_line_tree = shapely.STRtree(line_geoms)

    def _flatten_grid(self) -> None:
        """The area grid as sorted arrays, for vectorised candidate look-up in batches."""
        keys = sorted(self._areas)
        self._grid_keys = np.array(keys, dtype=np.int64)
        self._grid_count = np.array([len(self._areas[k]) for k in keys], dtype=np.int64)
        self._grid_start = np.concatenate([[0], np.cumsum(self._grid_count)[:-1]]).astype(np.int64)
        entries = [e for k in keys for e in self._areas[k]]
        self._grid_idx = np.array([e[0] for e in entries], dtype=np.int64)
        self._grid_full = np.array([e[1] for e in entries], dtype=bool)
        none = shapely.points(0.0, 0.0)
        self._cores = np.array([c.core if c.core is not None else none for c in self.compiled], dtype=object)
        self._outers = np.array([c.outer if c.outer is not None else none for c in self.compiled], dtype=object)

    def _cells(self, geom: BaseGeometry) -> tuple[FloatArray, FloatArray, list[BaseGeometry]] | None:
        c = self.cell_m
        minx, miny, maxx, maxy = geom.bounds
        i0, i1 = math.floor(minx / c), math.floor(maxx / c)
        j0, j1 = math.floor(miny / c), math.floor(maxy / c)
        if (i1 - i0 + 1) * (j1 - j0 + 1) > MAX_CELLS:
            return None
        gi, gj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
        ii, jj = gi.ravel(), gj.ravel()
        boxes = shapely.box(ii * c, jj * c, (ii + 1) * c, (jj + 1) * c)
        return ii.astype(np.float64), jj.astype(np.float64), list(boxes)

    def _grid_area(self, comp: Compiled) -> bool:
        assert comp.outer is not None and comp.core is not None
        cells = self._cells(comp.outer)
        if cells is None:
            return False
        ii, jj, boxes = cells
        arr = np.array(boxes, dtype=object)
        hit = shapely.intersects(comp.outer, arr)
        full = shapely.contains(comp.core, arr)
        for i, j, h, f in zip(ii.astype(int), jj.astype(int), hit, full, strict=True):
            if h:
                self._areas[int(i) * _ROW + int(j)].append((comp.index, bool(f)))
        return True

    def _grid_line(self, comp: Compiled) -> bool:
        geom = MultiLineString(list(comp.line_xy))
        cells = self._cells(geom)
        if cells is None:
            return False
        ii, jj, boxes = cells
        hit = shapely.intersects(geom, np.array(boxes, dtype=object))
        for i, j, h in zip(ii.astype(int), jj.astype(int), hit, strict=True):
            if h:
                self._lines[int(i) * _ROW + int(j)].append(comp.index)
        return True

    def areas_at(self, x: float, y: float) -> list[tuple[int, bool]]:
        """Areas whose outer boundary holds the point, each with whether the core holds it."""
        return self.areas_in_cell(x, y, cell_key(x, y, self.cell_m))

    def areas_in_cell(self, x: float, y: float, key: int) -> list[tuple[int, bool]]:
        """`areas_at` for a point whose cell key is already known."""
        out: list[tuple[int, bool]] = []
        cand = self._areas.get(key)
        if cand:
            for idx, full in cand:
                if full:
                    out.append((idx, True))
                    continue
                comp = self.compiled[idx]
                # The core lies inside the outer area, so a point in the core needs no second test.
                if shapely.contains_xy(comp.core, x, y):
                    out.append((idx, True))
                elif shapely.contains_xy(comp.outer, x, y):
                    out.append((idx, False))
        if self._big_areas:
            for k in self._big_area_tree.query(shapely.points(x, y), predicate="intersects"):
                comp = self.compiled[self._big_areas[int(k)]]
                out.append((comp.index, bool(shapely.contains_xy(comp.core, x, y))))
        return out

    def cell_keys(self, xs: FloatArray, ys: FloatArray) -> npt.NDArray[np.int64]:
        """Grid keys of many points (vectorised)."""
        c = self.cell_m
        return np.floor(xs / c).astype(np.int64) * _ROW + np.floor(ys / c).astype(np.int64)

    def areas_at_many(self, xs: FloatArray, ys: FloatArray, keys: npt.NDArray[np.int64] | None = None
                      ) -> list[Sequence[tuple[int, bool]]]:
        """`areas_at` for many points: candidates expanded and tested in whole-array calls."""
        n = len(xs)
        if keys is None:
            keys = self.cell_keys(xs, ys)
        out: list[Sequence[tuple[int, bool]]] = [()] * n
        grid_keys = self._grid_keys
        if len(grid_keys):
            pos = np.minimum(np.searchsorted(grid_keys, keys), len(grid_keys) - 1)
            pts = np.nonzero(grid_keys[pos] == keys)[0]
            counts = self._grid_count[pos[pts]]
            total = int(counts.sum())
            if total:
                p = np.repeat(pts, counts)
                offs = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
                flat = np.repeat(self._grid_start[pos[pts]], counts) + offs
                c = self._grid_idx[flat]
                core = self._grid_full[flat].copy()
                test = np.nonzero(~core)[0]
                if len(test):
                    core[test] = shapely.contains_xy(self._cores[c[test]], xs[p[test]], ys[p[test]])
                outer = core.copy()
                test = np.nonzero(~core)[0]
                if len(test):
                    outer[test] = shapely.contains_xy(self._outers[c[test]], xs[p[test]], ys[p[test]])
                keep = np.nonzero(outer)[0]
                for k, idx, cc in zip(p[keep].tolist(), c[keep].tolist(), core[keep].tolist(), strict=True):
                    row = out[k]
                    if not row:
                        row = out[k] = []
                    row.append((idx, cc))
        if self._big_areas:
            pk, tk = self._big_area_tree.query(shapely.points(xs, ys), predicate="intersects")
            for k, t in zip(pk.tolist(), tk.tolist(), strict=True):
                comp = self.compiled[self._big_areas[t]]
                row = out[k] = list(out[k])
                row.append((comp.index, bool(shapely.contains_xy(comp.core, xs[k], ys[k]))))
        return out

    def lines_crossed(self, x0: float, y0: float, x1: float, y1: float) -> list[Crossing]:
        """Line geofences that the segment (x0, y0)-(x1, y1) crosses."""
        c = self.cell_m
        i0, i1 = sorted((math.floor(x0 / c), math.floor(x1 / c)))
        j0, j1 = sorted((math.floor(y0 / c), math.floor(y1 / c)))
        cand: set[int] = set()
        if (i1 - i0 + 1) * (j1 - j0 + 1) <= 64:
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    cand.update(self._lines.get(i * _ROW + j, ()))
        else:
            cand.update(k for comp in self.compiled if comp.line_xy for k in [comp.index])
        if self._big_lines:
            seg = shapely.linestrings([(x0, y0), (x1, y1)])
            cand.update(self._big_lines[int(k)] for k in self._big_line_tree.query(seg))
        out: list[Crossing] = []
        for idx in sorted(cand):
            hit = _first_crossing(self.compiled[idx].line_xy, x0, y0, x1, y1)
            if hit is not None:
                out.append(Crossing(idx, hit[0], hit[1]))
        return out


def _first_crossing(
    parts: tuple[FloatArray, ...], x0: float, y0: float, x1: float, y1: float
) -> tuple[float, bool] | None:
    """Earliest proper crossing of a segment with a polyline: (fraction along segment, left->right)."""
    best: tuple[float, bool] | None = None
    dx, dy = x1 - x0, y1 - y0
    for arr in parts:
        ax, ay = arr[:-1, 0], arr[:-1, 1]
        ex, ey = arr[1:, 0] - ax, arr[1:, 1] - ay
        denom = dx * ey - dy * ex
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((ax - x0) * ey - (ay - y0) * ex) / denom
            u = ((ax - x0) * dy - (ay - y0) * dx) / denom
        # Half-open on the segment: a fix exactly on the line belongs to the segment that reached it.
        # On the line, half-open too (a shared vertex counts once), except at the line's very end.
        u_ok = u < 1
        u_ok[-1] = u[-1] <= 1
        ok = (denom != 0) & (t > 0) & (t <= 1) & (u >= 0) & u_ok
        if not ok.any():
            continue
        k = int(np.argmin(np.where(ok, t, np.inf)))
        # The start point lies left of the line segment when cross(e, p0 - a) > 0.
        left_before = (ex[k] * (y0 - ay[k]) - ey[k] * (x0 - ax[k])) > 0
        cand = (float(t[k]), bool(left_before))
        if best is None or cand[0] < best[0]:
            best = cand
    return best

