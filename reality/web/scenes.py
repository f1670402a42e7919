"""The 8-minute show as six scenes, and the clock the presenter steps through them with.

The clock lives on the server, so the projector and the presenter's laptop show the same scene and
the same time, and a reloaded page does not lose its place.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Scene:
    """One part of the show: what the room sees (``cue``) and what the presenter does (``notes``)."""

    key: str
    title: str
    seconds: int
    cue: str
    notes: str


SCENES: tuple[Scene, ...] = (
    Scene("cold-open", "Cold open", 60,
          "If your tests don't face reality, your users will.",
          "All tests green, launch day melts down: duplicate votes in production. The mocks never had a "
          "UNIQUE constraint. Tonight the database is real. Point at the feed: PostgreSQL and Redis are "
          "real containers, started by Testcontainers when this app booted."),
    Scene("qr-voting", "Scan and vote", 120,
          "Scan the QR code and vote. One vote per phone.",
          "Everyone votes once. Votes stream into the feed, the chart grows live. The phone's identity is a "
          "signed cookie; Redis limits each phone to 3 requests a minute."),
    Scene("magic-moment", "The magic moment", 60,
          "Now press “Vote again”. Try to cheat.",
          "Duplicates hit PostgreSQL's UNIQUE constraint: 409 “You already voted!” in the feed. Then switch "
          "to Fantasy mode: the mock has no constraint, duplicates pile up. Switch back to Reality."),
    Scene("test-comparison", "Mocks vs reality", 90,
          "Two test suites. One of them lies.",
          "Run the tests: the fantasy tests pass with duplicates (all green, all wrong); the reality tests "
          "start a real PostgreSQL in about a second and catch the duplicate."),
    Scene("chaos", "Chaos", 90,
          "What happens when Redis dies? And PostgreSQL?",
          "Kill Redis: votes keep working, the rate limit falls back to local memory. Recover: back to "
          "Redis by itself. Kill PostgreSQL: phones get a clear 503, nothing is lost silently. Recover."),
    Scene("mic-drop", "Mic drop", 60,
          "If your tests don't face reality, your users will.",
          "Final tally, export the CSV. Tell them: Testcontainers, one fixture, real PostgreSQL. "
          "Reset before the next show."),
)

SHOW_SECONDS = sum(scene.seconds for scene in SCENES)


class SceneClock:
    """Which scene is on, and how long the show has been running (it can be paused)."""

    def __init__(self, scenes: tuple[Scene, ...] = SCENES) -> None:
        self.scenes = scenes
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.index = 0
            self.running = False
            self._elapsed_before = 0.0  # show time accumulated before the current run
            self._run_started: float | None = None
            self._scene_started_at_show = 0.0  # show time at which the current scene began
            self.version = getattr(self, "version", 0) + 1

    def _show_time(self) -> float:
        if self.running and self._run_started is not None:
            return self._elapsed_before + (time.time() - self._run_started)
        return self._elapsed_before

    def apply(self, action: str, index: int | None = None) -> None:
        """``next``, ``previous``, ``goto`` (with ``index``), ``start``, ``pause`` or ``restart``."""
        with self._lock:
            if action in ("next", "previous", "goto"):
                target = {"next": self.index + 1, "previous": self.index - 1}.get(action, index)
                if not isinstance(target, int) or isinstance(target, bool):
                    raise ValueError("goto needs an integer index")
                target = max(0, min(len(self.scenes) - 1, target))
                if target != self.index:
                    self.index = target
                    self._scene_started_at_show = self._show_time()
                # Moving on is how a presenter starts: the clock runs from the first step.
                if action == "next" and not self.running:
                    self._start()
            elif action == "start":
                self._start()
            elif action == "pause":
                if self.running:
                    self._elapsed_before = self._show_time()
                    self.running = False
                    self._run_started = None
            elif action == "restart":
                self._elapsed_before = 0.0
                self._scene_started_at_show = 0.0
                self.index = 0
                self.running = False
                self._run_started = None
            else:
                raise ValueError(f"unknown scene action {action!r}")
            self.version += 1

    def _start(self) -> None:
        if not self.running:
            self.running = True
            self._run_started = time.time()

    def snapshot(self) -> dict:
        """What a dashboard needs to draw the cue bar and run the timer locally."""
        with self._lock:
            show_time = self._show_time()
            return {
                "index": self.index,
                "count": len(self.scenes),
                # Never the notes: this document goes to every screen and to /api/scene, and the room
                # must not read the presenter's cues ahead of the reveal. The console has them in its page.
                "scene": {k: v for k, v in asdict(self.scenes[self.index]).items() if k != "notes"},
                "scenes": [{"key": s.key, "title": s.title, "seconds": s.seconds} for s in self.scenes],
                "running": self.running,
                "show_elapsed": round(show_time, 3),
                "scene_elapsed": round(show_time - self._scene_started_at_show, 3),
                "show_seconds": SHOW_SECONDS,
                "server_time": time.time(),
                "version": self.version,
            }
