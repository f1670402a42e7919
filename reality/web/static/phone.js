/* Reality Engine phone page: vote, see at once what happened, try again, watch the results.
 *
 * This module owns the phone's state (`phone` below) and passes it to the drawing (phone-screen.js)
 * and the voting (phone-vote.js). Everything from the server is rendered with textContent. */
import { connect } from "./connection.js";
import { byId as $, pageState } from "./dom.js";
import { drawChart, drawFine, drawVoting, hideAnswer, showChoices } from "./phone-screen.js";
import { applyOwnVote, refreshOwnVote, vote } from "./phone-vote.js";

const initial = pageState();
const results0 = initial.results || {};
const phone = {
  busy: false,
  votingOpen: results0.voting_open !== false,
  mode: results0.mode || "reality",
  ready: results0.ready !== false,
  myChoice: null, // the option this phone's stored vote is for, when known
  myKnown: true, // false while PostgreSQL cannot be asked
  checking: false,
  stopCountdown: null, // stops "Vote again in n s"
};

function drawResults(results) {
  if (typeof results.voting_open === "boolean" && results.voting_open !== phone.votingOpen) drawVoting(phone, results.voting_open);
  if (results.mode) phone.mode = results.mode;
  if (typeof results.ready === "boolean") phone.ready = results.ready;
  document.body.dataset.mode = phone.mode;
  drawFine(phone);
  drawChart(results);
  // Look the vote up again when it may have changed under us: PostgreSQL is back after an outage,
  // or this phone's option shows no votes at all (a reset, or a fresh database).
  const mineGone = phone.myChoice !== null && !(results.counts || {})[phone.myChoice];
  if ((!phone.myKnown && phone.ready) || (mineGone && phone.ready)) refreshOwnVote(phone, false);
}

$("choices").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-choice]");
  if (button) vote(phone, button.dataset.choice, button, drawResults);
});

$("again").addEventListener("click", () => {
  if ($("again").disabled) return;
  showChoices();
  hideAnswer();
});

drawResults(results0);
applyOwnVote(phone, initial.my_vote || { known: true, choice: null }, true);
connect("phone", {
  tally: drawResults,
  status: (status) => {
    const note = $("phone-note");
    note.hidden = status.connected;
    note.textContent = status.connected ? "" : "Connection to the show lost — reconnecting…";
  },
}, { run: results0.run });
