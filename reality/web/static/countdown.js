/* Reality Engine: a wait counted down second by second (the phone's "Vote again in n s", the
 * notice page that tries again by itself). */

/* Calls onTick(secondsLeft) now and four times a second until the wait is over, then onDone().
 * Returns a function that stops the count (onDone is then not called). */
export function countDown(seconds, onTick, onDone) {
  const deadline = Date.now() + seconds * 1000;
  let timer = null;
  const stop = () => {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  };
  const tick = () => {
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    if (left === 0) {
      stop();
      onDone();
      return;
    }
    onTick(left);
  };
  timer = window.setInterval(tick, 250);
  tick();
  return stop;
}
