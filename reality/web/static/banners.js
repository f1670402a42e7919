/* Reality Engine: the banners over the audience screen and the console, from the health document.
 *
 * The room reads short lines; the presenter's console says a little more (the fallback, the 423 of a
 * closed vote, why live updates are off) and also warns while PostgreSQL starts. */

const ROOM = {
  redisDown: "Redis is down: votes keep working — the rate limit runs from local memory.",
  fantasy: "FANTASY MODE: a mock with no UNIQUE constraint. Vote again — it counts.",
  polling: "Live updates unavailable (run npm ci) — refreshing every second.",
};
const PRESENTER = {
  redisDown: "Redis is down: votes keep working — the rate limit runs from local memory (fallback).",
  fantasy: "FANTASY MODE: votes go to a mock with no UNIQUE constraint. Vote again — it counts.",
  polling: "Live updates unavailable (Socket.IO client not installed: run npm ci) — refreshing every second.",
};

/* A banner line of the given kind (down, warn, fantasy, info), as text. */
export function banner(kind, text) {
  const node = document.createElement("p");
  node.className = "banner banner-" + kind;
  node.textContent = text;
  return node;
}

/* Replace the banners in `container` with what `health` and the connection (`live`) call for. */
export function drawBanners(container, health, live, { presenter = false } = {}) {
  const words = presenter ? PRESENTER : ROOM;
  const services = health.services || {};
  const pg = services.postgres;
  container.textContent = "";
  const add = (kind, text) => container.append(banner(kind, text));
  if (health.docker === "down") add("down", "Docker engine unreachable: containers cannot be managed until it is back.");
  if ((pg === "down" || pg === "stopped") && health.mode === "fantasy") {
    add("warn", "PostgreSQL is down — the fantasy mock does not need it: every vote is taken.");
  } else if (pg === "down" || pg === "stopped") {
    add("down", "PostgreSQL is down: votes are refused with 503 — nothing is stored, nothing is faked.");
  } else if (presenter && pg === "starting") {
    add("warn", "PostgreSQL is starting…");
  }
  if (services.redis === "down" || (health.rate_limit && health.rate_limit_backend === "local" && services.redis !== "stopped")) {
    add("warn", words.redisDown);
  }
  if (presenter && health.voting_open === false) {
    add("warn", "Voting is closed: phones say so, and a vote is refused with 423 — nothing is stored.");
  }
  if (health.mode === "fantasy") add("fantasy", words.fantasy);
  for (const notice of health.notices || []) add("info", notice);
  if (!live.live) add("info", words.polling);
  else if (!live.connected) add("warn", "Connection to the show lost — reconnecting…");
}
