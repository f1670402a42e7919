/* Reality Engine: the services the show runs, in the order the screens show them.
   The browser's copy of reality/config.py's SERVICES (the health document is keyed by these names;
   each button and tile carries its display name in the page itself). */

export const SERVICES = ["postgres", "redis"];
