/* Reality Engine: the status pills (<li id=… data-state=…><b>label</b></li>) of the audience screen and the console. */

import { SERVICES } from "./services.js";

export function setPill(id, state, label) {
  const pill = document.getElementById(id);
  pill.dataset.state = state;
  pill.querySelector("b").textContent = label;
}

/* The PostgreSQL and Redis pills (#pill-postgres, #pill-redis) from the health document's services. */
export function drawServicePills(services) {
  for (const name of SERVICES) {
    const state = services[name] || "starting";
    setPill("pill-" + name, state === "up" ? "up" : state === "starting" ? "starting" : "down", state.toUpperCase());
  }
}

/* #pill-mode: REALITY, or FANTASY in the mock's colour. */
export function drawModePill(mode) {
  setPill("pill-mode", mode === "fantasy" ? "fantasy" : "up", mode === "fantasy" ? "FANTASY" : "REALITY");
}
