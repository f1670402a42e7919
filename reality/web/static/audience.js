/* Reality Engine audience screen (the projector): follows the presenter's scene and shows what the
 * room reads. Nothing here changes the show; the presenter's console is /presenter.
 *
 * This module owns the latest documents (results, health, connection) and hands them to the drawing. */
import { drawResults, drawScene, drawTiles } from "./audience-board.js";
import { followTests } from "./audience-tests.js";
import { drawBanners } from "./banners.js";
import { connect } from "./connection.js";
import { byId as $, pageState } from "./dom.js";
import { wireFullscreen } from "./fullscreen.js";
import { drawModePill, drawServicePills } from "./pills.js";

const initial = pageState();
const body = document.body;
const tests = followTests();
let results = initial.results || {};
let health = initial.health || {};
let live = { connected: true, live: Boolean(initial.live) };

function onResults(doc) {
  results = doc;
  drawResults(results);
  drawTiles(health, results);
}

function onHealth(doc) {
  health = doc;
  drawServicePills(health.services || {});
  drawModePill(health.mode);
  body.dataset.mode = health.mode;
  if (health.theme) document.documentElement.dataset.theme = health.theme;
  if (typeof health.voting_open === "boolean") body.dataset.votingOpen = String(health.voting_open);
  if (typeof health.results_visible === "boolean") body.dataset.resultsVisible = String(health.results_visible);
  drawBanners($("banners"), health, live);
  drawTiles(health, results);
}

function onStatus(status) {
  const changed = status.connected !== live.connected || status.live !== live.live;
  live = status;
  body.dataset.live = status.connected ? (status.live ? "live" : "polling") : "offline";
  if (changed) onHealth(health);
}

onResults(results);
onHealth(health);
if (initial.scene) drawScene(initial.scene);
wireFullscreen($("fullscreen"));
tests.refresh();
connect("dashboard", {
  feed: tests.onFeed,
  tally: onResults,
  health: onHealth,
  scene: drawScene,
  hello: tests.refresh, // (re)connected: a test run may have ended while away
  status: onStatus,
}, { since: tests.lastSeq, run: results.run });
