/* Reality Engine presenter console: the buttons and the keys — scenes, the room, the lesson, chaos, the show. */
import { byId as $ } from "./dom.js";
import { presenterAction, toast } from "./toast.js";


/* Each button's label and state from the health document. */
export function drawControls(health) {
  const services = health.services || {};
  $("btn-limit").textContent = "Rate limit: " + (health.rate_limit ? "on" : "off");
  $("btn-limit").dataset.on = String(Boolean(health.rate_limit));
  $("btn-mode").textContent = health.mode === "fantasy" ? "Back to reality" : "Switch to fantasy";
  $("btn-voting").textContent = health.voting_open === false ? "Reopen voting" : "Close voting";
  $("btn-voting").dataset.open = String(health.voting_open !== false);
  $("btn-results").textContent = health.results_visible === false ? "Reveal results" : "Hide results";
  $("btn-results").dataset.visible = String(health.results_visible !== false);
  $("btn-theme").textContent = health.theme === "light" ? "Dark theme" : "Light theme";
  if (health.theme) document.documentElement.dataset.theme = health.theme;
  $("btn-tests").disabled = Boolean(health.tests_running);
  $("btn-tests").textContent = health.tests_running ? "Tests running…" : "Run tests";
  for (const button of document.querySelectorAll("button[data-target]")) {
    const state = services[button.dataset.target];
    button.disabled = button.dataset.action === "chaos" ? state !== "up" : state === "up" || state === "starting";
  }
}

/* The CSV through fetch, so that a refusal (PostgreSQL down) is said in the toast instead of a
 * download the browser silently cancels. */
async function exportVotes() {
  let response;
  try {
    response = await fetch("/api/presenter/export.csv", { credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    toast("No connection to the show: the votes could not be exported.", false);
    return;
  }
  if (!response.ok) {
    let message = "Export refused (" + response.status + ").";
    try {
      message = (await response.json()).message || message;
    } catch (error) { /* keep the status line */ }
    toast(message, false);
    if (response.status === 401) window.location.reload();
    return;
  }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = "reality-engine-votes.csv";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  toast("Votes exported: reality-engine-votes.csv", true);
}

/* What a button sends: the opposite of what the health document says now. */
function actionBody(action, health, button) {
  if (action === "rate-limit") return { enabled: !health.rate_limit };
  if (action === "mode") return { mode: health.mode === "fantasy" ? "reality" : "fantasy" };
  if (action === "voting") return { open: health.voting_open === false };
  if (action === "results") return { visible: health.results_visible === false };
  if (action === "theme") return { theme: health.theme === "light" ? "dark" : "light" };
  if (action === "chaos" || action === "recover") return { target: button.dataset.target };
  return {};
}

/* Wire the buttons and keys. show: { health(), running(), changeScene(action), redraw() }. */
export function wireControls(show) {
  const sceneToggle = () => (show.running() ? "pause" : "start");
  for (const button of document.querySelectorAll("button[data-scene-action]")) {
    button.addEventListener("click", () => {
      const action = button.dataset.sceneAction;
      show.changeScene(action === "toggle" ? sceneToggle() : action);
    });
  }
  $("btn-export").addEventListener("click", exportVotes);
  const resetButton = $("btn-reset");
  const disarm = () => { resetButton.dataset.armed = "false"; resetButton.textContent = "Reset"; };
  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", async () => {
      const action = button.dataset.action;
      if (action === "reset" && resetButton.dataset.armed !== "true") {
        // Two clicks, so a slip of the hand cannot wipe the room's votes mid-show.
        resetButton.dataset.armed = "true";
        resetButton.textContent = "Click again to reset";
        setTimeout(disarm, 4000);
        return;
      }
      // Disabled while the request runs (no double sends); the keyboard's focus comes back after.
      const hadFocus = document.activeElement === button;
      button.disabled = true;
      if (action === "recover") toast("Recovering " + button.dataset.name + "…", true);
      try {
        await presenterAction(action, actionBody(action, show.health(), button));
      } finally {
        button.disabled = false;
        if (hadFocus && !button.disabled) button.focus();
        if (action === "reset") disarm();
        show.redraw();
      }
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    // Space or Enter on a focused button presses that button, as everywhere else: no scene change.
    if ((event.key === " " || event.key === "Enter") && event.target.closest("button, a, summary")) return;
    // Presentation clickers send PageDown/PageUp; keyboards use the arrows and space.
    if (["ArrowRight", "PageDown", " "].includes(event.key)) show.changeScene("next");
    else if (["ArrowLeft", "PageUp"].includes(event.key)) show.changeScene("previous");
    else if (event.key === "p" || event.key === "P") show.changeScene(sceneToggle());
    else if (event.key === "h" || event.key === "H") document.body.classList.toggle("controls-hidden");
    else return;
    event.preventDefault();
  });
}
