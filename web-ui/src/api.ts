// Thin wrappers over routewatch's JSON API (same origin; the session cookie rides along).

// The response types come from the API's OpenAPI document (src/api-types.ts, generated: `npm run gen:api`).
import type { components } from "./api-types";

type Schemas = components["schemas"];

export type Me = Schemas["Me"];
/** An alert; `snapshot_url` ("/api/alerts/{id}/snapshot", or null) comes from the REST API, not the live stream. */
export type Alert = Schemas["AlertOut"] & Partial<Pick<Schemas["ApiAlert"], "snapshot_url">>;
export type AlertEvent = Schemas["AlertEventOut"];
export type TrackPoint = Schemas["TrackPoint"];
export type AlertDetail = Schemas["AlertDetail"];
export type AlertPage = Schemas["AlertPage"];

/** A live position (`event: position` on /api/live): SSE payloads are not in the OpenAPI document. */
export interface Position {
  subject_id: string; time: string; lon: number; lat: number; subject_class: string | null;
  role: string; heading_deg: number | null; speed_m_s: number | null;
  /** The sensor that reported it; "world" for a world track's position (the fused estimate). */
  source: string;
}

/** GeoJSON as the UI edits it: a Feature's `id` is set on corridors (the API's CorridorFeature). */
export type Geometry = Schemas["Feature"]["geometry"];
export type Feature = Schemas["Feature"] & { id?: string };
export interface FeatureCollection { type: "FeatureCollection"; features: Feature[] }
export type CorridorFeature = Schemas["CorridorFeature"];

export type CorridorVersion = Schemas["CorridorVersionOut"];
export type VersionFeature = Schemas["VersionFeature"];
export type ImportResult = Schemas["CorridorImport"];

/** A backtest's answer (POST /api/backtest): alerts the corridors would have opened beside those opened. */
export type BacktestReport = Schemas["BacktestReport"];
export type CoverageInterval = Schemas["CoverageInterval"];
export type CoverageGap = Schemas["CoverageGap"];
export type CorridorCoverage = Schemas["CorridorCoverage"];
/** GET /api/coverage: per corridor the table's numbers, and `layer` (features with `layer` "covered" or "interval"). */
export type CoverageReport = Schemas["CoverageReport"];

export type ReplayFrame = Schemas["ReplayFrame"];
export type ReplayBoxes = Schemas["ReplayBoxes"];
export type ReplayPosition = Schemas["ReplayPosition"];
export type ReplayPositions = Schemas["ReplayPositions"];
export type ReplayCamera = Schemas["ReplayCamera"];
export type Sortie = Schemas["Sortie"];
export type Sorties = Schemas["Sorties"];
/** Corridors in force at t (GET /api/replay/corridors), and `raised`: versions the window's alerts were raised
 * against where another (or none) is in force then. */
export type CorridorsAt = Schemas["CorridorsAt"];
/** Footprints (GET /api/replay/footprints): polygons with camera, kind, start and end (exclusive). */
export type Footprints = Schemas["Footprints"];
export type Basemap = Schemas["Basemap"];
export type User = Schemas["UserOut"];

export class ApiError extends Error {
  /** Seconds to wait from a Retry-After header (429), if any. */
  retryAfter: number | null = null;

  constructor(public status: number, public body: unknown) {
    super(detailText((body as { detail?: unknown } | null)?.detail) ?? `HTTP ${status}`);
  }
}

/** A `detail` as text: a string, or FastAPI's list of {loc, msg} (request validation) joined. */
function detailText(detail: unknown): string | null {
  if (detail == null) return null;
  if (!Array.isArray(detail)) return String(detail);
  return detail.map((d: { loc?: unknown[]; msg?: string }) =>
    `${(d.loc ?? []).filter((p) => p !== "body").join(".")}: ${d.msg ?? JSON.stringify(d)}`).join("; ");
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: {} };
  if (body instanceof Blob) {
    init.body = body;
    (init.headers as Record<string, string>)["Content-Type"] = "application/octet-stream";
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data: unknown = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    const wait = Number(res.headers.get("Retry-After"));
    if (wait > 0) err.retryAfter = wait;
    throw err;
  }
  return data as T;
}

export const api = {
  login: (username: string, password: string) => call<User>("POST", "/api/login", { username, password }),
  logout: () => call<null>("POST", "/api/logout"),
  me: () => call<Me>("GET", "/api/me"),
  basemap: () => call<Basemap>("GET", "/api/basemap"),
  alerts: (limit = 500) => call<AlertPage>("GET", `/api/alerts?limit=${limit}`),
  alert: (id: string) => call<AlertDetail>("GET", `/api/alerts/${encodeURIComponent(id)}`),
  ack: (id: string, comment: string) => call<Schemas["ApiAlert"]>("POST", `/api/alerts/${encodeURIComponent(id)}/ack`, { comment }),
  dismiss: (id: string, comment: string) =>
    call<Schemas["ApiAlert"]>("POST", `/api/alerts/${encodeURIComponent(id)}/dismiss`, { comment }),
  corridors: () => call<Schemas["CorridorSet"]>("GET", "/api/corridors"),
  createCorridor: (f: Feature, comment: string) =>
    call<CorridorFeature>("POST", `/api/corridors?comment=${encodeURIComponent(comment)}`, f),
  history: (id: string) => call<CorridorVersion[]>("GET", `/api/corridors/${encodeURIComponent(id)}/history`),
  version: (id: string, v: number) =>
    call<VersionFeature>("GET", `/api/corridors/${encodeURIComponent(id)}/versions/${v}`),
  importFile: (file: File, comment: string) => call<ImportResult>("POST",
    `/api/corridors/import?filename=${encodeURIComponent(file.name)}&comment=${encodeURIComponent(comment)}`, file),
  /** `corridors`: a draft set, or null for the set in force. */
  backtest: (from: string, to: string, corridors: FeatureCollection | null) =>
    call<BacktestReport>("POST", "/api/backtest", { from, to, corridors }),
  /** `corridor`: one id or "" for all; `versions`: "current" (in force now) or "history" (as they were). */
  coverage: (from: string, to: string, corridor: string, versions: string) => call<CoverageReport>("GET",
    `/api/coverage?${new URLSearchParams({ from, to, versions, ...(corridor ? { corridor } : {}) })}`),
  /** Alerts opened in [since, until) (at most 500). */
  alertsBetween: (since: string, until: string) =>
    call<AlertPage>("GET", `/api/alerts?${new URLSearchParams({ since, until, limit: "500" })}`),
  /** The oldest frames in the window (at most the server's cap, or `limit`); `truncated`: ask on from `next`. */
  replayBoxes: (camera: string, from: string, to: string, limit = 0) => call<ReplayBoxes>("GET",
    `/api/replay/boxes?${new URLSearchParams({ camera, from, to, ...(limit ? { limit: String(limit) } : {}) })}`),
  /** `bbox`: "minlon,minlat,maxlon,maxlat" (only positions inside), or "" for anywhere. */
  replayPositions: (from: string, to: string, bbox = "") => call<ReplayPositions>(
    "GET", `/api/replay/positions?${new URLSearchParams({ from, to, ...(bbox ? { bbox } : {}) })}`),
  replayCameras: () => call<Schemas["ReplayCameras"]>("GET", "/api/replay/cameras"),
  replaySorties: (from: string, to: string, bbox = "") => call<Sorties>("GET",
    `/api/replay/sorties?${new URLSearchParams({ from, to, ...(bbox ? { bbox } : {}) })}`),
  replayCorridors: (t: string, from: string, to: string) => call<CorridorsAt>("GET",
    `/api/replay/corridors?${new URLSearchParams({ t, from, to })}`),
  replayFootprints: (from: string, to: string, camera: string) => call<Footprints>("GET",
    `/api/replay/footprints?${new URLSearchParams({ from, to, camera })}`),
  updateCorridor: (id: string, f: Feature, comment: string) =>
    call<CorridorFeature>("PUT", `/api/corridors/${encodeURIComponent(id)}?comment=${encodeURIComponent(comment)}`, f),
};
