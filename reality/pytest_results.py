"""What a pytest child reports, one JSON line per test: the plugin that prints them, and the result model.

Loaded into the child as a pytest plugin (``-p reality.pytest_results``, the hooks below), it prints
one line per finished test after :data:`MARKER` (outcome, time from setup to teardown as JUnit XML
times it, the exception's message, the report) and the session's own duration after
:data:`SESSION_MARKER`, each on a line of its own. :class:`TestResult` reads such a line back: the
one result model of :mod:`reality.pytest_runner` and its callers (the dashboard, the workshop).

Standard library only, and cheap to import: every pytest child loads it.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import first_line

#: Prefix of the plugin's lines, so they stand out from anything else pytest prints.
MARKER = "@@reality-test@@ "
SESSION_MARKER = "@@reality-session@@ "


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
        return first_line(self.message)
