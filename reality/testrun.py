"""Run the workshop's fantasy and reality tests from the dashboard, streaming each result as it lands.

The tests run in a separate ``pytest`` process (exactly what a participant types) through
:mod:`reality.pytest_runner`, whose plugin (:mod:`reality.pytest_results`) reports each test the
moment it finishes; every result is published as a ``test`` event, so the dashboard shows each
test's outcome and duration live.

The plugin's hooks are importable from here too: ``pytest -p reality.testrun`` prints the same lines.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .config import CHECKOUT
from .errors import first_line
from .events import EventBus
from .pytest_results import MARKER, Outcome, TestResult
from .pytest_results import pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish  # noqa: F401
from .pytest_results import pytest_sessionstart  # noqa: F401  (the plugin, for -p reality.testrun)
from .pytest_runner import PytestProcess, run_pytest, stop
from .vocabulary import Kind, TestAction

__all__ = ["MARKER", "RUN_TIMEOUT", "TEST_FILES", "TestRun", "describe", "start_in_background"]

TEST_FILES = ("tests/test_fantasy.py", "tests/test_reality.py")
#: A run that takes longer than this is stuck (a container that never starts): stop it.
RUN_TIMEOUT = 180.0
#: Quiet, no cache folder, no colour codes in the lines read back.
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "--color=no")
#: Unbuffered: pytest's own lines arrive as they are printed, not at its end.
PYTEST_ENV = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
#: The show's feed reads results at this pace: often enough to look live, rarely enough to cost nothing.
POLL_SECONDS = 0.05


def describe(nodeid: str) -> tuple[str, str]:
    """(``fantasy`` | ``reality`` | other, readable test name) for a pytest node id."""
    result = TestResult(nodeid, Outcome.PASSED)
    return result.suite, result.name.removeprefix("test_").replace("_", " ")


class TestRun:
    """One run of the workshop tests at a time, reported on the event bus."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, bus: EventBus, root: Path = CHECKOUT, files: tuple[str, ...] = TEST_FILES,
                 python: str = sys.executable) -> None:
        self.bus = bus
        self.root = root
        self.files = files
        self.python = python
        self.results: list[dict[str, Any]] = []
        self.summary: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._process: PytestProcess | None = None
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

    def clear(self) -> None:
        """Forget the last run's results and summary (a clean slate; a run going on is cancelled first)."""
        with self._lock:
            self.results = []
            self.summary = None

    def run(self) -> dict[str, Any]:
        """Run the tests (after :meth:`claim`) and publish each result; returns the summary."""
        began = time.perf_counter()
        done = self._done
        counts = {outcome.value: 0 for outcome in (Outcome.PASSED, Outcome.FAILED, Outcome.SKIPPED, Outcome.ERROR)}
        tail: list[str] = []
        code = -1
        try:
            self.bus.publish(Kind.TEST, TestAction.STARTED, "Running the fantasy and the reality tests…",
                             files=list(self.files))
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
        try:
            [finished] = run_pytest(self.files, self.root, [PYTEST_ENV], RUN_TIMEOUT, PYTEST_ARGS,
                                    on_start=self._started, on_result=lambda _, result: self._report(result, counts),
                                    python=self.python, poll=POLL_SECONDS)
        except OSError as exc:
            tail.append(f"could not start pytest: {exc}")
            return -1
        if finished.timed_out:
            self._cancelled = True  # stopped by the watchdog: said as a stop, like a cancel
        tail[:] = [line.rstrip() for line in finished.output.splitlines() if line.strip()][-5:]
        return finished.exit_code

    def _started(self, process: PytestProcess) -> None:
        self._process = process
        if self._cancelled:  # cancelled while pytest was being started
            self.stop()

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
        self.bus.publish(Kind.TEST, TestAction.FINISHED, message, **summary)
        return summary

    def _report(self, test: TestResult, counts: dict[str, int]) -> None:
        if not test.collected:
            return  # a file that cannot be collected: pytest's last line says so in the summary
        suite, name = describe(test.nodeid)
        outcome = test.outcome.value
        counts[outcome] += 1
        failure = (first_line(test.message, 200) or outcome) if test.outcome in (Outcome.FAILED, Outcome.ERROR) else ""
        result = {"suite": suite, "name": name, "nodeid": test.nodeid, "outcome": outcome,
                  "duration_ms": round(test.seconds * 1000, 1), "failure": failure}
        self.results.append(result)
        detail = f" — {failure}" if failure else ""
        message = f"{suite}: {name} {outcome.upper()} in {result['duration_ms']:.0f} ms{detail}"
        self.bus.publish(Kind.TEST, TestAction(outcome), message, **result)

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

    def stop(self) -> None:
        """Stop a running test process, as :func:`reality.pytest_runner.stop` does: its fixtures remove
        the containers it started."""
        process = self._process
        if process is None or not process.running:
            return
        self._cancelled = True
        stop([process])


def start_in_background(run: TestRun, spawn: Callable[..., Any]) -> bool:
    """Claim the runner and run it with ``spawn`` (e.g. ``socketio.start_background_task``)."""
    if not run.claim():
        return False
    spawn(run.run)
    return True
