"""What the workshop measures in this run, for the comparison table: nothing here is a canned figure."""

from __future__ import annotations

import ast
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import psycopg2

from ..votes import AlreadyVoted, Store
from .pytest_runs import PytestRun, run_pytest

FANTASY_TESTS = "tests/test_fantasy.py"
REALITY_TESTS = "tests/test_reality.py"
RACE_THREADS = 20

T = TypeVar("T")


@dataclass
class Figures:
    """Everything measured so far in this run (``None`` until measured)."""

    fantasy: PytestRun | None = None
    reality: PytestRun | None = None
    mock_duplicate_total: int | None = None  # rows the mock holds after one phone voted twice
    mock_race_total: int | None = None       # rows the mock holds after 20 simultaneous votes from one phone
    image: str | None = None
    start_seconds: float | None = None       # PostgreSQL container start, from Infrastructure's ready event
    insert_ms: float | None = None
    duplicate_error: str | None = None       # PostgreSQL's own error text
    duplicate_code: str | None = None        # its SQLSTATE
    pg_race_total: int | None = None
    removed_seconds: float | None = None
    left_behind: int | None = None


def run_suite(repo_root: Path, relative: str) -> PytestRun:
    """Run one of the project's test files with pytest, for real."""
    return run_pytest([repo_root / relative], cwd=repo_root)


def docstrings_of_tests(path: Path) -> dict[str, str]:
    """First docstring line of each ``test_*`` function in a file (read, not imported)."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            found[node.name] = (ast.get_docstring(node) or "").strip().split("\n", 1)[0]
    return found


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """``action()`` and how long it took, in milliseconds."""
    began = time.perf_counter()
    result = action()
    return result, (time.perf_counter() - began) * 1000


def refused_duplicate(store: Store, voter: str, choice: str) -> psycopg2.Error | None:
    """Cast a second vote for ``voter``; PostgreSQL's error if it was refused, ``None`` if it got in."""
    try:
        store.cast(voter, choice)
    except AlreadyVoted as refused:
        return refused.__cause__ if isinstance(refused.__cause__, psycopg2.Error) else None
    return None


def race(store: Store, voter: str, threads: int = RACE_THREADS) -> int:
    """``threads`` threads cast ``voter``'s vote at the same instant; returns how many were stored."""
    start = threading.Barrier(threads)

    def cast() -> None:
        start.wait()  # everyone leaves the gate together
        try:
            store.cast(voter, "Python")
        except AlreadyVoted:
            pass

    workers = [threading.Thread(target=cast) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(1 for row in store.rows() if row[0] == voter)
