/* Reality Engine: numbers and times as the pages write them. */

export function plural(n, one, many) {
  return n === 1 ? one : many;
}

/* A count's share of the total, in whole percent (0 when there is no total). */
export function percent(count, total) {
  return total ? Math.round((count / total) * 100) : 0;
}

/* An event's or a change's time (epoch seconds) as the wall clock reads it: 14:03:07. */
export function clockTime(epoch) {
  return new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/* A duration in seconds as m:ss. */
export function minutesSeconds(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}
