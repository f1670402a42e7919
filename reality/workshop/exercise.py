"""The hands-on exercise's files: the participant's test (a skeleton with hints), its conftest, the solution.

:class:`Exercise` creates them in the exercise folder, never overwriting one; :func:`folder_problem`
says at once why a folder cannot hold them. :mod:`.judge` checks what the participant wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import RealityError

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
