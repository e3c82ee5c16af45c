// Hash routing: "#/" is the map with the alert feed (or one alert's detail), "#/editor" the corridor editor.
import { $ } from "./dom";
import { canEdit, state } from "./state";

const listeners: ((editorShown: boolean) => void)[] = [];

export const onEditorPage = (): boolean => location.hash.startsWith("#/editor");

/** Call `listener` after each routing with whether the editor is shown. */
export function onRoute(listener: (editorShown: boolean) => void): void {
  listeners.push(listener);
}

/** Show the panels the hash and the selection ask for (the editor only to those who may edit). */
export function route(): void {
  if (!state.me) return;
  const editor = onEditorPage();
  const allowed = editor && canEdit();
  $("feed-panel").hidden = editor || state.selected !== null;
  $("detail-panel").hidden = editor || state.selected === null;
  $("editor-panel").hidden = !allowed;
  $("forbidden-panel").hidden = !(editor && !allowed);
  $("nav-map").classList.toggle("active", !editor);
  $("nav-editor").classList.toggle("active", editor);
  for (const listener of listeners) listener(allowed);
  state.view?.map.resize();
}

window.addEventListener("hashchange", route);
