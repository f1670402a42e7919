"""Run pytest for real in a subprocess and stream each test's result: the dashboard's and the workshop's runner.

The command is the one a participant types (``python3 -m pytest PATHS``) plus the results plugin
(:mod:`reality.pytest_results`: one JSON line per finished test) and whatever the caller adds;
pytest.ini's options apply as they do by hand, so the figures shown are the participant's own. (Files
outside the checkout, where pytest.ini does not reach, get its plugin switches on the command line:
see :func:`command_line`.)

Each child's output goes to a file, read while it runs from the calling thread (:func:`run_pytest`):
several children need no reader threads, and that thread (where Ctrl+C lands) stops them at once.
One stop policy for every caller (:func:`stop`): SIGINT as Ctrl+C would, then SIGTERM, then
SIGKILL, each to the child's whole process group after a grace, so the tests' fixtures get every
chance to remove their containers — on a watchdog timeout, a cancel, or Ctrl+C.

Standard library only: the web app uses this module (see .importlinter).
"""

from __future__ import annotations

import configparser
import functools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .config import CHECKOUT
from .pytest_results import MARKER, SESSION_MARKER, Outcome, TestResult

#: pytest's exit code when it found no test (the workshop explains it).
NO_TESTS_COLLECTED = 5
#: The plugin every child loads.
RESULTS_PLUGIN = "reality.pytest_results"


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
_FIRMNESS = {signal.SIGINT: 1, signal.SIGTERM: 2, signal.SIGKILL: 3}


def command_line(paths: Sequence[str | os.PathLike[str]], extra_args: Sequence[str] = (),
                 python: str = sys.executable, cwd: Path = CHECKOUT) -> list[str]:
    """``python -m pytest PATHS`` as typed by hand, with the results plugin and the caller's options.

    For files outside the checkout (an ``--exercise-dir`` elsewhere), where the kit's pytest.ini
    does not apply, installed plugins are kept from loading on the command line instead, as
    pytest.ini keeps them inside it (only pytest-xdist is loaded there): a test that relies on one
    (pytest-mock's ``mocker``, Hypothesis' options, anyio's marker) names it with ``-p NAME``.
    ``cwd`` is where the child runs (relative ``paths`` are read from there).
    """
    inside = all(_under(Path(cwd, path), CHECKOUT) for path in paths)
    outside = () if inside else skipped_plugin_options()
    return [python, "-m", "pytest", *map(str, paths), "-p", RESULTS_PLUGIN, *outside, *extra_args]


@functools.cache
def skipped_plugin_options(ini: Path = CHECKOUT / "pytest.ini") -> tuple[str, ...]:
    """The options of the kit's pytest.ini that keep installed plugins it never uses from loading:
    ``--disable-plugin-autoload`` and any ``-p no:NAME``.

    Loading them costs a pytest run 2.3 s of CPU on a machine with Schemathesis and Hypothesis
    installed (the kit's own requirements), against 0.2 s for a whole run without them.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ini)
    words = shlex.split(parser.get("pytest", "addopts", fallback=""))
    autoload = tuple(word for word in words if word == "--disable-plugin-autoload")
    return autoload + tuple(option for pair in zip(words, words[1:])
                            if pair[0] == "-p" and pair[1].startswith("no:") for option in pair)


def _under(path: Path, folder: Path) -> bool:
    # Absolute paths as pytest takes them when it looks for an ini file: symlinks not followed.
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))


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
            process = subprocess.Popen(command_line(paths, extra_args, python, cwd), cwd=cwd, env=env,
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
        with self._signals:
            if _FIRMNESS[sig] <= self._firmest:
                return
            self._firmest = _FIRMNESS[sig]
        try:
            # The child leads its own process group: whatever it started hears the signal too.
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_leftovers(self) -> None:
        """SIGKILL to what is left in the group of a child that was stopped and has ended (a ``sleep`` it
        started, say). While any member lives, the group's id is theirs: no other process can hold it."""
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
                    continue  # once more round: what they reported while stopping is passed on too
                time.sleep(poll)
        except BaseException:  # Ctrl+C, SIGTERM, a failure to start: no child outlives this call
            stop(children)
            for child in children:
                child.result()  # closes its output before the folder goes
            raise
        return [child.result() for child in children]
