// The alert cue: the tab title blinks and, when ticked, a short beep (Web Audio, no sound files).
import { $ } from "./dom";

const KEY = "routewatch.sound";
let audio: AudioContext | null = null;

export function setupSound(): void {
  const sound = $<HTMLInputElement>("sound");
  sound.checked = localStorage.getItem(KEY) === "1";
  sound.addEventListener("change", () => {
    localStorage.setItem(KEY, sound.checked ? "1" : "0");
    // Browsers only start audio after a user gesture: this change is one.
    if (sound.checked) { audio ??= new AudioContext(); void audio.resume(); }
  });
}

/** Cue a new alert: one beep, two higher ones for high and critical. */
export function cue(severity: string): void {
  document.title = "● routewatch";
  setTimeout(() => (document.title = "routewatch"), 3000);
  if (!$<HTMLInputElement>("sound").checked) return;
  audio ??= new AudioContext();
  const high = severity === "high" || severity === "critical";
  const t = audio.currentTime;
  for (let i = 0; i < (high ? 2 : 1); i++) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = high ? 880 : 660;
    gain.gain.setValueAtTime(0.0001, t + i * 0.25);
    gain.gain.exponentialRampToValueAtTime(0.3, t + i * 0.25 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.25 + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(t + i * 0.25);
    osc.stop(t + i * 0.25 + 0.22);
  }
}
