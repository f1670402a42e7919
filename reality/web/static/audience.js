/* Reality Engine audience screen (the projector): follows the presenter's scene and shows what the
 * room reads. Nothing here changes the show; the presenter's console is /presenter. */
"use strict";

(() => {
  const initial = Live.pageState();
  const $ = (id) => document.getElementById(id);
  const { setPill, banner } = Live;
  const body = document.body;
  const NAMES = { postgres: "PostgreSQL", redis: "Redis" };

  let results = initial.results || {};
  let health = initial.health || {};
  let tests = { running: false, results: [], summary: null };
  let live = { connected: true, live: Boolean(initial.live) };
  let lastSeq = 0;

  /* ------------------------------------------------------------ numbers that move */

  /* Count from what the element shows to `value` in half a second, so a jump reads as growth. */
  function animateNumber(node, value, format) {
    const show = format || String;
    if (node.dataset.value === String(value) && node.counting) return; // already counting to it
    const shown = parseInt(node.textContent, 10);
    const from = Number.isNaN(shown) ? 0 : shown;
    node.dataset.value = String(value);
    if (from === value || document.hidden) {
      node.counting = null;
      node.textContent = show(value);
      return;
    }
    const counting = {};
    node.counting = counting;
    const started = performance.now();
    const step = (now) => {
      if (node.counting !== counting) return; // a newer value took over
      const t = Math.min(1, (now - started) / 500);
      const eased = 1 - Math.pow(1 - t, 3);
      node.textContent = show(Math.round(from + (value - from) * eased));
      if (t < 1) requestAnimationFrame(step);
      else node.counting = null;
    };
    requestAnimationFrame(step);
  }

  function plural(n, one, many) {
    return n === 1 ? one : many;
  }

  function percent(count, total) {
    return total ? Math.round((count / total) * 100) : 0;
  }

  /* ------------------------------------------------------------------- results */

  function drawChart(doc) {
    const chart = $("chart");
    const counts = doc.counts || {};
    const total = doc.total || 0;
    const max = Math.max(1, ...doc.options.map((option) => counts[option] || 0));
    chart.querySelectorAll(".bar-row").forEach((row, index) => {
      const option = doc.options[index];
      const count = counts[option] || 0;
      row.querySelector(".bar-label").textContent = option;
      const cell = row.querySelector(".bar-count");
      let number = cell.querySelector(".bar-num");
      let pct = cell.querySelector(".bar-pct");
      if (!number) {
        cell.textContent = "";
        number = document.createElement("span");
        number.className = "bar-num";
        pct = document.createElement("span");
        pct.className = "bar-pct";
        cell.append(number, pct);
      }
      animateNumber(number, count);
      animateNumber(pct, percent(count, total), (v) => v + "%");
      row.querySelector(".bar-fill").style.width = (count / max) * 100 + "%";
      row.dataset.leader = String(count > 0 && count === max);
    });
  }

  function drawResults(doc) {
    results = doc;
    drawChart(doc);
    const total = doc.total || 0;
    animateNumber($("total"), total);
    $("total-unit").textContent = plural(total, "vote", "votes");
    animateNumber($("sum-total"), total);
    const refused = doc.second_votes_refused || 0;
    animateNumber($("refused-count"), refused);
    $("refused-unit").textContent = plural(refused, "second vote refused by PostgreSQL", "second votes refused by PostgreSQL");
    animateNumber($("sum-refused"), refused);
    animateNumber($("sum-outage"), doc.outage_refused || 0);
    if (doc.latest_refusal) $("refusal-text").textContent = "ERROR: " + doc.latest_refusal;
    const joined = doc.phones_joined || 0;
    animateNumber($("joined"), joined);
    $("joined-unit").textContent = plural(joined, "phone joined", "phones joined");
    drawWinner(doc);
    body.dataset.votingOpen = String(doc.voting_open !== false);
    body.dataset.resultsVisible = String(doc.results_visible !== false);
    body.dataset.total = String(total);
    drawTiles();
  }

  function drawWinner(doc) {
    const counts = doc.counts || {};
    const max = Math.max(0, ...doc.options.map((option) => counts[option] || 0));
    const leaders = doc.options.filter((option) => max > 0 && counts[option] === max);
    const total = doc.total || 0;
    const line = !leaders.length ? "No votes yet"
      : leaders.length === 1 ? leaders[0] + " wins with " + percent(max, total) + "%"
        : "A tie: " + leaders.join(" and ");
    $("winner").textContent = line;
    $("winner").parentElement.classList.toggle("long", line.length > 26);
  }

  /* -------------------------------------------------------------------- health */


  function clockTime(epoch) {
    return new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  function drawTiles() {
    const services = health.services || {};
    const changes = health.service_changes || {};
    for (const name of ["postgres", "redis"]) {
      const tile = $("tile-" + name);
      const state = services[name] || "starting";
      const change = changes[name];
      tile.dataset.state = state;
      tile.querySelector(".tile-state").textContent = state.toUpperCase();
      tile.querySelector(".tile-since").textContent = change ? "since " + clockTime(change.since) : "";
      const kept = Math.max(0, (results.total || 0) - (change ? change.total : 0));
      const refused = Math.max(0, (results.outage_refused || 0) - (change ? change.outage_refused : 0));
      let votes;
      if (name === "postgres" && (state === "down" || state === "stopped" || state === "starting")) {
        votes = refused + " " + plural(refused, "vote", "votes") + " refused meanwhile (503, nothing stored)";
      } else if (name === "redis" && state !== "up") {
        votes = kept + " " + plural(kept, "vote", "votes") + " kept meanwhile (rate limit in local memory)";
      } else {
        votes = kept + " " + plural(kept, "vote", "votes") + " counted since";
      }
      tile.querySelector(".tile-votes").textContent = votes;
    }
  }

  function drawHealth(doc) {
    health = doc;
    const services = doc.services || {};
    Live.drawServicePills(services);
    setPill("pill-mode", doc.mode === "fantasy" ? "fantasy" : "up", doc.mode === "fantasy" ? "FANTASY" : "REALITY");
    body.dataset.mode = doc.mode;
    if (doc.theme) document.documentElement.dataset.theme = doc.theme;
    if (typeof doc.voting_open === "boolean") body.dataset.votingOpen = String(doc.voting_open);
    if (typeof doc.results_visible === "boolean") body.dataset.resultsVisible = String(doc.results_visible);

    const banners = $("banners");
    banners.textContent = "";
    const pg = services.postgres;
    if (doc.docker === "down") banners.append(banner("down", "Docker engine unreachable: containers cannot be managed until it is back."));
    if ((pg === "down" || pg === "stopped") && doc.mode === "fantasy") {
      banners.append(banner("warn", "PostgreSQL is down — the fantasy mock does not need it: every vote is taken."));
    } else if (pg === "down" || pg === "stopped") {
      banners.append(banner("down", "PostgreSQL is down: votes are refused with 503 — nothing is stored, nothing is faked."));
    }
    if (services.redis === "down" || (doc.rate_limit && doc.rate_limit_backend === "local" && services.redis !== "stopped")) {
      banners.append(banner("warn", "Redis is down: votes keep working — the rate limit runs from local memory."));
    }
    if (doc.mode === "fantasy") banners.append(banner("fantasy", "FANTASY MODE: a mock with no UNIQUE constraint. Vote again — it counts."));
    for (const notice of doc.notices || []) banners.append(banner("info", notice));
    if (!live.live) banners.append(banner("info", "Live updates unavailable (run npm ci) — refreshing every second."));
    else if (!live.connected) banners.append(banner("warn", "Connection to the show lost — reconnecting…"));
    drawTiles();
  }

  /* -------------------------------------------------------------------- scenes */

  function drawScene(doc) {
    body.dataset.scene = doc.scene.key;
    $("scene-cue").textContent = doc.scene.cue;
  }

  /* --------------------------------------------------------------------- tests */

  function testRow(result) {
    const row = document.createElement("li");
    row.dataset.outcome = result.outcome;
    const mark = document.createElement("span");
    mark.className = "test-mark";
    mark.textContent = result.outcome === "passed" ? "✓" : result.outcome === "skipped" ? "–" : "✗";
    const name = document.createElement("span");
    name.className = "test-name";
    name.textContent = result.name;
    row.append(mark, name);
    return row;
  }

  function drawTests(doc) {
    tests = doc;
    const verdicts = {};
    for (const column of document.querySelectorAll(".a-tests .tests-col")) {
      const suite = column.dataset.suite;
      const mine = (doc.results || []).filter((r) => r.suite === suite);
      const list = column.querySelector(".tests-list");
      list.textContent = "";
      mine.forEach((result) => list.append(testRow(result)));
      const passed = mine.filter((r) => r.outcome === "passed").length;
      const done = Boolean(doc.summary) && !doc.running;
      let verdict = doc.running ? "Running…" : "Not run yet";
      column.dataset.verdict = "";
      if (mine.length && done && suite === "fantasy" && passed === mine.length) {
        verdict = "All " + passed + " passing — and the duplicate-vote bug ships";
        column.dataset.verdict = "lie";
      } else if (mine.length && done && suite === "reality") {
        verdict = passed + " of " + mine.length + " passing — PostgreSQL refused the duplicate";
        column.dataset.verdict = passed === mine.length ? "caught" : "";
      } else if (mine.length && done) {
        verdict = passed + " of " + mine.length + " passing";
      }
      column.querySelector(".tests-verdict").textContent = verdict;
      verdicts[suite] = { passed, count: mine.length };
    }
    const f = verdicts.fantasy || { count: 0 };
    const r = verdicts.reality || { count: 0 };
    // The verdict in three words: the mocks passed while the bug shipped; the real database caught it.
    $("sum-tests").textContent = !(f.count && r.count && doc.summary) ? "not run"
      : f.passed === f.count && r.passed === r.count ? "mocks lied" : r.passed + "/" + r.count + " real";
  }

  let testsTimer = null;
  function refreshTests() {
    clearTimeout(testsTimer);
    testsTimer = setTimeout(async () => {
      try {
        drawTests(await Live.getJson("/api/tests"));
      } catch (error) { /* offline: the next test event tries again */ }
    }, 150);
  }

  function onFeed(payload) {
    for (const event of payload.events || []) {
      if (event.seq <= lastSeq) continue;
      lastSeq = event.seq;
      if (event.kind === "test" || (event.kind === "system" && event.action === "reset")) refreshTests();
    }
  }

  /* ---------------------------------------------------------------- full screen */

  function wireFullscreen() {
    const button = $("fullscreen");
    if (!document.fullscreenEnabled) {
      button.hidden = true;
      return;
    }
    button.addEventListener("click", () => document.documentElement.requestFullscreen().catch(() => {}));
    let idle = null;
    const wake = () => {
      button.dataset.idle = "false";
      clearTimeout(idle);
      idle = setTimeout(() => { button.dataset.idle = "true"; }, 3000);
    };
    document.addEventListener("mousemove", wake);
    wake();
  }

  /* ---------------------------------------------------------------- the address */

  /* The phone address without its scheme, breakable only after . / : and - (never inside a word). */
  function drawAddress() {
    const node = $("phone-url");
    const short = node.textContent.trim().replace(/^https?:\/\//, "");
    node.textContent = "";
    for (const part of short.split(/(?<=[./:-])/)) {
      node.append(document.createTextNode(part), document.createElement("wbr"));
    }
  }

  /* --------------------------------------------------------------------- start */

  drawAddress();
  drawResults(results);
  drawHealth(health);
  if (initial.scene) drawScene(initial.scene);
  wireFullscreen();
  refreshTests();
  Live.connect("dashboard", {
    feed: onFeed,
    tally: drawResults,
    health: drawHealth,
    scene: drawScene,
    hello: refreshTests, // (re)connected: a test run may have ended while away
    status: (status) => {
      const changed = status.connected !== live.connected || status.live !== live.live;
      live = status;
      body.dataset.live = status.connected ? (status.live ? "live" : "polling") : "offline";
      if (changed) drawHealth(health);
    },
  }, () => lastSeq);
})();
