"""Judging the hands-on: does the participant's test prove that two products can never share a SKU?

:func:`check` runs their test against a real PostgreSQL twice, with ``UNIQUE (sku)`` and without it,
and returns a :class:`Verdict`: a test proves the constraint when it passes on the real table and
fails on the table without the constraint. A test that passes either way proves nothing. A test
that brings its own container and table is judged alike: in the run without the constraint its
database drops UNIQUE constraints as they are created (:mod:`.judge_plugin`).
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..config import LABEL_TC_SESSION
from ..orchestration import reaper_environment
from ..errors import first_line
from .exercise import NOT_WRITTEN
from .measurements import docstrings_of_tests
from .products_db import DSN_ENV, REPORT_ENV, SCHEMA_ENV, SESSION_ENV
from .pytest_runs import NO_TESTS_COLLECTED, PytestRun, run_pytest_at_once


@dataclass
class Verdict:
    """Whether a test file proves the constraint, and what to tell its author."""

    proves: bool
    status: str  # proves | not-written | no-tests | broken | fails-with-constraint | proves-nothing | cannot-judge
    headline: str
    advice: str = ""
    rows: list["VerdictRow"] = field(default_factory=list)
    with_constraint: PytestRun | None = None
    without_constraint: PytestRun | None = None
    warnings: list[str] = field(default_factory=list)  # pytest's warnings: shown, never fatal
    sessions: list[str] = field(default_factory=list)  # Testcontainers session ids the two runs were given


@dataclass(frozen=True)
class VerdictRow:
    """One test of the file: its outcome with and without the constraint, and what that shows."""

    name: str
    with_constraint: str
    without_constraint: str
    shows: str

    @property
    def catches(self) -> bool:
        return self.with_constraint == "passed" and self.without_constraint in ("failed", "error")


#: How each check runs pytest, on top of what a participant types: no .pytest_cache in their folder,
#: short tracebacks to quote, deprecation warnings shown rather than fatal (pytest.ini makes every
#: warning an error, which would refuse ``from testcontainers.postgres import ...``), and the
#: plugin that sees what the test does from inside (see judge_plugin).
JUDGE_ARGS = ["-p", "no:cacheprovider", "--tb=short", "-W", "default::DeprecationWarning",
              "-W", "default::PendingDeprecationWarning", "-p", "reality.workshop.judge_plugin"]
VARIANTS = ("unique", "no-constraint")

#: How often a container the participant's test starts itself is asked whether it is ready during a check:
#: Testcontainers' default, once a second (120 times), has them wait up to a second longer than their
#: PostgreSQL takes to start, in each of the two runs; the check asks ten times as often, as long in all.
TESTCONTAINERS_POLLING = {"TC_POOLING_INTERVAL": "0.1", "TC_MAX_TRIES": "1200"}


def polling_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """:data:`TESTCONTAINERS_POLLING` for the check's runs, unless the participant chose their own."""
    return {} if any(name in environ for name in TESTCONTAINERS_POLLING) else dict(TESTCONTAINERS_POLLING)


def _read_report(path: Path) -> dict[str, Any]:
    try:
        seen = json.loads(path.read_text())
    except (OSError, ValueError):
        seen = {}
    return {"uses_db": [], "own_databases": 0, "constraints_removed": 0, "errors": [], **seen}


def _docstrings(test_file: Path) -> dict[str, str]:
    try:
        return docstrings_of_tests(test_file)
    except (SyntaxError, ValueError, OSError):
        return {}


def _row(name: str, real: str, fake: str) -> VerdictRow:
    if real == "passed" and fake in ("failed", "error"):
        shows = "catches a dropped constraint"
    elif real == "passed" and fake == "passed":
        shows = "passes either way"
    elif real == "skipped":
        shows = "skipped"
    else:
        shows = "fails with the constraint in place"
    return VerdictRow(name, real, fake, shows)


def run_both(test_file: Path, dsn: str, repo_root: Path,
             sessions: dict[str, str]) -> tuple[PytestRun, PytestRun, dict[str, Any], dict[str, Any]]:
    """``test_file`` with the constraint and without it, at the same time; each run's outcomes and report.

    ``sessions`` gives each run (by variant) the Testcontainers session id its own containers get.
    """
    base = {DSN_ENV: dsn, "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ in the participant's folder
            "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")])),
            # A test that starts its own container gets the workshop's reaper setting: without it,
            # Testcontainers tries to pull Ryuk on a machine that has none, and the test fails for that.
            **reaper_environment(), **polling_environment()}
    with tempfile.TemporaryDirectory(prefix="reality-judge-") as tmp:
        envs = [{**base, SCHEMA_ENV: variant, REPORT_ENV: str(Path(tmp) / f"{variant}.json"),
                 SESSION_ENV: sessions[variant]} for variant in VARIANTS]
        # Both runs at once (each in its own PostgreSQL schema): the participant waits for one, not two.
        real, fake = run_pytest_at_once([test_file], repo_root, envs, extra_args=JUDGE_ARGS,
                                        leftovers=[{LABEL_TC_SESSION: sessions[v]} for v in VARIANTS])
        return real, fake, _read_report(Path(tmp) / "unique.json"), _read_report(Path(tmp) / "no-constraint.json")


def check(test_file: Path, dsn: str, repo_root: Path, subject: str = "Your test") -> Verdict:
    """Run ``test_file`` on the real ``products`` table and on one without ``UNIQUE (sku)``, and judge.

    ``subject`` names the test in the verdict ("Your test", "The solution"). A test that brings its own
    PostgreSQL and table is judged the same way: in the run without the constraint, its database
    drops UNIQUE constraints as they are created (see :mod:`.judge_plugin`).
    """
    if not test_file.is_file():
        return Verdict(False, "no-tests", f"There is no {test_file.name} in {test_file.parent}.",
                       "Run workshop.py again: it creates the file with a skeleton to fill in.")
    sessions = {variant: str(uuid.uuid4()) for variant in VARIANTS}
    verdict = _judge(test_file, subject, *run_both(test_file, dsn, repo_root, sessions))
    verdict.sessions = list(sessions.values())
    return verdict


def _judge(test_file: Path, subject: str, real: PytestRun, fake: PytestRun, seen: dict[str, Any],
           seen_without: dict[str, Any]) -> Verdict:
    """The verdict on two finished runs and what the plugin saw in each."""
    warnings = real.warnings()
    ran = [test for test in real.tests if test.outcome != "skipped"]
    if real.exit_code == NO_TESTS_COLLECTED or (real.exit_code == 0 and not real.tests):
        return Verdict(False, "no-tests", f"No test found in {test_file.name}.",
                       "pytest runs functions whose name starts with test_, e.g. "
                       "def test_two_products_cannot_share_a_sku(db):", with_constraint=real, warnings=warnings)
    errors = [test for test in real.tests if test.outcome == "error"]
    if errors or not real.tests:
        # A SyntaxError, an ImportError, a fixture name mistyped: the test never got to run.
        excerpt = errors[0].explanation() if errors else first_line(real.output, 160)
        return Verdict(False, "broken", f"{test_file.name} could not run.", f"pytest says:\n{excerpt}",
                       with_constraint=real, warnings=warnings)
    if not ran:
        written = any(NOT_WRITTEN in test.message for test in real.tests)
        return Verdict(False, "not-written", f"{subject} is not written yet." if written else "Every test was skipped.",
                       "Delete the pytest.skip(...) line and write the test below it.", with_constraint=real,
                       warnings=warnings)
    without = {test.name: test.outcome for test in fake.tests}
    docstrings = _docstrings(test_file)
    rows = [_row(test.name, test.outcome, without.get(test.name, "—")) for test in real.tests]
    own = [test for test in ran if test.name not in seen["uses_db"]]  # tests that bring their own database
    how = ("\nYour test brings its own PostgreSQL: for the run without the constraint, the workshop had that "
           "database drop its UNIQUE constraints the moment they were created." if own else "")
    failing = [test for test in ran if test.outcome != "passed"]
    if failing:
        first = failing[0]
        where = "on the real table, with the UNIQUE constraint in place" if first.name in seen["uses_db"] \
            else "with the UNIQUE constraint in place (on its own database)"
        return Verdict(False, "fails-with-constraint", f"{first.name} fails {where}.",
                       f"pytest says: {first.explanation(2) or first.outcome}\n"
                       "With the constraint your test must pass; it should fail only when the constraint is gone.",
                       rows, real, fake, warnings)
    caught = [test for test in fake.tests if test.outcome in ("failed", "error") and test.name in {t.name for t in ran}]
    if caught:
        # A row that passes either way next to one that catches the bug is not a failure of the
        # file: it checks something else (the solution's second test: distinct SKUs all get in).
        companion = "".join(
            f"\n{row.name} passes either way: it is not meant to fail without the constraint"
            + (f" (it checks: {docstrings[row.name].rstrip('.')})" if docstrings.get(row.name) else "") + "."
            for row in rows if row.with_constraint == "passed" and row.without_constraint == "passed")
        return Verdict(True, "proves", f"{subject} proves the constraint.",
                       f"It passes with UNIQUE (sku) and fails without it, where pytest said:\n"
                       f"  {caught[0].explanation(1)}\n"
                       f"{', '.join(test.name for test in caught)} would catch anyone dropping the constraint."
                       + companion + how, rows, real, fake, warnings)
    if own and seen_without["errors"] and not seen_without["constraints_removed"]:
        return Verdict(False, "cannot-judge", "The workshop could not take the constraint away in your own database.",
                       f"PostgreSQL said: {seen_without['errors'][0]}\n"
                       "Connect as the container's own user (a superuser, Testcontainers' default), or use the db "
                       "fixture.", rows, real, fake, warnings)
    if own and not seen["own_databases"]:
        return Verdict(False, "proves-nothing", f"{subject} uses no database the workshop can see, so it proves nothing yet.",
                       "Use the db fixture (def test_...(db):), or connect to your own container with psycopg2 "
                       "(SQLAlchemy on psycopg2 works too), insert two products with the same SKU and expect "
                       "psycopg2.errors.UniqueViolation.", rows, real, fake, warnings)
    return Verdict(False, "proves-nothing", f"{subject} passes even without the constraint, so it proves nothing yet.",
                   "Insert two products with the same SKU and expect psycopg2.errors.UniqueViolation: "
                   "without the constraint the second INSERT succeeds, and your test must notice." + how,
                   rows, real, fake, warnings)
