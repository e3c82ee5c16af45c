// Small DOM helpers shared by every module.

/** The element with this id (the page's ids are fixed in index.html). */
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

/** A form control by id, typed so `.value` is there. */
export const input = <T extends HTMLElement = HTMLInputElement>(id: string) => $<T & { value: string }>(id);

/** Text made safe to put into innerHTML (and attribute values). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** A local date and time, or a dash. */
export const fmtTime = (t: string | null | undefined): string => (t ? new Date(t).toLocaleString() : "—");

/** An error's message for a status line. */
export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
