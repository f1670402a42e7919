/* Reality Engine presenter console (the laptop, /presenter): live feed, the current and the next
 * scene with notes, the clocks, the room's numbers, the results as the room sees them, and the
 * controls. The projector shows /, which follows the scene chosen here. */
"use strict";

(() => {
  const initial = Live.pageState();
  const presenter = true;
  const FEED_LIMIT = 60;
  const NAMES = { postgres: "PostgreSQL", redis: "Redis" };
  const $ = (id) => document.getElementById(id);
  const { setPill, banner } = Live;

  let lastSeq = 0;
  let health = initial.health || {};
  let scene = initial.scene || null;
  let sceneReceivedAt = performance.now();
  let live = { connected: true, live: Boolean(initial.live) };
  let connection = null;

  /* ---------------------------------------------------------------- feed */

  const ICONS = {
    container: "◼", vote: "●", ratelimit: "◷", chaos: "⚡", service: "◆", system: "•", test: "✓", mode: "◐",
  };

  function clock(ts) {
    const d = new Date(ts * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  function feedItem(event) {
    const item = document.createElement("li");
    item.className = "feed-item";
    item.dataset.kind = event.kind;
    item.dataset.action = event.action;
    item.dataset.seq = String(event.seq);
    const time = document.createElement("span");
    time.className = "feed-time";
    time.textContent = clock(event.ts);
    const icon = document.createElement("span");
    icon.className = "feed-icon";
    icon.textContent = event.kind === "test" && event.action !== "passed" && event.action !== "started"
      && event.action !== "finished" ? "✗" : (ICONS[event.kind] || "•");
    const text = document.createElement("span");
    text.className = "feed-text";
    text.textContent = event.message;
    item.append(time, icon, text);
    const ms = event.data && event.data.duration_ms;
    if (typeof ms === "number" && event.kind !== "test") {
      const tag = document.createElement("span");
      tag.className = "feed-tag";
      tag.textContent = ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : Math.round(ms) + " ms";
      item.append(tag);
    }
    return item;
  }

  function addToFeed(payload) {
    const feed = $("feed");
    const events = (payload.events || []).slice().sort((a, b) => a.seq - b.seq);
    if (payload.gap && events.length && events[0].seq > lastSeq) {
      const note = document.createElement("li");
      note.className = "feed-item feed-gap";
      note.textContent = "… " + payload.gap + " earlier event(s) are no longer held";
      feed.prepend(note);
    }
    for (const event of events) {
      if (event.seq <= lastSeq) continue; // already shown (a replay overlapping the live stream)
      lastSeq = event.seq;
      if (event.kind === "system" && event.action === "reset") feed.textContent = "";
      const top = feed.firstElementChild;
      if (top && top.dataset.message === event.message) {
        // The same line again (e.g. many 503s during an outage): count it instead of repeating it.
        const times = Number(top.dataset.times || "1") + 1;
        top.dataset.times = String(times);
        let badge = top.querySelector(".feed-times");
        if (!badge) {
          badge = document.createElement("span");
          badge.className = "feed-times";
          top.append(badge);
        }
        badge.textContent = "×" + times;
        top.dataset.seq = String(event.seq);
        continue;
      }
      const item = feedItem(event);
      item.dataset.message = event.message;
      feed.prepend(item);
    }
    while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
    document.body.dataset.lastSeq = String(lastSeq);
  }

  /* --------------------------------------------------------------- tally */

  /* Votes per second over the last five seconds, from the totals the tally brings. */
  const totals = [];
  function voteRate() {
    const now = performance.now();
    while (totals.length > 1 && now - totals[0].at > 5000) totals.shift();
    if (totals.length < 2) return 0;
    const first = totals[0];
    const last = totals[totals.length - 1];
    const seconds = Math.max(1, (now - first.at) / 1000);
    return Math.max(0, last.total - first.total) / seconds;
  }

  function drawRate() {
    const rate = voteRate();
    $("stat-rate").textContent = rate >= 10 ? String(Math.round(rate)) : rate.toFixed(1);
  }

  function drawResults(results) {
    Live.drawChart($("chart"), results);
    const total = results.total || 0;
    // Counts with percentages, as on the audience screen.
    results.options.forEach((option, index) => {
      const row = $("chart").querySelectorAll(".bar-row")[index];
      const count = (results.counts || {})[option] || 0;
      if (row) row.querySelector(".bar-count").textContent = count + " · " + (total ? Math.round((count / total) * 100) : 0) + "%";
    });
    $("total").textContent = String(total);
    $("total-unit").textContent = total === 1 ? "vote" : "votes";
    const joined = results.phones_joined || 0;
    const refused = results.second_votes_refused || 0;
    $("stat-joined").textContent = String(joined);
    $("stat-joined-unit").textContent = joined === 1 ? "phone joined" : "phones joined";
    $("stat-refused").textContent = String(refused);
    $("stat-refused-unit").textContent = refused === 1 ? "second vote refused" : "second votes refused";
    totals.push({ at: performance.now(), total: total });
    drawRate();
    const notes = [];
    if (results.results_visible === false) notes.push("Hidden from the room: the audience screen shows no numbers.");
    if (results.voting_open === false) notes.push("Voting is closed.");
    $("room-note").textContent = notes.join(" ");
    document.body.dataset.total = String(total);
  }

  /* -------------------------------------------------------------- health */


  function drawHealth(doc) {
    health = doc;
    const services = doc.services || {};
    Live.drawServicePills(services);
    const limitState = !doc.rate_limit ? "off" : doc.rate_limit_backend === "redis" ? "up" : "starting";
    setPill("pill-limit", limitState, !doc.rate_limit ? "OFF"
      : doc.rate_limit_backend === "redis" ? doc.rate_limit_per_minute + "/min · Redis" : "LOCAL FALLBACK");
    setPill("pill-mode", doc.mode === "fantasy" ? "fantasy" : "up", doc.mode === "fantasy" ? "FANTASY" : "REALITY");
    document.body.dataset.mode = doc.mode;
    $("mode-note").textContent = doc.mode === "fantasy" ? "· fantasy mode: a mock with no constraints" : "";

    const banners = $("banners");
    banners.textContent = "";
    if (doc.docker === "down") banners.append(banner("down", "Docker engine unreachable: containers cannot be managed until it is back."));
    if ((services.postgres === "down" || services.postgres === "stopped") && doc.mode === "fantasy") {
      banners.append(banner("warn", "PostgreSQL is down — the fantasy mock does not need it: every vote is taken."));
    } else if (services.postgres === "down" || services.postgres === "stopped") {
      banners.append(banner("down", "PostgreSQL is down: votes are refused with 503 — nothing is stored, nothing is faked."));
    } else if (services.postgres === "starting") {
      banners.append(banner("warn", "PostgreSQL is starting…"));
    }
    if (services.redis === "down" || (doc.rate_limit && doc.rate_limit_backend === "local" && services.redis !== "stopped")) {
      banners.append(banner("warn", "Redis is down: votes keep working — the rate limit runs from local memory (fallback)."));
    }
    if (doc.voting_open === false) banners.append(banner("warn", "Voting is closed: phones say so, and a vote is refused with 423 — nothing is stored."));
    if (doc.mode === "fantasy") banners.append(banner("fantasy", "FANTASY MODE: votes go to a mock with no UNIQUE constraint. Vote again — it counts."));
    for (const notice of doc.notices || []) banners.append(banner("info", notice));
    if (!live.live) banners.append(banner("info", "Live updates unavailable (Socket.IO client not installed: run npm ci) — refreshing every second."));
    else if (!live.connected) banners.append(banner("warn", "Connection to the show lost — reconnecting…"));

    if (presenter) drawControls(doc);
  }

  /* --------------------------------------------------------------- scenes */

  function mmss(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function drawScene(doc) {
    scene = doc;
    sceneReceivedAt = performance.now();
    $("scene-step").textContent = doc.index + 1 + "/" + doc.count;
    $("scene-title").textContent = doc.scene.title;
    $("scene-cue").textContent = "Screen: " + doc.scene.cue;
    document.body.dataset.scene = doc.scene.key;
    $("now-title").textContent = doc.scene.title;
    $("scene-notes").textContent = (initial.notes || [])[doc.index] || "";
    const next = doc.scenes[doc.index + 1];
    $("next-title").textContent = next ? next.title : "— the end";
    $("next-notes").textContent = next ? (initial.notes || [])[doc.index + 1] || "" : "Thank the room. Reset before the next show.";
    $("timer-toggle").textContent = doc.running ? "Pause" : doc.show_elapsed > 0 ? "Resume" : "Start";
    tickTimer();
  }

  function tickTimer() {
    if (!scene) return;
    const extra = scene.running ? (performance.now() - sceneReceivedAt) / 1000 : 0;
    const showTime = scene.show_elapsed + extra;
    const sceneTime = scene.scene_elapsed + extra;
    $("show-timer").textContent = mmss(showTime) + " / " + mmss(scene.show_seconds);
    $("scene-timer").textContent = mmss(sceneTime) + " / " + mmss(scene.scene.seconds);
    document.body.dataset.overtime = String(sceneTime > scene.scene.seconds);
    document.body.dataset.running = String(scene.running);
  }

  /* -------------------------------------------------------------- presenter */

  function toast(text, ok) {
    const node = $("toast");
    if (!node) return;
    node.textContent = text;
    node.dataset.ok = String(ok);
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { node.textContent = ""; }, 6000);
  }

  async function presenterAction(action, body) {
    const result = await Live.postJson("/api/presenter/" + action, body);
    toast(result.body.message || "Done.", result.status >= 200 && result.status < 300);
    if (result.status === 401) window.location.reload();
    return result;
  }

  function drawControls(doc) {
    const services = doc.services || {};
    $("btn-limit").textContent = "Rate limit: " + (doc.rate_limit ? "on" : "off");
    $("btn-limit").dataset.on = String(Boolean(doc.rate_limit));
    $("btn-mode").textContent = doc.mode === "fantasy" ? "Back to reality" : "Switch to fantasy";
    $("btn-voting").textContent = doc.voting_open === false ? "Reopen voting" : "Close voting";
    $("btn-voting").dataset.open = String(doc.voting_open !== false);
    $("btn-results").textContent = doc.results_visible === false ? "Reveal results" : "Hide results";
    $("btn-results").dataset.visible = String(doc.results_visible !== false);
    $("btn-theme").textContent = doc.theme === "light" ? "Dark theme" : "Light theme";
    if (doc.theme) document.documentElement.dataset.theme = doc.theme;
    $("btn-tests").disabled = Boolean(doc.tests_running);
    $("btn-tests").textContent = doc.tests_running ? "Tests running…" : "Run tests";
    for (const button of document.querySelectorAll("button[data-target]")) {
      const state = services[button.dataset.target];
      button.disabled = button.dataset.action === "chaos" ? state !== "up" : state === "up" || state === "starting";
    }
  }

  /* The CSV through fetch, so that a refusal (PostgreSQL down) is said in the toast instead of a
   * download the browser silently cancels. */
  async function exportVotes() {
    let response;
    try {
      response = await fetch("/api/presenter/export.csv", { credentials: "same-origin", cache: "no-store" });
    } catch (error) {
      toast("No connection to the show: the votes could not be exported.", false);
      return;
    }
    if (!response.ok) {
      let message = "Export refused (" + response.status + ").";
      try {
        message = (await response.json()).message || message;
      } catch (error) { /* keep the status line */ }
      toast(message, false);
      if (response.status === 401) window.location.reload();
      return;
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = "reality-engine-votes.csv";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    toast("Votes exported: reality-engine-votes.csv", true);
  }

  /* Who is taking voter identities, polled every few seconds. Client addresses appear only in the
   * presenter's controls (H hides them), never on the public dashboard or in the feed. */
  function drawIdentities(report) {
    const node = $("identities");
    const top = (report.addresses || []).slice(0, 3)
      .map((a) => a.address + " " + a.issued + " (" + Math.round(a.share * 100) + "%)").join(", ");
    node.textContent = "New voter identities: " + report.issued
      + (report.refused ? " · " + report.refused + " refused past the budget" : "")
      + (top ? " · " + top : "") + (report.warning ? " · ⚠ " + report.warning : "");
    node.title = node.textContent;
    node.dataset.warning = String(Boolean(report.warning));
  }

  async function pollIdentities() {
    try {
      drawIdentities(await Live.getJson("/api/presenter/identities"));
    } catch (error) { /* logged out or offline: the next round tries again */ }
    window.setTimeout(pollIdentities, 3000);
  }

  function changeScene(action) {
    if (connection && connection.socket && connection.socket.connected) {
      connection.socket.emit("scene", { action: action }, (answer) => {
        if (!answer || !answer.ok) toast((answer && answer.message) || "Scene change refused.", false);
      });
    } else {
      presenterAction("scene", { action: action }).then((r) => r.body.scene && drawScene(r.body.scene));
    }
  }

  function wireControls() {
    for (const button of document.querySelectorAll("button[data-scene-action]")) {
      button.addEventListener("click", () => {
        const action = button.dataset.sceneAction;
        changeScene(action === "toggle" ? (scene && scene.running ? "pause" : "start") : action);
      });
    }
    $("btn-export").addEventListener("click", exportVotes);
    const resetButton = $("btn-reset");
    for (const button of document.querySelectorAll("button[data-action]")) {
      button.addEventListener("click", async () => {
        const action = button.dataset.action;
        let body = {};
        if (action === "rate-limit") body = { enabled: !health.rate_limit };
        if (action === "mode") body = { mode: health.mode === "fantasy" ? "reality" : "fantasy" };
        if (action === "voting") body = { open: health.voting_open === false };
        if (action === "results") body = { visible: health.results_visible === false };
        if (action === "theme") body = { theme: health.theme === "light" ? "dark" : "light" };
        if (action === "chaos" || action === "recover") body = { target: button.dataset.target };
        if (action === "reset" && resetButton.dataset.armed !== "true") {
          // Two clicks, so a slip of the hand cannot wipe the room's votes mid-show.
          resetButton.dataset.armed = "true";
          resetButton.textContent = "Click again to reset";
          setTimeout(() => { resetButton.dataset.armed = "false"; resetButton.textContent = "Reset"; }, 4000);
          return;
        }
        // Disabled while the request runs (no double sends); the keyboard's focus comes back after.
        const hadFocus = document.activeElement === button;
        button.disabled = true;
        if (action === "recover") toast("Recovering " + NAMES[button.dataset.target] + "…", true);
        try {
          await presenterAction(action, body);
        } finally {
          button.disabled = false;
          if (hadFocus && !button.disabled) button.focus();
          if (action === "reset") { resetButton.dataset.armed = "false"; resetButton.textContent = "Reset"; }
          drawHealth(health);
        }
      });
    }
    document.addEventListener("keydown", (event) => {
      if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
      // Space or Enter on a focused button presses that button, as everywhere else: no scene change.
      if ((event.key === " " || event.key === "Enter") && event.target.closest("button, a, summary")) return;
      // Presentation clickers send PageDown/PageUp; keyboards use the arrows and space.
      if (["ArrowRight", "PageDown", " "].includes(event.key)) changeScene("next");
      else if (["ArrowLeft", "PageUp"].includes(event.key)) changeScene("previous");
      else if (event.key === "p" || event.key === "P") changeScene(scene && scene.running ? "pause" : "start");
      else if (event.key === "h" || event.key === "H") document.body.classList.toggle("controls-hidden");
      else return;
      event.preventDefault();
    });
  }

  /* ----------------------------------------------------------------- start */

  drawResults(initial.results);
  drawHealth(initial.health);
  if (scene) drawScene(scene);
  wireControls();
  pollIdentities();
  setInterval(() => { tickTimer(); drawRate(); }, 250);
  connection = Live.connect("dashboard", {
    feed: addToFeed,
    tally: drawResults,
    health: drawHealth,
    scene: drawScene,
    status: (status) => {
      const changed = status.connected !== live.connected || status.live !== live.live;
      live = status;
      $("feed-live").dataset.connected = String(status.connected);
      $("feed-live").textContent = status.connected ? (status.live ? "● live" : "● polling") : "○ offline";
      if (changed) drawHealth(health);
    },
  }, () => lastSeq);
})();
