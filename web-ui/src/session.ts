// Signing in and out; after sign-in, `onSignedIn` sets up the app page.
import { api, ApiError } from "./api";
import { $, errorText } from "./dom";
import { closeLive } from "./stream";
import { state } from "./state";

const CHROME = ["nav", "logout", "sound-toggle", "live-status"];

/** Whether someone is signed in (the session cookie is HttpOnly: ask the server). */
export async function whoAmI(): Promise<boolean> {
  try {
    state.me = await api.me();
  } catch {
    state.me = null;
  }
  return state.me !== null;
}

export function showApp(): void {
  $("login-page").hidden = true;
  $("app-page").hidden = false;
  for (const id of CHROME) $(id).hidden = false;
  $("who").textContent = state.me ? `${state.me.name} (${state.me.role})` : "";
}

export function showLogin(): void {
  state.me = null;
  closeLive();
  $("app-page").hidden = true;
  for (const id of CHROME) $(id).hidden = true;
  $("who").textContent = "";
  $("login-page").hidden = false;
  $("username").focus();
}

function loginError(err: unknown): string {
  if (!(err instanceof ApiError)) return String(err);
  if (err.status === 401) return "Wrong username or password.";
  if (err.status === 429) {
    const wait = err.retryAfter ?? 60;
    return `Too many failed sign-ins. Try again in ${wait < 120 ? `${wait} s` : `${Math.ceil(wait / 60)} min`}.`;
  }
  return errorText(err);
}

export function setupSession(onSignedIn: () => Promise<void>): void {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("login-error").textContent = "";
    try {
      await api.login($<HTMLInputElement>("username").value, $<HTMLInputElement>("password").value);
      $<HTMLInputElement>("password").value = "";
    } catch (err) {
      $("login-error").textContent = loginError(err);
      return;
    }
    await onSignedIn();
  });
  $("logout").addEventListener("click", async () => {
    await api.logout().catch(() => null);
    location.hash = "#/";
    showLogin();
  });
}
