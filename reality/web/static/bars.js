/* Reality Engine: a tally as bars — each option's count, its share, and whether it leads.
 *
 * Each page writes the numbers its own way (animated on the projector, "n · p%" on the console,
 * "n (p%)" on the phone); the arithmetic and the bar itself are here. */
import { percent } from "./format.js";

/* One bar per option, in the poll's order: { option, count, share (whole %), ofMax, ofTotal, leader }. */
export function bars(results) {
  const counts = results.counts || {};
  const total = results.total || 0;
  const max = Math.max(1, ...results.options.map((option) => counts[option] || 0));
  return results.options.map((option) => {
    const count = counts[option] || 0;
    return {
      option,
      count,
      share: percent(count, total),
      ofMax: (count / max) * 100,
      ofTotal: total ? (count / total) * 100 : 0,
      leader: count > 0 && count === max,
    };
  });
}

/* A .bar-row's fill (as a share of the leader's bar, or of the total) and its leader flag. */
export function fillBar(row, bar, basis = "max") {
  row.querySelector(".bar-fill").style.width = (basis === "total" ? bar.ofTotal : bar.ofMax) + "%";
  row.dataset.leader = String(bar.leader);
}
