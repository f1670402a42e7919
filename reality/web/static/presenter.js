/* Reality Engine presenter console (the laptop, /presenter): live feed, the current and the next
 * scene with notes, the clocks, the room's numbers, the results as the room sees them, and the
 * controls. The projector shows /, which follows the scene chosen here.
 *
 * This module owns the latest health document, the connection and its status; the feed, the
 * room's numbers and the scene clock own theirs. */
import { drawBanners } from "./banners.js";
import { connect } from "./connection.js";
import { byId as $, pageState } from "./dom.js";
import { createFeed } from "./feed.js";
import { drawControls, wireControls } from "./presenter-controls.js";
import { pollIdentities } from "./presenter-identities.js";
import { createRoom } from "./presenter-room.js";
import { createSceneClock } from "./presenter-scene.js";
import { drawModePill, drawServicePills, setPill } from "./pills.js";
import { presenterAction, toast } from "./toast.js";

const initial = pageState();
const feed = createFeed($("feed"));
const room = createRoom();
const clock = createSceneClock(initial.notes || [], initial.scene);
let health = initial.health || {};
let live = { connected: true, live: Boolean(initial.live) };
let connection = null;

function drawHealth(doc) {
  health = doc;
  drawServicePills(health.services || {});
  const limitState = !health.rate_limit ? "off" : health.rate_limit_backend === "redis" ? "up" : "starting";
  setPill("pill-limit", limitState, !health.rate_limit ? "OFF"
    : health.rate_limit_backend === "redis" ? health.rate_limit_per_minute + "/min · Redis" : "LOCAL FALLBACK");
  drawModePill(health.mode);
  document.body.dataset.mode = health.mode;
  $("mode-note").textContent = health.mode === "fantasy" ? "· fantasy mode: a mock with no constraints" : "";
  drawBanners($("banners"), health, live, { presenter: true });
  drawControls(health);
}

function drawStatus(status) {
  const changed = status.connected !== live.connected || status.live !== live.live;
  live = status;
  $("feed-live").dataset.connected = String(status.connected);
  $("feed-live").textContent = status.connected ? (status.live ? "● live" : "● polling") : "○ offline";
  if (changed) drawHealth(health);
}

/* Over the socket when it is up (answered at once), else over HTTP. */
function changeScene(action) {
  if (connection && connection.socket && connection.socket.connected) {
    connection.socket.emit("scene", { action: action }, (answer) => {
      if (!answer || !answer.ok) toast((answer && answer.message) || "Scene change refused.", false);
    });
  } else {
    presenterAction("scene", { action: action }).then((r) => r.body.scene && clock.draw(r.body.scene));
  }
}

room.draw(initial.results);
drawHealth(health);
if (initial.scene) clock.draw(initial.scene);
wireControls({
  health: () => health,
  running: () => Boolean(clock.current() && clock.current().running),
  changeScene,
  redraw: () => drawHealth(health),
});
pollIdentities();
setInterval(() => { clock.tick(); room.drawRate(); }, 250);
connection = connect("dashboard", {
  feed: feed.add,
  tally: room.draw,
  health: drawHealth,
  scene: clock.draw,
  status: drawStatus,
}, { since: feed.lastSeq, run: (initial.results || {}).run });
