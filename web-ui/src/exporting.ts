// Export from the Replay page (commanders and admins): the chosen alert, or the window being replayed, as a zip
// of an MP4 clip (boxes burned in or not), the tracks (GeoJSON, KML) and a one-page report. The export runs on
// the server as a job (POST /api/replay/exports -> 202), its progress is polled (GET /api/replay/exports/{id}),
// and once done the zip is offered as a download link (GET /api/replay/exports/{id}/download).
import { ApiError } from "./api";
import { errorText } from "./dom";

/** What the Replay page shows now: its camera and window (ISO, "" before a load) and the chosen alert. */
export interface ExportTarget { camera: string; from: string; to: string; alertId: string | null }

/** An export job as the API shows it. */
export interface ExportJob {
  id: string; kind: "alert" | "range"; state: "queued" | "running" | "done" | "failed"; file_name: string;
  created_at: string; ended_at: string | null; frames_done: number; frames_total: number;
  note: string; error: string; download_url: string | null;
}

const POLL_MS = 500;
const URL_BASE = "/api/replay/exports";

async function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method, credentials: "same-origin",
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }),
  });
  const data = await res.json().catch(() => ({ detail: `HTTP ${res.status}` })) as unknown;
  if (!res.ok) throw new ApiError(res.status, data);
  return data as T;
}

function errorLine(err: unknown): string {
  if (!(err instanceof ApiError)) return errorText(err);
  if (err.status === 403) return "Export is for commanders and admins (403).";
  if (err.status === 409) return `${err.message} (busy, HTTP 409)`;
  return `${err.message} (HTTP ${err.status})`;
}

/** Add the Export controls to `host` (after its #rp-player when there is one); `target` says what to export. */
export function mountExport(host: HTMLElement, target: () => ExportTarget): void {
  const box = document.createElement("section");
  box.id = "rp-export";
  box.setAttribute("aria-label", "export");
  box.innerHTML = `<div class="rp-controls">
      <strong>Export</strong>
      <button type="button" id="rp-export-alert" title="the chosen alert: clip, track and report">Export alert</button>
      <button type="button" id="rp-export-window" title="the window being replayed: clip, tracks and report">Export window</button>
      <label class="rp-boxes"><input type="checkbox" id="rp-export-boxes" checked> Burn in boxes</label>
    </div>
    <progress id="rp-export-progress" max="1" value="0" hidden></progress>
    <span id="rp-export-status" role="status"></span>
    <a id="rp-export-download" hidden download>Download zip</a>`;
  const player = host.querySelector("#rp-player");
  if (player) player.after(box); else host.append(box);
  const q = <T extends HTMLElement>(id: string) => box.querySelector<T>(`#${id}`)!;
  const progress = q<HTMLProgressElement>("rp-export-progress");
  const link = q<HTMLAnchorElement>("rp-export-download");
  const buttons = [q<HTMLButtonElement>("rp-export-alert"), q<HTMLButtonElement>("rp-export-window")];
  let current = 0; // the export whose answers are awaited (a newer one drops the older one's)

  const status = (line: string, error = false): void => {
    const el = q("rp-export-status");
    el.textContent = line;
    el.classList.toggle("error", error);
  };
  const busy = (on: boolean): void => { for (const b of buttons) b.disabled = on; };

  function show(job: ExportJob): void {
    progress.hidden = job.state === "done" || job.state === "failed";
    progress.max = Math.max(1, job.frames_total);
    progress.value = job.frames_done;
    if (job.state === "queued") status("Export queued…");
    else if (job.state === "running") {
      status(job.frames_total ? `Exporting: ${job.frames_done} of ${job.frames_total} frames` : "Exporting…");
    } else if (job.state === "failed") status(`Export failed: ${job.error}`, true);
    else {
      status(`Export ready: ${job.note}`);
      link.href = job.download_url ?? "";
      link.download = job.file_name;
      link.textContent = `Download ${job.file_name}`;
      link.hidden = false;
    }
  }

  async function follow(job: ExportJob, mine: number): Promise<void> {
    while (mine === current) {
      show(job);
      if (job.state === "done" || job.state === "failed") break;
      await new Promise((resolve) => window.setTimeout(resolve, POLL_MS));
      if (mine !== current) return;
      job = await send<ExportJob>("GET", `${URL_BASE}/${encodeURIComponent(job.id)}`);
    }
  }

  async function start(kind: "alert" | "window"): Promise<void> {
    const t = target();
    const boxes = q<HTMLInputElement>("rp-export-boxes").checked;
    let body: Record<string, unknown>;
    if (kind === "alert") {
      if (!t.alertId) return status("Choose an alert in the list first.", true);
      body = { alert_id: t.alertId, boxes };
    } else {
      if (!t.from || !t.to) return status("Load a window first.", true);
      if (!t.camera) return status("The window has no camera: choose one and load it.", true);
      body = { camera: t.camera, from: t.from, to: t.to, boxes };
    }
    const mine = ++current;
    link.hidden = true;
    link.removeAttribute("href");
    busy(true);
    status("Starting the export…");
    try {
      await follow(await send<ExportJob>("POST", URL_BASE, body), mine);
    } catch (err) {
      if (mine === current) { progress.hidden = true; status(errorLine(err), true); }
    } finally {
      if (mine === current) busy(false);
    }
  }

  buttons[0]!.addEventListener("click", () => void start("alert"));
  buttons[1]!.addEventListener("click", () => void start("window"));
}
