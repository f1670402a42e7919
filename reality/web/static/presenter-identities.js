/* Reality Engine presenter console: who is taking voter identities, polled every few seconds.
 * Client addresses appear only in the presenter's controls (H hides them), never on the public
 * screen or in the feed. */
import { getJson } from "./api.js";
import { byId as $ } from "./dom.js";

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

export async function pollIdentities() {
  try {
    drawIdentities(await getJson("/api/presenter/identities"));
  } catch (error) { /* logged out or offline: the next round tries again */ }
  window.setTimeout(pollIdentities, 3000);
}
