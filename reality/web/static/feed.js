/* Reality Engine presenter console: the live feed, newest first, a repeated line counted instead of repeated.
 *
 * The last sequence number shown is this module's: a reconnect asks the show for what came after it. */
import { clockTime } from "./format.js";

const FEED_LIMIT = 60;
const ICONS = {
  container: "◼", vote: "●", ratelimit: "◷", chaos: "⚡", service: "◆", system: "•", test: "✓", mode: "◐",
};

function feedItem(event) {
  const item = document.createElement("li");
  item.className = "feed-item";
  item.dataset.kind = event.kind;
  item.dataset.action = event.action;
  item.dataset.seq = String(event.seq);
  const time = document.createElement("span");
  time.className = "feed-time";
  time.textContent = clockTime(event.ts);
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

/* The feed drawn into the <ol> `list`: { add(payload), lastSeq() }. */
export function createFeed(list) {
  let lastSeq = 0;
  const add = (payload) => {
    const events = (payload.events || []).slice().sort((a, b) => a.seq - b.seq);
    if (payload.gap && events.length && events[0].seq > lastSeq) {
      const note = document.createElement("li");
      note.className = "feed-item feed-gap";
      note.textContent = "… " + payload.gap + " earlier event(s) are no longer held";
      list.prepend(note);
    }
    for (const event of events) {
      if (event.seq <= lastSeq) continue; // already shown (a replay overlapping the live stream)
      lastSeq = event.seq;
      if (event.kind === "system" && event.action === "reset") list.textContent = "";
      const top = list.firstElementChild;
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
      list.prepend(item);
    }
    while (list.children.length > FEED_LIMIT) list.lastElementChild.remove();
    document.body.dataset.lastSeq = String(lastSeq);
  };
  return { add, lastSeq: () => lastSeq };
}
