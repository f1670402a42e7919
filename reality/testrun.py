"""Run the workshop's fantasy and reality tests from the dashboard, streaming each result as it lands.

The tests run in a separate ``pytest`` process (exactly what a participant types), with this module
loaded as a tiny pytest plugin (``-p reality.testrun``) that prints one JSON line per finished test.
The show reads those lines and publishes each as a ``test`` event, so the dashboard shows every test's
outcome and duration the moment it finishes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .events import EventBus

#: Prefix of the plugin's lines, so they stand out from anything else pytest prints.
MARKER = "@@reality-test@@ "
REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_FILES = ("tests/test_fantasy.py", "tests/test_reality.py")
#: A run that takes longer than this is stuck (a container that never starts): stop it.
RUN_TIMEOUT = 180.0


# -- the pytest plugin (runs inside the pytest process) -----------------------------------------------

_phases: dict[str, dict[str, Any]] = {}


def pytest_runtest_logreport(report: Any) -> None:
    """Print one JSON line per test once it is over, timed from setup to teardown.

    Setup counts: that is where a reality test waits for its container, the honest cost of reality.
    """
    state = _phases.setdefault(report.nodeid, {"duration": 0.0, "outcome": "passed", "message": ""})
    state["duration"] += report.duration
    if report.failed and state["outcome"] == "passed":
        state["outcome"] = "failed" if report.when == "call" else "error"
        state["message"] = _short_failure(report)
    elif report.skipped and state["outcome"] == "passed":
        state["outcome"] = "skipped"
    if report.when == "teardown":
        del _phases[report.nodeid]
        line = {"nodeid": report.nodeid, "outcome": state["outcome"], "duration": round(state["duration"], 4),
                "message": state["message"]}
        # On a line of its own: pytest's progress dots have no newline after them.
        sys.stdout.write("\n" + MARKER + json.dumps(line) + "\n")
        sys.stdout.flush()


def _short_failure(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text.strip().splitlines()[0][:200] if text.strip() else report.outcome


# -- the runner (runs inside the show) ----------------------------------------------------------------

def describe(nodeid: str) -> tuple[str, str]:
    """(``fantasy`` | ``reality`` | other, readable test name) for a pytest node id."""
    path, _, name = nodeid.partition("::")
    suite = Path(path).stem.removeprefix("test_")
    return suite, name.removeprefix("test_").replace("_", " ")


class TestRun:
    """One run of the workshop tests at a time, reported on the event bus."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, bus: EventBus, root: Path = REPO_ROOT, files: tuple[str, ...] = TEST_FILES,
                 python: str = sys.executable) -> None:
        self.bus = bus
        self.root = root
        self.files = files
        self.python = python
        self.results: list[dict[str, Any]] = []
        self.summary: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._running = False
        self._cancelled = False
        self._done: threading.Event | None = None  # set once the current run has published its end

    @property
    def running(self) -> bool:
        return self._running

    def claim(self) -> bool:
        """Reserve the runner; False when a run is already going on."""
        with self._lock:
            if self._running:
                return False
            self._running = True
            self._cancelled = False
            self._done = threading.Event()  # one per run: an old run's end never stands for a new one's
            self.results = []
            self.summary = None
            return True

    def run(self) -> dict[str, Any]:
        """Run the tests (after :meth:`claim`) and publish each result; returns the summary."""
        began = time.perf_counter()
        done = self._done
        counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
        tail: list[str] = []
        code = -1
        try:
            self.bus.publish("test", "started", "Running the fantasy and the reality tests…", files=list(self.files))
            code = self._run_pytest(counts, tail)
        except Exception as exc:  # whatever happens, the run ends and says so
            tail.append(f"{type(exc).__name__}: {exc}")
        finally:
            self._process = None
            summary = self._finish(counts, tail, code, time.perf_counter() - began)
            if done is not None:
                done.set()  # after the "finished" event: whoever waits sees the feed complete
        return summary

    def _run_pytest(self, counts: dict[str, int], tail: list[str]) -> int:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
        command = [self.python, "-m", "pytest", "-q", "-p", "reality.testrun", "-p", "no:cacheprovider",
                   "--color=no", *self.files]
        try:
            self._process = subprocess.Popen(command, cwd=self.root, env=env, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1)
        except OSError as exc:
            tail.append(f"could not start pytest: {exc}")
            return -1
        if self._cancelled:  # cancelled while pytest was being started
            self.stop()
        watchdog = threading.Timer(RUN_TIMEOUT, self.stop)
        watchdog.daemon = True
        watchdog.start()
        try:
            assert self._process.stdout is not None
            for line in self._process.stdout:
                if MARKER in line:
                    self._report(json.loads(line.split(MARKER, 1)[1]), counts)
                elif line.strip():
                    tail[:] = (tail + [line.rstrip()])[-5:]
            return self._process.wait()
        finally:
            watchdog.cancel()
            if self._process.poll() is None:  # we stopped reading early: do not leave it behind
                self.stop()
            self._process.stdout.close()

    def _finish(self, counts: dict[str, int], tail: list[str], code: int, seconds: float) -> dict[str, Any]:
        ran = sum(counts.values())
        fantasy = [r for r in self.results if r["suite"] == "fantasy"]
        reality = [r for r in self.results if r["suite"] == "reality"]
        summary = {**counts, "seconds": round(seconds, 2), "exit_code": code,
                   "fantasy_ms": round(sum(r["duration_ms"] for r in fantasy)),
                   "reality_ms": round(sum(r["duration_ms"] for r in reality))}
        if self._cancelled:
            message = "Test run stopped."
        elif ran == 0:
            message = f"No test ran: {tail[-1] if tail else 'pytest printed nothing'}"
        else:
            message = (f"{counts['passed']} passed, {counts['failed'] + counts['error']} failed"
                       + (f", {counts['skipped']} skipped" if counts["skipped"] else "") + f" in {seconds:.1f} s")
        with self._lock:
            self.summary = summary
            self._running = False
        self.bus.publish("test", "finished", message, **summary)
        return summary

    def _report(self, line: dict[str, Any], counts: dict[str, int]) -> None:
        suite, name = describe(line["nodeid"])
        outcome = line["outcome"] if line["outcome"] in counts else "error"
        counts[outcome] += 1
        result = {"suite": suite, "name": name, "nodeid": line["nodeid"], "outcome": outcome,
                  "duration_ms": round(line["duration"] * 1000, 1), "failure": line.get("message", "")}
        self.results.append(result)
        detail = f" — {result['failure']}" if result["failure"] else ""
        message = f"{suite}: {name} {outcome.upper()} in {result['duration_ms']:.0f} ms{detail}"
        self.bus.publish("test", outcome, message, **result)

    def cancel(self, timeout: float = 10.0) -> bool:
        """Stop a run in progress and wait until it has published its last event.

        Returns False only when the run did not end within ``timeout``.
        """
        with self._lock:
            done = self._done
            if done is None or done.is_set():
                return True
            self._cancelled = True
        self.stop()
        return done.wait(timeout)

    def clear(self) -> None:
        """Forget the last run's results and summary (a reset, after :meth:`cancel`)."""
        with self._lock:
            self.results = []
            self.summary = None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop a running test process; its own fixtures remove the containers it started."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        self._cancelled = True
        process.terminate()  # the tests' conftest turns SIGTERM into a clean teardown
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def start_in_background(run: TestRun, spawn: Callable[..., Any]) -> bool:
    """Claim the runner and run it with ``spawn`` (e.g. ``socketio.start_background_task``)."""
    if not run.claim():
        return False
    spawn(run.run)
    return True
