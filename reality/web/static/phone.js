/* Reality Engine phone page: vote, see at once what happened, try again, watch the results.
 *
 * The page knows this phone's vote from the server (page state `my_vote`, then GET /api/my-vote), so a
 * reload still says "You voted for …". Everything from the server is rendered with textContent.
 */
"use strict";

(() => {
  const initial = Live.pageState();
  const $ = (id) => document.getElementById(id);
  const choices = $("choices");
  const feedback = $("feedback");
  const again = $("again");
  const resultsPanel = $("phone-results");
  const results0 = initial.results || {};
  let busy = false;
  let votingOpen = results0.voting_open !== false;
  let mode = results0.mode || "reality";
  let ready = results0.ready !== false;
  let myChoice = null; // the option this phone's stored vote is for, when known
  let myKnown = true; // false while PostgreSQL cannot be asked
  let checking = false;
  let countdown = null;

  /* The small print says what holds right now: closed, not stored, the mock, or the real constraint. */
  const FINE = {
    closed: "Voting is closed: no votes are taken now. The results stay live.",
    down: "PostgreSQL is down: votes are not being stored right now. Try again in a moment.",
    fantasy: "Fantasy mode: a mock stands in for PostgreSQL and counts every vote, second ones too.",
    reality: "One vote per phone, enforced by a real PostgreSQL: its UNIQUE constraint refuses a second one.",
  };

  function drawFine() {
    const state = !votingOpen ? "closed" : !ready ? "down" : mode === "fantasy" ? "fantasy" : "reality";
    const fine = $("phone-fine");
    if (fine.dataset.state === state) return;
    fine.dataset.state = state;
    fine.textContent = FINE[state];
  }

  /* The presenter can close voting: the buttons go grey and the page says so (pushed with the tally). */
  function drawVoting(open) {
    votingOpen = open;
    $("phone-closed").hidden = open;
    for (const b of choices.querySelectorAll("button")) b.disabled = !open || busy;
    if (!resultsPanel.hidden) again.hidden = !open; // nothing to vote for while closed
    drawFine();
  }

  function markMine() {
    for (const node of document.querySelectorAll(".choice[data-choice], .bar-row[data-choice]")) {
      node.dataset.mine = String(myChoice !== null && node.dataset.choice === myChoice);
    }
  }

  const OUTCOMES = {
    201: "ok",
    409: "refused",
    423: "closed",
    429: "slow",
    503: "down",
  };

  function drawChart(results) {
    // The presenter hid the results for a reveal: the phones keep the secret too.
    const hidden = results.results_visible === false;
    $("phone-chart").hidden = hidden;
    $("phone-total").hidden = hidden;
    $("phone-results-hidden").hidden = !hidden;
    const counts = results.counts || {};
    const total = results.total || 0;
    const max = Math.max(1, ...Object.values(counts));
    for (const row of $("phone-chart").querySelectorAll(".bar-row")) {
      const count = counts[row.dataset.choice] || 0;
      const share = total ? Math.round((count / total) * 100) : 0;
      row.querySelector(".bar-count").textContent = String(count);
      row.querySelector(".bar-pct").textContent = total ? "(" + share + "%)" : "";
      row.querySelector(".bar-fill").style.width = (total ? (count / total) * 100 : 0) + "%";
      row.dataset.leader = String(count > 0 && count === max);
    }
    $("phone-total").textContent = "· " + total + (total === 1 ? " vote" : " votes");
  }

  function drawResults(results) {
    if (typeof results.voting_open === "boolean" && results.voting_open !== votingOpen) drawVoting(results.voting_open);
    if (results.mode) mode = results.mode;
    if (typeof results.ready === "boolean") ready = results.ready;
    document.body.dataset.mode = mode;
    drawFine();
    drawChart(results);
    // Look the vote up again when it may have changed under us: PostgreSQL is back after an outage,
    // or this phone's option shows no votes at all (a reset, or a fresh database).
    const mineGone = myChoice !== null && !(results.counts || {})[myChoice];
    if ((!myKnown && ready) || (mineGone && ready)) refreshOwnVote(false);
  }

  function show(kind, title, detail) {
    feedback.hidden = false;
    feedback.dataset.kind = kind;
    $("feedback-title").textContent = title;
    $("feedback-detail").textContent = detail || "";
  }

  function showChoices() {
    choices.hidden = false;
    again.hidden = true;
    resultsPanel.hidden = true;
  }

  function showAfterVote() {
    choices.hidden = true;
    again.hidden = !votingOpen;
    resultsPanel.hidden = false;
  }

  function showVotedFor(choice) {
    show("ok", "You voted for " + choice, mode === "fantasy"
      ? "Fantasy mode: the mock would count a second vote too."
      : "PostgreSQL keeps one vote per phone: try again and it refuses the second.");
    showAfterVote();
  }

  /* What the server knows of this phone's vote: at load (from the page) and when it may have changed. */
  function applyOwnVote(own, atLoad) {
    if (!own || own.known === false) {
      myKnown = false;
      if (atLoad) {
        show("down", "Your vote cannot be looked up right now",
          "PostgreSQL does not answer, so this page cannot tell whether you voted. It looks again once PostgreSQL is back.");
      }
      return;
    }
    const wasUnknown = !myKnown;
    const before = myChoice;
    myKnown = true;
    myChoice = own.choice || null;
    markMine();
    if (busy) return;
    if (myChoice !== null && (atLoad || wasUnknown)) {
      showVotedFor(myChoice);
    } else if (myChoice === null && (before !== null || wasUnknown)) {
      // The presenter cleared the votes (or PostgreSQL came back empty): this phone can vote again.
      feedback.hidden = true;
      stopCountdown();
      showChoices();
    }
  }

  async function refreshOwnVote(announce) {
    if (checking) return;
    checking = true;
    try {
      const response = await fetch("/api/my-vote", { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.ok || response.status === 503) applyOwnVote(await response.json(), announce);
    } catch (error) {
      // offline for a moment: the next tally asks again
    } finally {
      checking = false;
    }
  }

  /* "Vote again" stays disabled while the server says to wait, and says how long, second by second. */
  function startCountdown(seconds) {
    stopCountdown();
    const deadline = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      if (left <= 0) {
        stopCountdown();
        return;
      }
      again.disabled = true;
      again.textContent = "Vote again in " + left + " s";
    };
    tick();
    countdown = window.setInterval(tick, 250);
  }

  function stopCountdown() {
    if (countdown !== null) window.clearInterval(countdown);
    countdown = null;
    again.disabled = false;
    again.textContent = "Vote again";
  }

  async function vote(choice, button) {
    if (busy) return;
    busy = true;
    for (const b of choices.querySelectorAll("button")) b.disabled = true;
    button.dataset.pressed = "true";
    let result = await Live.postJson("/api/vote", { choice: choice });
    let identityRefused = false;
    if (result.status === 403) {
      // No valid voter cookie (the show restarted with a new key, or it expired): this page hands
      // out a new one; fetch it and try once more.
      try {
        const page = await fetch("/qr", { credentials: "same-origin", cache: "no-store" });
        identityRefused = page.status === 429; // too many new phones from this network just now
        if (!identityRefused) result = await Live.postJson("/api/vote", { choice: choice });
      } catch (error) {
        // keep the first answer
      }
    }
    busy = false;
    for (const b of choices.querySelectorAll("button")) b.disabled = !votingOpen;
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
      myKnown = true;
      myChoice = choice;
      markMine();
    } else if (result.status === 409 && myChoice === null) {
      refreshOwnVote(false); // refused: PostgreSQL has this phone's earlier vote; mark which one
    }
    if (result.status === 423) drawVoting(false);
    if (result.status !== 0 && result.status < 500 && result.status !== 400) {
      showAfterVote();
      if (result.status === 429) {
        startCountdown(Number(body.retry_after) || 60);
      } else {
        stopCountdown();
        again.focus();
      }
    }
    Live.getJson("/api/results").then(drawResults).catch(() => {});
  }

  choices.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-choice]");
    if (button) vote(button.dataset.choice, button);
  });

  again.addEventListener("click", () => {
    if (again.disabled) return;
    showChoices();
    feedback.hidden = true;
  });

  drawResults(results0);
  applyOwnVote(initial.my_vote || { known: true, choice: null }, true);
  Live.connect("phone", {
    tally: drawResults,
    status: (status) => {
      const note = $("phone-note");
      note.hidden = status.connected;
      note.textContent = status.connected ? "" : "Connection to the show lost — reconnecting…";
    },
  });
})();
