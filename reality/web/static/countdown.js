/* A page that tries again after a wait counts the wait down, live, then reloads itself. */
"use strict";

(() => {
  const node = document.getElementById("countdown");
  const seconds = document.getElementById("countdown-seconds");
  if (!node || !seconds) return;
  const deadline = Date.now() + Number(node.dataset.seconds) * 1000;
  const timer = window.setInterval(() => {
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    seconds.textContent = String(left);
    if (left === 0) {
      window.clearInterval(timer);
      node.textContent = "Trying again…";
      window.location.reload();
    }
  }, 250);
})();
