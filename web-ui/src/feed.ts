// The alert feed: newest first, the subject's class with its icon, a flash on new alerts.
import { type Alert, api } from "./api";
import { $, escapeHtml, fmtTime } from "./dom";
import { iconUrl } from "./icons";
import { state } from "./state";
import { SEVERITY_COLOURS } from "./style";

const SHOWN = 200;

/** The subject's class as an icon and a word (feed and detail). */
export function classChip(cls: string | null): string {
  const name = escapeHtml(cls || "unknown");
  return `<span class="cls"><img src="${iconUrl(cls)}" width="16" height="16" alt="">${name}</span>`;
}

export function severityChip(severity: string): string {
  // A class, not a style attribute: the Content-Security-Policy refuses inline styles.
  const known = severity in SEVERITY_COLOURS ? ` sev-${severity}` : "";
  return `<span class="sev${known}">${escapeHtml(severity)}</span>`;
}

/** Load the latest alerts into the state, the map and the feed. */
export async function loadAlerts(): Promise<void> {
  const page = await api.alerts(500);
  for (const a of page.items) state.alerts.set(a.id, a);
  for (const a of state.alerts.values()) state.view?.upsertAlert(a);
  renderFeed();
}

function newestFirst(): Alert[] {
  return [...state.alerts.values()].sort((a, b) => (a.opened_at < b.opened_at ? 1 : a.opened_at > b.opened_at ? -1 : 0));
}

/** " · seen by cam-a, cam-b" when a world track's alert names its sensors (one sensor: nothing added). */
export function witnesses(a: Alert): string {
  const sensors = [...new Set((a.sensors ?? []).map((s) => s.slice(0, s.lastIndexOf("/")) || s))];
  return sensors.length > 1 ? ` · <span class="witnesses">seen by ${sensors.map(escapeHtml).join(", ")}</span>` : "";
}

/** Redraw the feed; `flashId`'s row flashes (a new or reopened alert). */
export function renderFeed(flashId?: string): void {
  const list = newestFirst().slice(0, SHOWN);
  const open = list.filter((a) => a.state === "open").length;
  $("alert-count").textContent = `${open} open / ${state.alerts.size}`;
  $("feed").innerHTML = list.map((a) => `
    <li class="alert-item state-${escapeHtml(a.state)}${a.id === flashId ? " flash" : ""}" data-alert-id="${escapeHtml(a.id)}" tabindex="0">
      ${severityChip(a.severity)}
      <span class="what"><b>${escapeHtml(a.kind)}</b> ${classChip(a.subject_class)} ${escapeHtml(a.subject_id)}
        <small>${escapeHtml(a.corridor_id)} v${a.corridor_version} · ${fmtTime(a.opened_at)}${witnesses(a)}</small></span>
      <span class="state">${escapeHtml(a.state)}</span>
    </li>`).join("");
}

/** Clicking a row (or Enter/Space on it) calls `select` with its alert id. */
export function setupFeed(select: (id: string) => void): void {
  const idOf = (e: Event) => (e.target as HTMLElement).closest<HTMLElement>("li[data-alert-id]")?.dataset.alertId;
  $("feed").addEventListener("click", (e) => {
    const id = idOf(e);
    if (id) select(id);
  });
  $("feed").addEventListener("keydown", (e) => {
    const id = idOf(e);
    if (id && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); select(id); }
  });
}
