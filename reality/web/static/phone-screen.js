/* Reality Engine phone page: what the phone shows — the answer, the choices or the results, the small print.
 *
 * Every function reads the phone's state (created and owned by phone.js, passed in) and draws it;
 * none keeps state of its own. */
import { bars, fillBar } from "./bars.js";
import { byId as $ } from "./dom.js";

/* The small print says what holds right now: closed, not stored, the mock, or the real constraint. */
const FINE = {
  closed: "Voting is closed: no more votes are taken.",
  down: "PostgreSQL is down: votes are not being stored right now. Try again in a moment.",
  fantasy: "Fantasy mode: a mock stands in for PostgreSQL and counts every vote, second ones too.",
  reality: "One vote per phone, enforced by a real PostgreSQL: its UNIQUE constraint refuses a second one.",
};

export function drawFine(phone) {
  const state = !phone.votingOpen ? "closed" : !phone.ready ? "down" : phone.mode === "fantasy" ? "fantasy" : "reality";
  const fine = $("phone-fine");
  if (fine.dataset.state === state) return;
  fine.dataset.state = state;
  fine.textContent = FINE[state];
}

export function choiceButtons() {
  return $("choices").querySelectorAll("button");
}

/* The presenter can close voting: the buttons go grey and the page says so (pushed with the tally). */
export function drawVoting(phone, open) {
  phone.votingOpen = open;
  $("phone-closed").hidden = open;
  for (const b of choiceButtons()) b.disabled = !open || phone.busy;
  if (!$("phone-results").hidden) $("again").hidden = !open; // nothing to vote for while closed
  drawFine(phone);
}

export function markMine(phone) {
  for (const node of document.querySelectorAll(".choice[data-choice], .bar-row[data-choice]")) {
    node.dataset.mine = String(phone.myChoice !== null && node.dataset.choice === phone.myChoice);
  }
}

/* The live results, bars as shares of the total; hidden while the presenter keeps them for a reveal. */
export function drawChart(results) {
  // The presenter hid the results for a reveal: the phones keep the secret too.
  const hidden = results.results_visible === false;
  $("phone-chart").hidden = hidden;
  $("phone-total").hidden = hidden;
  $("phone-results-hidden").hidden = !hidden;
  const total = results.total || 0;
  const byOption = new Map(bars(results).map((bar) => [bar.option, bar]));
  for (const row of $("phone-chart").querySelectorAll(".bar-row")) {
    const bar = byOption.get(row.dataset.choice);
    if (!bar) continue;
    row.querySelector(".bar-count").textContent = String(bar.count);
    row.querySelector(".bar-pct").textContent = total ? "(" + bar.share + "%)" : "";
    fillBar(row, bar, "total");
  }
  $("phone-total").textContent = "· " + total + (total === 1 ? " vote" : " votes");
}

/* The answer box: kind (ok, refused, closed, slow, down, error), a title and a detail line. */
export function show(kind, title, detail) {
  const feedback = $("feedback");
  feedback.hidden = false;
  feedback.dataset.kind = kind;
  $("feedback-title").textContent = title;
  $("feedback-detail").textContent = detail || "";
}

export function hideAnswer() {
  $("feedback").hidden = true;
}

export function showChoices() {
  $("choices").hidden = false;
  $("again").hidden = true;
  $("phone-results").hidden = true;
}

export function showAfterVote(phone) {
  $("choices").hidden = true;
  $("again").hidden = !phone.votingOpen;
  $("phone-results").hidden = false;
}

export function showVotedFor(phone, choice) {
  show("ok", "You voted for " + choice, phone.mode === "fantasy"
    ? "Fantasy mode: the mock would count a second vote too."
    : "PostgreSQL keeps one vote per phone: try again and it refuses the second.");
  showAfterVote(phone);
}
