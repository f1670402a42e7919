/* Reality Engine: a number on the projector that moves to its new value instead of jumping. */

/* Count from what the element shows to `value` in half a second, so a jump reads as growth. */
export function animateNumber(node, value, format) {
  const show = format || String;
  if (node.dataset.value === String(value) && node.counting) return; // already counting to it
  const shown = parseInt(node.textContent, 10);
  const from = Number.isNaN(shown) ? 0 : shown;
  node.dataset.value = String(value);
  if (from === value || document.hidden) {
    node.counting = null;
    node.textContent = show(value);
    return;
  }
  const counting = {};
  node.counting = counting;
  const started = performance.now();
  const step = (now) => {
    if (node.counting !== counting) return; // a newer value took over
    const t = Math.min(1, (now - started) / 500);
    const eased = 1 - Math.pow(1 - t, 3);
    node.textContent = show(Math.round(from + (value - from) * eased));
    if (t < 1) requestAnimationFrame(step);
    else node.counting = null;
  };
  requestAnimationFrame(step);
}
