// The operator page: wires the modules together. Map + alert feed at "#/", corridor editor at "#/editor",
// camera coverage at "#/coverage", replay at "#/replay".
import "./style.css";
import { api } from "./api";
import { setupBacktest } from "./backtest";
import { setupCoverage } from "./coverage";
import { $ } from "./dom";
import { selectAlert, setupDetail } from "./detail";
import { draftOnMap } from "./draft";
import { loadCorridors, setupEditor } from "./editor";
import { loadAlerts, setupFeed } from "./feed";
import { MapView } from "./map";
import { setupReplay } from "./replay";
import { route } from "./router";
import { setupSession, showApp, showLogin, whoAmI } from "./session";
import { setupSound } from "./sound";
import { canEdit, canReplay, canSeeCoverage, state } from "./state";
import { connectLive } from "./stream";

async function start(): Promise<void> {
  if (!(await whoAmI())) return showLogin();
  showApp();
  $("nav-editor").hidden = !canEdit();
  $("nav-coverage").hidden = !canSeeCoverage();
  $("nav-replay").hidden = !canReplay();
  if (!state.view) {
    state.view = new MapView($("map"), await api.basemap().catch(() => null));
    state.view.onAlertClick = (id) => void selectAlert(id);
    const sensors = $<HTMLInputElement>("sensor-tracks");
    sensors.addEventListener("change", () => state.view?.tracks.setSensorTracks(sensors.checked));
    draftOnMap(state.view.map);
  }
  await Promise.all([loadCorridors(), loadAlerts()]);
  connectLive(showLogin);
  route();
}

setupSession(start);
setupFeed((id) => void selectAlert(id));
setupDetail();
setupSound();
setupEditor();
setupBacktest();
setupCoverage();
setupReplay();
void start();
