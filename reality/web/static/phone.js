/* Reality Engine phone page: vote, see at once what happened, try again, watch the results. */
"use strict";

(() => {
  const initial = Live.pageState();
  const $ = (id) => document.getElementById(id);
  const choices = $("choices");
  const feedback = $("feedback");
  const again = $("again");
  const resultsPanel = $("phone-results");
  let busy = false;
  let votingOpen = initial.results.voting_open !== false;

  /* The presenter can close voting: the buttons go grey and the page says so (pushed with the tally). */
  function drawVoting(open) {
    votingOpen = open;
    $("phone-closed").hidden = open;
    for (const b of choices.querySelectorAll("button")) b.disabled = !open || busy;
  }

  const OUTCOMES = {
    201: "ok",
    409: "refused",
    423: "closed",
    429: "slow",
    503: "down",
  };

  function drawResults(results) {
    if (typeof results.voting_open === "boolean" && results.voting_open !== votingOpen) drawVoting(results.voting_open);
    Live.drawChart($("phone-chart"), results);
    $("phone-total").textContent = "· " + (results.total || 0) + (results.total === 1 ? " vote" : " votes");
  }

  function show(kind, title, detail) {
    feedback.hidden = false;
    feedback.dataset.kind = kind;
    $("feedback-title").textContent = title;
    $("feedback-detail").textContent = detail || "";
    feedback.scrollIntoView({ block: "nearest" });
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
    const kind = OUTCOMES[result.status] || (result.status === 0 ? "down" : "error");
    show(kind, result.body.message || "Something went wrong.", result.body.detail || "");
    if (identityRefused) {
      $("feedback-detail").textContent = "Too many new phones from your network right now: reload this page in a minute.";
    } else if (result.status === 403) {
      $("feedback-detail").textContent = "This browser keeps no cookies, so it cannot vote: allow cookies for this page.";
    }
    if (result.status === 423) drawVoting(false);
    if (result.status !== 0 && result.status < 500 && result.status !== 400) {
      choices.hidden = true;
      again.hidden = false;
      resultsPanel.hidden = false;
      again.focus();
    }
    Live.getJson("/api/results").then(drawResults).catch(() => {});
  }

  choices.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-choice]");
    if (button) vote(button.dataset.choice, button);
  });

  again.addEventListener("click", () => {
    choices.hidden = false;
    again.hidden = true;
    feedback.hidden = true;
  });

  drawResults(initial.results);
  Live.connect("phone", {
    tally: drawResults,
    status: (status) => {
      const note = $("phone-note");
      note.hidden = status.connected;
      note.textContent = status.connected ? "" : "Connection to the show lost — reconnecting…";
    },
  });
})();
