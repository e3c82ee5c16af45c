// One alert in detail: its snapshot (when a camera saw it), fields, history and track, with acknowledge
// and dismiss.
import { type Alert, type AlertDetail, api } from "./api";
import { $, errorText, escapeHtml, fmtTime } from "./dom";
import { classChip, renderFeed, severityChip } from "./feed";
import { onEditorPage, route } from "./router";
import { state } from "./state";

/** Only same-origin API paths are shown as images (the URL comes from the server, but still). */
const safeSnapshot = (url: string | null | undefined): string | null =>
  url && /^\/api\/alerts\/[^?#]+\/snapshot$/.test(url) ? url : null;

function snapshot(a: Alert): string {
  const url = safeSnapshot(a.snapshot_url);
  if (!url) return "";
  const alt = `Camera snapshot of ${a.subject_class || "the subject"} ${a.subject_id} (${a.kind} alert)`;
  return `<figure id="detail-snapshot">
      <a href="${escapeHtml(url)}" target="_blank" rel="noopener">
        <img src="${escapeHtml(url)}" alt="${escapeHtml(alt)}" loading="lazy" decoding="async"></a>
      <figcaption class="muted">Snapshot · tap to open full size</figcaption>
    </figure>`;
}

export function renderDetail(a: Alert & Partial<AlertDetail>): void {
  const row = (k: string, v: string) => `<dt>${k}</dt><dd>${v}</dd>`;
  $("detail").innerHTML = `
    <h2>${severityChip(a.severity)} ${escapeHtml(a.kind)} alert</h2>
    ${snapshot(a)}
    <dl id="detail-fields">
      ${row("State", `<span id="detail-state">${escapeHtml(a.state)}${a.dismissed ? " (dismissed)" : ""}</span>`)}
      ${row("Class", `<span id="detail-class">${classChip(a.subject_class)}</span>`)}
      ${row("Subject", escapeHtml(a.subject_id))}
      ${row("Corridor", `${escapeHtml(a.corridor_id)} <span class="muted">version ${a.corridor_version}</span>`)}
      ${row("Opened", fmtTime(a.opened_at))}
      ${row("Last seen", fmtTime(a.last_seen))}
      ${row("Closed", fmtTime(a.closed_at))}
      ${row("Position", `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}`)}
      ${a.speed_m_s != null ? row("Speed", `${a.speed_m_s.toFixed(1)} m/s`) : ""}
      ${a.heading_deg != null ? row("Heading", `${a.heading_deg.toFixed(0)}°`) : ""}
      ${row("Detail", escapeHtml(a.detail || "—"))}
      ${row("Source", escapeHtml(a.source))}
      ${a.sensors?.length ? row("Seen by", `<span id="detail-sensors">${a.sensors.map(escapeHtml).join(", ")}</span>`) : ""}
      ${row("Updates", String(a.updates))}
    </dl>
    ${a.events?.length ? `<h3>History</h3><ul class="events">${a.events.map((e) =>
      `<li>${fmtTime(e.time)} · ${escapeHtml(e.change)}${e.actor ? ` by ${escapeHtml(e.actor)}` : ""}${e.comment ? `: ${escapeHtml(e.comment)}` : ""}</li>`).join("")}</ul>` : ""}`;
  const img = $("detail").querySelector<HTMLImageElement>("#detail-snapshot img");
  img?.addEventListener("error", () => {
    img.closest("figure")!.innerHTML = "<p class='muted'>The snapshot could not be loaded.</p>";
  });
  $<HTMLButtonElement>("ack-button").disabled = a.state !== "open";
  $<HTMLButtonElement>("dismiss-button").disabled = !!a.dismissed;
}

/** Show one alert's detail and its track on the map. */
export async function selectAlert(id: string): Promise<void> {
  if (onEditorPage()) location.hash = "#/";
  state.selected = id;
  $("ack-result").textContent = "";
  route();
  $("detail").innerHTML = "<p class='muted'>Loading…</p>";
  try {
    const d = await api.alert(id);
    state.alerts.set(d.id, { ...d });
    renderDetail(d);
    void state.view?.showPath(d.track);
    state.view?.flyTo(d.lon, d.lat);
  } catch (err) {
    $("detail").innerHTML = `<p class="error">${escapeHtml(String(err))}</p>`;
  }
}

/** Refresh the detail if `id` is shown (a live change to it arrived). */
export function refreshDetail(id: string): void {
  if (state.selected === id) void api.alert(id).then(renderDetail).catch(() => null);
}

async function decide(button: HTMLButtonElement, call: (id: string, comment: string) => Promise<Alert>, done: string) {
  if (!state.selected) return;
  button.disabled = true;
  try {
    const a = await call(state.selected, $<HTMLTextAreaElement>("ack-comment").value);
    state.alerts.set(a.id, a);
    state.view?.upsertAlert(a);
    $<HTMLTextAreaElement>("ack-comment").value = "";
    await selectAlert(a.id);
    $("ack-result").textContent = done;
  } catch (err) {
    $("ack-result").textContent = `Failed: ${errorText(err)}`;
    button.disabled = false;
  }
}

export function setupDetail(): void {
  $("detail-close").addEventListener("click", () => {
    state.selected = null;
    void state.view?.showPath([]);
    route();
    renderFeed();
  });
  $("ack-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void decide($<HTMLButtonElement>("ack-button"), api.ack, "Acknowledged.");
  });
  $("dismiss-button").addEventListener("click", () => {
    void decide($<HTMLButtonElement>("dismiss-button"), api.dismiss, "Dismissed.");
  });
}
