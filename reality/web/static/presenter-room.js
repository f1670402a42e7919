/* Reality Engine presenter console: the room's numbers and the results as the room sees them.
 *
 * The recent totals behind the votes-per-second figure are this module's own. */
import { bars, fillBar } from "./bars.js";
import { byId as $ } from "./dom.js";
import { plural } from "./format.js";

/* { draw(results), drawRate() }: drawRate again every so often, so the rate falls when votes stop. */
export function createRoom() {
  const totals = [];

  /* Votes per second over the last five seconds, from the totals the tally brings. */
  function voteRate() {
    const now = performance.now();
    while (totals.length > 1 && now - totals[0].at > 5000) totals.shift();
    if (totals.length < 2) return 0;
    const first = totals[0];
    const last = totals[totals.length - 1];
    const seconds = Math.max(1, (now - first.at) / 1000);
    return Math.max(0, last.total - first.total) / seconds;
  }

  function drawRate() {
    const rate = voteRate();
    $("stat-rate").textContent = rate >= 10 ? String(Math.round(rate)) : rate.toFixed(1);
  }

  function drawChart(results) {
    const rows = $("chart").querySelectorAll(".bar-row");
    const total = results.total || 0;
    bars(results).forEach((bar, index) => {
      const row = rows[index];
      if (!row) return;
      row.querySelector(".bar-label").textContent = bar.option;
      // Counts with percentages, as on the audience screen.
      row.querySelector(".bar-count").textContent = bar.count + " · " + bar.share + "%";
      fillBar(row, bar);
      row.title = total ? bar.option + ": " + bar.count + " (" + bar.share + "%)" : bar.option;
    });
  }

  function draw(results) {
    drawChart(results);
    const total = results.total || 0;
    $("total").textContent = String(total);
    $("total-unit").textContent = plural(total, "vote", "votes");
    const joined = results.phones_joined || 0;
    const refused = results.second_votes_refused || 0;
    $("stat-joined").textContent = String(joined);
    $("stat-joined-unit").textContent = plural(joined, "phone joined", "phones joined");
    $("stat-refused").textContent = String(refused);
    $("stat-refused-unit").textContent = plural(refused, "second vote refused", "second votes refused");
    totals.push({ at: performance.now(), total: total });
    drawRate();
    const notes = [];
    if (results.results_visible === false) notes.push("Hidden from the room: the audience screen shows no numbers.");
    if (results.voting_open === false) notes.push("Voting is closed.");
    $("room-note").textContent = notes.join(" ");
    document.body.dataset.total = String(total);
  }

  return { draw, drawRate };
}
