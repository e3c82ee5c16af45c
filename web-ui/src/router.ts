// Hash routing: "#/" is the map with the alert feed (or one alert's detail), "#/editor" the corridor editor,
// "#/coverage" the camera coverage of corridors, "#/replay" the commander's replay.
import { $ } from "./dom";
import { canEdit, canReplay, canSeeCoverage, state } from "./state";

const listeners: ((editorShown: boolean) => void)[] = [];
const coverageListeners: ((shown: boolean) => void)[] = [];
const replayListeners: ((shown: boolean) => void)[] = [];

export const onEditorPage = (): boolean => location.hash.startsWith("#/editor");
export const onCoveragePage = (): boolean => location.hash.startsWith("#/coverage");
export const onReplayPage = (): boolean => location.hash.startsWith("#/replay");

/** Call `listener` after each routing with whether the editor is shown. */
export function onRoute(listener: (editorShown: boolean) => void): void {
  listeners.push(listener);
}

/** Call `listener` after each routing with whether the coverage panel is shown. */
export function onCoverageRoute(listener: (shown: boolean) => void): void {
  coverageListeners.push(listener);
}

/** Call `listener` after each routing with whether the replay panel is shown. */
export function onReplayRoute(listener: (shown: boolean) => void): void {
  replayListeners.push(listener);
}

/** Show the panels the hash and the selection ask for (the editor and coverage only to those allowed). */
export function route(): void {
  if (!state.me) return;
  const editor = onEditorPage();
  const coverage = onCoveragePage();
  const allowed = editor && canEdit();
  const coverageAllowed = coverage && canSeeCoverage();
  const replay = onReplayPage();
  const replayAllowed = replay && canReplay();
  const page = editor || coverage || replay;
  $("feed-panel").hidden = page || state.selected !== null;
  $("detail-panel").hidden = page || state.selected === null;
  $("editor-panel").hidden = !allowed;
  $("coverage-panel").hidden = !coverageAllowed;
  $("replay-panel").hidden = !replayAllowed;
  document.body.classList.toggle("replaying", replayAllowed);
  const forbidden = (editor && !allowed) || (coverage && !coverageAllowed) || (replay && !replayAllowed);
  $("forbidden-panel").hidden = !forbidden;
  if (forbidden) {
    $("forbidden-text").textContent = editor ? "The corridor editor is for planners."
      : replay ? "Replay is for commanders and admins." : "Camera coverage is for commanders, planners and admins.";
  }
  $("nav-map").classList.toggle("active", !page);
  $("nav-editor").classList.toggle("active", editor);
  $("nav-coverage").classList.toggle("active", coverage);
  $("nav-replay").classList.toggle("active", replay);
  for (const listener of listeners) listener(allowed);
  for (const listener of coverageListeners) listener(coverageAllowed);
  for (const listener of replayListeners) listener(replayAllowed);
  state.view?.map.resize();
}

window.addEventListener("hashchange", route);
