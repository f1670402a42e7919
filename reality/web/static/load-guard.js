/* Reality Engine: if a page's modules fail to load, load the page again (at most twice in a row).
 *
 * A page's script is a graph of small ES modules: one request lost on the way (a phone's Wi-Fi
 * dropping a packet, a browser aborting requests when the machine's network changes) fails the whole
 * graph, and the page would sit there without live updates. A classic script, loaded before the
 * modules, so its listener is in place when the module script reports the error. */
"use strict";

(() => {
  const key = "reality-engine.reloads:" + window.location.pathname;
  const storage = (() => {
    try {
      return window.sessionStorage;
    } catch (error) {
      return null; // storage blocked: never reload (no way to count the tries)
    }
  })();
  let failed = false;
  document.addEventListener("error", (event) => {
    const script = event.target;
    if (!(script instanceof HTMLScriptElement) || script.type !== "module" || !storage) return;
    failed = true;
    const tries = Number(storage.getItem(key) || "0");
    if (tries >= 2) return;
    storage.setItem(key, String(tries + 1));
    window.setTimeout(() => window.location.reload(), 500 * (tries + 1));
  }, true); // capture: a script's error event does not bubble
  window.addEventListener("load", () => {
    if (!failed && storage) storage.removeItem(key);
  });
})();
