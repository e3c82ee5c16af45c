// Thin wrappers over routewatch's JSON API (same origin; the session cookie rides along).

export interface Me { name: string; role: string; via: string; permissions: string[] }

export interface Alert {
  id: string; kind: string; corridor_id: string; corridor_version: number;
  subject_id: string; subject_class: string | null;
  opened_at: string; last_seen: string; closed_at: string | null;
  lat: number; lon: number; heading_deg: number | null; speed_m_s: number | null;
  progress_m: number | null; severity: string; state: string; updates: number;
  detail: string; source: string; evidence: string[];
  /** "/api/alerts/{id}/snapshot" (a JPEG from the camera that saw it), or null/absent when there is none. */
  snapshot_url?: string | null;
}

export interface AlertEvent { seq: number; change: string; time: string; state: string; actor: string; comment: string }
export interface TrackPoint { time: string; lon: number; lat: number }
export interface AlertDetail extends Alert { dismissed: boolean; events: AlertEvent[]; track: TrackPoint[] }

export interface Position {
  subject_id: string; time: string; lon: number; lat: number; subject_class: string | null;
  role: string; heading_deg: number | null; speed_m_s: number | null;
}

export type Geometry = { type: string; coordinates: unknown };
export interface Feature { type: "Feature"; id?: string; properties: Record<string, unknown>; geometry: Geometry }
export interface FeatureCollection { type: "FeatureCollection"; features: Feature[] }

export interface CorridorVersion { version: number; author: string; comment: string; created_at: string; deleted: boolean }
export interface ImportResult { filename: string; imported: { id: string; version: number }[] }

/** A backtest's answer (POST /api/backtest): alerts the corridors would have opened beside those opened. */
export interface BacktestReport {
  from: string; to: string; warmup_s: number; corridors: string[];
  observations: number; observations_per_s: number | null; elapsed_s: number; not_evaluated: number;
  counts: { added: number; removed: number; unchanged: number };
  added: Alert[]; removed: Alert[]; unchanged: Alert[];
}

/** One covered interval of a corridor: [from, to) with the fraction of it in some footprint, and by whom. */
export interface CoverageInterval { from: string; to: string; seconds: number; fraction: number; cameras: string[]; version: number }
export interface CoverageGap { from: string; to: string; seconds: number }

/** One corridor (version) in a coverage answer: time in force, time covered, fractions, intervals and gaps. */
export interface CorridorCoverage {
  id: string; name: string; kind: string; version: number; measure: "area" | "length";
  in_force_s: number; covered_s: number; covered_time_share: number;
  mean_fraction: number; max_fraction: number; ever_fraction: number;
  intervals: CoverageInterval[]; gaps: CoverageGap[];
}

/** GET /api/coverage: per corridor the table's numbers, and `layer` (features with `layer` "covered" or "interval"). */
export interface CoverageReport {
  from: string; to: string; versions: string; cameras: string[]; footprints: number;
  corridors: CorridorCoverage[]; layer: FeatureCollection; layer_truncated: boolean;
}

/** One recorded frame (GET /api/replay/boxes): its time and its tracked boxes in full-frame pixels. */
export interface ReplayFrame {
  time: string; boxes: { track: string; cls: string; conf: number; x1: number; y1: number; x2: number; y2: number }[];
}
/** A part of a window's frames (GET /api/replay/boxes), oldest first; `next`: where the rest begins (or null). */
export interface ReplayBoxes { camera: string; truncated: boolean; next: string | null; frames: ReplayFrame[] }
/** A stored position (GET /api/replay/positions), oldest first. */
export interface ReplayPosition {
  subject_id: string; time: string; lon: number; lat: number; alt_m: number | null; class: string | null;
  role: string; heading_deg: number | null; speed_m_s: number | null;
}

/** A recorded camera (GET /api/replay/cameras): its first and last frame time, segments and frames. */
export interface ReplayCamera { camera: string; first: string; last: string; segments: number; frames: number }
/** A drone sortie (GET /api/replay/sorties): `camera` is the one to replay it with (null: none followed it). */
export interface Sortie {
  drone: string; class: string; start: string; end: string; fixes: number; bbox: [number, number, number, number];
  cameras_checked: boolean; following: string[]; seen_by: string[]; recorded: string[]; camera: string | null;
}
/** The corridors in force at `t` (GET /api/replay/corridors), holding from `since` until `until` (null: open). */
/** Corridors in force at t (GET /api/replay/corridors), and `raised`: versions the window's alerts were raised
 * against where another (or none) is in force then. */
export interface CorridorsAt extends FeatureCollection {
  t: string; since: string | null; until: string | null; raised: Feature[];
}
/** Footprints (GET /api/replay/footprints): polygons with camera, kind, start and end (exclusive). */
export interface Footprints extends FeatureCollection { truncated: boolean }

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
  login: (username: string, password: string) => call<unknown>("POST", "/api/login", { username, password }),
  logout: () => call<null>("POST", "/api/logout"),
  me: () => call<Me>("GET", "/api/me"),
  basemap: () => call<{ source: string; tiles_url: string | null; borders_url: string | null }>("GET", "/api/basemap"),
  alerts: (limit = 500) => call<{ items: Alert[] }>("GET", `/api/alerts?limit=${limit}`),
  alert: (id: string) => call<AlertDetail>("GET", `/api/alerts/${encodeURIComponent(id)}`),
  ack: (id: string, comment: string) => call<Alert>("POST", `/api/alerts/${encodeURIComponent(id)}/ack`, { comment }),
  dismiss: (id: string, comment: string) =>
    call<Alert>("POST", `/api/alerts/${encodeURIComponent(id)}/dismiss`, { comment }),
  corridors: () => call<FeatureCollection>("GET", "/api/corridors"),
  createCorridor: (f: Feature, comment: string) =>
    call<Feature>("POST", `/api/corridors?comment=${encodeURIComponent(comment)}`, f),
  history: (id: string) => call<CorridorVersion[]>("GET", `/api/corridors/${encodeURIComponent(id)}/history`),
  version: (id: string, v: number) =>
    call<Feature & { meta: CorridorVersion }>("GET", `/api/corridors/${encodeURIComponent(id)}/versions/${v}`),
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
    call<{ items: Alert[] }>("GET", `/api/alerts?${new URLSearchParams({ since, until, limit: "500" })}`),
  /** The oldest frames in the window (at most the server's cap, or `limit`); `truncated`: ask on from `next`. */
  replayBoxes: (camera: string, from: string, to: string, limit = 0) => call<ReplayBoxes>("GET",
    `/api/replay/boxes?${new URLSearchParams({ camera, from, to, ...(limit ? { limit: String(limit) } : {}) })}`),
  /** `bbox`: "minlon,minlat,maxlon,maxlat" (only positions inside), or "" for anywhere. */
  replayPositions: (from: string, to: string, bbox = "") => call<{ truncated: boolean; positions: ReplayPosition[] }>(
    "GET", `/api/replay/positions?${new URLSearchParams({ from, to, ...(bbox ? { bbox } : {}) })}`),
  replayCameras: () => call<{ cameras: ReplayCamera[] }>("GET", "/api/replay/cameras"),
  replaySorties: (from: string, to: string, bbox = "") => call<{ truncated: boolean; sorties: Sortie[] }>("GET",
    `/api/replay/sorties?${new URLSearchParams({ from, to, ...(bbox ? { bbox } : {}) })}`),
  replayCorridors: (t: string, from: string, to: string) => call<CorridorsAt>("GET",
    `/api/replay/corridors?${new URLSearchParams({ t, from, to })}`),
  replayFootprints: (from: string, to: string, camera: string) => call<Footprints>("GET",
    `/api/replay/footprints?${new URLSearchParams({ from, to, camera })}`),
  updateCorridor: (id: string, f: Feature, comment: string) =>
    call<Feature>("PUT", `/api/corridors/${encodeURIComponent(id)}?comment=${encodeURIComponent(comment)}`, f),
};
