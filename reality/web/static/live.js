/* Reality Engine: live updates shared by the dashboard and the phone page.
 *
 * With the Socket.IO client (installed by `npm ci`, served from /vendor/) updates are pushed; without
 * it the page polls the same data over HTTP once a second and says so. Everything from the server is
 * rendered with textContent: text, never markup.
 */
"use strict";

const Live = (() => {
  function pageState() {
    const node = document.getElementById("page-state");
    return node ? JSON.parse(node.textContent) : {};
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response.json();
  }

  async function postJson(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body || {}),
        credentials: "same-origin",
      });
    } catch (error) {
      return { status: 0, body: { message: "No connection to the show: check the Wi-Fi and try again." } };
    }
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = { message: "Unexpected answer from the server (" + response.status + ")." };
    }
    return { status: response.status, body: data };
  }

  /* Connect as `role` ("dashboard" or "phone"). handlers: feed, tally, health, scene, hello, status.
   * since() returns the last feed sequence number seen, so a reconnect replays exactly what was missed. */
  function connect(role, handlers, since) {
    // A page served by an earlier run of the show (restarted since) reloads: new feed numbering,
    // perhaps a new question, and a phone's old cookie no longer counts.
    const run = (pageState().results || {}).run;
    const on = (name, payload) => {
      if (run && payload && payload.run && payload.run !== run) {
        window.location.reload();
        return;
      }
      if (handlers[name]) handlers[name](payload);
    };
    if (typeof window.io === "function") {
      const socket = window.io({
        auth: (cb) => cb({ role: role, since: since ? since() : 0 }),
        reconnectionDelayMax: 3000,
      });
      ["feed", "tally", "health", "scene", "hello"].forEach((name) => socket.on(name, (p) => on(name, p)));
      socket.on("connect", () => on("status", { live: true, connected: true }));
      socket.on("disconnect", () => on("status", { live: true, connected: false }));
      return { socket: socket, polling: false };
    }
    on("status", { live: false, connected: true });
    const tick = async () => {
      try {
        on("tally", await getJson("/api/results"));
        if (role === "dashboard") {
          on("feed", await getJson("/api/feed?since=" + (since ? since() : 0)));
          on("health", await getJson("/api/health"));
          on("scene", await getJson("/api/scene"));
        }
        on("status", { live: false, connected: true });
      } catch (error) {
        on("status", { live: false, connected: false });
      }
      window.setTimeout(tick, role === "dashboard" ? 1000 : 2000);
    };
    tick();
    return { socket: null, polling: true };
  }

  /* Draw the tally into an <ol class="chart"> whose rows follow results.options. */
  function drawChart(chart, results) {
    const rows = chart.querySelectorAll(".bar-row");
    const counts = results.counts || {};
    const max = Math.max(1, ...results.options.map((option) => counts[option] || 0));
    const total = results.total || 0;
    results.options.forEach((option, index) => {
      const row = rows[index];
      if (!row) return;
      const count = counts[option] || 0;
      row.querySelector(".bar-label").textContent = option;
      row.querySelector(".bar-count").textContent = String(count);
      row.querySelector(".bar-fill").style.width = (count / max) * 100 + "%";
      row.dataset.leader = String(count > 0 && count === max);
      row.title = total ? option + ": " + count + " (" + Math.round((count / total) * 100) + "%)" : option;
    });
  }

  /* A status pill (<li id=… data-state=…><b>label</b></li>) on the audience screen and the console. */
  function setPill(id, state, label) {
    const pill = document.getElementById(id);
    pill.dataset.state = state;
    pill.querySelector("b").textContent = label;
  }

  /* The PostgreSQL and Redis pills (#pill-postgres, #pill-redis) from the health document's services. */
  function drawServicePills(services) {
    for (const name of ["postgres", "redis"]) {
      const state = services[name] || "starting";
      setPill("pill-" + name, state === "up" ? "up" : state === "starting" ? "starting" : "down", state.toUpperCase());
    }
  }

  /* A banner line of the given kind (down, warn, fantasy, …), as text. */
  function banner(kind, text) {
    const node = document.createElement("p");
    node.className = "banner banner-" + kind;
    node.textContent = text;
    return node;
  }

  return { pageState, getJson, postJson, connect, drawChart, setPill, banner, drawServicePills };
})();
