// What the page knows: who is signed in, the map, the alerts seen so far and the one shown in detail.
import type { Alert, Me } from "./api";
import type { MapView } from "./map";

export const state = {
  me: null as Me | null,
  view: null as MapView | null,
  /** The alert shown in the detail panel, if any. */
  selected: null as string | null,
  alerts: new Map<string, Alert>(),
  /** The latest event time (ISO 8601) of a live position seen on the stream, or "". */
  latestPosition: "",
};

/** Whether the signed-in user may edit corridors. */
export const canEdit = (): boolean => !!state.me?.permissions.includes("corridor_write");

/** Whether the signed-in user may see camera coverage (commanders replay, planners judge corridors). */
export const canSeeCoverage = (): boolean =>
  !!state.me?.permissions.some((p) => p === "replay" || p === "corridor_write");

/** Whether the signed-in user may replay recorded patrols (commanders and admins). */
export const canReplay = (): boolean => !!state.me?.permissions.includes("replay");
