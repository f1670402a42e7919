"""The hands-on exercise: write a test proving that two products can never share a SKU.

:class:`Exercise` creates the participant's files (never overwriting one), :func:`check` runs their
test against a real PostgreSQL twice, with ``UNIQUE (sku)`` and without it, and returns a
:class:`Verdict`: a test proves the constraint when it passes on the real table and fails on the
table without the constraint. A test that passes either way proves nothing. A test that brings its
own container and table is judged alike: in the run without the constraint its database drops
UNIQUE constraints as they are created (:mod:`.judge_plugin`).
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..orchestration import reaper_environment
from ..errors import RealityError
from ..config import LABEL_TC_SESSION
from .measurements import docstrings_of_tests
from .products_db import DSN_ENV, REPORT_ENV, SCHEMA_ENV, SESSION_ENV
from .pytest_runner import NO_TESTS_COLLECTED, PytestRun, run_pytest_at_once

TEST_FILE = "test_product_sku.py"
SOLUTION_FILE = "solution_product_sku.py"
CONFTEST_FILE = "conftest.py"
NOT_WRITTEN = "Not written yet"

SKELETON = f'''"""Hands-on (about 3 minutes): prove that two products can never share a SKU.

The shop's `products` table has a UNIQUE constraint on `sku`. Write a test that fails the day
someone drops that constraint. The `db` fixture (see conftest.py) is a psycopg2 connection to a
REAL PostgreSQL started by Testcontainers, with a fresh, empty table for every test:

    products (id BIGSERIAL, sku TEXT, name TEXT, price_cents INTEGER, UNIQUE (sku))

How workshop.py checks your test: it runs it twice against a real PostgreSQL,
  1. on the real table, with UNIQUE (sku):     your test must PASS;
  2. on the same table without the constraint: your test must FAIL, or it proves nothing.

Hints
  * Insert a product:
        db.cursor().execute(
            "INSERT INTO products (sku, name, price_cents) VALUES (%s, %s, %s)", ("MUG-001", "Mug", 1200))
  * Insert a second product with the same SKU and expect PostgreSQL to refuse it:
        with pytest.raises(psycopg2.errors.UniqueViolation):
            ...
  * Bonus: count the rows afterwards (SELECT count(*) FROM products) -- one must remain.

Check it:  press Enter in workshop.py, or run  python3 -m pytest {{folder}}/{TEST_FILE} -v
Stuck?     type s in workshop.py (or run  python3 workshop.py --solution) to see one way to do it.
"""

import psycopg2.errors
import pytest


def test_two_products_cannot_share_a_sku(db):
    """A second product with an existing SKU is refused by PostgreSQL itself."""
    pytest.skip("{NOT_WRITTEN}: delete this line and write your test")

    # 1. Insert a product with SKU "MUG-001".

    # 2. Insert another product with SKU "MUG-001", expecting psycopg2.errors.UniqueViolation.
'''

SOLUTION = '''"""One way to prove that two products can never share a SKU (the hands-on solution)."""

import psycopg2.errors
import pytest


def add_product(db, sku, name, price_cents):
    with db.cursor() as cursor:
        cursor.execute("INSERT INTO products (sku, name, price_cents) VALUES (%s, %s, %s)",
                       (sku, name, price_cents))


def count_products(db, sku):
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM products WHERE sku = %s", (sku,))
        return cursor.fetchone()[0]


def test_two_products_cannot_share_a_sku(db):
    """PostgreSQL itself refuses a second product with SKU MUG-001; one row remains."""
    add_product(db, "MUG-001", "Reality mug", 1200)

    with pytest.raises(psycopg2.errors.UniqueViolation):
        add_product(db, "MUG-001", "Counterfeit mug", 99)

    assert count_products(db, "MUG-001") == 1


def test_different_skus_are_all_stored(db):
    """The constraint stops duplicates, not products: different SKUs all get in."""
    add_product(db, "MUG-001", "Reality mug", 1200)
    add_product(db, "MUG-002", "Fantasy mug", 1500)

    assert count_products(db, "MUG-001") + count_products(db, "MUG-002") == 2
'''

CONFTEST = '''"""Gives the exercise its `db` fixture: a real PostgreSQL (Testcontainers) with a fresh `products` table.

Run from the repository folder:  python3 -m pytest {folder}/ -v
"""

# pytest finds fixtures and hooks by name: `db` (and the container behind it), and the hook that
# shows deprecation warnings instead of failing on them.
from reality.workshop.products_db import db, products_postgres, pytest_configure  # noqa: F401
'''


class ExerciseFolderError(RealityError):
    """The exercise folder cannot be used: a file in its way, no permission, a read-only place."""


CHOOSE_ANOTHER = "Choose another folder with --exercise-dir."


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot hold the exercise, found without creating anything; ``None`` if it looks usable.

    Catches the usual mistakes at once (a file given instead of a folder, a folder nobody may
    write to); :meth:`Exercise.create` still reports whatever only trying can reveal.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == folder and not folder.is_dir():
        return f"The exercise folder {folder} is a file, not a folder. {CHOOSE_ANOTHER}"
    if not existing.is_dir():
        return f"The exercise folder {folder} cannot be created: {existing} is a file. {CHOOSE_ANOTHER}"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"The exercise folder {folder} cannot be written: {existing} is read-only for you. {CHOOSE_ANOTHER}"
    return None


def _cannot_write(folder: Path, exc: OSError) -> ExerciseFolderError:
    where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != folder else ""
    return ExerciseFolderError(f"The exercise cannot be written in {folder}: {exc.strerror or exc}{where}. "
                               f"{CHOOSE_ANOTHER}")


class Exercise:
    """The participant's exercise folder: their test file, its conftest, and (on request) the solution."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.test_file = folder / TEST_FILE
        self.solution_file = folder / SOLUTION_FILE
        self.conftest = folder / CONFTEST_FILE

    def _label(self) -> str:
        try:
            return os.path.relpath(self.folder)
        except ValueError:  # another drive on Windows
            return str(self.folder)

    def create(self) -> list[Path]:
        """Write the skeleton and its conftest where missing; returns the files written (none are overwritten).

        Raises :class:`ExerciseFolderError` (one line) when the folder cannot be created or written.
        """
        written = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for path, text in ((self.conftest, CONFTEST), (self.test_file, SKELETON)):
                if not path.exists():
                    path.write_text(text.replace("{folder}", self._label()))
                    written.append(path)
        except OSError as exc:
            raise _cannot_write(self.folder, exc) from exc
        return written

    def write_solution(self) -> Path:
        """Write the solution next to the participant's file (kept as is if it is already there)."""
        self.create()
        if not self.solution_file.exists():
            try:
                self.solution_file.write_text(SOLUTION)
            except OSError as exc:
                raise _cannot_write(self.folder, exc) from exc
        return self.solution_file


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


def _first_line(text: str, limit: int = 160) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


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
            **reaper_environment()}
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
        excerpt = errors[0].explanation() if errors else _first_line(real.output)
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


OUTCOME_STYLE = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow"}


def render_verdict(verdict: Verdict) -> RenderableType:
    """The verdict as a panel: headline, what to do, and each test with and without the constraint."""
    parts: list[RenderableType] = [Text(verdict.advice)] if verdict.advice else []
    if verdict.rows:
        table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
        table.add_column("Test", overflow="fold")
        table.add_column("with / without", justify="center", no_wrap=True)
        table.add_column("what it shows")
        for row in verdict.rows:
            style = "bold green" if row.catches else "red" if row.with_constraint in ("failed", "error") else "dim"
            outcomes = Text.assemble((row.with_constraint, OUTCOME_STYLE.get(row.with_constraint, "")), " / ",
                                     (row.without_constraint, OUTCOME_STYLE.get(row.without_constraint, "")))
            table.add_row(row.name, outcomes, Text(row.shows, style=style))
        parts[:0] = [table, Text("")]
    for warning in verdict.warnings:
        parts.append(Text(f"pytest warned (shown, not fatal): {warning}", style="yellow"))
    style = "green" if verdict.proves else "yellow" if verdict.status in ("not-written", "proves-nothing") else "red"
    mark = "✓" if verdict.proves else "✗"
    return Panel(Group(*parts), title=Text(f"{mark} {verdict.headline}", style=f"bold {style}"),
                 title_align="left", border_style=style)
