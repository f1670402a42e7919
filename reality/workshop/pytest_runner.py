"""Run pytest for real, in a subprocess, and read its verdict per test (from JUnit XML, not from text).

The command is the one a participant types (``python3 -m pytest PATHS``), plus only a JUnit report
to read the results from and whatever the caller adds: pytest.ini's own options (the plugins it
turns off, its warning filters) apply as they do by hand, so the figures shown match theirs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from ..config import LABEL_PID
from ..orchestration import remove_containers
from ..docker_engine import connect
from ..errors import RealityError

#: pytest's exit codes that the workshop explains.
NO_TESTS_COLLECTED = 5
INTERRUPTED = 2


@dataclass(frozen=True)
class TestOutcome:
    """One test's result: ``passed``, ``failed``, ``error`` or ``skipped``, and pytest's message."""

    __test__ = False  # not a test class, whatever its name says

    name: str
    outcome: str
    message: str = ""
    seconds: float = 0.0
    details: str = ""  # the traceback or skip reason pytest wrote

    def explanation(self, limit: int = 4) -> str:
        """pytest's ``E`` lines (what went wrong, without the traceback), else the message."""
        lines = [line[1:] for line in self.details.splitlines() if line.startswith("E ")]
        if lines:
            return textwrap.dedent("\n".join(lines[-limit:])).strip("\n")
        return self.message.strip().split("\n", 1)[0]


@dataclass
class PytestRun:
    """A finished pytest run: exit code, every test's outcome, wall time, and its output."""

    exit_code: int
    tests: list[TestOutcome] = field(default_factory=list)
    seconds: float = 0.0  # wall time, from the command's start to its end (what the participant waits)
    output: str = ""
    reported_seconds: float | None = None  # what pytest itself prints: "3 passed in 0.01s"

    def count(self, outcome: str) -> int:
        return sum(1 for test in self.tests if test.outcome == outcome)

    @property
    def test_seconds(self) -> float:
        """Time spent inside the tests themselves (pytest's own start-up excluded)."""
        return sum(test.seconds for test in self.tests)

    @property
    def all_passed(self) -> bool:
        return self.exit_code == 0 and bool(self.tests) and self.count("passed") == len(self.tests)

    def summary(self) -> str:
        parts = [f"{self.count(kind)} {kind}" for kind in ("passed", "failed", "error", "skipped") if self.count(kind)]
        return ", ".join(parts) or "no tests"

    def warnings(self, limit: int = 3) -> list[str]:
        """The warnings pytest listed in its "warnings summary" (shown, never fatal in the exercise)."""
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


def parse_junit(path: Path) -> list[TestOutcome]:
    """Every ``<testcase>`` of a JUnit XML report, in order."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError):
        return []
    outcomes = []
    for case in root.iter("testcase"):
        outcome, message, details = "passed", "", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or "").strip()
                details = child.text or ""
                break
        outcomes.append(TestOutcome(case.get("name", "?"), outcome, message, float(case.get("time") or 0), details))
    return outcomes


def reported_seconds(path: Path) -> float | None:
    """The duration pytest printed ("in 0.01s"): its ``<testsuite time=...>``."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError):
        return None
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    try:
        return float(suite.get("time")) if suite is not None and suite.get("time") else None
    except ValueError:
        return None


def pytest_command(paths: list[Path], report: Path, extra_args: list[str] | None = None) -> list[str]:
    """``python -m pytest PATHS``, as typed by hand, with a JUnit report to read the results from."""
    return [sys.executable, "-m", "pytest", *map(str, paths), f"--junitxml={report}", *(extra_args or [])]


def run_pytest(paths: list[Path], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180,
               extra_args: list[str] | None = None) -> PytestRun:
    """``python -m pytest PATHS`` in ``cwd``; Ctrl+C while it runs lets it clean up, then re-raises.

    A child that starts containers labelled with its pid must not leave them behind.
    """
    return run_pytest_at_once(paths, cwd, [env or {}], timeout, extra_args)[0]


def run_pytest_at_once(paths: list[Path], cwd: Path, envs: list[dict[str, str]], timeout: float = 180,
                       extra_args: list[str] | None = None,
                       leftovers: list[dict[str, str]] | None = None) -> list[PytestRun]:
    """One ``python -m pytest PATHS`` per environment in ``envs``, all running at the same time.

    The children are started and waited for in the calling thread (never in worker threads): that is
    where Ctrl+C lands, so it can stop them at once instead of waiting for their tests to end.
    ``leftovers`` holds, per child, the labels of containers it may start itself (a participant's own
    PostgresContainer): whatever carries them is removed once the child has ended, as its own are.
    """
    with tempfile.TemporaryDirectory(prefix="reality-pytest-") as tmp:
        children: list[_Child] = []
        try:
            for index, env in enumerate(envs):
                children.append(_Child.start(paths, cwd, env, Path(tmp), index, extra_args))
            deadline = time.perf_counter() + timeout
            # Polling, not wait(): every child's own end time is measured, and Ctrl+C is seen at once.
            while any(child.ended is None for child in children):
                for child in children:
                    if child.ended is None and child.process.poll() is not None:
                        child.ended = time.perf_counter()
                if time.perf_counter() > deadline:
                    late = [child for child in children if child.ended is None]
                    _stop_gently([child.process for child in late])
                    for child in late:
                        child.ended = time.perf_counter()
                        child.timed_out = f"pytest did not finish within {timeout:.0f} s"
                    break
                time.sleep(POLL_SECONDS)
        except BaseException:  # Ctrl+C, SIGTERM, or a failure to start: no child outlives this call
            _stop_gently([child.process for child in children])
            raise
        finally:
            for index, child in enumerate(children):
                _remove_child_containers({LABEL_PID: str(child.process.pid)})
                if leftovers and leftovers[index]:
                    _remove_child_containers(leftovers[index])
        return [child.result() for child in children]


#: How often the children are checked on: short next to pytest's own start-up (about half a second).
POLL_SECONDS = 0.01


@dataclass
class _Child:
    """One pytest subprocess, with where its report and output go."""

    process: subprocess.Popen[bytes]
    report: Path
    output: Path
    began: float
    ended: float | None = None
    timed_out: str = ""

    @classmethod
    def start(cls, paths: list[Path], cwd: Path, env: dict[str, str], tmp: Path, index: int,
              extra_args: list[str] | None) -> "_Child":
        report, output = tmp / f"report-{index}.xml", tmp / f"output-{index}.txt"
        command = pytest_command(paths, report, extra_args)
        child_env = {**os.environ, **env}
        began = time.perf_counter()
        # Output to a file, not a pipe: nothing has to read several children's pipes at once.
        with open(output, "wb") as sink:
            # Its own session: a Ctrl+C in the terminal reaches the workshop only, which then stops
            # the child exactly once (a second SIGINT would cut its fixtures' cleanup short).
            process = subprocess.Popen(command, cwd=cwd, env=child_env, stdout=sink, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        return cls(process, report, output, began)

    def result(self) -> PytestRun:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        code = self.process.returncode
        return PytestRun(code if code is not None else -1, parse_junit(self.report),
                         (self.ended or time.perf_counter()) - self.began, self.timed_out or text,
                         reported_seconds(self.report))


def _stop_gently(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT (as Ctrl+C would), then SIGTERM, then SIGKILL: their fixtures get every chance to clean up.

    All children at once, so stopping two takes no longer than stopping one. Where another Ctrl+C
    can arrive while they clean up (workshop.py ignores it), it moves on to the next, firmer signal
    instead of abandoning them.
    """
    for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        running = [process for process in processes if process.poll() is None]
        if not running:
            return
        for process in running:
            try:
                # The child leads its own process group: whatever it started hears the signal too.
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait
        try:
            while any(process.poll() is None for process in running) and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            continue


def _remove_child_containers(labels: dict[str, str]) -> None:
    """Whatever containers the child labelled (with its pid, or its Testcontainers session) must not outlive it."""
    try:
        client = connect(timeout=3)
    except RealityError:  # no Docker: nothing the child could have started
        return
    try:
        remove_containers(client, labels)
    finally:
        client.close()
