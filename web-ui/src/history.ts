// The editor's corridor history (versions with who/when/why, one shown on the map) and file import.
import { api, ApiError } from "./api";
import { $, escapeHtml, fmtTime } from "./dom";
import type { MapView } from "./map";

let shownFor = "";

/** List the versions of `id` (empty: hide the list and the shown version). */
export async function showHistory(view: MapView | null, id: string): Promise<void> {
  shownFor = id;
  void view?.showVersion(null);
  $("ed-history-box").hidden = !id;
  $("ed-history").innerHTML = "";
  if (!id) return;
  try {
    const versions = await api.history(id);
    if (shownFor !== id) return;
    $("ed-history").innerHTML = versions.slice().reverse().map((v) => `
      <li data-version="${v.version}">v${v.version} · ${fmtTime(v.created_at)} · ${escapeHtml(v.author)}
        ${v.deleted ? "<b>deleted</b>" : ""}${v.comment ? `: ${escapeHtml(v.comment)}` : ""}
        ${v.deleted ? "" : `<button type="button" class="link ed-show-version" data-version="${v.version}">show</button>`}</li>`).join("");
  } catch (err) {
    $("ed-history").innerHTML = `<li class="error">${escapeHtml(err instanceof Error ? err.message : String(err))}</li>`;
  }
}

/** Wire the history list's "show" buttons and the import form; `imported` gets the imported ids. */
export function setupHistory(view: () => MapView | null, imported: (ids: string[]) => Promise<void>): void {
  $("ed-history").addEventListener("click", async (e) => {
    const button = (e.target as HTMLElement).closest<HTMLButtonElement>("button.ed-show-version");
    if (!button || !shownFor) return;
    const f = await api.version(shownFor, Number(button.dataset.version));
    await view()?.showVersion(f);
    document.querySelectorAll("#ed-history li").forEach((li) => li.classList.remove("shown"));
    button.closest("li")?.classList.add("shown");
  });
  $("import-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $<HTMLInputElement>("imp-file").files?.[0];
    if (!file) return;
    $("imp-result").textContent = "Importing…";
    try {
      const result = await api.importFile(file, $<HTMLInputElement>("imp-comment").value);
      $("imp-result").textContent = `Imported ${result.imported.map((c) => `${c.id} v${c.version}`).join(", ")}.`;
      $<HTMLInputElement>("imp-comment").value = "";
      await imported(result.imported.map((c) => c.id));
    } catch (err) {
      const body = err instanceof ApiError ? (err.body as { problems?: { message: string }[] }) : null;
      const problems = body?.problems?.map((p) => p.message) ?? [err instanceof Error ? err.message : String(err)];
      $("imp-result").textContent = `Import failed: ${problems.join("; ")}`;
    }
  });
}
