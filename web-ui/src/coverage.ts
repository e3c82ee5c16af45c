// Camera coverage of corridors ("#/coverage", commanders, planners and admins): a UTC window and an optional
// corridor, GET /api/coverage, a table (share of the time covered, fraction ever covered, gaps) whose rows
// expand to their covered intervals and gaps, and the covered parts on the map, cleared when the panel closes.
import { api, ApiError, type CorridorCoverage, type CoverageReport } from "./api";
import { utc, utcValue } from "./backtest";
import { $, errorText, escapeHtml, input } from "./dom";
import { onCoverageRoute } from "./router";
import { state } from "./state";
import { empty } from "./style";

const DAY_MS = 86_400_000;
const SHOWN = 200; // intervals or gaps listed per row (the counts give the full number)
let run = 0; // the request whose answer is awaited; closing moves on, so a late answer is dropped
let report: CoverageReport | null = null;

/** A duration as "45 s", "12 min 5 s", "3 h 04 min" or "2 d 5 h". */
export function duration(s: number): string {
  if (s < 60) return `${Math.round(s * 10) / 10} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

const pct = (x: number): string => `${(Math.round(x * 1000) / 10).toFixed(1)}%`;

/** From/To: the 24 h up to the next whole minute (To is exclusive). */
function lastDay(): void {
  const end = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;
  input("cov-from").value = new Date(end - DAY_MS).toISOString().slice(0, 19);
  input("cov-to").value = new Date(end).toISOString().slice(0, 19);
}

function setRunning(on: boolean): void {
  const button = $<HTMLButtonElement>("cov-run");
  button.disabled = on;
  button.textContent = on ? "Measuring…" : "Show coverage";
  $("cov-spinner").hidden = !on;
  $("cov-form").setAttribute("aria-busy", String(on));
}

function showProblem(line: string): void {
  $("cov-problems").innerHTML = `<li>${escapeHtml(line)}</li>`;
}

/** The line for an error: the 422 reason, an unknown corridor (404), or who may see coverage (403). */
function errorLine(err: unknown): string {
  if (!(err instanceof ApiError)) return errorText(err);
  if (err.status === 403) return "Only commanders, planners and admins may see camera coverage (403).";
  if (err.status === 404) return `${err.message} (404)`;
  return err.status === 422 ? err.message : `${err.message} (HTTP ${err.status})`;
}

/** Forget the last answer, its rows and its map layer (and any answer still on its way). */
function clearResults(): void {
  run += 1;
  report = null;
  setRunning(false);
  $("cov-results").hidden = true;
  $("cov-rows").innerHTML = "";
  $("cov-problems").innerHTML = "";
  void state.view?.showCoverage(empty());
}

const longestGap = (c: CorridorCoverage): number => c.gaps.reduce((m, g) => Math.max(m, g.seconds), 0);

function list<T>(items: T[], line: (x: T) => string): string {
  const more = items.length > SHOWN ? `<li class="muted">… and ${items.length - SHOWN} more</li>` : "";
  return items.length ? items.slice(0, SHOWN).map(line).join("") + more : `<li class="muted">none</li>`;
}

/** A corridor's row and its (hidden) detail row: covered intervals and gaps with their times. */
function rows(c: CorridorCoverage, i: number): string {
  const longest = longestGap(c);
  const name = c.name && c.name !== c.id ? ` <small>${escapeHtml(c.name)}</small>` : "";
  const intervals = list(c.intervals, (iv) => `<li class="cov-interval">${utc(iv.from)} – ${utc(iv.to)}
    <small>${duration(iv.seconds)} · ${pct(iv.fraction)} of the ${c.measure} · by ${escapeHtml(iv.cameras.join(", "))}
    · v${iv.version}</small></li>`);
  const gaps = list(c.gaps, (g) => `<li class="cov-gap">${utc(g.from)} – ${utc(g.to)} <small>${duration(g.seconds)}</small></li>`);
  return `<tr class="cov-row" data-index="${i}" data-corridor-id="${escapeHtml(c.id)}">
      <th scope="row"><button type="button" class="cov-toggle" aria-expanded="false" aria-controls="cov-detail-${i}">
        <span class="cov-caret" aria-hidden="true">▸</span> ${escapeHtml(c.id)}${c.version > 1 ? ` v${c.version}` : ""}</button>${name}</th>
      <td class="cov-share">${pct(c.covered_time_share)}</td><td class="cov-ever">${pct(c.ever_fraction)}</td>
      <td class="cov-gaps">${c.gaps.length}</td><td class="cov-longest">${c.gaps.length ? duration(longest) : "—"}</td>
    </tr>
    <tr class="cov-detail" id="cov-detail-${i}" hidden><td colspan="5">
      <p class="muted">${duration(c.covered_s)} covered of ${duration(c.in_force_s)} in force · mean ${pct(c.mean_fraction)},
        at most ${pct(c.max_fraction)} of the ${c.measure} at once</p>
      <h4>Covered (${c.intervals.length})</h4><ul class="cov-intervals">${intervals}</ul>
      <h4>Gaps (${c.gaps.length})</h4><ul class="cov-gap-list">${gaps}</ul>
    </td></tr>`;
}

function render(r: CoverageReport): void {
  report = r;
  const cams = r.cameras.length ? r.cameras.join(", ") : "none";
  const cut = r.layer_truncated ? " · map layer truncated" : "";
  $("cov-summary").textContent = `${utc(r.from)} to ${utc(r.to)} · ${r.footprints} footprint(s) from cameras: ${cams}${cut}`;
  $("cov-rows").innerHTML = r.corridors.length ? r.corridors.map(rows).join("")
    : `<tr><td colspan="5" class="muted">No corridors in force in this window.</td></tr>`;
  void state.view?.showCoverage(r.layer);
  $("cov-results").hidden = false;
}

/** Expand or collapse a row, and outline its covered part on the map (collapsing the picked row un-picks it). */
function toggle(row: HTMLTableRowElement): void {
  const button = row.querySelector<HTMLButtonElement>(".cov-toggle")!;
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  row.querySelector(".cov-caret")!.textContent = open ? "▾" : "▸";
  $(`cov-detail-${row.dataset.index}`).hidden = !open;
  document.querySelectorAll("#cov-rows .cov-row.picked").forEach((r) => r.classList.remove("picked"));
  row.classList.toggle("picked", open);
  if (report) state.view?.pickCoverage(open ? row.dataset.corridorId ?? null : null, report.layer);
}

async function start(): Promise<void> {
  if ($<HTMLButtonElement>("cov-run").disabled) return; // one request at a time: no double submit
  clearResults();
  const from = utcValue(input("cov-from").value);
  const to = utcValue(input("cov-to").value);
  if (!from || !to) return showProblem("Set both From and To (UTC).");
  const mine = run;
  setRunning(true);
  try {
    const r = await api.coverage(from, to, input<HTMLSelectElement>("cov-corridor").value,
      input<HTMLSelectElement>("cov-versions").value);
    if (mine === run) render(r);
  } catch (err) {
    if (mine === run) showProblem(errorLine(err));
  } finally {
    if (mine === run) setRunning(false);
  }
}

/** The corridor filter: the corridors in force (kept as picked when still there). */
async function fillCorridors(): Promise<void> {
  const sel = input<HTMLSelectElement>("cov-corridor");
  const picked = sel.value;
  try {
    const ids = (await api.corridors()).features.map((f) => String(f.properties.id ?? f.id ?? ""));
    sel.innerHTML = `<option value="">(all corridors)</option>`
      + ids.map((id) => `<option value="${escapeHtml(id)}">${escapeHtml(id)}</option>`).join("");
    sel.value = ids.includes(picked) ? picked : "";
  } catch {
    // the filter stays as it was; the request itself reports any problem
  }
}

export function setupCoverage(): void {
  let shown = false;
  onCoverageRoute((now) => {
    if (now && !shown) {
      if (!input("cov-from").value && !input("cov-to").value) lastDay();
      void fillCorridors();
    }
    if (!now && shown) clearResults(); // closing the panel (leaving "#/coverage") clears the layer
    shown = now;
  });
  $("cov-last-day").addEventListener("click", lastDay);
  $("cov-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void start();
  });
  $("cov-rows").addEventListener("click", (e) => {
    const row = (e.target as HTMLElement).closest<HTMLTableRowElement>("tr.cov-row");
    if (row) toggle(row);
  });
}
