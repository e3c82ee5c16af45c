// The planner's backtest (in the editor): a time window in UTC and the draft being edited (or the set in
// force), re-run over stored history by POST /api/backtest; counts, the added / removed / unchanged alerts,
// and markers for added (filled) and removed (hollow) ones, cleared when the panel closes.
import { type Alert, api, ApiError, type BacktestReport, type FeatureCollection } from "./api";
import { $, errorText, escapeHtml, input } from "./dom";
import { draftSet } from "./editor";
import { classChip } from "./feed";
import { onRoute } from "./router";
import { state } from "./state";

const PARTS = ["added", "removed", "unchanged"] as const;
const SHOWN = 200; // rows per list (the heading gives the full count)
const DAY_MS = 86_400_000;
let run = 0; // the run whose answer is awaited; closing the panel moves on, so a late answer is dropped

/** A time as "2026-06-01 03:04:05 UTC" (the window is given in UTC, so the rows are too). */
export const utc = (t: string): string => `${new Date(t).toISOString().slice(0, 19).replace("T", " ")} UTC`;

/** A datetime-local input's value read as UTC ("2026-06-01T03:04" → "2026-06-01T03:04:00Z"), or null. */
export function utcValue(value: string): string | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d)(:\d\d(?:\.\d+)?)?$/.exec(value.trim());
  return m ? `${m[1]}${m[2] ?? ":00"}Z` : null;
}

/** The latest event time the page has seen (alerts, live positions), else now: where stored data ends. */
function latestData(): number {
  let latest = Number.NEGATIVE_INFINITY;
  for (const a of state.alerts.values()) latest = Math.max(latest, Date.parse(a.last_seen), Date.parse(a.opened_at));
  if (state.latestPosition) latest = Math.max(latest, Date.parse(state.latestPosition));
  return Number.isFinite(latest) ? latest : Date.now();
}

/** From/To: the 24 h up to the next whole minute after the latest data (To is exclusive). */
function lastDay(): void {
  const end = Math.floor(latestData() / 60_000) * 60_000 + 60_000;
  input("bt-from").value = new Date(end - DAY_MS).toISOString().slice(0, 19);
  input("bt-to").value = new Date(end).toISOString().slice(0, 19);
}

function setRunning(on: boolean): void {
  const button = $<HTMLButtonElement>("bt-run");
  button.disabled = on;
  button.textContent = on ? "Running…" : "Run backtest";
  $("bt-spinner").hidden = !on;
  $("bt-form").setAttribute("aria-busy", String(on));
}

function showProblems(lines: string[]): void {
  $("bt-problems").innerHTML = lines.map((m) => `<li>${escapeHtml(m)}</li>`).join("");
}

/** Lines for an error: the corridor problems of a bad draft, the 422 reason, or who may backtest (403). */
function errorLines(err: unknown): string[] {
  if (!(err instanceof ApiError)) return [errorText(err)];
  if (err.status === 403) return ["Only planners and admins may run a backtest (403)."];
  const problems = (err.body as { problems?: { feature_id?: string | null; message: string }[] } | null)?.problems;
  if (problems?.length) return problems.map((p) => (p.feature_id ? `${p.feature_id}: ${p.message}` : p.message));
  return [err.status === 422 ? err.message : `${err.message} (HTTP ${err.status})`];
}

/** Forget the last results and their markers (and any answer still on its way). */
function clearResults(): void {
  run += 1;
  setRunning(false);
  $("bt-results").hidden = true;
  for (const part of PARTS) $(`bt-${part}`).innerHTML = "";
  $("bt-problems").innerHTML = "";
  void state.view?.showBacktest({ type: "FeatureCollection", features: [] });
}

const row = (a: Alert): string => `<li><button type="button" class="bt-row" data-alert-id="${escapeHtml(a.id)}"
  data-lon="${a.lon}" data-lat="${a.lat}" title="Show on the map"><b>${escapeHtml(a.kind)}</b>
  ${classChip(a.subject_class)} ${escapeHtml(a.subject_id)}
  <small>${escapeHtml(a.corridor_id)} v${a.corridor_version} · ${utc(a.opened_at)}</small></button></li>`;

function render(r: BacktestReport): void {
  const fence = r.not_evaluated ? ` · ${r.not_evaluated} autopilot fence alert(s) not compared` : "";
  $("bt-summary").textContent = `${utc(r.from)} to ${utc(r.to)} · ${r.observations} observations in ${r.elapsed_s} s`
    + ` · corridors: ${r.corridors.join(", ")}${fence}`;
  $("bt-counts").textContent = `${r.counts.added} added · ${r.counts.removed} removed · ${r.counts.unchanged} unchanged`;
  for (const part of PARTS) {
    const alerts = r[part];
    $(`bt-n-${part}`).textContent = `(${r.counts[part]})`;
    const more = alerts.length > SHOWN ? `<li class="muted">… and ${alerts.length - SHOWN} more</li>` : "";
    $(`bt-${part}`).innerHTML = alerts.length ? alerts.slice(0, SHOWN).map(row).join("") + more
      : `<li class="muted">none</li>`;
  }
  const point = (a: Alert, change: string) => ({ type: "Feature" as const, id: a.id,
    properties: { change, id: a.id, kind: a.kind, subject_id: a.subject_id },
    geometry: { type: "Point", coordinates: [a.lon, a.lat] } });
  const fc: FeatureCollection = { type: "FeatureCollection",
    features: [...r.added.map((a) => point(a, "added")), ...r.removed.map((a) => point(a, "removed"))] };
  void state.view?.showBacktest(fc);
  $("bt-results").hidden = false;
}

async function start(): Promise<void> {
  if ($<HTMLButtonElement>("bt-run").disabled) return; // one run at a time: no double submit
  clearResults();
  const from = utcValue(input("bt-from").value);
  const to = utcValue(input("bt-to").value);
  if (!from || !to) return showProblems(["Set both From and To (UTC)."]);
  let corridors: FeatureCollection | null = null;
  if ($<HTMLInputElement>("bt-draft").checked) {
    const draft = draftSet();
    if (typeof draft === "string") return showProblems([draft]);
    corridors = draft;
  }
  const mine = run;
  setRunning(true);
  try {
    const report = await api.backtest(from, to, corridors);
    if (mine === run) render(report);
  } catch (err) {
    if (mine === run) showProblems(errorLines(err));
  } finally {
    if (mine === run) setRunning(false);
  }
}

export function setupBacktest(): void {
  const panel = $<HTMLDetailsElement>("bt-panel");
  panel.addEventListener("toggle", () => {
    if (!panel.open) return clearResults();
    if (!input("bt-from").value && !input("bt-to").value) lastDay();
  });
  $("bt-last-day").addEventListener("click", lastDay);
  $("bt-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void start();
  });
  $("bt-results").addEventListener("click", (e) => {
    const button = (e.target as HTMLElement).closest<HTMLButtonElement>("button.bt-row");
    if (!button) return;
    state.view?.flyTo(Number(button.dataset.lon), Number(button.dataset.lat));
    document.querySelectorAll("#bt-results .bt-row.picked").forEach((b) => b.classList.remove("picked"));
    button.classList.add("picked");
  });
  onRoute((shown) => { if (!shown) panel.open = false; }); // leaving the editor closes it (and clears)
}
