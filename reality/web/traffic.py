"""Hostile or broken client traffic, counted and said in at most one terminal line per few seconds.

A room of developers will send malformed Socket.IO packets, flood a socket, trickle half a request or
send 101 headers. Each of those is the client's problem, not the server's: it is dropped, counted
here, and summarised — how many of each, from how many connections — instead of printing a
traceback per packet (22,000 lines for 2,000 packets, and a slower server while it prints).

    report = TrafficReport(print)
    report.record("malformed Socket.IO packets", "127.0.0.1:50412")
    report.flush(force=True)   # "Dropped in the last 0 s: 1 malformed Socket.IO packets from 1 connection."
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from ..config import DEFAULT_TRAFFIC_REPORT

FLOODING = "flooding sockets disconnected"
#: At most one summary line this often (``REALITY_TRAFFIC_REPORT_SECONDS``, whose default is the
#: settings' own); the first line of a quiet period comes within a second.
REPORT_INTERVAL = float(DEFAULT_TRAFFIC_REPORT)
#: Distinct sources remembered per kind between two lines (enough to say "from 600 connections").
MAX_SOURCES = 10_000


class TrafficReport:
    """Counts dropped traffic by kind and source; :meth:`flush` turns the counts into one line."""

    def __init__(self, say: Callable[[str], None], interval: float = REPORT_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.say = say
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._sources: dict[str, set[str]] = {}
        self._since = clock()
        self._last_line = float("-inf")
        self.totals: dict[str, int] = {}  # for the whole run (tests and the curious read it)
        self._closed = False

    def record(self, kind: str, source: str) -> None:
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self.totals[kind] = self.totals.get(kind, 0) + 1
            sources = self._sources.setdefault(kind, set())
            if len(sources) < MAX_SOURCES:
                sources.add(source)

    def flush(self, force: bool = False) -> str | None:
        """Say what was dropped since the last line, if anything and if the interval has passed."""
        now = self.clock()
        with self._lock:
            if not self._counts or (not force and now - self._last_line < self.interval):
                return None
            parts = [f"{count:,} {kind} from {_connections(len(self._sources[kind]))}"
                     for kind, count in self._counts.items()]
            line = f"Dropped in the last {now - self._since:.0f} s: " + "; ".join(parts) + "."
            self._counts.clear()
            self._sources.clear()
            self._last_line = now
        self.say(line)
        return line

    def run(self, sleep: Callable[[float], None]) -> None:
        """Flush once a second until :meth:`close` (a background task)."""
        while not self._closed:
            sleep(1.0)
            with self._lock:
                if not self._counts:
                    self._since = self.clock()  # a line covers the time since traffic began
            self.flush()


    def close(self) -> None:
        self._closed = True
        self.flush(force=True)


def _connections(count: int) -> str:
    more = "+" if count >= MAX_SOURCES else ""
    return f"{count:,}{more} connection" + ("" if count == 1 else "s")


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; :meth:`take` says whether one was left.

    (Hand-written: it is a few lines on the hot path of every packet, and per connection, in memory;
    the ``limits`` package the vote limit uses keys its windows in a storage and costs far more.)
    """

    __slots__ = ("rate", "burst", "tokens", "at")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def take(self, now: float, cost: float = 1) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True


class CountLibraryErrors(logging.Filter):
    """Turns error records of python-socketio / python-engineio into counts instead of tracebacks.

    The show validates packets before the libraries see them (see ``sockets.SocketGuard``); what the
    libraries still log at error level comes from a client's connection (a packet refused, a
    transport torn down mid-write), so it is counted like the rest.
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: TrafficReport | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or self.report is None:
            return True
        self.report.record("Socket.IO errors", record.name)
        return False


_LIBRARY_FILTER = CountLibraryErrors()
LIBRARY_LOGGERS = ("engineio.server", "socketio.server")


def count_library_errors(report: TrafficReport) -> None:
    """Route the Socket.IO libraries' error records to ``report`` (the latest app's, once per logger)."""
    _LIBRARY_FILTER.report = report
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _LIBRARY_FILTER not in logger.filters:
            logger.addFilter(_LIBRARY_FILTER)
