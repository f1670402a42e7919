/* Reality Engine: a notice page that tries again after a wait counts the wait down, live, then reloads. */
import { countDown } from "./countdown.js";
import { byId } from "./dom.js";

const node = byId("countdown");
const seconds = byId("countdown-seconds");
if (node && seconds) {
  countDown(Number(node.dataset.seconds), (left) => { seconds.textContent = String(left); }, () => {
    node.textContent = "Trying again…";
    window.location.reload();
  });
}
