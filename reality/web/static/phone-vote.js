/* Reality Engine phone page: casting a vote, saying what happened, and knowing this phone's own vote.
 *
 * The page knows this phone's vote from the server (page state `my_vote`, then GET /api/my-vote), so a
 * reload still says "You voted for …". The phone's state is phone.js's, passed in as `phone`. */
import { getJson, postJson } from "./api.js";
import { countDown } from "./countdown.js";
import { byId as $ } from "./dom.js";
import {
  choiceButtons, hideAnswer, markMine, show, showAfterVote, showChoices, showVotedFor, drawVoting,
} from "./phone-screen.js";

const OUTCOMES = {
  201: "ok",
  409: "refused",
  423: "closed",
  429: "slow",
  503: "down",
};

/* "Vote again" stays disabled while the server says to wait, and says how long, second by second. */
function startAgainCountdown(phone, seconds) {
  stopAgainCountdown(phone);
  const again = $("again");
  phone.stopCountdown = countDown(seconds, (left) => {
    again.disabled = true;
    again.textContent = "Vote again in " + left + " s";
  }, () => stopAgainCountdown(phone));
}

export function stopAgainCountdown(phone) {
  if (phone.stopCountdown) phone.stopCountdown();
  phone.stopCountdown = null;
  const again = $("again");
  again.disabled = false;
  again.textContent = "Vote again";
}

/* What the server knows of this phone's vote: at load (from the page) and when it may have changed. */
export function applyOwnVote(phone, own, atLoad) {
  if (!own || own.known === false) {
    phone.myKnown = false;
    if (atLoad) {
      show("down", "Your vote cannot be looked up right now",
        "PostgreSQL does not answer, so this page cannot tell whether you voted. It looks again once PostgreSQL is back.");
    }
    return;
  }
  const wasUnknown = !phone.myKnown;
  const before = phone.myChoice;
  phone.myKnown = true;
  phone.myChoice = own.choice || null;
  markMine(phone);
  if (phone.busy) return;
  if (phone.myChoice !== null && (atLoad || wasUnknown)) {
    showVotedFor(phone, phone.myChoice);
  } else if (phone.myChoice === null && (before !== null || wasUnknown)) {
    // The presenter cleared the votes (or PostgreSQL came back empty): this phone can vote again.
    hideAnswer();
    stopAgainCountdown(phone);
    showChoices();
  }
}

export async function refreshOwnVote(phone, announce) {
  if (phone.checking) return;
  phone.checking = true;
  try {
    const response = await fetch("/api/my-vote", { headers: { Accept: "application/json" }, cache: "no-store" });
    if (response.ok || response.status === 503) applyOwnVote(phone, await response.json(), announce);
  } catch (error) {
    // offline for a moment: the next tally asks again
  } finally {
    phone.checking = false;
  }
}

/* Vote for `choice` (pressed on `button`), then draw the answer; onResults gets the tally read after. */
export async function vote(phone, choice, button, onResults) {
  if (phone.busy) return;
  phone.busy = true;
  for (const b of choiceButtons()) b.disabled = true;
  button.dataset.pressed = "true";
  let result = await postJson("/api/vote", { choice: choice });
  let identityRefused = false;
  if (result.status === 403) {
    // No valid voter cookie (the show restarted with a new key, or it expired): this page hands
    // out a new one; fetch it and try once more.
    try {
      const page = await fetch("/qr", { credentials: "same-origin", cache: "no-store" });
      identityRefused = page.status === 429; // too many new phones from this network just now
      if (!identityRefused) result = await postJson("/api/vote", { choice: choice });
    } catch (error) {
      // keep the first answer
    }
  }
  phone.busy = false;
  for (const b of choiceButtons()) b.disabled = !phone.votingOpen;
  button.dataset.pressed = "false";
  const body = result.body || {};
  const kind = OUTCOMES[result.status] || (result.status === 0 ? "down" : "error");
  let detail = body.detail || "";
  if (result.status === 429) detail = detail.replace(/\s*Try again in \d+ s\.?/, ""); // the button counts down
  show(kind, body.message || "Something went wrong.", detail);
  if (identityRefused) {
    $("feedback-detail").textContent = "Too many new phones from your network right now: reload this page in a minute.";
  } else if (result.status === 403) {
    $("feedback-detail").textContent = "This browser keeps no cookies, so it cannot vote: allow cookies for this page.";
  }
  if (result.status === 201) {
    phone.myKnown = true;
    phone.myChoice = choice;
    markMine(phone);
  } else if (result.status === 409 && phone.myChoice === null) {
    refreshOwnVote(phone, false); // refused: PostgreSQL has this phone's earlier vote; mark which one
  }
  if (result.status === 423) drawVoting(phone, false);
  if (result.status !== 0 && result.status < 500 && result.status !== 400) {
    showAfterVote(phone);
    if (result.status === 429) {
      startAgainCountdown(phone, Number(body.retry_after) || 60);
    } else {
      stopAgainCountdown(phone);
      $("again").focus();
    }
  }
  getJson("/api/results").then(onResults).catch(() => {});
}
