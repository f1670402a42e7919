"""The live tally, kept in memory so that reading it never waits on the database.

Every accepted vote bumps the count at once (read-your-writes for the phone that just voted); the
database is re-read when something could have changed behind the app's back (start, reset, a fresh
container, a mode switch), and a re-read never overwrites votes counted while it was running.
"""

from __future__ import annotations

import threading
from typing import Callable

from ..poll import Poll


class ResultsCache:
    """Counts per option, a total, and a version that changes whenever either does."""

    def __init__(self, poll: Poll) -> None:
        self.poll = poll
        self._lock = threading.Lock()
        self._counts = {option: 0 for option in poll.options}
        self._increments = 0  # votes applied since start, to detect a re-read racing with votes
        self.version = 0
        self._reload_wanted = True

    def apply(self, choice: str) -> None:
        """Count one accepted vote."""
        with self._lock:
            self._counts[choice] = self._counts.get(choice, 0) + 1
            self._increments += 1
            self.version += 1

    def request_reload(self) -> None:
        """Ask for a re-read from the store (done by the health monitor's loop, off the request path)."""
        self._reload_wanted = True

    @property
    def reload_wanted(self) -> bool:
        return self._reload_wanted

    def reload(self, read_counts: Callable[[], dict[str, int]]) -> bool:
        """Replace the counts with the store's; False (and still wanted) when votes raced the read."""
        self._reload_wanted = False
        with self._lock:
            seen = self._increments
        counts = read_counts()  # may raise: the caller decides what a dead store means
        with self._lock:
            if self._increments != seen:
                # A vote was counted while reading: the read may miss it. Keep the live counts
                # (exact anyway) and try again on the next round.
                self._reload_wanted = True
                return False
            fresh = {option: int(counts.get(option, 0)) for option in self.poll.options}
            if fresh != self._counts:
                self._counts = fresh
                self.version += 1
            return True

    def touch(self) -> None:
        """Bump the version without a count changing: something else in the results document did."""
        with self._lock:
            self.version += 1

    def clear(self) -> None:
        with self._lock:
            self._counts = {option: 0 for option in self.poll.options}
            self.version += 1

    def snapshot(self) -> dict:
        """The ``GET /api/results`` document."""
        with self._lock:
            counts = dict(self._counts)
            version = self.version
        return {
            "question": self.poll.question,
            "options": list(self.poll.options),
            "counts": counts,
            "total": sum(counts.values()),
            "version": version,
        }
