// The live stream (/api/live, Server-Sent Events): alert changes and live track positions.
import { type Alert, api, ApiError, type Position } from "./api";
import { $ } from "./dom";
import { refreshDetail } from "./detail";
import { renderFeed } from "./feed";
import { cue } from "./sound";
import { state } from "./state";

let live: EventSource | null = null;

/** (Re)connect; `signedOut` runs when the stream fails because the session has ended. */
export function connectLive(signedOut: () => void): void {
  live?.close();
  // EventSource resumes by itself with Last-Event-ID after a dropped connection.
  live = new EventSource("/api/live");
  live.onopen = () => $("live-status").classList.add("up");
  live.onerror = () => {
    $("live-status").classList.remove("up");
    void api.me().catch((err) => { if (err instanceof ApiError && err.status === 401) signedOut(); });
  };
  live.addEventListener("alert", (ev) => {
    const msg = JSON.parse((ev as MessageEvent<string>).data) as { change: string; alert: Alert };
    const a = msg.alert;
    document.body.dataset.liveAlerts = String(Number(document.body.dataset.liveAlerts ?? 0) + 1); // for tests and ops
    const isNew = !state.alerts.has(a.id);
    state.alerts.set(a.id, a);
    state.view?.upsertAlert(a);
    renderFeed(isNew || msg.change === "opened" ? a.id : undefined);
    if (msg.change === "opened") cue(a.severity);
    refreshDetail(a.id);
  });
  live.addEventListener("position", (ev) => {
    const p = JSON.parse((ev as MessageEvent<string>).data) as Position;
    if (!state.latestPosition || Date.parse(p.time) > Date.parse(state.latestPosition)) state.latestPosition = p.time;
    state.view?.addPosition(p);
  });
}

export function closeLive(): void {
  live?.close();
  live = null;
}
