"""Run pytest for real, in a subprocess, and read its verdict per test (from JUnit XML, not from text)."""

from __future__ import annotations

import os
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
from ..containers import remove_containers
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
    seconds: float = 0.0
    output: str = ""

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


def run_pytest(paths: list[Path], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180,
               extra_args: list[str] | None = None) -> PytestRun:
    """``python -m pytest PATHS`` in ``cwd``; Ctrl+C while it runs lets it clean up, then re-raises.

    Tests run by the workshop must leave no trace in the participant's folders (no ``.pytest_cache``,
    no ``__pycache__``), and a child that starts containers must not leave them behind.
    """
    with tempfile.TemporaryDirectory(prefix="reality-pytest-") as tmp:
        report = Path(tmp) / "report.xml"
        command = [sys.executable, "-m", "pytest", *map(str, paths), "-p", "no:cacheprovider", "-q",
                   "--no-header", "-o", "addopts=", f"--junitxml={report}", *(extra_args or [])]
        child_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        began = time.perf_counter()
        # Its own session: a Ctrl+C in the terminal reaches the workshop only, which then interrupts
        # the child exactly once (a second SIGINT would cut its fixtures' cleanup short).
        process = subprocess.Popen(command, cwd=cwd, env=child_env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except KeyboardInterrupt:
            _stop_gently(process)
            raise
        except subprocess.TimeoutExpired:
            _stop_gently(process)
            output = f"pytest did not finish within {timeout:.0f} s"
        finally:
            _remove_child_containers(process.pid)
        seconds = time.perf_counter() - began
        return PytestRun(process.returncode if process.returncode is not None else -1, parse_junit(report),
                         seconds, output or "")


def _stop_gently(process: subprocess.Popen[str]) -> None:
    """SIGINT (as Ctrl+C would), then SIGTERM, then SIGKILL: its fixtures get every chance to clean up."""
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            return
        try:
            process.send_signal(sig)
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def _remove_child_containers(pid: int) -> None:
    """Whatever containers the child labelled with its pid must not outlive it."""
    try:
        client = connect(timeout=3)
    except RealityError:  # no Docker: nothing the child could have started
        return
    try:
        remove_containers(client, {LABEL_PID: str(pid)})
    finally:
        client.close()
