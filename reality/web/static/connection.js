/* Reality Engine: live updates from the show, pushed or polled.
 *
 * With the Socket.IO client (installed by `npm ci`, served from /vendor/ by a classic <script> that
 * runs before any module) updates are pushed; without it the page polls the same data over HTTP and
 * its status handler says so. Everything from the server is rendered with textContent: text, never markup.
 */
import { getJson } from "./api.js";

const EVENTS = ["feed", "tally", "health", "scene", "hello"];

/* Connect as `role` ("dashboard" or "phone"). handlers: feed, tally, health, scene, hello, status.
 * since() returns the last feed sequence number seen, so a reconnect replays exactly what was missed;
 * run is the show run the page was served by. Returns { socket, polling }. */
export function connect(role, handlers, { since = () => 0, run = null } = {}) {
  // A page served by an earlier run of the show (restarted since) reloads: new feed numbering,
  // perhaps a new question, and a phone's old cookie no longer counts. Once: the hello, the tally and
  // the health document that follow a connection all name the run, and the page is going away.
  let reloading = false;
  const on = (name, payload) => {
    if (reloading) return;
    if (run && payload && payload.run && payload.run !== run) {
      reloading = true;
      window.location.reload();
      return;
    }
    if (handlers[name]) handlers[name](payload);
  };
  if (typeof window.io === "function") {
    const socket = window.io({
      auth: (cb) => cb({ role: role, since: since() }),
      reconnectionDelayMax: 3000,
    });
    EVENTS.forEach((name) => socket.on(name, (p) => on(name, p)));
    socket.on("connect", () => on("status", { live: true, connected: true }));
    socket.on("disconnect", () => on("status", { live: true, connected: false }));
    return { socket: socket, polling: false };
  }
  on("status", { live: false, connected: true });
  const tick = async () => {
    try {
      on("tally", await getJson("/api/results"));
      if (role === "dashboard") {
        on("feed", await getJson("/api/feed?since=" + since()));
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
