/* Reality Engine audience screen: the test comparison — the mock's suite beside the real database's.
 *
 * The run's results are read from /api/tests whenever the feed says a test event (or a reset)
 * happened; the feed position and the pending read are this module's own. */
import { getJson } from "./api.js";
import { byId as $ } from "./dom.js";

function testRow(result) {
  const row = document.createElement("li");
  row.dataset.outcome = result.outcome;
  const mark = document.createElement("span");
  mark.className = "test-mark";
  mark.textContent = result.outcome === "passed" ? "✓" : result.outcome === "skipped" ? "–" : "✗";
  const name = document.createElement("span");
  name.className = "test-name";
  name.textContent = result.name;
  row.append(mark, name);
  return row;
}

function drawTests(run) {
  const verdicts = {};
  for (const column of document.querySelectorAll(".a-tests .tests-col")) {
    const suite = column.dataset.suite;
    const mine = (run.results || []).filter((r) => r.suite === suite);
    const list = column.querySelector(".tests-list");
    list.textContent = "";
    mine.forEach((result) => list.append(testRow(result)));
    const passed = mine.filter((r) => r.outcome === "passed").length;
    const done = Boolean(run.summary) && !run.running;
    let verdict = run.running ? "Running…" : "Not run yet";
    column.dataset.verdict = "";
    if (mine.length && done && suite === "fantasy" && passed === mine.length) {
      verdict = "All " + passed + " passing — and the duplicate-vote bug ships";
      column.dataset.verdict = "lie";
    } else if (mine.length && done && suite === "reality") {
      verdict = passed + " of " + mine.length + " passing — PostgreSQL refused the duplicate";
      column.dataset.verdict = passed === mine.length ? "caught" : "";
    } else if (mine.length && done) {
      verdict = passed + " of " + mine.length + " passing";
    }
    column.querySelector(".tests-verdict").textContent = verdict;
    verdicts[suite] = { passed, count: mine.length };
  }
  const f = verdicts.fantasy || { count: 0 };
  const r = verdicts.reality || { count: 0 };
  // The verdict in three words: the mocks passed while the bug shipped; the real database caught it.
  $("sum-tests").textContent = !(f.count && r.count && run.summary) ? "not run"
    : f.passed === f.count && r.passed === r.count ? "mocks lied" : r.passed + "/" + r.count + " real";
}

/* { refresh(), onFeed(payload), lastSeq() }: refresh reads the run again (a burst of events, once). */
export function followTests() {
  let lastSeq = 0;
  let timer = null;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        drawTests(await getJson("/api/tests"));
      } catch (error) { /* offline: the next test event tries again */ }
    }, 150);
  };
  const onFeed = (payload) => {
    for (const event of payload.events || []) {
      if (event.seq <= lastSeq) continue;
      lastSeq = event.seq;
      if (event.kind === "test" || (event.kind === "system" && event.action === "reset")) refresh();
    }
  };
  return { refresh, onFeed, lastSeq: () => lastSeq };
}
