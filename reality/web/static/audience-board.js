/* Reality Engine audience screen: the results, the counters, the winner and the service tiles,
 * drawn from the documents the show sends (nothing kept here: the entry module owns them). */
import { bars, fillBar } from "./bars.js";
import { animateNumber } from "./count-up.js";
import { byId as $ } from "./dom.js";
import { clockTime, percent, plural } from "./format.js";
import { SERVICES } from "./services.js";

/* The big chart: each count and its share counted up, the bars as shares of the leader's. */
function drawChart(results) {
  const rows = $("chart").querySelectorAll(".bar-row");
  bars(results).forEach((bar, index) => {
    const row = rows[index];
    if (!row) return;
    row.querySelector(".bar-label").textContent = bar.option;
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
    animateNumber(number, bar.count);
    animateNumber(pct, bar.share, (v) => v + "%");
    fillBar(row, bar);
  });
}

function drawWinner(results) {
  const counts = results.counts || {};
  const max = Math.max(0, ...results.options.map((option) => counts[option] || 0));
  const leaders = results.options.filter((option) => max > 0 && counts[option] === max);
  const line = !leaders.length ? "No votes yet"
    : leaders.length === 1 ? leaders[0] + " wins with " + percent(max, results.total || 0) + "%"
      : "A tie: " + leaders.join(" and ");
  $("winner").textContent = line;
  $("winner").parentElement.classList.toggle("long", line.length > 26);
}

export function drawResults(results) {
  const body = document.body;
  drawChart(results);
  const total = results.total || 0;
  animateNumber($("total"), total);
  $("total-unit").textContent = plural(total, "vote", "votes");
  animateNumber($("sum-total"), total);
  const refused = results.second_votes_refused || 0;
  animateNumber($("refused-count"), refused);
  $("refused-unit").textContent = plural(refused, "second vote refused by PostgreSQL", "second votes refused by PostgreSQL");
  animateNumber($("sum-refused"), refused);
  animateNumber($("sum-outage"), results.outage_refused || 0);
  if (results.latest_refusal) $("refusal-text").textContent = "ERROR: " + results.latest_refusal;
  const joined = results.phones_joined || 0;
  animateNumber($("joined"), joined);
  $("joined-unit").textContent = plural(joined, "phone joined", "phones joined");
  drawWinner(results);
  body.dataset.votingOpen = String(results.voting_open !== false);
  body.dataset.resultsVisible = String(results.results_visible !== false);
  body.dataset.total = String(total);
}

/* The chaos scene's tiles: each service's state, since when, and what the votes did meanwhile. */
export function drawTiles(health, results) {
  const services = health.services || {};
  const changes = health.service_changes || {};
  for (const name of SERVICES) {
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

export function drawScene(scene) {
  document.body.dataset.scene = scene.scene.key;
  $("scene-cue").textContent = scene.scene.cue;
}
