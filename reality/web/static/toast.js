/* Reality Engine presenter console: the one-line answer to the last action, and the action itself. */
import { postJson } from "./api.js";
import { byId as $ } from "./dom.js";

let hideTimer = null; // this module's: the next toast replaces the last one's timer

export function toast(text, ok) {
  const node = $("toast");
  if (!node) return;
  node.textContent = text;
  node.dataset.ok = String(ok);
  clearTimeout(hideTimer);
  hideTimer = setTimeout(() => { node.textContent = ""; }, 6000);
}

/* POST /api/presenter/<action>, say the answer in the toast; a lost login reloads to the login page. */
export async function presenterAction(action, body) {
  const result = await postJson("/api/presenter/" + action, body);
  toast(result.body.message || "Done.", result.status >= 200 && result.status < 300);
  if (result.status === 401) window.location.reload();
  return result;
}
