"""Run pytest for real in a subprocess and stream each test's result: the dashboard's and the workshop's runner.

The command is the one a participant types (``python3 -m pytest PATHS``) plus this module loaded as a
small pytest plugin (``-p reality.pytest_runner``, the hooks at the top) that prints one JSON line per
finished test after :data:`MARKER`, and the session's own duration after :data:`SESSION_MARKER`.
pytest.ini's options apply as they do by hand, so the figures shown are the participant's own.

The parent (:func:`run_pytest`) sends each child's output to a file and reads it while the child runs,
from the calling thread: several children need no reader threads, and that thread (where Ctrl+C
lands) stops them at once. One stop policy for every caller (:func:`stop`): SIGINT as Ctrl+C would,
then SIGTERM, then SIGKILL, each to the child's whole process group after a grace, so the tests'
fixtures get every chance to remove their containers — on a watchdog timeout, a cancel, or Ctrl+C.

Only the standard library is imported: the web app uses this module (see .importlinter), and every
pytest child loads it. No function here but the hooks is named ``pytest_*``: pytest would take it for one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable, Sequence

from .config import CHECKOUT

#: Prefix of the plugin's lines, so they stand out from anything else pytest prints.
MARKER = "@@reality-test@@ "
SESSION_MARKER = "@@reality-session@@ "

#: pytest's exit code when it found no test (the workshop explains it).
NO_TESTS_COLLECTED = 5


# -- the pytest plugin (runs inside the pytest child) -------------------------------------------------

_phases: dict[str, dict[str, Any]] = {}
_session_began: dict[str, float] = {}


def pytest_sessionstart(session: Any) -> None:
    _session_began["at"] = time.perf_counter()


def pytest_runtest_logreport(report: Any) -> None:
    """One line per test once it is over, timed from setup to teardown (as JUnit XML times it).

    Setup counts: that is where a reality test waits for its container, the honest cost of reality.
    """
    state = _phases.setdefault(report.nodeid, {"duration": 0.0, "outcome": "passed", "message": "", "details": ""})
    state["duration"] += report.duration
    if report.failed and state["outcome"] == "passed":
        state["outcome"] = "failed" if report.when == "call" else "error"
        state["message"], state["details"] = _failure(report)
    elif report.skipped and state["outcome"] == "passed":
        state["outcome"] = "skipped"
        state["message"], state["details"] = _skip_reason(report)
    if report.when == "teardown":
        del _phases[report.nodeid]
        _emit(MARKER, {"nodeid": report.nodeid, "outcome": state["outcome"], "duration": round(state["duration"], 4),
                       "message": state["message"], "details": state["details"]})


def pytest_collectreport(report: Any) -> None:
    """A file that cannot be collected (a SyntaxError, an ImportError) is an error of its own."""
    if report.failed:
        message, details = _failure(report)
        _emit(MARKER, {"nodeid": report.nodeid, "outcome": "error", "duration": 0.0, "message": message,
                       "details": details, "collected": False})


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """What pytest itself will print ("3 passed in 0.01s"), measured the way its terminal does."""
    began = _session_began.get("at")
    seconds = round(time.perf_counter() - began, 4) if began is not None else None
    _emit(SESSION_MARKER, {"seconds": seconds, "exit_code": int(exitstatus)})


def _emit(marker: str, line: dict[str, Any]) -> None:
    # On a line of its own: pytest's progress dots have no newline after them.
    sys.stdout.write("\n" + marker + json.dumps(line) + "\n")
    sys.stdout.flush()


def _failure(report: Any) -> tuple[str, str]:
    """(the exception's message, the whole report); without a crash location, the report's last ``E`` line."""
    crash = getattr(report.longrepr, "reprcrash", None)
    details = str(report.longrepr)
    if crash is not None:
        return crash.message, details
    errors = [line[1:].strip() for line in details.splitlines() if line.startswith("E ")]
    return (errors[-1] if errors else details), details


def _skip_reason(report: Any) -> tuple[str, str]:
    if hasattr(report, "wasxfail"):  # an expected failure counts as skipped, as JUnit XML has it
        return str(report.wasxfail).removeprefix("reason: "), ""
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        filename, lineno, reason = report.longrepr
        reason = str(reason).removeprefix("Skipped: ")
        return reason, f"{filename}:{lineno}: {reason}"
    return str(report.longrepr), str(report.longrepr)


# -- the result model ---------------------------------------------------------------------------------

class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # the test itself failed
    ERROR = "error"  # its setup or teardown failed, or its file could not be collected
    SKIPPED = "skipped"


@dataclass(frozen=True)
class TestResult:
    """One test's result as pytest reported it: outcome, time from setup to teardown, and why."""

    __test__ = False  # not a test class, whatever its name says

    nodeid: str
    outcome: Outcome
    seconds: float = 0.0
    message: str = ""  # what went wrong (the exception's message) or why it was skipped
    details: str = ""  # the traceback or skip location pytest wrote
    collected: bool = True  # False: the file itself could not be collected

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> "TestResult":
        outcome = line.get("outcome")
        return cls(str(line["nodeid"]), Outcome(outcome) if outcome in tuple(Outcome) else Outcome.ERROR,
                   float(line.get("duration") or 0), str(line.get("message") or ""), str(line.get("details") or ""),
                   bool(line.get("collected", True)))

    @property
    def name(self) -> str:
        """The test's own name (``test_x[1]``), without its file and class."""
        return self.nodeid.rsplit("::", 1)[-1]

    @property
    def suite(self) -> str:
        """Its file's name without ``test_``: ``fantasy`` for ``tests/test_fantasy.py::...``."""
        return Path(self.nodeid.partition("::")[0]).stem.removeprefix("test_")

    def explanation(self, limit: int = 4) -> str:
        """pytest's ``E`` lines (what went wrong, without the traceback), else the message's first line."""
        lines = [line[1:] for line in self.details.splitlines() if line.startswith("E ")]
        if lines:
            return textwrap.dedent("\n".join(lines[-limit:])).strip("\n")
        return self.message.strip().split("\n", 1)[0]


@dataclass
class PytestRun:
    """A finished pytest child: exit code, every test's result, wall time, and its output."""

    exit_code: int
    tests: list[TestResult] = field(default_factory=list)
    seconds: float = 0.0  # wall time, from the command's start to its end (what the participant waits)
    output: str = ""  # what pytest printed (the plugin's lines left out), or why it was stopped
    reported_seconds: float | None = None  # what pytest itself prints: "3 passed in 0.01s"
    timed_out: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for test in self.tests if test.outcome == outcome)

    @property
    def test_seconds(self) -> float:
        """Time spent inside the tests themselves (pytest's own start-up excluded)."""
        return sum(test.seconds for test in self.tests)

    @property
    def all_passed(self) -> bool:
        return self.exit_code == 0 and bool(self.tests) and self.count(Outcome.PASSED) == len(self.tests)

    def summary(self) -> str:
        parts = [f"{self.count(kind)} {kind}" for kind in ("passed", "failed", "error", "skipped") if self.count(kind)]
        return ", ".join(parts) or "no tests"

    def warnings(self, limit: int = 3) -> list[str]:
        """The warnings pytest listed in its "warnings summary"."""
        found: list[str] = []
        inside = False
        for line in self.output.splitlines():
            if "warnings summary" in line and line.startswith("="):
                inside = True
            elif inside and (line.startswith("-- Docs:") or line.startswith("=")):
                break
            elif inside and "Warning:" in line:
                found.append(re.sub(r"^\S*/", "", line.strip()))  # the file's name, not its whole path
        return list(dict.fromkeys(found))[:limit]


# -- the children (run inside the show or the workshop) -----------------------------------------------

#: How often children are checked on: short next to pytest's own start-up (about half a second).
POLL_SECONDS = 0.01
#: The one stop policy: Ctrl+C first (fixtures tear down, containers go), then firmer, each after a grace.
STOP_POLICY: tuple[tuple[signal.Signals, float], ...] = (
    (signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))


def command_line(paths: Sequence[str | os.PathLike[str]], extra_args: Sequence[str] = (),
                 python: str = sys.executable) -> list[str]:
    """``python -m pytest PATHS`` as typed by hand, with this module's plugin and the caller's options."""
    return [python, "-m", "pytest", *map(str, paths), "-p", __name__, *extra_args]


class PytestProcess:
    """One pytest child, leading its own process group, its output going to a file read as it grows."""

    def __init__(self, process: subprocess.Popen[bytes], output: Path, began: float) -> None:
        self.process = process
        self.began = began
        self.ended: float | None = None
        self.timed_out = ""  # why it was stopped at the deadline
        self.tests: list[TestResult] = []
        self.reported_seconds: float | None = None
        self._reader = open(output, "rb")
        self._partial = b""
        self._text: list[str] = []
        self._firmest = 0  # the firmest stop signal sent so far: never the same one twice
        self._signals = threading.Lock()

    @classmethod
    def start(cls, paths: Sequence[str | os.PathLike[str]], cwd: Path, output: Path, env: dict[str, str] | None = None,
              extra_args: Sequence[str] = (), python: str = sys.executable) -> "PytestProcess":
        """Start ``python -m pytest PATHS`` in ``cwd``, with ``env`` on top of this process's environment."""
        env = {**os.environ, **(env or {})}
        # The plugin (and anything else of this package the tests import) is found from any folder.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
        began = time.perf_counter()
        with open(output, "wb") as sink:
            # Its own session: a Ctrl+C in the terminal reaches the caller only, which then stops the
            # child exactly once (a second SIGINT would cut its fixtures' cleanup short).
            process = subprocess.Popen(command_line(paths, extra_args, python), cwd=cwd, env=env,
                                       stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        return cls(process, output, began)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def read(self) -> list[TestResult]:
        """The results printed since the last call (complete lines only)."""
        self._partial += self._reader.read()
        *lines, self._partial = self._partial.split(b"\n")
        return [result for line in lines if (result := self._take(line.decode(errors="replace"))) is not None]

    def _take(self, line: str) -> TestResult | None:
        try:
            if MARKER in line:
                result = TestResult.from_line(json.loads(line.split(MARKER, 1)[1]))
                self.tests.append(result)
                return result
            if SESSION_MARKER in line:
                self.reported_seconds = json.loads(line.split(SESSION_MARKER, 1)[1]).get("seconds")
                return None
        except (ValueError, KeyError, TypeError):
            pass  # cut short (the child was killed mid-line): it is output like any other
        self._text.append(line)
        return None

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the child's process group, unless it was sent as firm a signal already."""
        rank = next(index for index, (each, _) in enumerate(STOP_POLICY, 1) if each == sig)
        with self._signals:
            if rank <= self._firmest:
                return
            self._firmest = rank
        try:
            # The child leads its own process group: whatever it started hears the signal too.
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_leftovers(self) -> None:
        """SIGKILL to what is left of the group of a child that was stopped and has ended (a ``sleep`` it
        started, say): while any member lives, its group id cannot go to another process."""
        if self._firmest and not self.running:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def result(self) -> PytestRun:
        """The finished run (reads what is left of the output and closes it)."""
        if not self._reader.closed:
            self.read()
            if self._partial:  # the last line, without its newline
                self._take(self._partial.decode(errors="replace"))
                self._partial = b""
            self._reader.close()
        code = self.process.returncode
        return PytestRun(code if code is not None else -1, list(self.tests),
                         (self.ended or time.perf_counter()) - self.began, self.timed_out or "\n".join(self._text),
                         self.reported_seconds, bool(self.timed_out))


def stop(children: Sequence[PytestProcess], policy: Sequence[tuple[signal.Signals, float]] = STOP_POLICY) -> None:
    """Stop every child that still runs: each signal of ``policy`` in turn, to all at once, until they end.

    All at once, so stopping two takes no longer than stopping one. A Ctrl+C arriving while they
    clean up (workshop.py ignores a second one) moves on to the next, firmer signal instead of
    abandoning them. Safe from several threads: a child never gets the same signal twice. Once a
    stopped child has ended, whatever it started and left behind in its process group is killed.
    """
    try:
        for sig, grace in policy:
            running = [child for child in children if child.running]
            if not running:
                return
            for child in running:
                child.send(sig)
            deadline = time.monotonic() + grace
            try:
                while any(child.running for child in running) and time.monotonic() < deadline:
                    time.sleep(POLL_SECONDS)
            except KeyboardInterrupt:
                continue
    finally:
        for child in children:
            child.kill_leftovers()


def run_pytest(paths: Sequence[str | os.PathLike[str]], cwd: Path, envs: Sequence[dict[str, str]] = ({},),
               timeout: float = 180, extra_args: Sequence[str] = (),
               on_start: Callable[[PytestProcess], None] | None = None,
               on_result: Callable[[int, TestResult], None] | None = None,
               python: str = sys.executable, poll: float = POLL_SECONDS) -> list[PytestRun]:
    """One ``python -m pytest PATHS`` per environment in ``envs``, all at the same time; their finished runs.

    ``on_start(child)`` hears of each child as it starts (to stop it from elsewhere, or to clean up
    after it); ``on_result(index, result)`` of each test the moment it finishes. Children still
    running after ``timeout`` seconds are stopped; whatever interrupts the wait (Ctrl+C, SIGTERM
    turned into KeyboardInterrupt, a failing callback) stops them all before it goes on.
    """
    with tempfile.TemporaryDirectory(prefix="reality-pytest-") as tmp:
        children: list[PytestProcess] = []
        try:
            for index, env in enumerate(envs):
                children.append(PytestProcess.start(paths, cwd, Path(tmp) / f"output-{index}.txt", env, extra_args,
                                                    python))
                if on_start is not None:
                    on_start(children[-1])
            deadline = time.perf_counter() + timeout
            # Polling, not wait(): every child's own end time is measured, and Ctrl+C is seen at once.
            while True:
                for index, child in enumerate(children):
                    if child.ended is None and not child.running:
                        child.ended = time.perf_counter()
                    for result in child.read():
                        if on_result is not None:
                            on_result(index, result)
                if all(child.ended is not None for child in children):
                    break
                if time.perf_counter() > deadline:
                    late = [child for child in children if child.ended is None]
                    stop(late)
                    for child in late:
                        child.ended = time.perf_counter()
                        child.timed_out = f"pytest did not finish within {timeout:.0f} s"
                    break
                time.sleep(poll)
        except BaseException:  # Ctrl+C, SIGTERM, a failure to start: no child outlives this call
            stop(children)
            for child in children:
                child.result()  # closes its output before the folder goes
            raise
        return [child.result() for child in children]
