"""What the workshop draws: pure builders from figures, runs and verdicts to rich renderables.

Nothing here prints or reads: a section builds a table or a panel and says it on its session's
console (tests render them on a ``Console(file=io.StringIO())``).
"""

from __future__ import annotations

import re
from pathlib import Path

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..errors import first_line
from .judge import Verdict
from .measurements import RACE_THREADS, Figures
from .pytest_runs import PytestRun

OUTCOME_STYLE = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow"}


def display_path(path: Path) -> str:
    """``exercise/test_product_sku.py`` when under the current folder, else the absolute path."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def indented(text: str) -> Padding:
    """Two spaces in, and so are the lines it wraps onto."""
    return Padding(text, (0, 0, 0, 2))


def outcome_text(outcome: str) -> Text:
    style = {"passed": "bold green", "failed": "bold red", "error": "bold red", "skipped": "yellow"}.get(outcome, "")
    return Text(outcome.upper(), style=style)


def suite_table(run: PytestRun, docstrings: dict[str, str], title: str) -> Table:
    """Each test of a suite, its result, and the lie its docstring tells."""
    # Light lines, and the docstrings' shared "Passes. The lie:" said once in the header: the table,
    # its title and the prompt after it fit a screen of 80x15.
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, header_style="bold")
    table.add_column("Test", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("The lie (from its docstring)")
    for test in run.tests:
        lie = re.sub(r"^Passes\.\s+The lie:\s*", "", docstrings.get(test.name, ""))
        table.add_row(test.name, outcome_text(test.outcome), Text(lie, style="dim"))
    return table


def pytest_says(run: PytestRun) -> str:
    """What pytest itself printed at the end ("3 passed in 0.01s"), as its plugin measured it."""
    if run.reported_seconds is None:
        return run.summary()
    return f"{run.summary()} in {run.reported_seconds:.2f}s"


def suite_detail(run: PytestRun, wall: bool = True) -> str:
    """A step's detail for a suite's run: what pytest said, and the first thing that went wrong."""
    detail = pytest_says(run) + (f", {run.seconds:.2f} s with Python's start-up" if wall else "")
    problems = [test for test in run.tests if test.outcome in ("failed", "error")]
    if problems:
        detail += f": {problems[0].explanation(1)}"
    elif not run.tests:
        detail += f": {run.output.strip().splitlines()[-1] if run.output.strip() else 'pytest printed nothing'}"
    return detail


def _seconds(value: float | None) -> str:
    if value is None:
        return "not measured"
    if value < 0.001:
        return "under 1 ms"
    return f"{value * 1000:.1f} ms" if value < 0.1 else f"{value:.2f} s"


def _refusal(error: str | None) -> Text:
    """PostgreSQL's refusal in a few words: the constraint it names, else its first line."""
    if not error:
        return Text("NOT refused", style="red")
    named = re.search(r'constraint "([^"]+)"', error)
    reason = f"UNIQUE {named.group(1)}" if named else first_line(error).removeprefix("ERROR:").strip()
    return Text(f"refused ({reason})", style="green")


def comparison_table(figures: Figures, fantasy: PytestRun, reality: PytestRun) -> Table:
    """Mock against Testcontainers, one line per question (it fits an 80-column screen, header included)."""
    table = Table(title="Mock vs Testcontainers — measured in this run", title_justify="left", title_style="bold",
                  header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("", style="bold")
    table.add_column("Mock (in-memory list)")
    table.add_column("Real PostgreSQL 15", overflow="fold")
    table.add_row("pytest says", f"{pytest_says(fantasy)}", f"{pytest_says(reality)}")
    table.add_row("Wall time, start-up incl.", _seconds(fantasy.seconds), _seconds(reality.seconds))
    table.add_row("Container start", "none: a Python object", _seconds(figures.start_seconds))
    table.add_row("Image", "—", figures.image or "—")
    table.add_row("One phone votes twice", Text(f"accepted: {figures.mock_duplicate_total} votes", style="red"),
                  _refusal(figures.duplicate_error))
    table.add_row(f"{RACE_THREADS} votes at once", Text(f"{figures.mock_race_total} counted", style="red"),
                  Text(f"{figures.pg_race_total} counted, {RACE_THREADS - (figures.pg_race_total or 0)} refused",
                       style="green" if figures.pg_race_total == 1 else "red"))
    table.add_row("Duplicate-vote bug", Text("missed (all green)", style="bold red"),
                  Text("caught", style="bold green") if figures.duplicate_error else Text("missed", style="bold red"))
    table.add_row("Left behind", "nothing (never existed)",
                  ("nothing" + (f" (removed in {figures.removed_seconds:.2f} s)"
                                if figures.removed_seconds is not None else ""))
                  if figures.left_behind == 0 else Text(f"{figures.left_behind} container(s)!", style="bold red"))
    return table


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
